"""Seal evidence that needs no sawtooth: with `power_w` the compressor's on-share is measured
per clean hour and compared with the unit's own hourly norm (`seal_duty`); and a leak's
overshoot past the usual cut-out is evidence, not a door (`cycle_inference`)."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import numpy as np

from alerts.rules.cycle_inference import CycleInference
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import CusumState
from alerts.rules.seal_duty import learn_duty, score_hour
from alerts.rules.seal_probe_duty import hour_falls
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# A probe in a bottle of glycol (30 min): the 2 K sawtooth of a fridge whose cycles last
# 15-30 min is smoothed away, as a chest freezer's is for a 1-5 min probe; a plug meter and a
# door contact report every minute.
SMOOTHED = ColdPlant(
    differential_k=2.0,
    interval_s=60.0,
    metered=True,
    probe_lag_s=1800.0,
    defrosts_a_day=2,
    doors_per_busy_hour=3.0,
)


def test_a_probe_that_draws_no_sawtooth_is_judged_on_its_metered_duty() -> None:
    onset = MIDNIGHT + timedelta(days=6)
    # severity 0.2 of a 7 W/K-per-severity leak (as test_seal_inference's 0.35), over 12 h
    leaky = cold_plant.fridge("f", MIDNIGHT, 10, SMOOTHED, seed=1, leak_ua=1.4, leak_from=onset)
    inference = CycleInference(max_step_ms=120_000)
    cycles = [
        c
        for _, at, m in leaky
        if (c := inference.observe(int(at.timestamp() * 1000), m["temp_c"], None, None))
    ]
    starts = sum(1 for a, b in itertools.pairwise(leaky) if b[2]["power_w"] > a[2]["power_w"])
    assert len(cycles) < 0.5 * starts  # the probe misses most compressor cycles
    findings, points = run(engine(SMOOTHED.interval_s), leaky)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and all("duty_evidence" in p.evidence for p in judged)
    onset_ms = int(onset.timestamp() * 1000)
    assert not [f for f in findings if f.at_ms < onset_ms]
    fired = [f for f in findings if f.phase.value == "firing"]
    assert fired, "a 0.2 leak was found from the metered duty"
    assert 0 < (fired[0].at_ms - onset_ms) / HOUR_MS <= 72  # issue 11: 0.2 within 72 h
    assert "compressor duty" in fired[0].message.en
    assert "kitchen" not in fired[0].message.en  # the plug's draw reads the kitchen


def test_the_same_cabinet_healthy_raises_nothing() -> None:
    for seed in (1, 2):
        healthy = cold_plant.fridge("f", MIDNIGHT, 10, SMOOTHED, seed=seed)
        findings, points = run(engine(SMOOTHED.interval_s), healthy)
        assert findings == []
        judged = [p for p in points if "learning" not in p.evidence]
        assert judged
        # the evidence never reaches the threshold (noise excursions do come and go)
        shares = [p.evidence["duty_evidence"] for p in judged]
        assert all(isinstance(e, float | int) and e < 1.0 for e in shares)


def hours(days: int, duty: float, rng: np.random.Generator, start: int = 0) -> list[HourFeatures]:
    """Clean hours of a unit running `duty` (log-normal hour-to-hour scatter of 15 %)."""
    out = []
    for i in range(days * 24):
        hour = HourFeatures(start + i * HOUR_MS, i % 24, clean_ms=45 * MINUTE_MS)
        share = min(1.0, duty * math.exp(rng.normal(0, 0.15)))
        hour.clean_on_ms = int(share * hour.clean_ms)
        out.append(hour)
    return out


def test_a_day_without_meals_is_judged_once_the_learning_days_held_one() -> None:
    rng = np.random.default_rng(5)
    weekdays = learn_duty(hours(4, 0.25, rng))  # learned Monday to Thursday
    assert weekdays is not None and weekdays.quiet_hours == 0 and not weekdays.judges_quiet
    learned = hours(4, 0.25, rng)
    for hour in learned[48:72]:  # the third learning day had no meals (a holiday)
        hour.quiet = True
    with_holiday = learn_duty(learned)
    assert with_holiday is not None and with_holiday.quiet_hours == 24
    assert with_holiday.judges_quiet


def test_the_weekend_adds_no_clean_hour_evidence_its_learning_never_saw() -> None:
    # Learned Monday to Thursday; Saturday and Sunday (days 5 and 6) serve no meals: the
    # clean hours' evidence stands still over them, and moves again from Monday.
    healthy = cold_plant.fridge("f", MIDNIGHT, 8, SMOOTHED, seed=3)
    _, points = run(engine(SMOOTHED.interval_s), healthy)
    weekend = [
        p.evidence["duty_evidence"]
        for p in points
        if MIDNIGHT + timedelta(days=5, hours=4) <= p.ts < MIDNIGHT + timedelta(days=7)
    ]
    assert len(weekend) > 24 and len(set(weekend)) == 1


def test_healthy_hours_do_not_add_up_and_a_fifth_more_on_time_does() -> None:
    rng = np.random.default_rng(4)
    model = learn_duty(hours(4, 0.25, rng))
    assert model is not None
    assert model.threshold.k >= 0.5 and model.threshold.h >= 10.0
    state = CusumState()
    for hour in hours(30, 0.25, rng):  # a month of healthy clean hours
        z, move = score_hour(hour.clean_on_ms / hour.clean_ms, model.hours[hour.hour])
        state.add(z, move, model.threshold)
        assert state.evidence < model.threshold.h
    count = 0
    for hour in hours(3, 0.30, rng):  # 20 % more on-time: one of issue 11's 0.2 leaks
        z, move = score_hour(hour.clean_on_ms / hour.clean_ms, model.hours[hour.hour])
        state.add(z, move, model.threshold)
        count += 1
        if state.evidence >= model.threshold.h:
            break
    assert state.evidence >= model.threshold.h
    assert count <= 48
    assert 0.1 <= state.move <= 0.3


def sawtooth(
    inference: CycleInference, start: int, teeth: int, warm: float, overshoot: float
) -> int:
    """`teeth` cycles between 2 °C and 5 °C read every minute: warming at `warm` K/h to the
    cut-out plus `overshoot`, pulling down at 12 K/h. Returns the time reached."""
    at = start
    for _ in range(teeth):
        top = 5.0 + overshoot
        for c in np.arange(2.0, top, warm / 60):
            inference.observe(at, round(float(c), 2), None, None)
            at += MINUTE_MS
        for c in np.arange(top, 2.0, -12.0 / 60):
            inference.observe(at, round(float(c), 2), None, None)
            at += MINUTE_MS
    return at


def test_a_leaks_overshoot_past_the_cut_out_is_no_door_and_a_door_is() -> None:
    inference = CycleInference(max_step_ms=120_000)
    at = sawtooth(inference, 0, 30, warm=6.0, overshoot=0.0)
    assert inference.usual is not None and inference.state.upset_ms is None
    # a leak: each tooth warms a little faster and peaks ever further past the cut-out (the
    # probe lags the air); before, a peak 1.2 K above the cut-out was taken for a door
    for step in range(1, 9):
        at = sawtooth(inference, at, 1, warm=6.0 + 0.5 * step, overshoot=0.15 * step)
    assert inference.state.upset_ms is None
    # a door: the air jumps 2.5 K in two minutes
    for c in (2.0, 2.1, 2.2, 3.4, 4.7, 4.6, 4.4, 4.2, 4.0, 3.8, 3.6, 3.4, 3.2):
        inference.observe(at, c, None, None)
        at += MINUTE_MS
    assert inference.state.upset_ms is not None


def test_the_metered_evidence_survives_a_snapshot_and_restore() -> None:
    rows = cold_plant.fridge("f", MIDNIGHT, 8, SMOOTHED, seed=3)
    cut = MIDNIGHT + timedelta(days=6, hours=5, minutes=17)  # learned; clean time held back
    straight = run(engine(SMOOTHED.interval_s), rows)
    first = engine(SMOOTHED.interval_s)
    before = run(first, [r for r in rows if r[1] < cut])
    second = engine(SMOOTHED.interval_s)
    second.restore(first.snapshot())
    after = run(second, [r for r in rows if r[1] >= cut])
    assert before[0] + after[0] == straight[0]
    assert [(p.ts, p.health, p.evidence) for p in before[1] + after[1]] == [
        (p.ts, p.health, p.evidence) for p in straight[1]
    ]
    assert any("duty_evidence" in p.evidence for p in before[1])  # judged before the cut


def test_a_sparse_plug_meter_on_a_lightly_loaded_cabinet_is_read_from_the_first_days() -> None:
    # A 5-min plug meter, the compressor on a fifth of the time: its draw was learned in 1 %
    # steps from the first reading (15 W, the fan), some 3,000 readings (ten days) before any
    # hour counted; now the first reading above the fan sets the scale.
    plant = ColdPlant(
        differential_k=2.0,
        interval_s=300.0,
        metered=True,
        probe_lag_s=1800.0,
        capacity_w=800.0,
        defrosts_a_day=2,
        doors_per_busy_hour=3.0,
    )
    rows = cold_plant.fridge("f", MIDNIGHT, 7, plant, seed=5)
    _, points = run(engine(plant.interval_s), rows)
    learning = [p for p in points if p.ts < MIDNIGHT + timedelta(days=3)]
    assert learning[-1].evidence["learned_h"] >= 40  # type: ignore[operator]  # was 17
    judged = [p for p in points if "duty_evidence" in p.evidence]
    # judged once the 4 learning days are over (was 10 h later)
    assert judged and judged[0].ts <= MIDNIGHT + timedelta(days=4, hours=6)


# A bare probe like a chest freezer's: a 1 K differential gives 8-9 min cycles (pull-downs of
# about 2 min), read every 2 min through a 2 min lag: no tooth the cycle reader can trust.
CHEST_LIKE = ColdPlant(
    differential_k=1.0,
    interval_s=120.0,
    probe_lag_s=120.0,
    defrosts_a_day=2,
    doors_per_busy_hour=3.0,
)


def test_a_bare_probe_that_draws_no_sawtooth_is_judged_on_its_falling_share() -> None:
    # Before, such a unit learned no cycle norms and had no meter: the rule never spoke. Its
    # moves still fall while the compressor runs, and a leak makes it run a larger share of
    # every hour (`seal_probe_duty`).
    onset = MIDNIGHT + timedelta(days=6)
    leaky = cold_plant.fridge("f", MIDNIGHT, 10, CHEST_LIKE, seed=1, leak_ua=2.45, leak_from=onset)
    findings, points = run(engine(CHEST_LIKE.interval_s), leaky)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and all("probe_evidence" in p.evidence for p in judged)
    assert all("evidence_k" not in p.evidence for p in judged)  # no per-cycle norms
    onset_ms = int(onset.timestamp() * 1000)
    assert not [f for f in findings if f.at_ms < onset_ms]
    fired = [f for f in findings if f.phase.value == "firing"]
    assert fired, "a 0.35 leak was found from the probe's falling share"
    # 35 h here: short of issue 11's 24 h for 0.35, within its 72 h for 0.2
    assert 0 < (fired[0].at_ms - onset_ms) / HOUR_MS <= 48
    assert "falling probe readings" in fired[0].message.en
    healthy = cold_plant.fridge("f", MIDNIGHT, 10, CHEST_LIKE, seed=1)
    assert run(engine(CHEST_LIKE.interval_s), healthy)[0] == []


def test_the_falling_share_follows_the_on_share_however_few_readings_a_cycle() -> None:
    # A 2 K sawtooth of 12 min cycles read every 5 min at a drifting phase: no tooth is drawn,
    # yet the share of falling moves rises with the on-share (monotone, pulled towards 1/2).
    shares = []
    for duty in (0.25, 0.4, 0.55):
        hour = HourFeatures(0, 0)
        period_s, step_s = 720.0, 300.0 + 7.0
        previous = None
        for k in range(400):
            phase = (k * step_s % period_s) / period_s
            temp = (phase / duty) * -2 if phase < duty else -2 + 2 * (phase - duty) / (1 - duty)
            if previous is not None and temp != previous:
                hour.moves += 1
                hour.falls += temp < previous
            previous = temp
        share = hour_falls(hour)
        assert share is not None
        shares.append(share)
    assert shares[0] < shares[1] < shares[2]
