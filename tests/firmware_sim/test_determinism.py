"""A simulated site is reproducible: the same seed gives the same readings, another seed gives
other readings; how often a device is read, how many steps are computed at once and whether it
is read live or in batch change nothing; and a batch run's files are byte-identical."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from core.config import SiteConfig
from firmware_sim import build_model
from firmware_sim.batch import run_batch
from firmware_sim.faults import Fault, FaultType
from firmware_sim.scenario import Scenario
from tests.firmware_sim.conftest import MONDAY, drive

DAY = 86_400.0


@pytest.mark.parametrize(
    "device_id", ["fridge-1", "disinfect-1", "steam-cabinet-2", "water-canteen"]
)
def test_same_seed_same_readings(demo: SiteConfig, device_id: str) -> None:
    first = drive(demo, device_id, seed=7, hours=12)
    again = drive(demo, device_id, seed=7, hours=12)
    assert first.readings == again.readings
    assert first.events == again.events


@pytest.mark.parametrize("device_id", ["fridge-1", "freezer-1", "disinfect-2", "elec-teaching"])
def test_another_seed_other_readings(demo: SiteConfig, device_id: str) -> None:
    one = drive(demo, device_id, seed=1, hours=12)
    two = drive(demo, device_id, seed=2, hours=12)
    assert one.readings != two.readings


def test_devices_of_one_site_differ(demo: SiteConfig) -> None:
    one = drive(demo, "fridge-1", hours=6)
    two = drive(demo, "fridge-2", hours=6)
    assert one.series("temp_c") != two.series("temp_c")


def test_the_reading_rate_changes_nothing(demo: SiteConfig) -> None:
    """Randomness is keyed by instant, not by call: a device read every 60 s reports exactly
    every other reading of the same device read every 30 s, sensor noise included."""
    every_30s = drive(demo, "fridge-2", step_s=30, hours=12)
    every_60s = drive(demo, "fridge-2", step_s=60, hours=12)
    assert every_30s.readings[::2] == every_60s.readings


@pytest.mark.parametrize("device_id", ["freezer-2", "disinfect-1", "gas-canteen"])
def test_live_readings_equal_batch_readings(demo: SiteConfig, device_id: str) -> None:
    """`step_to` once per interval (live) and one `read` of the whole span (batch) agree."""
    device = demo.device(device_id)
    assert device is not None
    faults = [Fault(FaultType.SENSOR_SPIKES, device_id, MONDAY.timestamp() + 3600, severity=1)]
    live = build_model(demo, device, 3, faults)
    times = [MONDAY + timedelta(seconds=30 * i) for i in range(6 * 120)]
    stepped = [live.step_to(t) for t in times]
    events = live.take_events()
    batch = build_model(demo, device, 3, faults, block_steps=8640)
    reading = batch.read(np.array([t.timestamp() for t in times]))
    names = list(reading.values)
    rows = zip(*(reading.values[n].tolist() for n in names), strict=True)
    assert stepped == [dict(zip(names, row, strict=True)) for row in rows]
    assert events == batch.take_events()


@pytest.mark.parametrize("device_id", ["fridge-3", "steam-cabinet-1", "elec-canteen"])
def test_the_block_length_changes_nothing(demo: SiteConfig, device_id: str) -> None:
    """The plant is computed in blocks of steps; their length is a memory/speed knob only, with
    a fault running across block boundaries too."""
    device = demo.device(device_id)
    assert device is not None
    t0 = MONDAY.timestamp()
    fault_type = FaultType.EQUIPMENT_LEFT_ON if device.kind.is_meter else FaultType.SEAL_LEAK
    faults = [Fault(fault_type, device_id, t0 + 5 * 3600, t0 + 20 * 3600, 0.7)]
    times = t0 + np.arange(2 * 2880) * 30.0
    small = build_model(demo, device, 5, faults, block_steps=97).read(times, truth=True)
    large = build_model(demo, device, 5, faults, block_steps=8640).read(times, truth=True)
    assert small.true is not None and large.true is not None
    for name, values in large.true.items():
        assert np.array_equal(small.true[name], values), name


def test_time_never_goes_back(demo: SiteConfig) -> None:
    device = demo.device("fridge-1")
    assert device is not None
    model = build_model(demo, device)
    model.step_to(MONDAY + timedelta(minutes=10))
    model.step_to(MONDAY + timedelta(minutes=10))  # the same instant twice is fine
    with pytest.raises(ValueError, match="back"):
        model.step_to(MONDAY)
    with pytest.raises(ValueError, match="naive"):
        model.step_to(MONDAY.replace(tzinfo=None) + timedelta(hours=1))


def test_a_batch_run_is_byte_identical(small_scenario: Scenario, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    run_batch(small_scenario, first)
    run_batch(small_scenario, second)
    for name in ("readings.parquet", "events.jsonl", "ground_truth.jsonl", "manifest.json"):
        assert _digest(first / name) == _digest(second / name), name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
