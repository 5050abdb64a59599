"""Faults of the steam and disinfection cabinets, as the per-meal disinfection register would
show them: missed, aborted and cold cycles, a worn steamer seal, and a school holiday."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.config import SiteConfig
from firmware_sim.faults import Fault, FaultType
from tests.firmware_sim.conftest import MONDAY, Trace, drive

T0 = MONDAY.timestamp()
STEP_S = 15.0


def meal_end(config: SiteConfig, name: str, day: int = 0) -> datetime:
    meal = next(m for m in config.meals if m.name == name)
    local = MONDAY.astimezone(config.site.zone) + timedelta(days=day)
    return local.replace(hour=meal.end.hour, minute=meal.end.minute)


def cycles(trace: Trace, kind: str) -> list[dict[str, object]]:
    return [{"ts": e.ts, **e.data} for e in trace.events if e.type == kind]


def hottest(trace: Trace, start: datetime, minutes: float = 90) -> float:
    return max(r["temp_c"] for r in trace.between(start, start + timedelta(minutes=minutes)))


def test_a_missed_cycle_never_happens(demo: SiteConfig) -> None:
    fault = Fault(FaultType.DISINFECTION_MISSED, "disinfect-1", T0, meal="lunch")
    trace = drive(demo, "disinfect-1", hours=48, faults=[fault])
    meals = [e["meal"] for e in cycles(trace, "cycle_start")]
    assert meals == ["breakfast", "dinner", "breakfast", "lunch", "dinner"]  # Monday's lunch
    assert hottest(trace, meal_end(demo, "lunch")) < 40  # cold: never heated
    assert hottest(trace, meal_end(demo, "lunch", day=1)) > 120  # Tuesday's lunch is fine


def test_every_cycle_of_a_span_can_be_missed(demo: SiteConfig) -> None:
    fault = Fault(FaultType.DISINFECTION_MISSED, "disinfect-2", T0 + 86_400, T0 + 2 * 86_400)
    trace = drive(demo, "disinfect-2", hours=72, faults=[fault])
    days = [e["ts"].astimezone(demo.site.zone).day for e in cycles(trace, "cycle_start")]
    assert days.count(25) == 3 and days.count(26) == 0 and days.count(27) == 3


@pytest.mark.parametrize(
    ("device_id", "threshold"), [("disinfect-1", 120.0), ("disinfect-2", 99.5)]
)
def test_an_aborted_cycle_holds_too_briefly(
    demo: SiteConfig, device_id: str, threshold: float
) -> None:
    fault = Fault(FaultType.DISINFECTION_ABORTED, device_id, T0, meal="dinner", severity=0.6)
    trace = drive(demo, device_id, faults=[fault])
    ends = {e["meal"]: e for e in cycles(trace, "cycle_end")}
    assert ends["dinner"]["result"] == "aborted"
    # 40 % of the 15 min hold (the step grid rounds it up by at most a step).
    assert 6 * 60 <= ends["dinner"]["hold_s"] <= 6 * 60 + 20
    held = sum(STEP_S for r in trace.between(meal_end(demo, "dinner"), MONDAY + timedelta(hours=24))
               if r["temp_c"] >= threshold)  # fmt: skip
    assert held < 10 * 60  # under the 10 min the rule demands (DESIGN.md, domain defaults)
    assert ends["lunch"]["result"] == "completed"


def test_a_misplaced_probe_runs_infrared_cycles_cold(demo: SiteConfig) -> None:
    """The controller's probe reads 15 K high: it holds what it believes is 120 °C and reports
    a completed cycle; the independent probe shows about 105-113 °C."""
    fault = Fault(FaultType.DISINFECTION_UNDER_TEMP, "disinfect-1", T0, deficit_c=15.0)
    trace = drive(demo, "disinfect-1", faults=[fault])
    for end in cycles(trace, "cycle_end"):
        assert end["result"] == "completed" and end["max_temp_c"] >= 120
    for meal in ("breakfast", "lunch", "dinner"):
        assert 100 < hottest(trace, meal_end(demo, meal)) < 116


def test_a_weak_steam_generator_never_reaches_boiling(demo: SiteConfig) -> None:
    fault = Fault(
        FaultType.DISINFECTION_UNDER_TEMP, "disinfect-2", T0, meal="lunch", deficit_c=12.0
    )
    trace = drive(demo, "disinfect-2", faults=[fault])
    ends = {e["meal"]: e for e in cycles(trace, "cycle_end")}
    assert ends["lunch"]["result"] == "timeout" and ends["lunch"]["hold_s"] == 0
    assert hottest(trace, meal_end(demo, "lunch"), minutes=180) <= 89
    assert hottest(trace, meal_end(demo, "dinner")) >= 99.5


@pytest.mark.parametrize("severity", [0.3, 0.8])
def test_a_worn_steamer_seal(demo: SiteConfig, severity: float) -> None:
    """DESIGN.md: a steam cabinet with a worn seal heats up slower, holds a lower plateau and uses
    more energy per cycle. Mild (0.3): slower and costlier, still boiling. Severe (0.8): it never
    boils and runs its programme out."""
    fault = Fault(FaultType.SEAL_LEAK, "steam-cabinet-1", T0, severity=severity)
    healthy = drive(demo, "steam-cabinet-1")
    worn = drive(demo, "steam-cabinet-1", faults=[fault])
    energy = [sum(t.series("power_w")) * STEP_S / 3.6e6 for t in (healthy, worn)]
    assert energy[1] > 1.15 * energy[0]
    plateau = [max(t.series("temp_c")) for t in (healthy, worn)]
    minutes = [minutes_to(t, 99.0) for t in (healthy, worn)]
    if severity < 0.5:
        assert plateau[1] >= 99.5 and minutes[1] > 1.3 * minutes[0]
    else:
        assert plateau[1] < 85 and minutes[1] is None


def minutes_to(trace: Trace, celsius: float) -> float | None:
    """Minutes from the element first switching on to the chamber first reaching `celsius`."""
    on = next(t for t, r in zip(trace.times, trace.readings, strict=True) if r["power_w"] > 1000)
    hot = [
        t
        for t, r in zip(trace.times, trace.readings, strict=True)
        if t > on and r["temp_c"] >= celsius
    ]
    return (hot[0] - on).total_seconds() / 60 if hot else None


@pytest.mark.parametrize("device_id", ["disinfect-1", "steam-cabinet-2"])
def test_the_canteen_is_closed_on_a_holiday(demo: SiteConfig, device_id: str) -> None:
    holiday = MONDAY.astimezone(demo.site.zone).date() + timedelta(days=1)
    trace = drive(demo, device_id, hours=72, holidays=[holiday])
    tuesday = trace.between(MONDAY + timedelta(days=1), MONDAY + timedelta(days=2))
    assert max(r["temp_c"] for r in tuesday) < 40
    assert max(r["temp_c"] for r in trace.between(MONDAY, MONDAY + timedelta(days=1))) > 99
    assert (
        max(
            r["temp_c"]
            for r in trace.between(MONDAY + timedelta(days=2), MONDAY + timedelta(days=3))
        )
        > 99
    )
