"""Over- and under-temperature on the air probe (`judge_on: air`): the edges a cook would
notice - the limit itself, the 30 min, the 7 °C hysteresis, gaps, shuffled and repeated
readings, doors and defrosts. The same rule judging the estimated food temperature (the
default) is tested in test_product.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.model import AlertState, RuleId
from core.clock import StepClock
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, school, series

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)  # 02:00 local: no meal, nobody in the kitchen


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "canteen.duckdb", school(rules={"judge_on": "air"}), StepClock(MIDNIGHT))
    yield h
    h.close()


def fridge(values: list[float], start=T0, step_s: float = 60, **flags: list[float]):  # type: ignore[no-untyped-def]
    return series("fridge-1", start, step_s, values, **flags)


def test_exactly_at_the_limit_is_in_band(harness: Harness) -> None:
    harness.feed(fridge([8.0] * 120))
    assert harness.alerts(OVER) == []


def test_fires_at_exactly_the_duration_not_a_reading_before(harness: Harness) -> None:
    harness.feed(fridge([4.0] + [8.1] * 30))  # above from minute 1 to minute 30: 29 min
    [pending] = harness.alerts(OVER)
    assert pending.state is AlertState.PENDING
    assert pending.pending_since == T0 + minutes(1)
    harness.feed(fridge([8.1], start=T0 + minutes(31)))  # 30 min above
    [firing] = harness.alerts(OVER)
    assert firing.state is AlertState.FIRING and firing.fired_at == T0 + minutes(31)
    assert firing.severity.value == "critical" and firing.food_safety
    assert "above its 8.0 °C limit for 30 min" in firing.message.en
    assert "高于上限 8.0 °C 已持续 30 分钟" in firing.message.zh


def test_hysteresis_clears_only_below_7(harness: Harness) -> None:
    harness.feed(fridge([9.0] * 31 + [7.5] * 10 + [7.0] * 10))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING  # 7.5 and 7.0 are not below 7 °C
    harness.feed(fridge([6.9], start=T0 + minutes(51)))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.RESOLVED and alert.resolved_by == "rule"
    assert alert.resolved_at == T0 + minutes(51)


def test_a_dip_to_the_limit_cancels_the_pending_alert(harness: Harness) -> None:
    harness.feed(fridge([8.5] * 20 + [8.0] + [8.5] * 20))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.PENDING  # the second run has lasted 19 min only
    assert alert.pending_since == T0 + minutes(21)


def test_a_gap_longer_than_the_silence_threshold_restarts_the_duration(harness: Harness) -> None:
    # 20 min above, 6 min with no data (silence threshold: 5 min), 20 min above again.
    before = fridge([9.0] * 20)
    after = fridge([9.0] * 20, start=T0 + minutes(26))
    harness.feed(before + after)
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.PENDING and alert.pending_since == T0 + minutes(26)


def test_a_short_gap_is_bridged(harness: Harness) -> None:
    before = fridge([9.0] * 20)
    after = fridge([9.0] * 12, start=T0 + minutes(23))  # a 3 min gap
    harness.feed(before + after)
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.pending_since == T0


def test_shuffled_and_repeated_readings_give_the_same_verdict(harness: Harness) -> None:
    rows = fridge([9.0] * 35)
    shuffled = rows[::2] + rows[1::2] + rows[:10]  # out of order, ten of them twice
    harness.feed(shuffled)
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.fired_at == T0 + minutes(30)
    assert len(harness.store.alert_history(alert.id)) == 2  # pending, fired: nothing doubled


def test_late_readings_do_not_reopen_a_decision(harness: Harness) -> None:
    harness.feed(fridge([9.0] * 31 + [5.0]))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.RESOLVED
    harness.feed(fridge([9.5] * 5, start=T0 + minutes(10)))  # a buffer replayed late
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.RESOLVED and alert.occurrences == 1


def test_a_rise_within_the_door_grace_then_30_min_more_is_needed(harness: Harness) -> None:
    # Door opened at minute 0 for 1 min; the air stays above 8 °C for 40 min: the grace (15
    # min) excuses the first 15, so the duration counts from minute 15 and 40 min is quiet.
    door = [1.0] + [0.0] * 59
    harness.feed(fridge([9.0] * 40 + [5.0] * 20, door_open=door))
    assert harness.alerts(OVER) == []


def test_air_still_warming_after_the_door_grace_counts_from_the_start_of_the_run(
    harness: Harness,
) -> None:
    # The compressor has stopped; a cook opens the door at minute 1 (the air at 6.0 °C) and
    # shuts it. The air crosses 8 °C and keeps warming; when the 15 min grace ends it is far
    # above where it was before the door: not the door. 30 min from the run's start.
    temps = [6.0] + [8.2 + 0.1 * i for i in range(45)]
    door = [0.0, 1.0] + [0.0] * 44
    harness.feed(fridge(temps, door_open=door))
    [alert] = harness.alerts(OVER)
    assert alert.pending_since == T0 + minutes(1) and alert.fired_at == T0 + minutes(31)


def test_a_door_left_open_excuses_nothing(harness: Harness) -> None:
    harness.feed(fridge([9.0] * 31, door_open=[1.0] * 31))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.pending_since == T0
    # its contact read the door open through the whole spell: the alarm says so first
    assert "door contact reads the door open for 30 min: shut it" in alert.message.en
    assert "柜门已打开 30 分钟" in alert.message.zh and alert.evidence["door_open_min"] == 30.0


def test_a_door_opened_within_the_spell_is_not_named(harness: Harness) -> None:
    # Open only for the last 5 min of the spell (someone at it now): not what warmed it.
    harness.feed(fridge([9.0] * 31, door_open=[0.0] * 26 + [1.0] * 5))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING
    assert "door" not in alert.message.en and "door_open_min" not in alert.evidence


def test_a_reported_defrost_and_its_recovery_raise_nothing(harness: Harness) -> None:
    # 25 min defrost warming the air to 10 °C, then 15 min pulling down: 40 min above 8 °C.
    defrost = [1.0] * 25 + [0.0] * 35
    harness.feed(fridge([10.0] * 40 + [4.0] * 20, defrost_on=defrost))
    assert harness.alerts(OVER) == []


def test_a_defrost_longer_than_the_maximum_is_a_fault(harness: Harness) -> None:
    harness.feed(fridge([10.0] * 95, defrost_on=[1.0] * 95))
    [alert] = harness.alerts(OVER)
    # The defrost stopped excusing at 60 min; the run counts from its start.
    assert alert.state is AlertState.FIRING and alert.fired_at == T0 + minutes(61)


def test_a_learned_defrost_is_excused_an_unexpected_rise_is_not(harness: Harness) -> None:
    # No defrost_on: a sawtooth 2-5 °C with a 25 min bump to 7 °C every 6 h (learned), then a
    # bump to 10 °C at the expected time (quiet) and one 3 h off the schedule (alert).
    rows = []
    for day_minute in range(0, 6 * 60 * 5):
        at = T0 + minutes(day_minute)
        in_cycle = day_minute % 360
        base = 2.0 + (day_minute % 20) * 0.15  # thermostat sawtooth, 20 min period
        bump = 7.0 if day_minute < 4 * 360 else 10.0
        temp = bump if in_cycle < 25 else (base if in_cycle >= 40 else 5.5)
        rows.append(("fridge-1", at, {"temp_c": temp}))
    harness.feed(rows)
    assert harness.alerts(OVER) == []  # the 5th bump (10 °C for 25 min + recovery) is a defrost
    start = T0 + minutes(5 * 360 + 180)
    harness.feed(fridge([10.0] * 45, start=start))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.pending_since == start


def test_under_temperature_mirrors_it_with_a_warning(harness: Harness) -> None:
    harness.feed(fridge([-0.5] * 31 + [0.5] + [1.1]))
    [alert] = harness.alerts(RuleId.UNDER_TEMPERATURE)
    assert alert.severity.value == "warning" and not alert.food_safety
    assert alert.state is AlertState.RESOLVED  # 0.5 is not above 1 °C; 1.1 is
    assert "below its 0.0 °C limit" in alert.message.en


def test_a_freezer_has_no_lower_limit(harness: Harness) -> None:
    harness.feed(series("freezer-1", T0, 60, [-40.0] * 40))
    assert harness.alerts(RuleId.UNDER_TEMPERATURE) == []


def test_air_still_warming_after_a_defrost_counts_from_the_start_of_the_run(
    harness: Harness,
) -> None:
    # A freezer crosses -12 °C during a 20 min defrost; its compressor has failed, so after the
    # defrost the air keeps warming instead of pulling down. The defrost excused nothing: the
    # food has been above the limit since T0. That is known once the air has warmed 1 K past
    # the defrost's end (-9.0 °C at T0+20; -7.9 °C at T0+31), past the 30 min: it fires then.
    temps = [-11.0 + 0.1 * i for i in range(60)]
    defrost = [1.0] * 20 + [0.0] * 40
    harness.feed(series("freezer-1", T0, 60, temps, defrost_on=defrost))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING
    assert alert.pending_since == T0 and alert.fired_at == T0 + minutes(31)


def test_a_compressor_dead_through_a_defrost_counts_from_the_start_of_the_run(
    harness: Harness,
) -> None:
    # The compressor died before the 02:00 defrost: the air is at 10 °C when the timer's
    # 20 min defrost starts, and afterwards it neither pulls down nor warms by 1 K (a cabinet
    # near its balance with the kitchen creeps up 0.02 K/min). The recovery's 20 min go by
    # without a step down, the door shut: the defrost explained nothing, the run counts from
    # its start and fires at the first reading after the recovery's while (T0+40), not 30
    # min after it.
    temps = [10.0 + 0.02 * i for i in range(60)]
    defrost = [1.0] * 20 + [0.0] * 40
    harness.feed(fridge(temps, defrost_on=defrost))
    [alert] = harness.alerts(OVER)
    assert alert.state is AlertState.FIRING
    assert alert.pending_since == T0 and alert.fired_at == T0 + minutes(41)


def test_a_defrost_recovery_that_steps_down_is_still_excused(harness: Harness) -> None:
    # The same defrost over a working compressor after a long drip time: the heater's last
    # warmth lifts the air to 11 °C for 10 min after the defrost, then a tired pull-down
    # steps it down 1.3 K from there by the end of the recovery's while (T0+40), though not
    # yet 1 K under where the defrost left it (10.5 °C); back in band at T0+50. The step
    # down is the compressor at work, the defrost explains the warmth: nothing fires.
    temps = [10.5] * 20 + [11.0] * 10 + [11.0 - 0.12 * i for i in range(1, 21)] + [7.5] * 10
    defrost = [1.0] * 20 + [0.0] * 40
    harness.feed(fridge(temps, defrost_on=defrost))
    assert [a for a in harness.alerts(OVER) if a.fired_at is not None] == []


def test_warming_after_a_defrost_with_doors_opened_counts_from_the_defrost_end(
    harness: Harness,
) -> None:
    # The same freezer, but the kitchen opens it right after the defrost (breakfast prep): the
    # warming may be the doors', so the duration counts from the defrost's end (T0+20). It
    # pulls back under -12 °C at T0+45: no alert (from the run's start it would have fired).
    temps = [-11.0 + 0.1 * i for i in range(35)] + [-7.6 - 0.5 * i for i in range(25)]
    defrost = [1.0] * 20 + [0.0] * 40
    doors = [0.0] * 21 + [1.0] + [0.0] * 38
    harness.feed(series("freezer-1", T0, 60, temps, defrost_on=defrost, door_open=doors))
    assert [a for a in harness.alerts(OVER) if a.fired_at is not None] == []
