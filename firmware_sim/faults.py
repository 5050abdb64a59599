"""Faults a scenario injects into simulated devices, and the numbers behind each.

A `Fault` is plain data: which device, which kind of failure, when it starts (`onset_s`) and ends
(`end_s`, None = never), how bad it is (`severity`, 0-1) and the few parameters its kind takes.
The device models turn it into physics (a leaking gasket raises the cabinet's heat leak, a
replaced meter restarts its register); nothing here adds noise to a reading after the fact,
except the sensor faults, which are failures of the sensor itself.

| fault | devices | what changes |
| --- | --- | --- |
| seal_leak | cold storage, cabinets | infiltration UA grows (optionally ramping in) |
| compressor_failure | cold storage | cooling capacity x (1 - severity); at 1 it never starts |
| door_left_open | cold storage | door held open (fraction = severity), door_open reads true |
| disinfection_missed / _aborted / _under_temp | disinfection cabinets | selected cycles |
| sensor_stuck / _spikes / _drift | any | what one metric's sensor reports |
| device_offline | any | the device cannot reach the broker |
| battery_drain | battery devices | battery empties fast; at 0 the device goes silent |
| meter_reset / meter_replacement / counter_rollover | meters | the register |
| water_leak | water meters | constant extra flow, day and night |
| equipment_left_on | meters | constant extra load |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from core.model import DeviceKind

__all__ = [
    "BATTERY_KINDS",
    "FAULT_KINDS",
    "Fault",
    "FaultType",
    "default_load",
    "sensor_fault_types",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class FaultType(StrEnum):
    SEAL_LEAK = "seal_leak"
    COMPRESSOR_FAILURE = "compressor_failure"
    DOOR_LEFT_OPEN = "door_left_open"
    DISINFECTION_MISSED = "disinfection_missed"
    DISINFECTION_ABORTED = "disinfection_aborted"
    DISINFECTION_UNDER_TEMP = "disinfection_under_temp"
    SENSOR_STUCK = "sensor_stuck"
    SENSOR_SPIKES = "sensor_spikes"
    SENSOR_DRIFT = "sensor_drift"
    DEVICE_OFFLINE = "device_offline"
    BATTERY_DRAIN = "battery_drain"
    METER_RESET = "meter_reset"
    METER_REPLACEMENT = "meter_replacement"
    COUNTER_ROLLOVER = "counter_rollover"
    WATER_LEAK = "water_leak"
    EQUIPMENT_LEFT_ON = "equipment_left_on"


_COLD = frozenset({DeviceKind.FRIDGE, DeviceKind.FREEZER, DeviceKind.SAMPLE_FRIDGE})
_CABINETS = frozenset({DeviceKind.STEAM_CABINET, DeviceKind.DISINFECTION_CABINET})
_METERS = frozenset({DeviceKind.ELECTRICITY_METER, DeviceKind.WATER_METER, DeviceKind.GAS_METER})
_DISINFECTION = frozenset({DeviceKind.DISINFECTION_CABINET})
_ANY = frozenset(DeviceKind)
# Wireless probes in cold storage and NB-IoT water and gas meters run on batteries (assumed);
# cabinets and electricity meters are mains-powered.
BATTERY_KINDS = _COLD | {DeviceKind.WATER_METER, DeviceKind.GAS_METER}

FAULT_KINDS: MappingProxyType[FaultType, frozenset[DeviceKind]] = MappingProxyType(
    {
        FaultType.SEAL_LEAK: _COLD | _CABINETS,
        FaultType.COMPRESSOR_FAILURE: _COLD,
        FaultType.DOOR_LEFT_OPEN: _COLD,
        FaultType.DISINFECTION_MISSED: _DISINFECTION,
        FaultType.DISINFECTION_ABORTED: _DISINFECTION,
        FaultType.DISINFECTION_UNDER_TEMP: _DISINFECTION,
        FaultType.SENSOR_STUCK: _ANY,
        FaultType.SENSOR_SPIKES: _ANY,
        FaultType.SENSOR_DRIFT: _ANY,
        FaultType.DEVICE_OFFLINE: _ANY,
        FaultType.BATTERY_DRAIN: BATTERY_KINDS,
        FaultType.METER_RESET: _METERS,
        FaultType.METER_REPLACEMENT: _METERS,
        FaultType.COUNTER_ROLLOVER: _METERS,
        FaultType.WATER_LEAK: frozenset({DeviceKind.WATER_METER}),
        FaultType.EQUIPMENT_LEFT_ON: _METERS,
    }
)


def sensor_fault_types() -> frozenset[FaultType]:
    return frozenset({FaultType.SENSOR_STUCK, FaultType.SENSOR_SPIKES, FaultType.SENSOR_DRIFT})


# Defaults at severity 1; a fault's own parameter wins. All are assumptions, not standards.
# A glitching probe: one reading in 20 is off by about the magnitude.
SPIKE_PROBABILITY = 0.05
SPIKE_MAGNITUDE = 30.0
# A drifting probe gains 1 unit (1 K for temp_c) a day.
DRIFT_PER_DAY = 1.0
# A failing cell or a radio stuck retrying: 25 % of the charge a day.
BATTERY_DRAIN_PCT_PER_DAY = 25.0
# An under-temperature cycle runs this far below its target.
UNDER_TEMP_DEFICIT_C = 25.0
# A leak under the slab or a running cistern bank (m³/h); a running cistern alone is ~0.05.
LEAK_FLOW_M3_H = 0.4
# Left on over a holiday: a few split air conditioners (W), a boiler burner or a tap (m³/h).
LEFT_ON_LOAD = MappingProxyType(
    {
        DeviceKind.ELECTRICITY_METER: 8_000.0,
        DeviceKind.WATER_METER: 0.5,
        DeviceKind.GAS_METER: 2.0,
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. Times are epoch seconds; the window is [onset_s, end_s)."""

    type: FaultType
    device: str
    onset_s: float
    end_s: float | None = None
    severity: float = 1.0
    index: int = 0  # position in its scenario: names it and keys its random stream
    meal: str | None = None  # disinfection faults: the meal whose cycle it hits
    metric: str | None = None  # sensor faults: default the device's main metric
    ramp_s: float = 0.0  # seal_leak: grows linearly from 0 to `severity` over this long
    magnitude: float | None = None  # sensor_spikes, in the metric's unit
    rate_per_day: float | None = None  # sensor_drift (unit/day), battery_drain (%/day)
    value: float | None = None  # meter_replacement: the new register's reading
    modulus: float | None = None  # counter_rollover: the register wraps at this value
    load: float | None = None  # water_leak, equipment_left_on: extra rate in the meter's unit
    downtime_s: float = 0.0  # meter_replacement: supply isolated, meter silent
    deficit_c: float | None = None  # disinfection_under_temp
    buffered: bool = False  # device_offline: the device keeps its readings and sends them later

    def active(self, t: FloatArray) -> BoolArray:
        end = math.inf if self.end_s is None else self.end_s
        return (t >= self.onset_s) & (t < end)

    def active_at(self, t: float) -> bool:
        return self.onset_s <= t and (self.end_s is None or t < self.end_s)

    def level(self, t: FloatArray) -> FloatArray:
        """Severity at each instant: 0 outside the window, ramping in over `ramp_s`."""
        inside = self.active(t).astype(np.float64)
        if self.ramp_s <= 0:
            return inside * self.severity
        grown = np.clip((t - self.onset_s) / self.ramp_s, 0.0, 1.0)
        return inside * grown * self.severity

    def selects_cycle(
        self, meal: str, meal_edge_s: float, planned_s: float, zone: ZoneInfo
    ) -> bool:
        """Whether this disinfection fault hits the cycle after `meal` (its service ended at
        `meal_edge_s`, the cycle was due at `planned_s`). With a meal: that meal's cycle on
        each local date from onset to end (just the onset's date without an end). Without:
        every cycle due inside the window."""
        if self.meal is None:
            return self.active_at(planned_s)
        if meal != self.meal:
            return False
        day = _local_date(meal_edge_s, zone)
        first = _local_date(self.onset_s, zone)
        last = first if self.end_s is None else _local_date(self.end_s - 1e-3, zone)
        return first <= day <= last

    def describe(self) -> dict[str, Any]:
        """The type-specific parameters that were set, for the ground truth."""
        names = ("meal", "metric", "magnitude", "rate_per_day", "value", "modulus", "load")
        out: dict[str, Any] = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        if self.ramp_s:
            out["ramp_s"] = self.ramp_s
        if self.downtime_s:
            out["downtime_s"] = self.downtime_s
        if self.deficit_c is not None:
            out["deficit_c"] = self.deficit_c
        if self.type is FaultType.DEVICE_OFFLINE:
            out["buffered"] = self.buffered
        return out


def default_load(fault: Fault, kind: DeviceKind) -> float:
    """The extra rate a water leak or an appliance left on adds, in the meter's rate unit."""
    if fault.load is not None:
        return fault.load
    if fault.type is FaultType.WATER_LEAK:
        return fault.severity * LEAK_FLOW_M3_H
    return fault.severity * LEFT_ON_LOAD[kind]


def _local_date(epoch_s: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_s, zone).date()
