"""A coarse display read often: the time between two steps the same way is the time the air
took to cross one display step, so the mean falling pace over the mean rising one is the
compressor's on-time over its off-time (`seal_probe_duty.hour_paced_falls`). The share of
readings taken while falling counts each turn a step late and is drawn towards a half."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cold_state import ColdSealState, forget_recent, probe_move
from alerts.rules.seal_duty import HourValue, learn_duty
from alerts.rules.seal_probe_duty import (
    ProbeMoves,
    hour_falls,
    hour_held_falls,
    hour_paced_falls,
    probe_reading,
    window_falls,
)
from alerts.seal_basis import seal_basis
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run
from tests.alerts.test_seal_probe_held import sawtooth

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def _hours(
    duty: float,
    seed: int,
    *,
    every_min: float = 1.0,
    step_c: float = 0.5,
    lost: tuple[float, float] | None = None,
    air: Callable[[float], float] | None = None,
    noise_c: float = 0.02,
) -> list[HourFeatures]:
    """Six hours of a probe read every `every_min` from a random phase, shown to `step_c`,
    with no reading at all between the two minutes of `lost`; the air a thermostat's
    sawtooth at `duty` unless `air` (°C at a minute) is given."""
    rng = random.Random(seed)
    st = ColdSealState()
    hours = [HourFeatures(h * HOUR_MS, h) for h in range(7)]
    at = rng.uniform(0, 1)
    while at < 6 * 60:
        st.history, st.hour = hours[: int(at // 60)], hours[int(at // 60)]
        if lost is None or not lost[0] <= at < lost[1]:
            true = air(at) if air is not None else sawtooth(at, duty)
            shown = round((true + rng.gauss(0, noise_c)) / step_c) * step_c
            ts = round(at * MINUTE_MS)
            probe_move(st, ts, shown, 3 * round(every_min * MINUTE_MS))
            st.cycles.last_ms, st.cycles.last_c = ts, shown
        at += every_min
    st.moves.release(10 * HOUR_MS, hours)
    return [h for h in hours if h.readings]


def _share(hours: list[HourFeatures], reading: HourValue) -> float:
    values = [v for h in hours if (v := reading(h)) is not None]
    return sum(values) / len(values)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_paced_share_follows_the_duty_where_the_held_share_is_drawn_to_a_half(
    seed: int,
) -> None:
    duties = (0.3, 0.45, 0.6)
    runs = [_hours(duty, seed) for duty in duties]
    assert all(probe_reading(hours) is hour_paced_falls for hours in runs)
    paced = [_share(hours, hour_paced_falls) for hours in runs]
    held = [_share(hours, hour_held_falls) for hours in runs]
    # each pace is read to a minute, so a step crossed in about one reading is read a little
    # short; the share is still within a few hundredths of the duty, and moves with it
    assert all(abs(p - duty) < 0.06 for duty, p in zip(duties, paced, strict=True))
    # each turn read a step late draws the held share towards a half
    assert paced[2] - paced[0] > held[2] - held[0] + 0.04


def test_where_a_third_of_the_readings_repeat_the_paced_share_is_read_not_the_moves() -> None:
    # read every 45 s on a 0.25 K display: most readings move, a step up and a step down as
    # often whatever the duty, so the share of falling moves stays at a half; the steps that
    # take two readings or more are paced
    runs = [_hours(duty, 2, every_min=0.75, step_c=0.25) for duty in (0.3, 0.6)]
    for hours in runs:
        flat = 1 - sum(h.moves for h in hours) / sum(h.readings for h in hours)
        assert 0.2 < flat < 0.5
        assert probe_reading(hours) is hour_paced_falls
    falls = [_share(hours, hour_falls) for hours in runs]
    paced = [_share(hours, hour_paced_falls) for hours in runs]
    assert abs(falls[1] - falls[0]) < 0.05
    assert paced[1] - paced[0] > 0.2


def _ran_through(at_min: float) -> float:
    """A compressor that cannot reach its cut-out: pulled down from 8.5 °C after a restock, the
    air levels off at 3.6 °C and the compressor runs on."""
    return 3.6 + 4.9 * math.exp(-at_min / 35.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_hour_the_compressor_ran_through_reads_an_on_share_of_one(seed: int) -> None:
    # the first hour steps down 0.5 K every 5-10 min and never warms: the compressor ran all
    # of it; later hours sit on one level (a noisy probe flickers across its edge), no pace
    hours = _hours(0.0, seed, air=_ran_through, noise_c=0.09)
    assert hours[0].rise_paces == 0 and hours[0].fall_paces >= 2
    assert hour_paced_falls(hours[0]) == 1.0
    assert all(hour_paced_falls(h) is None for h in hours[2:])


def test_a_short_pull_down_that_never_warmed_is_no_reading() -> None:
    # steps down for under half an hour, then nothing clean: too short to say it ran through
    hours = _hours(0.0, 4, air=_ran_through, lost=(25.0, 6 * 60.0))
    assert hours[0].rise_paces == 0 and hours[0].fall_paces >= 2
    assert hour_paced_falls(hours[0]) is None


@pytest.mark.parametrize("duty", [0.3, 0.6, 0.85])
def test_a_cycling_compressor_is_never_read_as_running_through(duty: float) -> None:
    # a 1.7 K differential shown in 0.5 K steps warms by three steps each cycle, however
    # long the compressor runs within it
    for seed in (1, 2, 3):
        values = [hour_paced_falls(h) for h in _hours(duty, seed, noise_c=0.09)]
        assert all(v is not None and v < 0.95 for v in values)


def test_a_gap_in_the_readings_paces_no_step_across_it() -> None:
    whole = _hours(0.45, 7)
    gapped = _hours(0.45, 7, lost=(100.0, 100.9 + 15.0))  # a quarter hour unread
    hour = 1  # the gap lies in the second hour
    assert len(whole) == len(gapped) == 6
    paces = whole[hour].rise_paces + whole[hour].fall_paces
    assert gapped[hour].rise_paces + gapped[hour].fall_paces < paces
    # the steps either side of the gap are not one pace: the mean paces stay the usual
    paced, usual = hour_paced_falls(gapped[hour]), hour_paced_falls(whole[hour])
    assert paced is not None and usual is not None
    assert abs(paced - usual) < 0.1


def test_a_probe_that_paces_too_few_steps_keeps_its_other_reading() -> None:
    # read every 4 min, a 15-min cycle's readings mostly move: their moves are read
    hours = _hours(0.45, 5, every_min=4.0, step_c=0.25)
    assert probe_reading(hours) is hour_falls
    # read every minute with a 1.5 K display on the 1.7 K sawtooth, the air crosses one
    # step each way a cycle, no pace: the share of readings taken while falling is read
    hours = _hours(0.45, 5, step_c=1.5)
    assert probe_reading(hours) is hour_held_falls


def test_paced_norms_are_learned_and_the_window_says_the_paced_share() -> None:
    learning = []
    for day in range(4):  # four days of the same six hours
        for h in _hours(0.3, day + 1):
            h.start_ms += day * 24 * HOUR_MS
            learning.append(h)
    model = learn_duty(learning, reading=hour_paced_falls)
    assert model is not None
    leaky = _hours(0.45, 9)
    change = window_falls(leaky, model, hour_paced_falls)
    assert change is not None and change.feature == "probe_paced"
    assert change.base == pytest.approx(0.3, abs=0.05)
    assert change.now == pytest.approx(0.45, abs=0.05)


@pytest.mark.parametrize("door", [False, True])
def test_time_a_disturbance_claims_back_breaks_the_pace(door: bool) -> None:
    moves = ProbeMoves()
    hour = HourFeatures(0, 0)
    for start_s, moved in ((0, 1), (60, 0), (120, 1), (180, 0), (240, 1)):
        moves.add(start_s * 1000, moved, True)  # falling steps 2 min apart
    if door:  # a door the probe showed only at its peak claims the minute at 60 s back
        moves.disturbed(60_000, 90_000)
    moves.release(10 * HOUR_MS, [hour])
    assert hour.readings == (4 if door else 5)
    assert hour.fall_paces == (1 if door else 2)
    assert hour.fall_pace_ms == (120_000 if door else 240_000)


def test_a_coarse_display_read_often_is_judged_on_its_paced_share() -> None:
    """End to end: a 2 K sawtooth on a 0.5 K display read every 30 s learns the paced share,
    says so in its evidence (the basis then says the compressor's duty is seen), and a leak's
    paced share rises above its norm."""
    plant = ColdPlant(differential_k=2.0, resolution_c=0.5, noise_c=0.03, interval_s=30.0)
    onset = MIDNIGHT + timedelta(days=6)
    rows = cold_plant.fridge("f", MIDNIGHT, 9, plant, seed=3, leak_ua=4.0, leak_from=onset)
    _, points = run(engine(plant.interval_s), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and all(p.evidence.get("probe_paced") == 1 for p in judged)
    basis = seal_basis(judged[-1])
    assert basis is not None and "probe_paced" in basis.streams and basis.compressor_seen
    before = [p for p in judged if p.ts < onset]
    after = [p for p in judged if p.ts >= onset + timedelta(hours=18)]
    assert max(float(p.evidence["probe_evidence"]) for p in before) < 0.5  # type: ignore[arg-type]
    assert max(float(p.evidence["probe_evidence"]) for p in after) > 0.5  # type: ignore[arg-type]


def test_an_excursion_forgets_the_last_step_so_no_pace_spans_it() -> None:
    st = ColdSealState()
    hour = HourFeatures(0, 0)
    st.history, st.hour = [], hour
    st.moves.add(0, 1, True)
    st.moves.release(10 * HOUR_MS, [hour])
    assert st.moves.step_ms == 0
    forget_recent(st, 2 * HOUR_MS)
    assert st.moves.step_ms is None
