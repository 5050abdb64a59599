"""A metered hour counts up to the clip a cycle does (`seal_cusum.CusumModel.clip`): `_EXCESS`
beyond the drift allowance k when k is large. A unit whose learning half-days wandered
(a kitchen warmer one morning than the next) learns k near 1.5-2; with every hour bounded at
3 a leak's hours then added at most 1-1.5 each, and a unit that scores five or six clean
hours a day took days to confirm even a leak that lifted its on-share from 0.57 to 0.9."""

from __future__ import annotations

import math
import random

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import CusumState
from alerts.rules.seal_duty import DutyModel, learn_duty, score_hour

HOUR_MS = 3_600_000
CLEAN_HOURS = (1, 3, 5, 15, 19, 22)
UNITS = range(1, 21)


def _hours(days: int, seed: int, first_day: int = 0, lift: float = 1.0) -> list[HourFeatures]:
    """Six clean hours a day of 45 min at an on-share of 0.57, each half-day shifted by a
    common cause (σ 12 %), each hour by its own (σ 5 %); all `lift` times that."""
    rng = random.Random(seed)
    out = []
    for day in range(first_day, first_day + days):
        halves = [math.exp(rng.gauss(0, 0.12)) for _ in range(2)]
        for hour in range(24):
            features = HourFeatures((day * 24 + hour) * HOUR_MS, hour)
            if hour in CLEAN_HOURS:
                on = lift * 0.57 * halves[hour // 12] * math.exp(rng.gauss(0, 0.05))
                features.clean_ms = 45 * 60_000
                features.clean_on_ms = round(features.clean_ms * min(1.0, on))
            out.append(features)
    return out


def _run(model: DutyModel, hours: list[HourFeatures]) -> tuple[float, int | None]:
    """(the evidence's highest share of h, the scored hour at which it reached h)."""
    state, highest, scored, reached = CusumState(), 0.0, 0, None
    for features in hours:
        norm = model.hours.get(features.hour)
        if features.clean_ms and norm is not None:
            scored += 1
            z, move = score_hour(features.clean_on_ms / features.clean_ms, norm, 0.0, model.clip)
            state.add(z, move, model.threshold)
            highest = max(highest, state.evidence / model.threshold.h)
            if reached is None and state.evidence >= model.threshold.h:
                reached = scored
    return highest, reached


def _models(seed: int) -> tuple[DutyModel, DutyModel]:
    learning = _hours(4, seed)
    metered, bounded = learn_duty(learning, metered=True), learn_duty(learning)
    assert metered is not None and bounded is not None
    return metered, bounded


def test_a_large_allowance_widens_a_metered_hours_clip_and_only_then() -> None:
    for seed in UNITS:
        metered, bounded = _models(seed)
        assert bounded.clip == 3.0
        assert metered.clip == max(3.0, metered.threshold.k + 2.5)
    assert sum(_models(seed)[0].clip > 3.0 for seed in UNITS) >= 10


def test_a_large_leak_is_confirmed_sooner_and_never_later() -> None:
    sooner = found = 0
    for seed in UNITS:
        metered, bounded = _models(seed)
        leak = _hours(5, seed + 100, first_day=4, lift=1.58)
        _, wide = _run(metered, leak)
        _, narrow = _run(bounded, leak)
        assert narrow is None or (wide is not None and wide <= narrow)
        found += wide is not None
        sooner += wide is not None and (narrow is None or wide < narrow)
    assert found >= 14
    assert sooner >= 8


def test_healthy_days_gain_no_more_than_with_the_bound() -> None:
    crossed = {True: 0, False: 0}
    for seed in UNITS:
        for wide, model in zip((True, False), _models(seed), strict=True):
            highest, _ = _run(model, _hours(10, seed + 100, first_day=4))
            crossed[wide] += highest >= 1.0
    assert crossed[True] <= crossed[False] <= 1
