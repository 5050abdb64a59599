"""Seal evidence that accumulates over clean compressor cycles (a one-sided CUSUM against the
unit's own hourly norms): healthy noise does not add up, a leak's many mildly abnormal cycles
do, also through busy kitchen hours, and one wild cycle cannot carry an alert."""

from __future__ import annotations

import math
import statistics
from datetime import timedelta

import numpy as np

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import (
    CusumModel,
    CusumState,
    EvidenceLimits,
    HourNorm,
    cycle_log,
    day_floor,
    hour_pool,
    learn_cusum,
    score_cycle,
)
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

HOUR_MS = 3_600_000
WARM = 10.0  # K/h with the compressor off
COOL = 20.0  # K/h with it on
SIGMA = 0.1  # per-cycle scatter of both slopes, in log units (about 10 %)


def norm() -> HourNorm:
    logs = cycle_log(WARM, COOL, None)
    return HourNorm(dict(logs), {f: SIGMA for f in logs})


def model(k: float = 0.5, h: float = 12.0) -> CusumModel:
    return CusumModel({hour: norm() for hour in range(24)}, k, h)


def feed(state: CusumState, factor: float, count: int, rng: np.random.Generator) -> float:
    """`count` cycles whose slopes are `factor` times the norm (a leak warms faster and pulls
    down slower), with the usual scatter; the highest evidence reached."""
    highest = 0.0
    for _ in range(count):
        warm = WARM * factor * math.exp(rng.normal(0, SIGMA))
        cool = COOL / factor * math.exp(rng.normal(0, SIGMA))
        z, move = score_cycle(cycle_log(warm, cool, None), norm())
        state.add(z, move, model())
        highest = max(highest, state.evidence)
    return highest


def test_healthy_scatter_does_not_add_up_and_a_modest_leak_does() -> None:
    rng = np.random.default_rng(1)
    state = CusumState()
    # 3,000 healthy cycles: weeks of a fridge's clean cycles
    assert feed(state, 1.0, 3000, rng) < 0.75 * model().h
    assert abs(state.move) < 0.1
    # 15 % more heat: each cycle about 1.4 spreads off, a third of it beyond the allowance;
    # the evidence crosses h within a few dozen cycles (a few hours), the move is the leak's
    cycles = 0
    while state.evidence < model().h:
        feed(state, 1.15, 1, rng)
        cycles += 1
    assert cycles <= 40
    assert 0.1 <= state.move <= 0.2


def test_one_wild_cycle_cannot_carry_an_alert() -> None:
    state = CusumState()
    z, move = score_cycle(cycle_log(10 * WARM, COOL / 10, None), norm())
    state.add(z, move, model())
    assert state.evidence <= 3.0 - 0.5  # clipped at 3 spreads, less the allowance
    assert state.evidence < 0.25 * model().h


def cycles_to_confirm(wandering: CusumModel, factor: float, clip: float, seed: int) -> int:
    """Cycles `factor` times the norm until the evidence reaches h, each z clipped at `clip`;
    both slopes scatter together (a probe's step moves the whole tooth)."""
    rng, state, cycles = np.random.default_rng(seed), CusumState(), 0
    while state.evidence < wandering.h and cycles < 1000:
        f = factor * math.exp(rng.normal(0, SIGMA))
        z, move = score_cycle(cycle_log(WARM * f, COOL / f, None), norm(), clip)
        state.add(z, move, wandering)
        cycles += 1
    return cycles


def test_a_unit_whose_learning_days_wandered_still_adds_up_a_leak() -> None:
    wandering = model(k=2.0)  # half-days that moved by a spread (`learn_cusum`)
    assert wandering.clip == 4.5  # a cycle adds at most 2.5 spreads, as with k 0.5
    # healthy cycles do not add up
    assert cycles_to_confirm(wandering, 1.0, wandering.clip, 5) == 1000
    # a leak that moves each cycle by 30 % (2.6 spreads, past the allowance): with the z
    # clipped at 3 its upper tail is lost and the evidence grows by about 0.35 a cycle;
    # clipped at k + 2.5, by about 0.6
    wide = [cycles_to_confirm(wandering, 1.3, wandering.clip, seed) for seed in range(8)]
    narrow = [cycles_to_confirm(wandering, 1.3, 3.0, seed) for seed in range(8)]
    assert statistics.fmean(wide) <= 30
    assert statistics.fmean(narrow) >= 1.3 * statistics.fmean(wide)
    # one wild cycle still adds at most 2.5 spreads
    state = CusumState()
    z, move = score_cycle(cycle_log(10 * WARM, COOL / 10, None), norm(), wandering.clip)
    state.add(z, move, wandering)
    assert state.evidence == 2.5


def test_an_hours_burst_of_odd_cycles_adds_at_most_a_quarter_of_h() -> None:
    # 14 cycles at 2-3 spreads within one hour (a morning's common cause: the kitchen, the
    # doors, the probe) would carry the evidence past h alone; read per hour they add at most
    # h / 4, so it takes 4 hours of such cycles, as a leak gives, and an hour that falls
    # back takes the evidence down as before.
    burst = cycle_log(1.3 * WARM, COOL / 1.3, None)
    z, move = score_cycle(burst, norm())
    assert z - model().k > 2.0
    unbounded, bounded = CusumState(), CusumState()
    for _ in range(14):
        unbounded.add(z, move, model())
        bounded.add(z, move, model(), hour_ms=5 * HOUR_MS)
    assert unbounded.evidence >= model().h
    assert bounded.evidence == model().h / 4
    for hour in (6, 7):
        for _ in range(14):
            bounded.add(z, move, model(), hour_ms=hour * HOUR_MS)
    assert bounded.evidence == 3 * model().h / 4
    calm, _ = score_cycle(cycle_log(WARM, COOL, None), norm())
    bounded.add(calm, 0.0, model(), hour_ms=8 * HOUR_MS)  # falling is never held back
    assert bounded.evidence == 3 * model().h / 4 - model().k
    for _ in range(14):
        bounded.add(z, move, model(), hour_ms=8 * HOUR_MS)
    assert bounded.evidence == model().h - model().k  # the hour's quarter, all of it
    bounded.add(z, move, model(), hour_ms=9 * HOUR_MS)
    assert bounded.evidence >= model().h  # the next hour's first odd cycle confirms


def test_an_hourly_stream_needs_its_move_to_outlast_a_half_days_spell() -> None:
    # A held-off cabinet's level jumps by a whole tooth's rise on a night a few per cent more
    # load tips it into waiting above the cut-in (`seal_level`): eight hours at the clipped z
    # add at most half of h over any 12 hours, and the evidence holds there ...
    h = model().h
    high = 3.0
    spell, lasting = CusumState(), CusumState()
    for hour in range(22, 30):
        spell.add_hour(high, 0.6, model(), hour * HOUR_MS)
    assert spell.evidence == h / 2
    unbounded = CusumState()
    for _ in range(8):
        unbounded.add(high, 0.6, model())
    assert unbounded.evidence >= h  # one such night alone was an alert
    # ... while a move that lasts gains again once the first hours are 12 h behind
    for hour in range(22, 46):
        lasting.add_hour(high, 0.6, model(), hour * HOUR_MS)
    assert lasting.evidence >= h
    # falling is never held back
    spell.add_hour(0.0, 0.0, model(), 30 * HOUR_MS)
    assert spell.evidence == h / 2 - model().k


def test_evidence_rolls_back_to_before_what_led_up_to_an_excursion() -> None:
    rng = np.random.default_rng(2)
    state = CusumState()
    state.mark(0)
    feed(state, 1.0, 20, rng)
    kept = (state.evidence, state.run_cycles, list(state.recent))
    state.mark(HOUR_MS)
    feed(state, 1.5, 20, rng)  # a door left ajar before the cabinet went out of band
    state.mark(2 * HOUR_MS)
    state.roll_back(HOUR_MS + 1)
    assert (state.evidence, state.run_cycles, state.recent) == kept


def history(days: int, shifts: list[float], rng: np.random.Generator) -> list[HourFeatures]:
    """Learning hours of 4 clean cycles each; each half-day's slopes moved by its shift."""
    out = []
    for index in range(days * 24):
        shift = shifts[(index // 12) % len(shifts)]
        factor = np.exp(shift + rng.normal(0, SIGMA, 4))
        out.append(
            HourFeatures(
                index * HOUR_MS,
                index % 24,
                cycle_ms=4 * 15 * 60_000,
                warm=[float(f) * WARM for f in factor],
                cool=[COOL / float(f) for f in factor],
                duty=[None] * 4,
            )
        )
    return out


def test_the_allowance_grows_with_the_half_day_shifts_the_learning_days_showed() -> None:
    steady = learn_cusum(history(4, [0.0], np.random.default_rng(3)))
    wandering = learn_cusum(history(4, [0.15, -0.15, 0.05, -0.05], np.random.default_rng(3)))
    assert steady is not None and wandering is not None
    assert steady.k == 0.5 and steady.h >= 12.0  # the floors
    assert wandering.k > 1.0  # a half-day moving by 1.5 spreads does not accumulate
    # a leak in the last half-day of learning does not raise its own allowance
    leaky = learn_cusum(history(4, [0.0] * 7 + [0.3], np.random.default_rng(3)))
    assert leaky is not None and leaky.k < 1.0


def crossings_per_day(h: float, per_day: int, days: int, seed: int) -> float:
    """Healthy cycles (z of unit spread, none beyond the norm) `per_day` a day for `days`:
    how often a day the evidence reaches `h`, starting again from 0 after each."""
    rng, state, crossed = np.random.default_rng(seed), CusumState(), 0
    flat = CusumModel({}, 0.5, h)
    for z in rng.normal(0.0, 1.0, per_day * days):
        state.add(float(z), 0.0, flat)
        if state.evidence >= h:
            crossed, state = crossed + 1, CusumState()
    return crossed / days


def test_the_threshold_keeps_false_alerts_per_day_whatever_the_clean_cycles_a_day() -> None:
    # A fridge whose learning days held 96 clean cycles a day and a busy walk-in whose doors
    # left 12 (02:00-05:00): the same floor would let the fridge's healthy noise cross it 8
    # times as often a day. Floors moved by ln(n / 30) / 2k keep them alike. Shown with a
    # floor of 4 (at 12 a crossing takes years of cycles to see).
    dense, sparse = day_floor(4.0, 96, 0.5), day_floor(4.0, 12, 0.5)
    assert dense == 4.0 + math.log(96 / 30) and sparse == 4.0 + math.log(12 / 30)
    same = [crossings_per_day(4.0, n, 400, 7) for n in (96, 12)]
    moved = [crossings_per_day(h, n, 400, 7) for h, n in ((dense, 96), (sparse, 12))]
    assert same[0] > 4 * same[1]
    assert 0.5 < moved[0] / moved[1] < 2.0
    # learned: the floor follows the learning days' clean cycles (the days that held any)
    rng = np.random.default_rng(3)
    full = learn_cusum(history(4, [0.0], rng), EvidenceLimits(0.5, 4.0))
    nights = learn_cusum(
        [h for h in history(4, [0.0], rng) if 2 <= h.hour <= 4], EvidenceLimits(0.5, 4.0)
    )
    assert full is not None and nights is not None
    assert full.k == nights.k == 0.5
    assert full.h >= dense and nights.h >= sparse
    assert nights.h < 4.0 < dense  # no wider margin (3 x a typical day's highest) lifts it
    # bounded: a unit with one clean cycle a day is not judged on a floor near 0
    assert day_floor(12.0, 1, 0.5) == day_floor(12.0, 30 / 8, 0.5) == 12.0 - math.log(8)


def test_a_leak_that_starts_in_busy_hours_is_confirmed_the_same_night() -> None:
    # Doors every 10 min from 06:00 to 19:00 leave few clean cycles in the day; a leak of
    # severity 0.35 (of a 7 W/K torn gasket) begins at 07:00 local and ramps in over 12 h.
    plant = ColdPlant(differential_k=2.5, ua_w_k=7.0, capacity_w=500.0)
    onset = MIDNIGHT + timedelta(days=6, hours=7)
    rows = cold_plant.fridge("f", MIDNIGHT, 8, plant, seed=2, leak_ua=2.45, leak_from=onset)
    findings, points = run(engine(plant.interval_s), rows)
    onset_ms = int(onset.timestamp() * 1000)
    assert not [f for f in findings if f.at_ms < onset_ms]
    fired = [f for f in findings if f.phase.value == "firing"]
    assert fired, "the leak was confirmed"
    # the move reaches seal_cold_min_move halfway up the ramp; confirmed that night, not
    # the night after (the window needed clean night cycles beyond the ramp)
    assert (fired[0].at_ms - onset_ms) / HOUR_MS <= 20
    assert fired[0].evidence["evidence"] >= 1.0  # type: ignore[operator]
    assert fired[0].evidence["evidence_move"] >= 0.15  # type: ignore[operator]
    judged = [p for p in points if "learning" not in p.evidence]
    before = [p.evidence["evidence"] for p in judged if p.ts < onset]
    assert before and max(before) < 0.5  # type: ignore[type-var]


def test_hours_whose_learning_days_held_no_clean_cycle_are_judged_by_the_nearest() -> None:
    # A busy walk-in: its doors left clean cycles on the learning days only at 02:00-04:00;
    # after a leak's onset the clean cycles fall at 00:00 and 06:00. Its evidence must still
    # grow (the old norms had neither hour and the evidence stood still for days); a busy
    # hour far from any learned one (14:00, the kitchen warmer) is not judged on the night's.
    rng = np.random.default_rng(4)
    learned = learn_cusum([h for h in history(4, [0.0], rng) if 2 <= h.hour <= 4])
    assert learned is not None
    assert {0, 6, 23, 7} <= set(learned.hours) and 14 not in learned.hours
    for feature, center in learned.hours[3].center.items():  # the nearest hours: 02-04
        assert abs(learned.hours[6].center[feature] - center) < SIGMA
    for hour in (0, 6):
        state = CusumState()
        for _ in range(30):  # a leak of 15 % more heat
            warm = WARM * 1.15 * math.exp(rng.normal(0, SIGMA))
            cool = COOL / 1.15 * math.exp(rng.normal(0, SIGMA))
            z, move = score_cycle(cycle_log(warm, cool, None), learned.hours[hour])
            state.add(z, move, learned)
        assert state.evidence >= learned.h


def test_hours_nearest_the_learned_ones_pool_them_first() -> None:
    by_hour: dict[int, list[int]] = {h: [] for h in range(24)}
    by_hour[3], by_hour[10] = [1, 2, 3], [7, 8, 9]
    enough = lambda pool: len(pool) >= 3  # noqa: E731
    assert sorted(hour_pool(by_hour, 5, 1, enough, 3)) == [1, 2, 3]  # two hours away
    assert sorted(hour_pool(by_hour, 9, 1, enough, 3)) == [7, 8, 9]  # one hour away
    assert sorted(hour_pool(by_hour, 3, 1, enough, 3)) == [1, 2, 3]  # its own
    assert sorted(hour_pool(by_hour, 14, 1, enough, 3)) == []  # four away: not reached
    assert hour_pool({h: [] for h in range(24)}, 3, 1, enough, 12) == []
