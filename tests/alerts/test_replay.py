"""The replay behind `canteen eval`, in parts: readings fed on event time, and how many devices
each rule watches (what false alarms per 100 device-days are counted against)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alerts.model import RuleId
from alerts.replay import SLICE_MS, event_time_slices
from core.clock import StepClock
from core.readings import ReadingBatch
from tests.alerts.conftest import MIDNIGHT, Harness, school


def test_readings_arrive_in_time_order_one_minute_at_a_time_gaps_included() -> None:
    # Shuffled on purpose: minute 0 twice, then nothing in minute 1, then minute 2.
    ts = np.array([2 * SLICE_MS + 5, 10, 20], dtype=np.int64)
    batch = ReadingBatch(["s"] * 3, ["b", "a", "c"], ["temp_c"] * 3, ts, np.array([3.0, 1.0, 2.0]))
    slices = list(event_time_slices(batch, 0, 3 * SLICE_MS))
    assert [end for end, _ in slices] == [SLICE_MS, 2 * SLICE_MS, 3 * SLICE_MS]
    assert [s.device for _, s in slices] == [["a", "c"], [], ["b"]]
    assert slices[0][1].value.tolist() == [1.0, 2.0]


def test_each_rule_counts_the_devices_it_watches(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "w.duckdb", school(), StepClock(MIDNIGHT))
    watched = harness.service.devices_per_rule()
    harness.close()
    # Six devices: a fridge, a freezer, a sample fridge, two disinfection cabinets (infrared,
    # steam) and a rice steamer.
    assert watched[RuleId.OFFLINE] == 6
    assert watched[RuleId.DISINFECTION] == 2
    assert watched[RuleId.SAMPLE_RETENTION] == 1
    assert watched[RuleId.OVER_TEMPERATURE] == 3
    assert watched[RuleId.SEAL_DEGRADATION] == 4  # the cold cabinets and the rice steamer
