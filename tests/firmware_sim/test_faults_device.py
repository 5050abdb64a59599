"""Faults of the device rather than the plant: a sensor that sticks, spikes or drifts, a device
that drops off the network, a battery that runs flat."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from core.config import SiteConfig
from firmware_sim import build_model
from firmware_sim.faults import Fault, FaultType
from tests.firmware_sim.conftest import MONDAY, drive

T0 = MONDAY.timestamp()
HOUR = 3600.0


def test_a_stuck_probe_repeats_its_last_value(demo: SiteConfig) -> None:
    fault = Fault(FaultType.SENSOR_STUCK, "fridge-1", T0 + 6 * HOUR, T0 + 12 * HOUR)
    healthy = drive(demo, "fridge-1")
    stuck = drive(demo, "fridge-1", faults=[fault])
    window = slice(6 * 120, 12 * 120)  # readings every 30 s
    held = stuck.series("temp_c")[window]
    assert len(set(held)) == 1 and held[0] == healthy.series("temp_c")[6 * 120 - 1]
    assert len(set(healthy.series("temp_c")[window])) > 10  # the plant kept moving
    assert stuck.readings[12 * 120 :] == healthy.readings[12 * 120 :]  # fixed again
    assert stuck.series("compressor_on") == healthy.series("compressor_on")  # only temp_c


def test_a_stuck_meter_register(demo: SiteConfig) -> None:
    fault = Fault(FaultType.SENSOR_STUCK, "water-dormitory", T0 + 6 * HOUR, T0 + 9 * HOUR)
    trace = drive(demo, "water-dormitory", faults=[fault])
    values = trace.series("water_m3")
    assert len(set(values[6 * 60 : 9 * 60])) == 1 and values[9 * 60] > values[6 * 60]


def test_a_glitching_probe_spikes_now_and_then(demo: SiteConfig) -> None:
    fault = Fault(FaultType.SENSOR_SPIKES, "freezer-2", T0, severity=1.0, magnitude=40.0)
    healthy = drive(demo, "freezer-2")
    spiky = drive(demo, "freezer-2", faults=[fault])
    errors = np.array(spiky.series("temp_c")) - np.array(healthy.series("temp_c"))
    spikes = np.abs(errors) > 1
    # One reading in 20 at severity 1 (faults.SPIKE_PROBABILITY), 20 to 60 K off, both ways.
    assert 0.03 < spikes.mean() < 0.07
    assert np.all((np.abs(errors[spikes]) >= 19.9) & (np.abs(errors[spikes]) <= 60.1))
    assert (errors > 1).any() and (errors < -1).any()


def test_a_drifting_probe_grows_its_offset(demo: SiteConfig) -> None:
    fault = Fault(FaultType.SENSOR_DRIFT, "fridge-4", T0, rate_per_day=3.0)
    healthy = drive(demo, "fridge-4", hours=48)
    drifting = drive(demo, "fridge-4", hours=48, faults=[fault])
    offset = np.array(drifting.series("temp_c")) - np.array(healthy.series("temp_c"))
    assert abs(offset[120 * 12] - 1.5) <= 0.11  # half a day: +1.5 K (0.1 °C resolution)
    assert abs(offset[-1] - 6.0) <= 0.11


def test_an_offline_device_is_unreachable_and_silent(demo: SiteConfig) -> None:
    """Live: `reachable` turns False so the device drops its connection and the Last Will
    fires. Batch: no readings while it lasts."""
    fault = Fault(FaultType.DEVICE_OFFLINE, "disinfect-2", T0 + 2 * HOUR, T0 + 3 * HOUR)
    device = demo.device("disinfect-2")
    assert device is not None
    model = build_model(demo, device, 0, [fault])
    states = [model.reachable(MONDAY + timedelta(minutes=m)) for m in range(0, 240, 15)]
    assert states == [True] * 8 + [False] * 4 + [True] * 4
    trace = drive(demo, "disinfect-2", hours=4, faults=[fault])
    missing = [t for t, p in zip(trace.times, trace.present, strict=True) if not p]
    assert missing[0] == MONDAY + timedelta(hours=2) and len(missing) == 3600 / 15


def test_a_buffered_outage_keeps_its_readings(demo: SiteConfig) -> None:
    fault = Fault(FaultType.DEVICE_OFFLINE, "fridge-2", T0, T0 + HOUR, buffered=True)
    device = demo.device("fridge-2")
    assert device is not None
    assert not build_model(demo, device, 0, [fault]).reachable(MONDAY)
    assert all(drive(demo, "fridge-2", hours=2, faults=[fault]).present)


def test_a_draining_battery_silences_the_device(demo: SiteConfig) -> None:
    fault = Fault(FaultType.BATTERY_DRAIN, "gas-dormitory", T0 + 6 * HOUR, rate_per_day=240.0)
    trace = drive(demo, "gas-dormitory", hours=24, faults=[fault])
    levels = trace.series("battery_pct")
    assert levels[0] == levels[6 * 60 - 1]  # a healthy battery loses < 0.1 % a day
    reported = [r["battery_pct"] for _, r in trace.reported()]
    assert reported == sorted(reported, reverse=True) and reported[-1] <= 1
    # 10 %/hour: silent within at most ten hours of the onset, and for good.
    first_silent = trace.present.index(False)
    assert 6 * 60 < first_silent <= 16 * 60 and not any(trace.present[first_silent:])
    device = demo.device("gas-dormitory")
    assert device is not None
    model = build_model(demo, device, 0, [fault])
    assert model.reachable(MONDAY + timedelta(hours=5))  # asked before any reading
    assert not model.reachable(MONDAY + timedelta(hours=20))


def test_a_new_battery_ends_the_drain(demo: SiteConfig) -> None:
    fault = Fault(FaultType.BATTERY_DRAIN, "fridge-3", T0, T0 + 12 * HOUR, rate_per_day=480.0)
    trace = drive(demo, "fridge-3", hours=24, faults=[fault])
    assert not all(trace.present[: 12 * 120])
    assert all(trace.present[12 * 120 :]) and trace.readings[-1]["battery_pct"] == 100


@pytest.mark.parametrize("device_id", ["fridge-1", "water-canteen", "gas-teaching"])
def test_battery_devices_report_their_charge(demo: SiteConfig, device_id: str) -> None:
    levels = drive(demo, device_id, hours=2).series("battery_pct")
    assert all(0 < v <= 100 and v == round(v) for v in levels)


@pytest.mark.parametrize("device_id", ["disinfect-1", "elec-canteen"])
def test_mains_devices_do_not(demo: SiteConfig, device_id: str) -> None:
    assert "battery_pct" not in drive(demo, device_id, hours=1).readings[0]
