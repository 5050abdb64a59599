"""Register and load faults of the meters, and the school calendar: what the energy accounting
must book right (a reset or a rollover is never negative use) and what its baselines must catch
(water at night, power on a holiday)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from core.config import SiteConfig
from firmware_sim.faults import Fault, FaultType
from tests.firmware_sim.conftest import MONDAY, Trace, drive

T0 = MONDAY.timestamp()


def counter_steps(trace: Trace, metric: str) -> np.ndarray:
    values = np.array([r[metric] for _, r in trace.reported()])
    return np.diff(values)


def around(trace: Trace, metric: str, at_s: float) -> tuple[float, float]:
    """The last reported register value before `at_s` and the first at or after it."""
    pairs = trace.reported()
    before = [r[metric] for t, r in pairs if t.timestamp() < at_s]
    after = [r[metric] for t, r in pairs if t.timestamp() >= at_s]
    return float(before[-1]), float(after[0])


def test_a_reset_register_restarts_at_zero_and_keeps_counting(demo: SiteConfig) -> None:
    onset = T0 + 10.5 * 3600
    trace = drive(
        demo, "water-canteen", faults=[Fault(FaultType.METER_RESET, "water-canteen", onset)]
    )
    old, new = around(trace, "water_m3", onset)
    assert old > 1000 and new < 0.05
    steps = counter_steps(trace, "water_m3")
    assert (steps < 0).sum() == 1  # one drop, then it counts on from zero
    assert trace.readings[-1]["water_m3"] > 5


def test_a_replaced_meter_starts_from_its_own_reading(demo: SiteConfig) -> None:
    onset = T0 + 9.5 * 3600
    fault = Fault(
        FaultType.METER_REPLACEMENT, "elec-dormitory", onset, value=12.5, downtime_s=40 * 60
    )
    trace = drive(demo, "elec-dormitory", faults=[fault])
    gap = [t for t, p in zip(trace.times, trace.present, strict=True) if not p]
    assert gap[0].timestamp() == onset and len(gap) == 40  # silent while the fitter works
    old, new = around(trace, "energy_kwh", onset)
    assert old > 1000 and new == 12.5  # supply isolated: nothing metered during the swap
    assert trace.readings[-1]["energy_kwh"] > 20


def test_a_register_rolls_over_at_its_modulus_at_the_onset(demo: SiteConfig) -> None:
    onset = T0 + 14 * 3600
    fault = Fault(FaultType.COUNTER_ROLLOVER, "elec-teaching", onset, modulus=100_000.0)
    trace = drive(demo, "elec-teaching", faults=[fault])
    values = trace.series("energy_kwh")
    assert max(values) < 100_000
    old, new = around(trace, "energy_kwh", onset)
    assert 99_990 < old < 100_000 and new < 1.0
    steps = counter_steps(trace, "energy_kwh")
    assert (steps < 0).sum() == 1
    # Booked across the wrap, the consumption is the healthy meter's to the last digit.
    healthy = drive(demo, "elec-teaching").series("energy_kwh")
    wrapped = np.where(steps < 0, steps + 100_000, steps).sum()
    assert wrapped == pytest.approx(healthy[-1] - healthy[0], abs=0.02)


def night(trace: Trace, metric: str) -> float:
    """Mean of `metric` between 01:00 and 04:00 local on the first night of the trace."""
    window = trace.between(MONDAY + timedelta(hours=1), MONDAY + timedelta(hours=4))
    return float(np.mean([r[metric] for r in window]))


def test_a_leak_shows_as_flow_at_night(demo: SiteConfig) -> None:
    fault = Fault(FaultType.WATER_LEAK, "water-teaching", T0, load=0.2)
    healthy = drive(demo, "water-teaching")
    leaking = drive(demo, "water-teaching", faults=[fault])
    assert night(healthy, "flow_m3_h") == 0
    assert night(leaking, "flow_m3_h") == pytest.approx(0.2, abs=0.002)
    used = [t.readings[-1]["water_m3"] - t.readings[0]["water_m3"] for t in (healthy, leaking)]
    assert used[1] - used[0] == pytest.approx(0.2 * 24, rel=0.01)


def test_equipment_left_on_over_a_holiday(demo: SiteConfig) -> None:
    """A holiday empties the teaching building; six kW left running stands out against it."""
    holiday = [MONDAY.astimezone(demo.site.zone).date()]
    fault = Fault(FaultType.EQUIPMENT_LEFT_ON, "elec-teaching", T0, T0 + 86_400, load=6000.0)
    school_day = drive(demo, "elec-teaching")
    closed = drive(demo, "elec-teaching", holidays=holiday)
    left_on = drive(demo, "elec-teaching", holidays=holiday, faults=[fault])
    noon = [np.mean([r["power_w"] for r in t.between(MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=11))])
            for t in (school_day, closed, left_on)]  # fmt: skip
    assert noon[1] < 0.25 * noon[0]
    assert noon[2] - noon[1] == pytest.approx(6000, rel=0.02)


def test_a_holiday_closes_the_canteen_kitchen(demo: SiteConfig) -> None:
    holiday = [MONDAY.astimezone(demo.site.zone).date()]
    gas = [drive(demo, "gas-canteen", holidays=h) for h in ((), holiday)]
    used = [t.readings[-1]["gas_m3"] - t.readings[0]["gas_m3"] for t in gas]
    assert used[0] > 50 and used[1] < 1
