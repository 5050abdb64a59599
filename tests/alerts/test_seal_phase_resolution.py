"""An hour's metered on-share is read over its clean time, and where that window falls on the
compressor's cycle moves the on-time it catches. Many cycles to the hour catch about the same
share wherever the hour starts; one or two do not (`seal_duty.phase_resolution`): a walk-in
cycling every 50 min reads a steady duty as hours of 0.25, 0.30 or 0.35."""

from __future__ import annotations

import random

import pytest

from alerts.rules.seal_duty import phase_resolution

MINUTE_MS = 60_000


def caught_shares(period_min: float, run_min: float, clean_min: float, seed: int) -> list[float]:
    """The on-share hours of `clean_min` catch at random phases of a steady cycle."""
    rng = random.Random(seed)
    shares = []
    for _ in range(4000):
        start, on = -rng.uniform(0, period_min), 0.0
        while start < clean_min:
            on += max(0.0, min(clean_min, start + run_min) - max(0.0, start))
            start += period_min
        shares.append(on / clean_min)
    return shares


@pytest.mark.parametrize(
    ("period_min", "run_min", "clean_min"),
    [(50, 15, 60), (50, 20, 45), (26, 7, 60), (90, 25, 60), (13, 4, 60), (12, 4, 60)],
)
def test_it_is_the_relative_spread_of_the_share_an_hour_catches(
    period_min: float, run_min: float, clean_min: float
) -> None:
    shares = caught_shares(period_min, run_min, clean_min, seed=1)
    mean = sum(shares) / len(shares)
    spread = (sum((s - mean) ** 2 for s in shares) / len(shares)) ** 0.5 / mean
    got = phase_resolution(period_min * MINUTE_MS, run_min * MINUTE_MS, clean_min * MINUTE_MS)
    assert got == pytest.approx(spread, abs=0.02)


def test_a_walk_ins_hour_is_read_far_coarser_than_a_reach_ins() -> None:
    walk_in = phase_resolution(50 * MINUTE_MS, 15 * MINUTE_MS, 60 * MINUTE_MS)
    reach_in = phase_resolution(12.5 * MINUTE_MS, 3.5 * MINUTE_MS, 60 * MINUTE_MS)
    # the walk-in's learned spread was 0.10 (log): each hour of 0.35 against 0.25 read as
    # 3 spreads; read at its phase spread it is under 2
    assert walk_in > 0.18
    assert reach_in < 0.1


def test_nothing_known_reads_nothing() -> None:
    assert phase_resolution(None, 5 * MINUTE_MS, 60 * MINUTE_MS) == 0.0
    assert phase_resolution(20 * MINUTE_MS, None, 60 * MINUTE_MS) == 0.0
    assert phase_resolution(20 * MINUTE_MS, 5 * MINUTE_MS, 0.0) == 0.0
    assert phase_resolution(20 * MINUTE_MS, 20 * MINUTE_MS, 60 * MINUTE_MS) == 0.0  # always on
