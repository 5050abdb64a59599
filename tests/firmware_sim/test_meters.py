"""Electricity, water and gas meters of the demo school: counters that only increase and loads
that follow each building's day."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from core.config import SiteConfig
from tests.firmware_sim.conftest import MONDAY, Trace, drive

METERS = {
    "elec-teaching": "energy_kwh",
    "water-teaching": "water_m3",
    "gas-teaching": "gas_m3",
    "elec-canteen": "energy_kwh",
    "water-canteen": "water_m3",
    "gas-canteen": "gas_m3",
    "elec-dormitory": "energy_kwh",
    "water-dormitory": "water_m3",
    "gas-dormitory": "gas_m3",
}
SATURDAY = MONDAY + timedelta(days=5)


def mean_rate(trace: Trace, metric: str, from_h: float, to_h: float) -> float:
    """Mean of `metric` between two local hours of the trace's first day."""
    start = trace.times[0]
    window = trace.between(start + timedelta(hours=from_h), start + timedelta(hours=to_h))
    return sum(float(r[metric]) for r in window) / len(window)


def used(trace: Trace, counter: str) -> float:
    return float(trace.readings[-1][counter]) - float(trace.readings[0][counter])


@pytest.mark.parametrize(("device_id", "counter"), METERS.items())
def test_counters_never_decrease(demo: SiteConfig, device_id: str, counter: str) -> None:
    trace = drive(demo, device_id, hours=48)
    values = trace.series(counter)
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert values[-1] > values[0] > 0  # a register that has run for years, still counting


def test_teaching_building_follows_class_hours(demo: SiteConfig) -> None:
    weekday = drive(demo, "elec-teaching")
    night = mean_rate(weekday, "power_w", 1, 5)
    classes = mean_rate(weekday, "power_w", 8, 11)
    assert classes > 4 * night
    saturday = drive(demo, "elec-teaching", start=SATURDAY)
    assert mean_rate(saturday, "power_w", 8, 11) < 0.3 * classes
    assert 300 <= used(weekday, "energy_kwh") <= 1000
    assert used(saturday, "energy_kwh") < 0.5 * used(weekday, "energy_kwh")


def test_dormitory_water_peaks_morning_and_evening(demo: SiteConfig) -> None:
    trace = drive(demo, "water-dormitory")
    morning = mean_rate(trace, "flow_m3_h", 6.3, 7.1)
    midday = mean_rate(trace, "flow_m3_h", 9, 11)
    evening = mean_rate(trace, "flow_m3_h", 19, 21)
    assert morning > 4 * midday and evening > 4 * midday
    assert 20 <= used(trace, "water_m3") <= 80


def test_canteen_gas_burns_around_meals(demo: SiteConfig) -> None:
    trace = drive(demo, "gas-canteen")
    zone = demo.site.zone
    for meal in demo.meals:
        start = MONDAY.astimezone(zone).replace(hour=meal.start.hour, minute=meal.start.minute)
        cooking = trace.between(start - timedelta(minutes=60), start)
        burned = float(cooking[-1]["gas_m3"]) - float(cooking[0]["gas_m3"])
        assert burned > 3.0, meal.name
    night = trace.between(MONDAY + timedelta(hours=1), MONDAY + timedelta(hours=4))
    assert float(night[-1]["gas_m3"]) - float(night[0]["gas_m3"]) < 0.01


def test_energy_register_agrees_with_power(demo: SiteConfig) -> None:
    trace = drive(demo, "elec-canteen", step_s=10)
    integrated_kwh = sum(trace.series("power_w")) * 10 / 3.6e6
    assert used(trace, "energy_kwh") == pytest.approx(integrated_kwh, rel=0.01)


def test_registers_show_their_resolution(demo: SiteConfig) -> None:
    trace = drive(demo, "elec-dormitory", hours=2)
    assert all(round(v, 2) == v for v in trace.series("energy_kwh"))
    trace = drive(demo, "water-canteen", hours=2)
    assert all(round(v, 3) == v for v in trace.series("water_m3"))
