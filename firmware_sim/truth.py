"""Ground truth: for every injected fault, what was injected and what it did to the plant.

One JSON object per fault (the file is JSON Lines)::

    {"id": 0, "fault": "seal_leak", "device": "fridge-2", "kind": "fridge",
     "onset": "2024-11-27T16:00:00Z", "end": null, "severity": 0.5, "params": {"ramp_s": 172800.0},
     "expected": "fridge-2: door-seal leak ... energy 2.5 -> 3.6 kWh/day (+43 %) ...",
     "measured": {"duty": [0.36, 0.54], "energy_kwh_per_day": [2.5, 3.58], ...}}

`expected` says in words what a rule or a report should find; `measured` holds the numbers behind
it, taken from the simulated plant (true values, not the noisy readings) and, where a comparison
is the point, from the device's healthy twin: the same device, seed and doors without the fault.
Pairs are [healthy twin, faulty]. Times are RFC 3339 UTC; the text uses the site's local time.
The per-kind measurements are in `consequences.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from core.model import Device, Limits
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import HeatedCabinetModel, SimModel
from firmware_sim.models.base import Reading

__all__ = [
    "TWIN_FAULTS",
    "DeviceRun",
    "FaultWindow",
    "fault_truth",
    "iso",
    "pull_down_tau_s",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Faults whose consequence is measured against the device's healthy twin.
TWIN_FAULTS = frozenset({FaultType.SEAL_LEAK, FaultType.WATER_LEAK, FaultType.EQUIPMENT_LEFT_ON})


@dataclass(frozen=True, slots=True)
class DeviceRun:
    """One device simulated over a scenario: the faulty model and, if needed, its twin."""

    device: Device
    limits: Limits
    model: SimModel
    reading: Reading  # with true values
    twin: SimModel | None = None
    twin_reading: Reading | None = None

    @property
    def times(self) -> FloatArray:
        return self.reading.times

    @property
    def interval_s(self) -> float:
        return self.device.interval_s

    def true(self, metric: str, *, twin: bool = False) -> npt.NDArray[Any]:
        reading = self.twin_reading if twin else self.reading
        assert reading is not None and reading.true is not None
        return reading.true[metric]

    def cycles(self, *, twin: bool = False) -> list[Any]:
        model = self.twin if twin else self.model
        return list(model.cycles) if isinstance(model, HeatedCabinetModel) else []


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """The fault, clipped to the scenario, and helpers to talk about it."""

    fault: Fault
    run: DeviceRun
    start_s: float
    end_s: float
    zone: Any

    def mask(self, from_s: float | None = None) -> BoolArray:
        t = self.run.times
        return (t >= (self.start_s if from_s is None else from_s)) & (t < self.end_s)

    def local(self, epoch_s: float, *, date: bool = True) -> str:
        fmt = "%Y-%m-%d %H:%M" if date else "%H:%M"
        return datetime.fromtimestamp(epoch_s, self.zone).strftime(fmt)

    def span(self) -> str:
        end = "the end of the run" if self.fault.end_s is None else self.local(self.end_s)
        return f"from {self.local(self.start_s)} to {end}"


Consequence = Callable[[FaultWindow], tuple[str, dict[str, Any]]]


def fault_truth(
    run: DeviceRun, fault: Fault, scenario_end_s: float, zone: Any, consequence: Consequence
) -> dict[str, Any]:
    """The ground-truth record of one fault."""
    end = scenario_end_s if fault.end_s is None else min(fault.end_s, scenario_end_s)
    window = FaultWindow(fault, run, fault.onset_s, end, zone)
    expected, measured = consequence(window)
    return {
        "id": fault.index,
        "fault": fault.type.value,
        "device": fault.device,
        "kind": run.device.kind.value,
        "onset": iso(fault.onset_s),
        "end": None if fault.end_s is None else iso(fault.end_s),
        "severity": fault.severity,
        "params": fault.describe(),
        "expected": f"{fault.device}: {expected}",
        "measured": _rounded(measured),
    }


def iso(epoch_s: float) -> str:
    text = datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


def pull_down_tau_s(
    times: FloatArray,
    temp: FloatArray,
    door: BoolArray,
    compressor: BoolArray,
    defrost: BoolArray,
    *,
    min_rise_c: float = 0.5,
) -> float | None:
    """The median pull-down time constant after the door closes, from readings alone, as a rule
    can compute it. The cut-out is the median temperature at which the compressor stops. After
    each door close that the compressor pulls down (it runs from the peak on), tau is the time
    from the peak until 1 - 1/e (63 %) of the rise above the cut-out is gone. Recoveries that
    another door opening or a defrost interrupts do not count, nor rises under `min_rise_c`
    (resolution and noise would dominate), nor passive ones with the compressor off: those
    relax towards the stored food, which a leak makes faster, not slower. None without any."""
    stops = np.flatnonzero(compressor[:-1] & ~compressor[1:]) + 1
    closes = np.flatnonzero(door[:-1] & ~door[1:]) + 1
    if not len(stops) or not len(closes):
        return None
    cut_out = float(np.median(temp[stops]))
    busy = door | defrost
    taus = [_recovery(times, temp, busy, compressor, int(c), cut_out, min_rise_c) for c in closes]
    found = [tau for tau in taus if tau is not None]
    return float(np.median(found)) if found else None


def _recovery(
    times: FloatArray,
    temp: FloatArray,
    busy: BoolArray,
    compressor: BoolArray,
    close: int,
    cut_out: float,
    min_rise: float,
) -> float | None:
    peak = close + int(np.argmax(temp[close : close + 4]))
    if busy[close : peak + 1].any() or temp[peak] - cut_out < min_rise:
        return None
    target = cut_out + (temp[peak] - cut_out) / math.e
    for j in range(peak, min(peak + 240, len(temp))):
        if busy[j] or not compressor[j]:
            return None
        if temp[j] <= target:  # interpolate between the two readings around the crossing
            if j == peak:
                return None
            share = (temp[j - 1] - target) / max(temp[j - 1] - temp[j], 1e-9)
            return float(times[j - 1] + share * (times[j] - times[j - 1]) - times[peak])
    return None


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else round(float(value), 4)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value
