"""Steam cabinets before each meal and disinfection cycles after it, on the demo timetable: what
the per-meal disinfection register is built from."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.config import SiteConfig
from core.model import Meal
from tests.firmware_sim.conftest import MONDAY, Trace, drive


def local(config: SiteConfig, meal: Meal, edge: str) -> datetime:
    """The meal's start or end on the Monday of the test day, as an aware instant."""
    day = MONDAY.astimezone(config.site.zone).date()
    return datetime.combine(day, getattr(meal, edge), tzinfo=config.site.zone)


def held_s(trace: Trace, start: datetime, end: datetime, threshold: float, step_s: float) -> float:
    """Seconds the chamber read at or above `threshold` between `start` and `end`."""
    return sum(step_s for r in trace.between(start, end) if r["temp_c"] >= threshold)


@pytest.mark.parametrize(
    ("device_id", "threshold"), [("disinfect-1", 120.0), ("disinfect-2", 99.5)]
)
def test_a_disinfection_cycle_follows_every_meal(
    demo: SiteConfig, device_id: str, threshold: float
) -> None:
    trace = drive(demo, device_id)
    for meal in demo.meals:
        end = local(demo, meal, "end")
        # 操作规范 / GB 17988 (secondary): held ≥ 10 min, within 90 min after the meal (DESIGN.md).
        assert held_s(trace, end, end + timedelta(minutes=90), threshold, 15) >= 10 * 60, meal.name
    before_breakfast = trace.between(MONDAY, local(demo, demo.meals[0], "start"))
    assert max(r["temp_c"] for r in before_breakfast) < 40


def test_disinfection_cycles_are_reported_as_events(demo: SiteConfig) -> None:
    trace = drive(demo, "disinfect-1")
    starts = [e for e in trace.events if e.type == "cycle_start"]
    ends = [e for e in trace.events if e.type == "cycle_end"]
    assert [e.data["meal"] for e in starts] == [m.name for m in demo.meals]
    assert [e.data["meal"] for e in ends] == [m.name for m in demo.meals]
    for start, end, meal in zip(starts, ends, demo.meals, strict=True):
        assert start.data["cycle"] == end.data["cycle"]
        assert start.data["method"] == "infrared"
        assert local(demo, meal, "end") < start.ts < end.ts
        assert end.ts - local(demo, meal, "end") <= timedelta(minutes=90)
        assert isinstance(end.data["hold_s"], int) and end.data["hold_s"] >= 15 * 60
        assert isinstance(end.data["max_temp_c"], float) and end.data["max_temp_c"] >= 120


def test_the_cabinet_heats_only_during_its_cycle(demo: SiteConfig) -> None:
    trace = drive(demo, "disinfect-1")
    cycles = list(zip(trace.events[::2], trace.events[1::2], strict=True))
    for t, reading in zip(trace.times, trace.readings, strict=True):
        in_cycle = any(s.ts <= t <= e.ts + timedelta(seconds=15) for s, e in cycles)
        if reading["power_w"] > 1000:
            assert in_cycle, t


@pytest.mark.parametrize("device_id", ["steam-cabinet-1", "steam-cabinet-2"])
def test_a_steam_cabinet_steams_before_every_meal(demo: SiteConfig, device_id: str) -> None:
    trace = drive(demo, device_id)
    for meal in demo.meals:
        start = local(demo, meal, "start")
        steaming = held_s(
            trace, start - timedelta(minutes=75), start + timedelta(minutes=5), 99.0, 15
        )
        assert steaming >= 30 * 60, meal.name
    # At night it is cold and draws only its controller's standby power.
    night = trace.between(MONDAY + timedelta(hours=1), MONDAY + timedelta(hours=4))
    assert all(r["temp_c"] < 40 and r["power_w"] < 50 for r in night)
    # A steam chamber is open to the air: it does not go above boiling (plus probe noise).
    assert max(trace.series("temp_c")) <= 101.0


def test_a_steam_cabinet_draws_its_rated_power_while_heating(demo: SiteConfig) -> None:
    trace = drive(demo, "steam-cabinet-1")
    heating = [r["power_w"] for r in trace.readings if r["power_w"] > 1000]
    assert heating and all(11_000 <= p <= 13_000 for p in heating)
    energy_kwh = sum(trace.series("power_w")) * 15 / 3.6e6
    assert 20 <= energy_kwh <= 60  # three programmes of about an hour at 12 kW
