"""Over-temperature judged on the food, not the air: the estimate's physics, a healthy kitchen
that raises nothing, a failing compressor caught once the food is warm, a restart, settings.

Fridge defaults throughout: above 8 °C for 30 min, product time constant tau = 30 min.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.model import AlertState, RuleId
from alerts.rules.product import ProductEstimate, TauLearner, judge_on, tau_min
from alerts.rules.threshold import ExcursionRule
from core.clock import StepClock
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.cold_plant import fridge as cold_fridge
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, school, series

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)  # 02:00 local
TAU = 30.0
Rows = list[tuple[str, datetime, dict[str, float]]]


def harness_with(tmp_path: Path, **config: Any) -> Harness:
    return Harness(tmp_path / "canteen.duckdb", school(**config), StepClock(MIDNIGHT))


@pytest.fixture
def air_judged(tmp_path: Path) -> Iterator[Harness]:
    h = harness_with(tmp_path / "air", rules={"judge_on": "air"})
    yield h
    h.close()


# -- the estimate ---------------------------------------------------------------------------


def test_the_step_response_is_one_minus_exp_of_t_over_tau() -> None:
    # tau dTp/dt = Ta - Tp with Tp(0) = 4 and Ta = 14 from t = 0: Tp(t) = 14 - 10 exp(-t/tau).
    # t = 30 min: 14 - 10/e = 10.3212; 60 min: 14 - 10 e^-2 = 12.6466; 90 min: 13.5021.
    estimate = ProductEstimate(TAU)
    assert estimate.update(0, 4.0) == 4.0  # the first reading starts the estimate at the air
    at = {m: estimate.update(m * 60_000, 14.0) for m in range(1, 91)}
    assert at[30] == pytest.approx(10.3212, abs=1e-4)
    assert at[60] == pytest.approx(12.6466, abs=1e-4)
    assert at[90] == pytest.approx(13.5021, abs=1e-4)
    for m, value in at.items():
        assert value == pytest.approx(14.0 - 10.0 * math.exp(-m / TAU), abs=1e-9)


def test_irregular_sampling_gaps_and_late_readings() -> None:
    # Exact discretisation: exp(-a) exp(-b) = exp(-(a + b)), so readings at 0, 1, 8, 9.5 and
    # 30 min give the same 10.3212 at 30 min as one reading a minute.
    estimate = ProductEstimate(TAU)
    estimate.update(0, 4.0)
    for m in (1.0, 8.0, 9.5, 30.0):
        value = estimate.update(int(m * 60_000), 14.0)
    assert value == pytest.approx(14.0 - 10.0 / math.e, abs=1e-9)
    # A late or repeated reading (older than or at the state) does not move the filter.
    assert estimate.update(10 * 60_000, 30.0) == value
    assert estimate.update(30 * 60_000, 30.0) == value
    # A 2 h gap is bridged by the same step: 14 - 10 e^-4 = 13.8168 from a start at 4 °C,
    # nearly the reset to the air that a long outage ends in.
    gap = ProductEstimate(TAU)
    gap.update(0, 4.0)
    assert gap.update(120 * 60_000, 14.0) == pytest.approx(14.0 - 10.0 * math.exp(-4.0), abs=1e-9)


# -- the rule -------------------------------------------------------------------------------


def step_rows(start_min: int, end_min: int) -> Rows:
    """4 °C at T0, then the air at 14 °C every minute (a compressor that stopped at once)."""
    values = [4.0 if m == 0 else 14.0 for m in range(start_min, end_min)]
    return series("fridge-1", T0 + minutes(start_min), 60, values)


def test_an_air_step_fires_30_min_after_the_food_crosses_the_limit(harness: Harness) -> None:
    # The food crosses 8 °C at t = 30 ln(10/6) = 15.3 min: 7.935 °C at minute 15, 8.134 at 16.
    # Pending from minute 16, firing at 46, when the estimate is 14 - 10 e^(-46/30) = 11.84.
    harness.feed(step_rows(0, 50))
    [alert] = harness.alerts(OVER)
    assert alert.pending_since == T0 + minutes(16) and alert.fired_at == T0 + minutes(46)
    assert alert.evidence["judged_on"] == "product" and alert.evidence["temp_c"] == 14.0
    assert alert.evidence["product_c"] == pytest.approx(11.84, abs=0.01)
    assert "estimated food temperature; air 14.0 °C" in alert.message.en
    assert "估算食品温度" in alert.message.zh


def test_the_estimate_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(step_rows(0, 21))
    first.service.save_state()
    [pending] = first.alerts(OVER)
    first.close()

    second = Harness(path, school(), StepClock(T0 + minutes(21)))
    second.service.recover()
    second.feed(step_rows(21, 50))
    [alert] = second.alerts(OVER)
    # As without the restart: an estimate started again at the air (14 °C) would read 14.0.
    assert alert.id == pending.id and alert.fired_at == T0 + minutes(46)
    assert alert.evidence["product_c"] == pytest.approx(11.84, abs=0.01)
    second.close()


def test_a_snapshot_from_before_the_estimate_still_restores(harness: Harness) -> None:
    harness.feed(step_rows(0, 20))
    saved = json.loads(harness.service.engine.snapshot()["fridge-1"])
    rule = saved["rules"]["over_temperature"]
    assert rule["product"]["estimate_c"] == pytest.approx(14.0 - 10.0 * math.exp(-19 / TAU))
    saved["rules"]["over_temperature"] = rule["run"]  # the format of earlier releases
    harness.service.engine.restore({"fridge-1": json.dumps(saved)})
    harness.feed(step_rows(20, 50))
    [alert] = harness.alerts(OVER)
    assert alert.pending_since == T0 + minutes(16)  # the run went on; the estimate restarted
    assert alert.state is AlertState.FIRING


# -- a healthy kitchen and a failing compressor -------------------------------------------


def kitchen_day(start: datetime, days: int, *, fail_at: datetime | None = None) -> Rows:
    """A fridge read every minute: a 2-5 °C thermostat sawtooth (20 min), a 3 min door opening
    every 12 min from 07:00 to 19:00 local warming the air by 5 K, a 25 min heater defrost
    every 6 h warming it to 12 °C and 10 min back. From `fail_at` the compressor is dead: the
    air rises 0.1 K/min from where it is (toward a 27 °C kitchen)."""
    rows: Rows = []
    failed_from: float | None = None
    for m in range(days * 1440):
        at = start + minutes(m)
        local_min = (at - MIDNIGHT).total_seconds() / 60 % 1440
        base = 2.0 + 3.0 * (m % 20) / 20
        door = 7 * 60 <= local_min < 19 * 60 and local_min % 12 < 3
        in_defrost = m % 360
        if in_defrost < 25:
            air = base + (12.0 - base) * in_defrost / 25
        elif in_defrost < 35:
            air = 12.0 + (3.5 - 12.0) * (in_defrost - 25) / 10
        else:
            air = base + (5.0 if door else 0.0)
        if fail_at is not None and at >= fail_at:
            failed_from = air if failed_from is None else failed_from
            air = min(27.0, failed_from + 0.1 * (at - fail_at).total_seconds() / 60)
        metrics = {"temp_c": round(air, 2), "door_open": float(door)}
        metrics["defrost_on"] = float(in_defrost < 25)
        rows.append(("fridge-1", at, metrics))
    return rows


def test_doors_and_defrosts_raise_nothing_on_the_food_by_physics(tmp_path: Path) -> None:
    # No door grace, no defrost excuse (a defrost longer than 1 min is a fault) and a 10 min
    # duration: nothing but the physics keeps the food in band. A defrost's ramp of 0.34 K/min
    # for 25 min moves the estimate 0.34 (25 - 30 (1 - e^(-25/30))) = 2.7 K above its start;
    # the doors (25 % of the busy hours at +5 K) add about 1.2 K on average: the estimate
    # peaks at 7.1 °C after the noon defrost. The air is above 8 °C for 340 min in the 2 days.
    strict: dict[str, Any] = {
        "limits": {"fridge": {"door_grace_min": 0, "alert_after_min": 10}},
        "rules": {"defrost_max_min": 1},
    }
    rows = kitchen_day(MIDNIGHT, 2)
    food = harness_with(tmp_path / "food", **strict)
    food.feed(rows)
    assert food.alerts(OVER) == []
    food.close()
    on_air = {**strict, "rules": {**strict["rules"], "judge_on": "air"}}
    air = harness_with(tmp_path / "air", **on_air)
    air.feed(rows)
    assert sum(a.occurrences for a in air.alerts(OVER)) >= 8  # every defrost of the 2 days
    air.close()


def test_a_healthy_kitchen_with_the_default_settings_raises_nothing(harness: Harness) -> None:
    harness.feed(kitchen_day(MIDNIGHT, 2))
    assert harness.alerts(OVER) == []


def ramp_crossing_min(start_c: float, rate: float, limit: float, tau: float) -> float:
    """When the food crosses `limit` after the air, steady at `start_c`, starts rising at
    `rate` K/min: Tp(t) = start + rate (t - tau (1 - exp(-t/tau))), solved by bisection."""
    low, high = 0.0, 1000.0
    for _ in range(60):
        t = (low + high) / 2
        warm = start_c + rate * (t - tau * (1 - math.exp(-t / tau))) > limit
        low, high = (low, t) if warm else (t, high)
    return high


def test_a_dead_compressor_is_caught_within_the_duration_and_5_min(
    harness: Harness, air_judged: Harness
) -> None:
    # Air steady at 4 °C, then rising 0.1 K/min (6 K/h). The air crosses 8 °C after 40 min;
    # the food lags it by about tau (0.1 K/min x 30 min = 3 K), crossing at 66.8 min
    # (t - 30 (1 - exp(-t/30)) = 40 K / 0.1 K/min).
    fail = T0 + timedelta(hours=1)
    rows = series("fridge-1", T0, 60, [4.0] * 61 + [round(4.0 + 0.1 * m, 2) for m in range(1, 150)])
    food_crossed = fail + timedelta(minutes=ramp_crossing_min(4.0, 0.1, 8.0, TAU))
    assert (food_crossed - fail) / timedelta(minutes=1) == pytest.approx(66.76, abs=0.01)
    harness.feed(rows)
    [alert] = harness.alerts(OVER)
    assert alert.fired_at is not None
    late = alert.fired_at - (food_crossed + timedelta(minutes=30))
    # One reading a minute, so the alert comes within a minute of the duration (the filter
    # steps on each reading: its crossing may be one reading before the continuous one).
    assert timedelta(minutes=-1) <= late <= timedelta(minutes=5)
    air_judged.feed(rows)
    [on_air] = air_judged.alerts(OVER)
    assert on_air.fired_at == fail + minutes(41 + 30)  # 8.1 °C at 41 min; the food's 27 min later


def test_a_dead_compressor_in_a_busy_kitchen_is_caught(harness: Harness) -> None:
    # The kitchen trace, compressor dead at 10:00 local with doors still opening. The food,
    # about 4.5-5 °C then, crosses 8 °C within about an hour; the alert follows 30 min later.
    fail = MIDNIGHT + timedelta(hours=10)
    harness.feed(kitchen_day(MIDNIGHT, 1, fail_at=fail))
    [alert] = harness.alerts(OVER)
    assert alert.fired_at is not None
    assert timedelta(minutes=60) < alert.fired_at - fail < timedelta(minutes=120)


# -- settings -------------------------------------------------------------------------------


def test_tau_and_judge_on_are_set_per_kind_and_tau_per_device() -> None:
    config = school(
        rules={"kinds": {"freezer": {"judge_on": "air"}, "fridge": {"product_tau_min": 60}}},
    )
    fridge, freezer, sample = (config.device(d) for d in ("fridge-1", "freezer-1", "sample-1"))
    assert fridge is not None and freezer is not None and sample is not None
    assert tau_min(fridge.kind, config.rules_for(fridge)) == 60.0
    assert judge_on(freezer.kind, config.rules_for(freezer)) == "air"
    assert tau_min(sample.kind, config.rules_for(sample)) == 45.0  # the kind's default
    assert judge_on(sample.kind, config.rules_for(sample)) == "product"
    steam = config.device("rice-1")
    assert steam is not None and tau_min(steam.kind, config.rules_for(steam)) is None


def test_a_device_has_its_own_time_constant() -> None:
    fridge = {"id": "fridge-1", "kind": "fridge", "building": "canteen", "interval_s": 30}
    config = school(devices=[{**fridge, "rules": {"product_tau_min": 90}}])
    device = config.device("fridge-1")
    assert device is not None and tau_min(device.kind, config.rules_for(device)) == 90.0


@pytest.mark.parametrize("tau", [2, 500])
def test_a_time_constant_out_of_bounds_is_refused_naming_the_setting(tau: float) -> None:
    with pytest.raises(ValueError, match=r"rules\.kinds\.fridge\.product_tau_min"):
        school(rules={"kinds": {"fridge": {"product_tau_min": tau}}})


def test_a_time_constant_changes_when_the_food_is_judged(tmp_path: Path) -> None:
    # tau = 10 min: the food crosses 8 °C at 10 ln(10/6) = 5.1 min, so pending from minute 6.
    h = harness_with(tmp_path, rules={"kinds": {"fridge": {"product_tau_min": 10}}})
    h.feed(step_rows(0, 40))
    [alert] = h.alerts(OVER)
    assert alert.pending_since == T0 + minutes(6) and alert.fired_at == T0 + minutes(36)
    h.close()


# -- long defrosts on a drifting timer ------------------------------------------------------


def long_defrost_day(start: datetime, days: int, *, dead_after: int | None = None) -> Rows:
    """A fridge read every minute, temperature only (a bare probe): a 2-5 °C sawtooth, and a
    45 min heater defrost to 16 °C (then 15 min back) about every 6 h, on a timer that drifts
    23 min a defrost, so no period is ever learned. With `dead_after`, the compressor does not
    restart after that defrost (counted from 0): the air keeps rising 0.1 K/min from 16 °C."""
    rows: Rows = []
    starts = [60 + k * (360 + 23) for k in range(days * 4 + 1)]
    for m in range(days * 1440):
        air = 2.0 + 3.0 * (m % 20) / 20
        for k, s in enumerate(starts):
            into = m - s
            if 0 <= into < 45:
                air = air + (16.0 - air) * into / 45
            elif 45 <= into < 60:
                air = 16.0 + (3.5 - 16.0) * (into - 45) / 15
            if dead_after is not None and k == dead_after and into >= 45:
                air = min(27.0, 16.0 + 0.1 * (into - 45))
        rows.append(("fridge-1", start + minutes(m), {"temp_c": round(air, 2)}))
    return rows


def test_a_long_defrost_on_a_drifting_timer_is_no_alarm_on_the_food(harness: Harness) -> None:
    # The air spends about 50 min above 8 °C each time. The estimate (tau 30 min) follows it up
    # to about 11 °C and is above 8 °C for about 45 min, most of it after the air is back in
    # band: the food is cooling, the spell was no longer than a defrost, so nothing fires.
    harness.feed(long_defrost_day(MIDNIGHT, 3))
    assert harness.alerts(OVER) == []


def test_a_compressor_that_does_not_restart_after_a_long_defrost_is_caught(
    harness: Harness,
) -> None:
    # The third defrost (from 01:00 + 2 x 383 min = 13:46 local) ends at 14:31 and the air
    # keeps warming: it never comes back under its ceiling, so nothing excuses the food.
    rows = long_defrost_day(MIDNIGHT, 1, dead_after=2)
    harness.feed(rows)
    [alert] = harness.alerts(OVER)
    defrost_end = MIDNIGHT + minutes(60 + 2 * 383 + 45)
    assert alert.fired_at is not None
    assert alert.fired_at - defrost_end < timedelta(minutes=60)


# -- this unit's own defrost signature ------------------------------------------------------


def tired_defrost_day(start: datetime, days: int, *, stuck_after: int | None = None) -> Rows:
    """An old fridge read every minute, temperature only: a 2-5 °C sawtooth; a 40 min heater
    defrost 4 h 50 min, 5 h 50 min, 6 h 50 min, ... after the one before (a timer that drifts so
    far that no period is learned), the air heading for 18 °C (T = 18 - (18 - T0) exp(-t/12
    min)), then a tired compressor pulling it down slowly, T = 2 + 16 exp(-t/20 min): about 20
    min back to 8 °C and 36 min to the sawtooth's top. With `stuck_after`, the heater of that
    defrost (counted from 0) never stops: the air keeps rising 0.1 K/min from 17.5 °C."""
    rows: Rows = []
    starts = [45 + sum((290, 350, 410)[i % 3] for i in range(k)) for k in range(days * 5)]
    for m in range(days * 1440):
        air = 2.0 + 3.0 * (m % 20) / 20
        for k, s in enumerate(starts):
            into = m - s
            if 0 <= into < 40:
                air = 18.0 - (18.0 - air) * math.exp(-into / 12)
            elif 40 <= into < 120:
                air = max(air, 2.0 + 16.0 * math.exp(-(into - 40) / 20))
            if stuck_after is not None and k == stuck_after and into >= 40:
                air = min(27.0, 17.5 + 0.1 * (into - 40))
        rows.append(("fridge-1", start + minutes(m), {"temp_c": round(air, 2)}))
    return rows


def firings(harness: Harness, rows: Rows) -> list[datetime]:
    """When the over-temperature rule went to firing, reading by reading (an alert stays open
    until closed, so later firings are only its occurrences)."""
    [rule] = [
        r
        for r in harness.service.engine.devices["fridge-1"].rules
        if isinstance(r, ExcursionRule) and r.above
    ]
    out: list[datetime] = []
    for row in rows:
        was = rule.firing
        harness.feed([row], store=False)
        if rule.firing and not was:
            out.append(row[1])
    return out


def test_a_slow_pull_down_after_a_long_defrost_matches_the_units_signature(
    harness: Harness, tmp_path: Path
) -> None:
    # The estimate (tau 30 min) crosses 8 °C about 20 min into each defrost and stays above it
    # for about 40 min, 20 of them with the air still above 8 °C: a food that follows a spell
    # exactly as long and as warm as this unit's other defrosts. Once three are seen (the
    # signature speaks), that excuses it; before, and after, the compressor pulling the air
    # down below the food says the food is cooling. No defrost fires, while every one does
    # when the air is judged without excuses (checked below).
    rows = tired_defrost_day(MIDNIGHT, 3)
    fired = firings(harness, rows)
    disturbances = harness.service.engine.devices["fridge-1"].disturbances
    assert disturbances is not None
    signature = disturbances.signature()
    assert signature is not None
    assert 60 <= signature.length_ms / 60_000 <= 80 and 12.0 <= signature.rise_c <= 18.0
    assert fired == []
    # The same data on the air, with no defrost lasting over a minute: every one of the 13
    # defrosts of the 3 days (starting 00:45, then 290, 350, 410 min apart) fires.
    bare = harness_with(
        tmp_path, rules={"defrost_max_min": 1, "defrost_recovery_min": 1, "judge_on": "air"}
    )
    assert len(firings(bare, rows)) == 13
    bare.close()


def test_a_heater_that_does_not_stop_outlasts_the_signature_and_is_caught(
    harness: Harness,
) -> None:
    # The 7th defrost (from 00:45 + 2 x (290 + 350 + 410) min = 11:45 local of day 2) keeps
    # heating. The spell is excused only while it is no longer than the unit's defrosts and
    # their pull-down (at most 60 + 20 min from the air rising above the sawtooth, a few
    # minutes in); the 30 min then count: the alert comes within 5 + 80 + 30 min.
    rows = tired_defrost_day(MIDNIGHT, 2, stuck_after=6)
    start = MIDNIGHT + minutes(45 + 6 * 350)
    fired = [at for at in firings(harness, rows) if at > start]
    assert fired, "a stuck heater must be caught"
    assert fired[0] - start <= timedelta(minutes=115)


# -- a food-simulant probe: judged on it, and tau learned from it ---------------------------


def with_simulant(rows: Rows, tau: float, *, resolution_c: float = 0.1) -> Rows:
    """`rows` with a food-simulant probe beside the air (`food_temp_c`): a bottle whose
    temperature follows the air with time constant `tau` min, integrated every 10 s with the
    air interpolated between readings (not the rule's own discretisation), read to the
    probe's resolution."""
    out: Rows = []
    food: float | None = None
    previous: tuple[datetime, float] | None = None
    for device, at, metrics in rows:
        air = metrics["temp_c"]
        if previous is None or food is None:
            food = air
        else:
            span = (at - previous[0]).total_seconds()
            steps = max(1, round(span / 10))
            for i in range(1, steps + 1):
                around = previous[1] + (air - previous[1]) * i / steps
                food += (around - food) * (span / steps) / (tau * 60)
        previous = (at, air)
        simulant = round(round(food / resolution_c) * resolution_c, 2)
        out.append((device, at, {**metrics, "food_temp_c": simulant}))
    return out


def over_rule(harness: Harness) -> ExcursionRule:
    [rule] = [
        r
        for r in harness.service.engine.devices["fridge-1"].rules
        if isinstance(r, ExcursionRule) and r.above
    ]
    return rule


def test_tau_is_learned_from_a_food_simulant_probe(harness: Harness) -> None:
    # The tests' two-node fridge (doors, defrosts, a kitchen) with a glycol bottle of tau 60
    # min beside the air probe, read to 0.1 K every minute. After half a day the fit is not yet
    # a day's worth: the kind's default (30 min) stays. After two days the learned tau is
    # within 10 % of the bottle's, and the estimate uses it.
    plant = ColdPlant(metered=True)
    rows = with_simulant(cold_fridge("fridge-1", MIDNIGHT, 2, plant, seed=3), 60.0)
    half = len(rows) // 4
    harness.feed(rows[:half], store=False)
    rule = over_rule(harness)
    assert rule.tau == (30.0, "default")
    harness.feed(rows[half:], store=False)
    assert rule.tau is not None and rule.tau[1] == "learned"
    assert rule.tau[0] == pytest.approx(60.0, rel=0.1)
    assert rule.product is not None and rule.product.tau_ms == rule.tau[0] * 60_000
    fit = rule.tau_learner.fit() if rule.tau_learner is not None else None
    assert fit is not None and fit[1] <= 0.1  # the confidence it was learned with


def test_a_configured_tau_wins_over_the_learned_one(tmp_path: Path) -> None:
    h = harness_with(tmp_path, rules={"kinds": {"fridge": {"product_tau_min": 45}}})
    plant = ColdPlant(metered=True)
    h.feed(with_simulant(cold_fridge("fridge-1", MIDNIGHT, 2, plant, seed=3), 60.0), store=False)
    rule = over_rule(h)
    assert rule.tau == (45.0, "config")
    assert rule.tau_learner is not None and rule.tau_learner.learned() is not None
    h.close()


def test_tau_learning_is_bounded_and_needs_the_air_to_move() -> None:
    day = 24 * 60
    # Air and food at one temperature all day: nothing to fit (no slope to measure).
    flat = TauLearner(max_gap_ms=300_000)
    for m in range(day + 1):
        flat.observe(m * 60_000, 4.0, 4.0, door_open=False)
    assert flat.fit() is None and flat.learned() is None
    # A bottle of tau 600 min under a 2-5 °C sawtooth: learned, clamped to the 240 min bound.
    slow, food = TauLearner(max_gap_ms=300_000), 3.5
    for m in range(2 * day + 1):
        air = 2.0 + 3.0 * (m % 20) / 20
        food += (air - food) / 600
        slow.observe(m * 60_000, air, round(food, 4), door_open=False)
    fit = slow.fit()
    assert fit is not None and fit[0] > 240
    assert slow.learned() == 240.0


def test_a_device_with_a_food_probe_is_judged_on_the_probe(harness: Harness) -> None:
    # The air sits at 4 °C while the probe in the food reads 9 °C (food put in warm): the
    # estimate from the air would say 4 °C, the food says 9. Pending at the first reading,
    # firing 30 min later, the message names the probe and the air.
    warm = series("fridge-1", T0, 60, [4.0] * 40, food_temp_c=[9.0] * 40)
    harness.feed(warm)
    [alert] = harness.alerts(OVER)
    assert alert.pending_since == T0 and alert.fired_at == T0 + minutes(30)
    assert alert.evidence["food_probe_c"] == 9.0 and alert.evidence["temp_c"] == 4.0
    assert alert.evidence["tau_source"] == "default" and alert.evidence["tau_min"] == 30.0
    assert "food probe; air 4.0 °C" in alert.message.en and "食品探头温度" in alert.message.zh


def test_a_food_probe_that_stays_cold_through_a_warm_air_spell_raises_nothing(
    harness: Harness,
) -> None:
    # 90 min of air at 12 °C (long enough for the estimate from the air to fire) while the
    # probe in the food stays at 5 °C: the food is judged, not the estimate.
    values = [4.0] * 5 + [12.0] * 90 + [4.0] * 10
    harness.feed(series("fridge-1", T0, 60, values, food_temp_c=[5.0] * len(values)))
    assert harness.alerts(OVER) == []


def test_a_food_probe_reporting_apart_from_the_air_is_judged_all_along(harness: Harness) -> None:
    # A two-channel sensor that sends each channel in a message of its own: the air every
    # minute on the minute at 4 °C, the probe in the food every 5 min at half past, at
    # 9 °C. The probe's latest reading stands for the food at the air's reports until the
    # device's silence threshold: one alert, pending at the air's first report after the
    # probe's, firing 30 min later.
    air = series("fridge-1", T0, 60, [4.0] * 60)
    stock = [
        ("fridge-1", T0 + timedelta(seconds=30 + 300 * k), {"food_temp_c": 9.0}) for k in range(12)
    ]
    harness.feed(sorted(air + stock, key=lambda row: row[1]))
    [alert] = harness.alerts(OVER)
    assert alert.pending_since == T0 + minutes(1)
    assert alert.fired_at == T0 + minutes(31)
    assert alert.occurrences == 1
    assert alert.evidence["food_probe_c"] == 9.0 and alert.evidence["temp_c"] == 4.0


def test_a_silent_food_probe_hands_the_verdict_back_to_the_estimate(harness: Harness) -> None:
    # The probe read 9 °C once and then fell silent; the air stays at 4 °C. Past the
    # device's silence threshold the estimate from the air judges again: the run ends.
    air = series("fridge-1", T0, 60, [4.0] * 60)
    stock = [("fridge-1", T0 + timedelta(seconds=30), {"food_temp_c": 9.0})]
    harness.feed(sorted(air + stock, key=lambda row: row[1]))
    assert all(alert.fired_at is None for alert in harness.alerts(OVER))
    assert over_rule(harness).state.phase == "ok"
