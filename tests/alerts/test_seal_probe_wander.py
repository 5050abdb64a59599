"""A bare probe's falling share read a few readings to a tooth allows more drift than the other
hourly streams (`seal_probe_evidence_k`, `seal_cold._FEW_READINGS`): read off the sawtooth
so, it wanders from day to day by more than the plant does, and four learning days seldom show
it. A day or two that reads some 7 % high with no change in the plant comes less near an
alert; a leak's rise is confirmed within hours of when it was."""

from __future__ import annotations

import math
import random

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cold import ColdSealRule
from alerts.rules.seal_cusum import CusumState, EvidenceLimits
from alerts.rules.seal_duty import DutyModel, learn_duty, score_hour
from alerts.rules.seal_probe_duty import hour_falls, probe_weight
from core.rule_settings import RuleSettings
from tests.alerts.cold_plant import ColdPlant, fridge
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

HOUR_MS = 3_600_000
H = RuleSettings().seal_probe_evidence_h
K = RuleSettings().seal_probe_evidence_k


def _rate(hour: int) -> float:
    """The share of a 5-min probe's moves that fall at a local hour: higher by day."""
    return 0.47 if 8 <= hour < 19 else 0.43


def _day(day: int, lift: float, rng: random.Random) -> list[HourFeatures]:
    """A day's hours: 11-12 moves each, the falling share `_rate` times `lift`, strayed by
    where the readings happened to fall on the teeth that hour (some 8 %) and rounded to a
    count at random."""
    out = []
    for hour in range(24):
        moves = rng.choice((11, 12))
        rate = min(0.95, _rate(hour) * lift * math.exp(rng.gauss(0.0, 0.08)))
        falls = math.floor(rate * moves + rng.random())
        out.append(HourFeatures((day * 24 + hour) * HOUR_MS, hour, moves=moves, falls=falls))
    return out


def _learn(k_floor: float, seed: int) -> DutyModel:
    rng = random.Random(seed)
    hours = [h for d in range(4) for h in _day(d, 1.0, rng)]
    model = learn_duty(
        hours, EvidenceLimits(k_floor, H), hour_falls, counted=True, weight=probe_weight(hour_falls)
    )
    assert model is not None
    return model


def _evidence(model: DutyModel, lifts: list[float], seed: int) -> tuple[float, int | None]:
    """The highest share of h the days after learning reach, each day's share lifted by its
    `lifts` entry, added up as the rule adds the falling share's hours (`CusumState.add`), and the
    hours from the first of them to the first at h (None: never)."""
    rng = random.Random(seed + 100)
    state, high, reached = CusumState(), 0.0, None
    for offset, lift in enumerate(lifts):
        for hour in _day(4 + offset, lift, rng):
            norm, share = model.hours.get(hour.hour), hour_falls(hour)
            assert norm is not None and share is not None
            z, move = score_hour(share, norm)
            state.add(z, move, model.threshold)
            high = max(high, state.evidence)
            if reached is None and state.evidence >= model.threshold.h:
                reached = (hour.start_ms - 4 * 24 * HOUR_MS) // HOUR_MS
    return high / model.threshold.h, reached


SEEDS = range(1, 13)
WANDER = [1.07, 1.07, 1.0]  # two days 7 % high, then back


def test_days_that_read_a_little_high_come_less_near_an_alert() -> None:
    # Held-out under-counter freezers installed on a Sunday or a Saturday read 7-14 % above
    # their norms for a day or two (day means), their plants' on-share where it was while they
    # learned, and were alerted with the half-spread allowance. Here every hour strays by
    # itself as well, so some seeds reach h either way: fewer with the higher allowance, and
    # none comes nearer.
    half = [_evidence(_learn(0.5, seed), WANDER, seed)[0] for seed in SEEDS]
    ours = [_evidence(_learn(K, seed), WANDER, seed)[0] for seed in SEEDS]
    assert all(o <= h for o, h in zip(ours, half, strict=True))
    assert sum(o >= 1.0 for o in ours) < sum(h >= 1.0 for h in half)
    assert all(_learn(K, seed).threshold.k >= K for seed in SEEDS)


@pytest.mark.parametrize(("lift", "later_h"), [(1.4, 1), (1.25, 2)])
def test_a_leaks_rise_is_confirmed_within_hours_of_the_half_spread_allowance(
    lift: float, later_h: int
) -> None:
    # a share 40 % up (a 0.6 leak's) reaches h within the day, at most an hour after the
    # half-spread allowance; 25 % up, at most 2 h after (the cost)
    for seed in SEEDS:
        _, reached = _evidence(_learn(K, seed), [lift, lift], seed)
        _, before = _evidence(_learn(0.5, seed), [lift, lift], seed)
        assert reached is not None and before is not None
        assert reached <= 24
        assert reached - before <= later_h


@pytest.mark.parametrize(("interval_s", "few"), [(300.0, True), (60.0, False)])
def test_a_probe_reading_a_few_readings_a_tooth_learns_the_higher_allowance(
    interval_s: float, few: bool
) -> None:
    # A bare fridge on 24-min cycles: read every 5 min (under five readings a cycle) its
    # falling share learns with the higher floor; read every minute it keeps
    # `seal_evidence_k` (0.5), its share a count over many readings of every tooth.
    rows = fridge("f", MIDNIGHT, 7, ColdPlant(interval_s=interval_s), seed=1)
    rules = engine(interval_s)
    run(rules, rows)
    rule = next(r for r in rules.devices["f"].rules if isinstance(r, ColdSealRule))
    model = rule.state.probe_model
    assert model is not None
    if few:
        assert model.threshold.k >= K
    else:
        assert model.threshold.k == RuleSettings().seal_evidence_k
