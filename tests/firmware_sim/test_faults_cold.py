"""Faults of fridges and freezers, read from the models as a rules engine would see them: a
leaking door seal, a failing compressor, a door left open."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from core.config import SiteConfig
from firmware_sim.faults import Fault, FaultType
from firmware_sim.truth import pull_down_tau_s
from tests.firmware_sim.conftest import MONDAY, Trace, drive

T0 = MONDAY.timestamp()


def leak(device_id: str, severity: float) -> list[Fault]:
    return [Fault(FaultType.SEAL_LEAK, device_id, T0, severity=severity)]


def tau_s(trace: Trace) -> float:
    flags = {
        m: np.array(trace.series(m), dtype=bool)
        for m in ("door_open", "compressor_on", "defrost_on")
    }
    times = np.array([t.timestamp() for t in trace.times])
    tau = pull_down_tau_s(
        times,
        np.array(trace.series("temp_c")),
        flags["door_open"],
        flags["compressor_on"],
        flags["defrost_on"],
    )
    assert tau is not None
    return tau


def kwh_per_day(trace: Trace, hours: float, step_s: float) -> float:
    return sum(trace.series("power_w")) * step_s / 3.6e6 / (hours / 24)


@pytest.mark.parametrize(("device_id", "seed"), [("fridge-2", 0), ("fridge-1", 4), ("fridge-3", 9)])
def test_a_seal_leak_lengthens_pull_down_and_costs_energy(
    demo: SiteConfig, device_id: str, seed: int
) -> None:
    """DESIGN.md: a leaking gasket raises the pull-down time constant, the duty cycle and the
    energy per day. At severity 0.5, from readings every 30 s over three days: tau at least
    +15 %, energy at least +30 %, duty at least 10 points higher. (Over 36 device/seed pairs
    the model gives tau +20 % to +70 %, median +36 %; energy at least +39 %; duty +16 points or
    more.) The thermostat compensates, so the median temperature barely moves: a threshold on
    temperature would not see the leak."""
    healthy = drive(demo, device_id, seed=seed, hours=72)
    leaking = drive(demo, device_id, seed=seed, hours=72, faults=leak(device_id, 0.5))
    assert tau_s(leaking) >= 1.15 * tau_s(healthy)
    assert kwh_per_day(leaking, 72, 30) >= 1.3 * kwh_per_day(healthy, 72, 30)
    duty = [np.mean(t.series("compressor_on")) for t in (healthy, leaking)]
    assert duty[1] >= duty[0] + 0.10
    medians = [np.median(t.series("temp_c")) for t in (healthy, leaking)]
    assert abs(medians[1] - medians[0]) < 0.5


def test_a_worse_leak_costs_more(demo: SiteConfig) -> None:
    energy = [
        kwh_per_day(drive(demo, "freezer-1", hours=48, faults=leak("freezer-1", s)), 48, 30)
        for s in (0.0, 0.3, 0.6, 1.0)
    ]
    assert energy == sorted(energy) and energy[-1] > 1.5 * energy[0]


def test_a_leak_ramps_in(demo: SiteConfig) -> None:
    """A gasket that wears over two days: no change at first, the full effect at the end."""
    faults = [Fault(FaultType.SEAL_LEAK, "fridge-2", T0 + 86_400, severity=0.8, ramp_s=2 * 86_400)]
    healthy = drive(demo, "fridge-2", hours=96)
    worn = drive(demo, "fridge-2", hours=96, faults=faults)
    day = len(healthy.readings) // 4
    for index, margin in ((0, 0.0), (3, 0.15)):
        span = slice(index * day, (index + 1) * day)
        duty = [np.mean(t.series("compressor_on")[span]) for t in (healthy, worn)]
        assert duty[1] >= duty[0] + margin if margin else duty[1] == duty[0]


def test_a_dead_compressor_lets_the_fridge_warm_past_its_limit(demo: SiteConfig) -> None:
    onset = MONDAY + timedelta(hours=3)  # 03:00 local: no door openings to blame
    fault = Fault(FaultType.COMPRESSOR_FAILURE, "fridge-1", onset.timestamp(), severity=1.0)
    trace = drive(demo, "fridge-1", hours=12, faults=[fault])
    after = [(t, r) for t, r in zip(trace.times, trace.readings, strict=True) if t >= onset]
    assert not any(r["compressor_on"] for _, r in after)
    assert all(r["power_w"] < 50 for _, r in after)  # the fan only
    warm = next(t for t, r in after if r["temp_c"] > 8.0)
    # The two-node cabinet crosses 8 °C within hours, not seconds, and keeps warming.
    assert timedelta(minutes=20) < warm - onset < timedelta(hours=6)
    assert after[-1][1]["temp_c"] > 10


def test_a_weak_compressor_runs_longer(demo: SiteConfig) -> None:
    """Loss of refrigerant: the compressor still runs and draws power, but cools less."""
    fault = Fault(FaultType.COMPRESSOR_FAILURE, "fridge-4", T0, severity=0.4)
    healthy = drive(demo, "fridge-4", hours=24)
    weak = drive(demo, "fridge-4", hours=24, faults=[fault])
    duty = [np.mean(t.series("compressor_on")) for t in (healthy, weak)]
    assert duty[1] > 1.3 * duty[0]


def test_a_door_left_open(demo: SiteConfig) -> None:
    onset = MONDAY + timedelta(hours=15)
    fault = Fault(FaultType.DOOR_LEFT_OPEN, "fridge-3", onset.timestamp(), onset.timestamp() + 3600)
    trace = drive(demo, "fridge-3", hours=20, faults=[fault])
    during = trace.between(onset, onset + timedelta(hours=1))
    assert all(r["door_open"] for r in during)
    assert max(r["temp_c"] for r in during) > 12
    # Closed again, the cabinet pulls back into its band within the hour after.
    later = trace.between(onset + timedelta(hours=2), onset + timedelta(hours=5))
    assert max(r["temp_c"] for r in later) < 8
