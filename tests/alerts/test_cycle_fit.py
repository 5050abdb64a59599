"""A tooth's slopes are also fitted through the middle of each half, so a probe's lag does
not hide how much faster the air warms (issue 11): a lagged probe turns later and less far
than the air, by about the same time whatever the slope, and a turn-to-turn slope carries
that time. The fitted slopes size a seal's move (`seal_cusum`). Read plant-free, from
`test_cycle_short_run`'s lagged, quantised sawtooth."""

from __future__ import annotations

import math
import statistics

import pytest

from alerts.rules.cycle_inference import InferredCycle, segment_slope
from alerts.rules.seal_cusum import HourNorm, cycle_log, score_cycle
from tests.alerts.test_cycle_short_run import read, sawtooth

_SWING_K = 1.8


def rates(cycles: list[InferredCycle]) -> tuple[float, float, float]:
    """The median warming (fitted, turn to turn) and cooling rates (K/h) of the normal teeth."""
    normal = [c for c in cycles if c.normal]
    assert len(normal) > 50
    turn = [(c.peak.c - c.trough.c) * 3_600_000 / (c.peak.ms - c.trough.ms) for c in normal]
    return (
        statistics.median(c.warm_fitted for c in normal),
        statistics.median(turn),
        statistics.median(c.cool_fitted for c in normal),
    )


@pytest.mark.parametrize(("lag_s", "step_c"), [(60.0, 0.1), (30.0, 0.1)])
def test_a_lagged_probe_reads_the_air_s_own_warming(lag_s: float, step_c: float) -> None:
    # A 1-min probe with up to a minute of lag: the air warms 1.8 K over 8 min (13.5 K/h)
    # and is pulled down over 5 min (21.6 K/h).
    off_s, on_s = 480.0, 300.0
    fitted, turn, cool = rates(read(sawtooth(off_s, on_s, _SWING_K, lag_s, 60.0, step_c), 60.0))
    warm_air = _SWING_K * 3600 / off_s
    assert abs(fitted / warm_air - 1) < 0.12
    assert abs(cool / (_SWING_K * 3600 / on_s) - 1) < 0.2
    assert turn < fitted  # the turn-to-turn slope is the one the lag flattens


@pytest.mark.parametrize("step_c", [0.1, 0.2])
def test_a_leak_s_faster_warming_shows_in_full_through_the_lag(step_c: float) -> None:
    # An old unit's 1-min probe lagging the air by about 2 min. A leak that warms the air a
    # third faster (its off time 8 -> 6 min, the run 5 -> 6 min): the fitted rate sees about
    # the third, the turn-to-turn one half of it.
    lag_s = 115.0
    before = rates(read(sawtooth(480.0, 300.0, _SWING_K, lag_s, 60.0, step_c), 60.0))
    after = rates(read(sawtooth(360.0, 360.0, _SWING_K, lag_s, 60.0, step_c), 60.0))
    assert after[0] / before[0] > 1.25
    assert after[0] / before[0] - 1 > 1.5 * (after[1] / before[1] - 1)


def test_a_sparse_probe_keeps_turn_to_turn_slopes() -> None:
    # A probe read every 5 min holds a reading or two a half: no line through them.
    cycles = read(sawtooth(1800.0, 900.0, 2.5, 60.0, 300.0, 0.1), 300.0)
    normal = [c for c in cycles if c.normal]
    assert normal
    assert all(c.warm_fit is None and c.cool_fit is None for c in normal)


def test_segment_slope_needs_readings_in_the_middle() -> None:
    # Readings every minute rising 0.2 K a minute from 0 to 2 K: the middle holds plenty.
    rows = [(i * 60_000, 0.2 * i) for i in range(11)]
    slope = segment_slope(rows, 0.0, 2.0, 60_000.0)
    assert slope is not None
    assert abs(slope - 12.0) < 1e-9
    # A fall is read as a positive rate.
    falling = [(t, 2.0 - c) for t, c in rows]
    assert segment_slope(falling, 2.0, 0.0, 60_000.0) == pytest.approx(12.0)
    # Two readings in the middle are no line; a probe read every 5 min is not fitted.
    assert segment_slope(rows[::4], 0.0, 2.0, 240_000.0) is None
    assert segment_slope(rows, 0.0, 2.0, 300_000.0) is None


def test_the_evidence_reads_turn_to_turn_and_the_move_the_fitted_rates() -> None:
    # An hour's norm: warming 10 K/h turn to turn, 11 fitted; pull-down 20 and 22 K/h.
    center = {"warm_rate": math.log(10), "pull_down": -math.log(20)}
    center |= {"warm_fit": math.log(11), "pull_fit": -math.log(22)}
    norm = HourNorm(center, dict.fromkeys(center, 0.1))
    # A cycle that warms 10 % faster turn to turn and 30 % faster fitted, pulls down as usual.
    z, move = score_cycle(cycle_log(11.0, 20.0, None, (14.3, 22.0)), norm)
    assert z == pytest.approx(0.4 * math.log(1.1) / 0.1 / 0.6)
    assert move == pytest.approx(0.4 * 0.3 / 0.6)
    # Without fitted rates (a sparse probe, an hour kept before they were read) the move is
    # sized turn to turn.
    _, move = score_cycle(cycle_log(11.0, 20.0, None), norm)
    assert move == pytest.approx(0.4 * 0.1 / 0.6)
