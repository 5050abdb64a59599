"""The cycle period of a probe read too sparsely to draw its sawtooth (`seal_fold`): readings
folded on the right period line up into one tooth, on any other they scatter. A chest
freezer whose compressor cycles every 15-25 min, read every 5 min (Tasmota's default), is
judged on its period, which a leak shortens while the compressor runs under half the time
(issue 11: held-out sparse chest freezers took 49-63 h to confirm a 0.35 leak from their
probe)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from alerts import RuleId
from alerts.engine import RuleEngine
from alerts.model import Finding, Phase, SealHealthPoint
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import HourNorm, cycle_log, slope_on_share, usual_slope_on_share
from alerts.rules.seal_fold import (
    about,
    fold,
    judges_period,
    least_move,
    most_misfit,
    teeth_aliased,
    usual_period,
)
from firmware_sim.families import FAMILIES, cold_params, draw_units
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import ColdStorageModel, SiteDay
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import run
from tests.alerts.test_seal_lost_sawtooth import freezer

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def sawtooth(
    period_min: float,
    on_share: float,
    every_min: float = 5.0,
    hours: float = 2.0,
    step_c: float = 0.2,
    noise_c: float = 0.05,
    seed: int = 1,
    swing_c: float = 3.0,
) -> tuple[list[int], list[float]]:
    """A thermostat's tooth (`swing_c`: warming while off, pulling down while on) read every
    `every_min` from a random phase, with noise and a display step."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, every_min) + np.arange(0, hours * 60, every_min)
    phase = np.mod(t, period_min) / period_min
    off = 1 - on_share
    tooth = np.where(phase < off, phase / off, (1 - phase) / on_share) * swing_c - 18.0
    read = np.round((tooth + rng.normal(0, noise_c, len(t))) / step_c) * step_c
    return [int(x * MINUTE_MS) for x in t], [float(x) for x in read]


@pytest.mark.parametrize(("period", "on_share"), [(17.5, 0.28), (13.9, 0.52), (24.4, 0.2)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sparse_probe_folds_on_the_cycle_period(
    period: float, on_share: float, seed: int
) -> None:
    times, temps = sawtooth(period, on_share, seed=seed)
    found = fold(times, temps, 5 * MINUTE_MS)
    assert found is not None
    assert found.period_ms / MINUTE_MS == pytest.approx(period, rel=0.025)
    assert found.dispersion < 0.3
    assert found.on_share == pytest.approx(on_share, abs=0.2)


def test_a_period_is_not_read_as_its_multiple() -> None:
    # a 12-min tooth over a 3-h window: folds on 24 and 36 min line up as well as on 12
    times, temps = sawtooth(12.0, 0.3, hours=3.0)
    found = fold(times, temps, 5 * MINUTE_MS)
    assert found is not None and found.period_ms / MINUTE_MS == pytest.approx(12.0, rel=0.02)


def test_a_window_whose_load_moved_is_not_folded_once_the_units_misfit_is_known() -> None:
    # A 36-min tooth for an hour, then the kitchen's morning: shorter, busier cycles a few
    # tenths warmer. Some order of the readings still runs smoothly, on 28-30 min (a healthy
    # held-out walk-in folded its busy mornings so, each scored as a leak's shorter period),
    # but no tooth fits them: the harmonics leave many times what they leave on a steady
    # hour.
    steady = [fold(*sawtooth(35.6, 0.25, seed=seed), 5 * MINUTE_MS) for seed in range(1, 13)]
    hours = [
        HourFeatures(i * HOUR_MS, i % 24, fold_period_ms=f.period_ms, fold_misfit=f.misfit)
        for i, f in enumerate(steady)
        if f is not None
    ]
    usual = usual_period(hours)
    assert usual is not None
    most = most_misfit(hours, usual)
    assert all(f is not None and f.misfit <= most for f in steady)
    moved = 0
    for seed in range(1, 9):
        t1, v1 = sawtooth(35.6, 0.25, seed=seed, hours=1.0)
        t2, v2 = sawtooth(31.0, 0.3, seed=seed + 50, hours=1.0)
        times = t1 + [t + HOUR_MS for t in t2]
        found = fold(times, v1 + [v + 0.3 for v in v2], 5 * MINUTE_MS, usual)
        if found is not None:
            moved += 1
            assert found.period_ms < 0.9 * usual  # read as a leak's period...
            assert found.misfit > most  # ... and not counted
    assert moved >= 4


def teeth_hours(tooth_min: float, teeth: int) -> list[HourFeatures]:
    """Learning hours holding `teeth` read teeth of `tooth_min` each, one an hour."""
    return [
        HourFeatures(i * HOUR_MS, i % 24, cycle_ms=int(tooth_min * MINUTE_MS), warm=[1.0])
        for i in range(teeth)
    ]


def test_teeth_far_longer_than_the_folded_period_are_not_the_cycle() -> None:
    # A healthy held-out under-counter freezer read every 2 min folded its 10-min cycle on
    # 9 min, while the cycle reader trusted 20 teeth in four days averaging 55 min.
    every, usual = 2 * MINUTE_MS, 9 * MINUTE_MS
    assert teeth_aliased(teeth_hours(55.0, 20), usual, every)
    assert not teeth_aliased(teeth_hours(10.0, 80), usual, every)  # the cycle's own teeth
    assert not teeth_aliased(teeth_hours(27.0, 40), usual, every)  # folded on a third
    # a fold near two intervals tells no period (a 35-min walk-in folded on 4.3 min), nor
    # does a probe without a fold or without teeth
    assert not teeth_aliased(teeth_hours(35.0, 40), 4.3 * MINUTE_MS, every)
    assert not teeth_aliased(teeth_hours(55.0, 20), None, every)
    assert not teeth_aliased([], usual, every)


def test_readings_with_no_period_give_no_fold() -> None:
    rng = np.random.default_rng(4)
    times = [int(m * MINUTE_MS) for m in np.arange(0, 120, 5.0)]
    assert fold(times, [float(x) for x in rng.normal(-18, 1, len(times))], 5 * MINUTE_MS) is None
    assert fold(times, [-18.0] * len(times), 5 * MINUTE_MS) is None  # a flat line
    assert fold(times[:10], [-18.0 + i % 3 for i in range(10)], 5 * MINUTE_MS) is None


def test_once_the_usual_period_is_known_a_drifting_window_is_not_read_as_a_short_cycle() -> None:
    # a 32-min tooth read every 2 min, a door's 45 min left out, and food warmed by it
    # giving its heat back: readings a few intervals apart stay alike, and on its own the
    # fold takes two intervals for the cycle (an upright freezer of the tuning families
    # did so now and then, and its evidence crept up to an alert over days)
    for seed in range(1, 6):
        times, temps = sawtooth(32.0, 0.35, every_min=2.0, step_c=0.25, seed=seed)
        t, v = np.array(times), np.array(temps)
        warmed = np.round((v + 1.5 * np.exp(-t / MINUTE_MS / 40.0)) / 0.25) * 0.25
        kept = (t < 30 * MINUTE_MS) | (t > 75 * MINUTE_MS)
        readings = ([int(x) for x in t[kept]], [float(x) for x in warmed[kept]])
        alone = fold(*readings, 2 * MINUTE_MS)
        assert alone is not None and alone.period_ms < 5 * MINUTE_MS
        banded = fold(*readings, 2 * MINUTE_MS, 32 * MINUTE_MS)
        assert banded is None or 16 <= banded.period_ms / MINUTE_MS <= 64


def test_a_far_shorter_fold_gives_way_to_one_about_as_tight_near_the_usual_period() -> None:
    # A 9.4-min tooth of 1 K read every 2 min through 0.13 K of noise and a 0.25 K display:
    # a tooth is five readings, and these fold a little tighter on 5.1 min than on their own
    # period (a healthy small reach-in of the tuning families folded so some hours of the
    # day; each scored as a leak's, and a run of them raised a seal alert).
    times, temps = sawtooth(
        9.4, 0.3, every_min=2.0, step_c=0.25, noise_c=0.13, seed=56, swing_c=1.0
    )
    alone = fold(times, temps, 2 * MINUTE_MS)
    assert alone is not None and alone.period_ms / MINUTE_MS == pytest.approx(5.07, abs=0.1)
    known = fold(times, temps, 2 * MINUTE_MS, 9.4 * MINUTE_MS)
    assert known is not None and known.period_ms / MINUTE_MS == pytest.approx(9.4, rel=0.03)


@pytest.mark.parametrize(
    ("period", "on_share", "usual"), [(13.9, 0.52, 17.5), (17.4, 0.4, 24.4), (14.0, 0.45, 17.0)]
)
def test_a_leaks_shorter_period_is_read_beside_the_usual_one(
    period: float, on_share: float, usual: float
) -> None:
    # A leak shortens the period by a fifth to two fifths (held-out chest freezers read every
    # 5 min: 17.5 -> 13.9 min, 24.4 -> 17.4 min): the old period's fold scatters, and the
    # new one is read.
    for seed in (1, 2, 3):
        times, temps = sawtooth(period, on_share, seed=seed)
        found = fold(times, temps, 5 * MINUTE_MS, usual * MINUTE_MS)
        assert found is not None
        assert found.period_ms / MINUTE_MS == pytest.approx(period, rel=0.025)


def folded_hours(period_min: float, on_share: float, count: int) -> list[HourFeatures]:
    return [
        HourFeatures(i * HOUR_MS, i % 24, fold_period_ms=period_min * MINUTE_MS, fold_on=on_share)
        for i in range(count)
    ]


def judged(hours: list[HourFeatures], every_ms: float | None = 5 * MINUTE_MS) -> bool:
    return judges_period(hours, every_ms, usual_period(hours))


def test_the_period_is_judged_only_where_a_leak_shortens_it_and_it_still_folds() -> None:
    assert judged(folded_hours(17.5, 0.35, 24))
    assert not judged(folded_hours(17.5, 0.55, 24))  # on over half: the period barely moves
    # 2.4 reading intervals: a leak's period folds a least move (0.1) shorter before it
    # aliases; 2.1: it would alias first
    assert judged(folded_hours(12.0, 0.3, 24))
    assert not judged(folded_hours(10.5, 0.3, 24))
    # read every 2 min: a 5.7-min cycle on a third of the time rests 3.7 min, about the
    # controller's anti-short-cycle delay, and its period lengthens with the load; a 7-min one
    # rests 4.6 min, free of it
    assert not judged(folded_hours(5.7, 0.35, 24), 2 * MINUTE_MS)
    assert judged(folded_hours(7.0, 0.35, 24), 2 * MINUTE_MS)
    assert not judged(folded_hours(17.5, 0.35, 6))  # too few folds to say
    assert not judged(folded_hours(17.5, 0.35, 24), None)


def test_learning_folds_far_from_the_usual_period_are_set_aside() -> None:
    # the nights fold on the cycle; some busy hours on two reading intervals (a slow tooth's
    # readings a few intervals apart alike, see the drifting window above)
    hours = folded_hours(32.0, 0.35, 30) + folded_hours(4.2, 0.7, 12)
    usual = usual_period(hours)
    assert usual is not None and usual / MINUTE_MS == pytest.approx(32.0)
    assert judged(hours)  # the short folds' on-share does not count
    near = about(usual)
    assert [near(h) is not None for h in hours] == [True] * 30 + [False] * 12
    assert near(hours[0]) == pytest.approx(60 / 32.0)


# -- through the engine, on the simulator's chest freezer ----------------------------------


def chest(index: int, days: float, faults: list[Fault]) -> tuple[RuleEngine, list[Row]]:
    return freezer(index, days, faults, family="chest freezer", seed=3)


def seal_fired(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule is RuleId.SEAL_DEGRADATION and f.phase is Phase.FIRING]


def period_judged(points: list[SealHealthPoint]) -> list[SealHealthPoint]:
    return [p for p in points if "period_evidence" in p.evidence]


@pytest.mark.parametrize("index", [0, 2])
def test_a_sparse_chest_freezer_is_judged_on_its_period(index: int) -> None:
    onset = MIDNIGHT + timedelta(days=6)
    leak = Fault(FaultType.SEAL_LEAK, "f", onset.timestamp(), severity=0.35, ramp_s=12 * 3600.0)
    healthy_findings, healthy_points = run(*chest(index, 10, []))
    assert period_judged(healthy_points), "the period's norms were learned"
    # a bare probe that reads the cycles: the period's least move is weighed at the on-share
    # their slopes give (`seal_cusum.slope_on_share`), credited up to 0.2
    least = {p.evidence["period_min_move"] for p in period_judged(healthy_points)}
    assert len(least) == 1 and 0.075 <= least.pop() <= 0.1  # type: ignore[operator]
    assert seal_fired(healthy_findings) == []
    findings, points = run(*chest(index, 10, [leak]))
    fired = seal_fired(findings)
    # without the period these two were confirmed 27 h after the onset and never
    assert fired, "the leak is confirmed"
    assert 0 <= (fired[0].at_ms - onset.timestamp() * 1000) / HOUR_MS <= 24
    # the period confirms it within the day as well, alone or beside the teeth a 5-min probe
    # reads (`cycle_inference`: its noise read between the turns; with the pull-down believed
    # to half a reading of its run, chest freezer 0 is confirmed at 7 h, its period at 8)
    onset_ms = onset.timestamp() * 1000
    confirmed = [
        (p.ts.timestamp() * 1000 - onset_ms) / HOUR_MS
        for p in period_judged(points)
        if p.ts.timestamp() * 1000 >= onset_ms and p.evidence["period_evidence"] >= 1.0  # type: ignore[operator]
    ]
    assert confirmed and confirmed[0] <= 24


def metered_chest(index: int, days: float, faults: list[Fault]) -> tuple[RuleEngine, list[Row]]:
    """`chest` with a plug meter read with the probe, every 5 min (as sparse as the probe:
    a 3-5 min run may fall between two readings)."""
    rules, rows = chest(index, days, faults)
    [unit] = draw_units(FAMILIES["chest freezer"], 1, seed=3, first=index)
    model = ColdStorageModel(
        rules.config.devices[0],
        cold_params(unit),
        SiteDay.of(rules.config),
        seed=index,
        faults=faults,
    )
    times = np.array([row[1].timestamp() for row in rows])
    power = model.read(times).values["power_w"]
    return rules, [(d, at, {**m, "power_w": float(power[i])}) for i, (d, at, m) in enumerate(rows)]


def test_a_plug_meter_beside_a_sparse_probe_keeps_the_period_judged() -> None:
    # A meter is extra evidence, never a reason to stop reading the probe: the period's norms
    # are learned beside it, and the healthy unit raises nothing.
    findings, points = run(*metered_chest(0, 10, []))
    assert period_judged(points), "the period's norms were learned beside the meter"
    # the meter reads the on-share the period's move is weighed at: less than the bare
    # probe's 0.10, never under the 0.075 of an on-share of 0.2
    least = {p.evidence["period_min_move"] for p in period_judged(points)}
    assert len(least) == 1 and 0.075 <= least.pop() < 0.1  # type: ignore[operator]
    assert any("duty_evidence" in p.evidence or "power_evidence" in p.evidence for p in points)
    assert seal_fired(findings) == []


def test_the_periods_least_move_is_the_loads_at_the_metered_on_share() -> None:
    # cycles an hour go as L (Q - L): a load 10 % up moves them by 10 % x (1 - 2d) / (1 - d)
    assert least_move(0.10, None) == 0.10  # no meter: the whole least move
    assert least_move(0.10, 0.0) == 0.10
    assert least_move(0.10, 0.1) == pytest.approx(0.10 * 0.8 / 0.9)
    assert least_move(0.10, 0.2) == pytest.approx(0.075)
    # credited up to 0.2: nearer one half the period answers the load less and less while
    # its own wander does not
    assert least_move(0.10, 0.3) == least_move(0.10, 0.6) == least_move(0.10, 0.2)
    # the physics behind it: a sawtooth's period D C Q / (L (Q - L)) at a load 10 % up
    q, load = 1.0, 0.15
    period = lambda x: q / (x * (q - x))  # noqa: E731
    moved = np.log(period(load) / period(load * 1.1))
    assert moved == pytest.approx(least_move(np.log(1.1), load), rel=0.05)


def test_the_on_share_a_tooths_slopes_give() -> None:
    # warming at 6 K/h and cooling at 18 K/h over one swing: off 3 times as long as on
    norm = HourNorm(cycle_log(6.0, 18.0, None), {})
    assert slope_on_share(norm) == pytest.approx(0.25)
    assert least_move(0.10, slope_on_share(norm)) == pytest.approx(0.075)
    # a cabinet that cools as fast as it warms runs half the time: its period barely moves
    assert slope_on_share(HourNorm(cycle_log(10.0, 10.0, None), {})) == pytest.approx(0.5)


def test_hours_whose_norms_lack_a_slope_are_left_out_of_the_usual_on_share() -> None:
    """A coarse probe's hour may hold a warming rate and no pull-down (a fall too short to
    read): its share is unknown, not an error (the seal rule reads the usual on-share from
    the others; a held-out cohort's replay raised KeyError on such an hour)."""
    read = HourNorm(cycle_log(6.0, 18.0, None), {})
    warm_only = HourNorm(cycle_log(6.0, 0.0, None), {})
    assert slope_on_share(warm_only) is None
    assert usual_slope_on_share({0: warm_only, 1: read, 2: read}) == pytest.approx(0.25)
    assert usual_slope_on_share({0: warm_only}) is None
    assert usual_slope_on_share({}) is None
