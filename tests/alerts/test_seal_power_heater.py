"""A heater defrost the meter reads as the compressor, an hour the compressor ran through, and
the kitchen's share of the on-share per cabinet temperature and of a cycle's features
(`seal_power`, `seal_cusum.without_kitchen`).

An under-counter freezer of the bench's held-out family has a 200 W defrost heater beside a
430 W compressor: the heater draws more than half the compressor's draw, so the meter reads it
as a 21-min run among runs of 4 min. Counted, that hour's on-share doubled and the heater's low
draw read as a kitchen gone cold; three such hours on a weekend carried a healthy unit to twice
its threshold."""

from __future__ import annotations

import math

import pytest

from alerts.rules.seal_cusum import CusumModel, without_kitchen
from alerts.rules.seal_duty import DutyModel, DutyNorm
from alerts.rules.seal_power import (
    PowerHour,
    PowerModel,
    PowerState,
    duty_per_draw,
    kitchen_shift,
    power_hour_value,
    power_reading,
    roll_power_hour,
    score_power_hour,
)

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
COMPRESSOR_W, HEATER_W = 430.0, 203.0


def _freezer_hours(
    heater_from: int | None, heater_w: float = HEATER_W, compressor_w: float = COMPRESSOR_W
) -> list[PowerHour]:
    """Four hours read every minute: cycles of 15 min, 4 on at the compressor's draw; from
    minute `heater_from`, a run of 21 min at `heater_w` then a recovery run of 9 min at
    `compressor_w` (a heater the meter shows as a run, or the compressor running long with
    the door held open when `heater_w` is its own draw)."""
    st = PowerState()
    roll_power_hour(st, 0, 0, False)
    ended: list[PowerHour] = []
    plan: list[tuple[int, float]] = []  # (minute, draw), 0: off
    minute = 0
    while minute < 4 * 60:
        if heater_from is not None and minute == heater_from:
            plan += [(minute + i, heater_w) for i in range(21)]
            plan += [(minute + 21 + i, 0.0) for i in range(2)]
            plan += [(minute + 23 + i, compressor_w) for i in range(9)]
            plan += [(minute + 32 + i, 0.0) for i in range(11)]
            minute += 43
            continue
        plan += [(minute + i, compressor_w if i < 4 else 0.0) for i in range(15)]
        minute += 15
    for m, draw in plan:
        if m >= 4 * 60:
            break
        at = m * MINUTE_MS
        if m and at % HOUR_MS == 0:
            hour = roll_power_hour(st, at, m // 60, False)
            assert hour is not None
            ended.append(hour)
        power_reading(st, at, draw > 0, False, False, 2 * MINUTE_MS, draw + 10.0, -19.0)
    return ended


def _share(hour: PowerHour) -> float:
    return round(hour.on_ms / hour.cycle_ms, 3)


def test_a_run_at_another_draw_is_set_aside_with_its_recovery() -> None:
    plain = _freezer_hours(None)
    heated = _freezer_hours(90)
    # every hour of the plain freezer reads its 4 min in 15
    assert [_share(h) for h in plain[1:]] == [0.267, 0.267]
    # the heater's hour: its run and the recovery after it count for nothing, the plain
    # cycles around them read as the plain freezer's (before: 0.49 with the heater)
    assert heated[1].cycle_ms and _share(heated[1]) == 0.267
    assert all(_share(h) == 0.267 for h in heated[1:] if h.cycle_ms)


def test_the_hours_draw_is_its_plain_cycles_draw() -> None:
    """The heater's 203 W readings are not the compressor's: the hour's mean running draw
    stays the compressor's (before: 308 W, a kitchen 'colder' by a quarter)."""
    for hour in _freezer_hours(90)[1:]:
        if hour.draws:
            assert hour.draw_w / hour.draws == pytest.approx(COMPRESSOR_W + 10.0)


def test_a_long_run_at_the_compressors_draw_counts() -> None:
    """The compressor running 21 min with the door held open is load, which the hour's
    door minutes account for: it stays in the hour (its on-share 30 of 58 min kept)."""
    hour = _freezer_hours(90, heater_w=COMPRESSOR_W)[1]
    assert hour.on_ms > 0.4 * hour.cycle_ms


def test_a_lasting_step_in_the_draw_is_followed() -> None:
    """A meter replaced after 2 h by one reading a third lower: the cycles at the new draw
    are set aside until they are most of the recent ones (8 cycles, 2 h), then count. (The
    cycle the first start at the new draw closes is set aside too: from one reading, that
    start could as well be a defrost heater's, which would have cut its rest short.)"""
    st = PowerState()
    roll_power_hour(st, 0, 0, False)
    kept: list[int] = []  # minutes of cycles kept per hour
    for m in range(6 * 60):
        at = m * MINUTE_MS
        if m and at % HOUR_MS == 0:
            hour = roll_power_hour(st, at, m // 60, False)
            assert hour is not None
            kept.append(hour.cycle_ms // MINUTE_MS)
        draw = COMPRESSOR_W * (0.66 if m >= 120 else 1.0)
        on = m % 15 < 4
        power_reading(st, at, on, False, False, 2 * MINUTE_MS, draw if on else 10.0, -19.0)
    # hour 2 keeps none: the cycle that ran at the old draw ended at its start, closed by
    # the first start at the new draw; from minute 255 (the new draw most of the last 15
    # cycles', and the recovery skipped) on, every cycle counts again
    assert kept == [30, 60, 0, 0, 30], kept


def test_the_air_of_the_hour_is_summed() -> None:
    hour = _freezer_hours(None)[1]
    assert hour.airs == 60 and hour.air_c / hour.airs == pytest.approx(-19.0)


def _hours_at(air_c: float, n: int = 48) -> list[PowerHour]:
    hours = []
    for i in range(n):
        hour = PowerHour(i * HOUR_MS, i % 24, False)
        hour.air_c, hour.airs = 60 * air_c, 60
        hours.append(hour)
    return hours


@pytest.mark.parametrize(
    ("air_c", "ratio"),
    [
        (4.0, (1 / 21 + 0.015) / 0.01),  # a fridge: 6.3
        (-20.0, (1 / 45 + 0.015) / 0.01),  # a freezer: 3.7
        (20.0, (1 / 10 + 0.015) / 0.01),  # near the kitchen's temperature: the gap's floor
    ],
)
def test_the_on_share_per_draw_follows_the_cabinets_temperature(air_c: float, ratio: float) -> None:
    assert duty_per_draw(_hours_at(air_c)) == pytest.approx(ratio)


def test_without_air_readings_the_ratio_is_a_freezers() -> None:
    assert duty_per_draw([PowerHour(0, 0, False)]) == pytest.approx(3.5)


def test_a_fridge_has_more_of_its_on_share_explained_by_the_same_draw() -> None:
    """A 2 % higher draw for a day: a kitchen some 2 K warmer, which lifts a fridge at 4 C by
    some 13 % and a freezer at -20 C by some 7 %."""
    norm = DutyNorm(math.log(0.3), 0.1)
    duty = DutyModel(dict.fromkeys(range(24), norm), CusumModel({}, 0.5, 15.0))
    shifts = {}
    for air in (4.0, -20.0):
        model = PowerModel(duty, 0.0, dict.fromkeys(range(24), math.log(200.0)))
        model.duty_per_draw = duty_per_draw(_hours_at(air))
        st = PowerState(model=model)
        for h in range(24):
            hour = PowerHour(h * HOUR_MS, h, False, 3 * 20 * MINUTE_MS, 3 * 6 * MINUTE_MS)
            hour.draw_w, hour.draws = 18 * 204.0, 18
            score_power_hour(st, hour)
        shifts[air] = kitchen_shift(st, 23 * HOUR_MS)
    assert shifts[4.0] == pytest.approx(6.26 * math.log(1.02), rel=0.01)
    assert shifts[-20.0] == pytest.approx(3.72 * math.log(1.02), rel=0.01)


def _through(set_aside_from: int | None = None, set_aside_to: int = 250) -> list[tuple[int, int]]:
    """Five hours read every minute: cycles of 15 min, 4 on; the compressor on from minute
    110 to 250 (a leak it cannot keep up with, a door wedged open); cycles again after. The
    readings from `set_aside_from` to `set_aside_to` are set aside."""
    st = PowerState()
    roll_power_hour(st, 0, 0, False)
    kept: list[tuple[int, int]] = []
    for m in range(5 * 60):
        at = m * MINUTE_MS
        if m and at % HOUR_MS == 0:
            hour = roll_power_hour(st, at, m // 60, False)
            assert hour is not None
            kept.append((hour.cycle_ms // MINUTE_MS, hour.on_ms // MINUTE_MS))
        on = 110 <= m < 250 or (m < 110 and m % 15 < 4) or (m >= 250 and (m - 250) % 15 >= 11)
        aside = set_aside_from is not None and set_aside_from <= m < set_aside_to
        power_reading(st, at, on, False, aside, 2 * MINUTE_MS, 440.0 if on else 10.0, 3.0)
    return kept


def test_an_hour_the_compressor_ran_through_reads_all_on() -> None:
    """Hours 2 and 3 end no cycle: each reads the run's 59 min to its last reading, all on.
    The run, once it ends (minute 261), is a cycle far longer than usual and counts for
    nothing, nor does the cycle after it (before: hours 2 and 3 gave no value)."""
    assert _through() == [(30, 8), (65, 20), (59, 59), (59, 59)]


def test_a_run_a_defrost_or_an_excursion_touched_does_not() -> None:
    assert _through(set_aside_from=130) == [(30, 8), (65, 20), (0, 0), (0, 0)]


def test_a_run_begun_in_a_defrost_reads_the_time_it_outlasted_the_defrost() -> None:
    """A defrost holds minutes 110-124, and the run it began goes on to 250: hour 2 reads
    its 55 min after the last reading set aside, all on (before: no value, for one reading
    set aside 4 min into it), hour 3 its whole 59. A defrost held to minute 159 leaves hour
    2 too short a run for a value (`hour_duty`: 30 min)."""
    assert _through(set_aside_from=110, set_aside_to=125) == [(30, 8), (65, 20), (55, 55), (59, 59)]
    held = _through(set_aside_from=110, set_aside_to=160)
    assert held == [(30, 8), (65, 20), (20, 20), (59, 59)]
    model = PowerModel(DutyModel({}, CusumModel({}, 0.5, 15.0)), 0.0, {})
    values = [
        power_hour_value(PowerHour(0, 2, False, m * MINUTE_MS, m * MINUTE_MS), model)
        for m in (20, 55)
    ]
    assert values == [None, 1.0]


def test_the_kitchens_share_comes_out_of_a_cycles_features() -> None:
    """A kitchen that added 10 % to the load through the walls and took 3 % of the capacity:
    the warming rate loses the load's move, the on-share both, the pull-down (-log cooling)
    (capacity + on x load)/(1 - on) (on 0.25: 7.3 %), the fitted rates as theirs; an
    on-share past 0.6 is weighed at 0.6."""
    logs = {"warm_rate": 1.0, "warm_fit": 1.1, "duty": -1.4, "pull_down": -2.0, "pull_fit": -2.1}
    out = without_kitchen(logs, 0.1, 0.03, 0.25)
    assert out["warm_rate"] == pytest.approx(0.9) and out["warm_fit"] == pytest.approx(1.0)
    assert out["duty"] == pytest.approx(-1.53)
    assert out["pull_down"] == pytest.approx(-2.0 - 0.055 / 0.75)
    assert out["pull_fit"] == pytest.approx(-2.1 - 0.055 / 0.75)
    assert without_kitchen(logs, 0.1, 0.03, 0.9)["pull_down"] == pytest.approx(-2.0 - 0.09 / 0.4)
    assert without_kitchen(logs, 0.0, 0.0, 0.25) == logs
