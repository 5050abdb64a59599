"""A bare probe's hour is a count: the share of a dozen moves that fell (a 5-min probe). Each
local hour's norm is the pooled share of its learning hours, not the median hour, which sits
on one of the few fractions such counts take (`seal_probe_duty.probe_weight`,
`seal_duty.learn_duty`'s `counted`)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import EvidenceLimits
from alerts.rules.seal_duty import DutyModel, learn_duty
from alerts.rules.seal_probe_duty import hour_falls, hour_held_falls, probe_weight

HOUR_MS = 3_600_000
LIMITS = EvidenceLimits(0.5, 10.0)


def _rate(hour: int) -> float:
    """The share of moves that fall at a local hour: higher by day (doors, a warm kitchen)."""
    return 0.47 if 7 <= hour < 19 else 0.41


def _hours(days: int, seed: int) -> list[HourFeatures]:
    """Every hour of `days` days: 10-12 moves, of which `_rate` fall, rounded up or down at
    random (a probe's falls and rises alternate with the cycle, so an hour's
    count strays from its rate by less than a coin's would)."""
    rng = random.Random(seed)
    out = []
    for day in range(days):
        for hour in range(24):
            moves = rng.choice((10, 11, 12))
            falls = math.floor(_rate(hour) * moves + rng.random())
            out.append(HourFeatures((day * 24 + hour) * HOUR_MS, hour, moves=moves, falls=falls))
    return out


def _learn(hours: list[HourFeatures], pooled: bool) -> DutyModel:
    weight = probe_weight(hour_falls)
    model = learn_duty(hours, LIMITS, hour_falls, counted=pooled, weight=weight)
    assert model is not None
    return model


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_norms_are_the_learning_hours_pooled_share(seed: int) -> None:
    # The day's hours fall 0.47 of their moves: 5.6 of 12, which an hour reads as 5 or 6
    # (0.42 or 0.5). Their pooled share finds 0.47; the median hour sits on a fraction
    # (a held-out glass-door merchandiser's morning norm sat at 5/12, its nights' too, with
    # 0.44 pooled: its mornings later read 2-3 spreads high for hours on end).
    learning = _hours(4, seed)
    settled = [*range(9, 17), 0, 1, 2, 3, 4, 21, 22, 23]  # hours whose pool holds one rate

    def errors(model: DutyModel) -> list[float]:
        return [abs(math.exp(model.hours[h].center) - _rate(h)) for h in settled]

    pooled, median = errors(_learn(learning, pooled=True)), errors(_learn(learning, pooled=False))
    assert max(pooled) < 0.025
    assert statistics.fmean(pooled) < statistics.fmean(median)


def test_a_held_share_weighs_its_readings_and_a_moves_share_its_moves() -> None:
    hour = HourFeatures(0, 0, readings=12, held_falls=6, moves=4, falls=3)
    assert probe_weight(hour_held_falls)(hour) == 12
    assert probe_weight(hour_falls)(hour) == 4
