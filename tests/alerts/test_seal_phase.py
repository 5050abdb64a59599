"""The reading phase of each tooth on a sparse probe, and how crowded it is (issue 11).

A probe read every 5 min places each trough somewhere between two readings. Where (the
phase, a share of the interval) is read from the fall line through the reading before the
lowest one and the rise line through the one after. A cycle that lasts a whole number of
intervals reads every tooth at the same phase, and the seal rule's CUSUM then weighs each
tooth by how crowded its phase is (`seal_cusum.repeat_weight`)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from alerts.rules.cycle_inference import CycleInference, InferredCycle, Turn
from alerts.rules.seal_cusum import repeat_weight
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_sparse import _EVERY_MIN, _locked


def _apart(a: float, b: float) -> float:
    return min(abs(a - b) % 1.0, 1.0 - abs(a - b) % 1.0)


def _cycles(rows: list[Row]) -> list[InferredCycle]:
    inference = CycleInference(3 * 300_000)
    cycles: list[InferredCycle] = []
    for _, at, metrics in rows:
        ts = int((at - MIDNIGHT).total_seconds() * 1000)
        cycle = inference.observe(ts, metrics["temp_c"], None, None)
        if cycle is not None:
            cycles.append(cycle)
    return cycles


def test_each_troughs_phase_is_read_between_the_readings() -> None:
    # 40.7-min cycles (troughs at k x 40.7 min) read every 5 min by a 0.1 K probe with
    # 0.03 K noise: the phase sweeps, and each trough's estimate sits near the true one.
    errors = []
    for cycle in _cycles(_locked(4, 5, 0.0)):  # no lock within the 4 days
        if cycle.phase is None:
            continue
        low_min = cycle.end.ms / 60_000
        true_min = round(low_min / 40.7) * 40.7
        errors.append(_apart(cycle.phase, (true_min - low_min) / _EVERY_MIN))
    assert len(errors) > 120
    # a guess would be off by 0.25 of an interval (median) and 0.45 (90th percentile)
    assert float(np.median(errors)) < 0.1
    assert float(np.percentile(errors, 90)) < 0.2


def test_a_locked_phase_is_crowded_and_a_sweeping_one_is_not() -> None:
    # 40.7-min cycles for 4 days, then exact 40-min cycles: every tooth read at one phase.
    cycles = _cycles(_locked(8, 4, 2.0))
    known = [(c.end.ms / 86_400_000, c.phase_excess) for c in cycles if c.phase_excess is not None]
    before = [e for day, e in known if day < 4]
    locked = [e for day, e in known if day > 5]  # a day into the lock
    assert len(before) > 80 and len(locked) > 80
    assert float(np.median(before)) < 2.0  # about what a sweeping phase puts there
    assert float(np.median(locked)) > 30.0  # nearly all of the last 47 teeth


@pytest.mark.parametrize(("excess", "weight"), [(None, 1.0), (-3.0, 1.0), (0.0, 1.0), (3.0, 0.25)])
def test_a_crowded_tooth_adds_the_share_of_a_new_observation_it_is(
    excess: float | None, weight: float
) -> None:
    trough, peak, end = Turn(0, 2.0), Turn(30 * 60_000, 4.0), Turn(40 * 60_000, 2.0)
    cycle = InferredCycle(trough, peak, end, True, 0.4, excess)
    assert repeat_weight(cycle) == pytest.approx(weight)


def _sawtooth(every_min: float, period_min: float, days: float) -> list[Row]:
    """2-4 °C teeth of `period_min` (3/4 warming) read every `every_min` by a 0.1 K probe."""
    rng = np.random.default_rng(3)
    rows: list[Row] = []
    for i in range(int(days * 1440 / every_min)):
        t = i * every_min
        phase, off = t % period_min, 0.75 * period_min
        share = phase / off if phase < off else 1 - (phase - off) / (period_min - off)
        read = round((2.0 + 2.0 * share + float(rng.normal(0, 0.03))) / 0.1) * 0.1
        rows.append(("f", MIDNIGHT + timedelta(minutes=t), {"temp_c": round(read, 1)}))
    return rows


@pytest.mark.parametrize(("every_min", "read"), [(1.0, False), (2.0, False), (3.0, True)])
def test_only_a_probe_read_3_min_or_more_apart_has_its_phase_read(
    every_min: float, read: bool
) -> None:
    # 16.7-min teeth (12.5 min warming, 4.2 cooling): read 8 times or fewer at 2 min, yet a
    # 1-2 min probe misses a turn by no more than the turn's own wander, so no phase is read.
    cycles = _cycles(_sawtooth(every_min, 16.7, 2))
    assert len(cycles) > 150
    phased = [c for c in cycles if c.phase is not None]
    assert (len(phased) > 100) if read else not phased
