"""A simulated site is reproducible: the same seed gives the same readings, another seed gives
other readings, and how often a device is read does not change what its plant does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.config import SiteConfig
from firmware_sim import build_model
from tests.firmware_sim.conftest import MONDAY, drive


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


def test_the_plant_does_not_depend_on_the_reading_rate(demo: SiteConfig) -> None:
    every_30s = drive(demo, "fridge-2", step_s=30, hours=12)
    every_60s = drive(demo, "fridge-2", step_s=60, hours=12)
    plant = ("door_open", "compressor_on", "defrost_on")
    for reading in every_60s.readings:
        del reading["temp_c"], reading["power_w"]  # sensor noise differs, the plant must not
    thinned = [{k: r[k] for k in plant} for r in every_30s.readings[::2]]
    assert thinned == every_60s.readings


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
