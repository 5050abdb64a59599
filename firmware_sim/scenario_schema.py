"""The shape of a scenario file, validated by pydantic; `scenario.py` loads it and checks it
against its site.

Times (`start`, a fault's `onset` and `end`) are a date (local midnight), a local date and time
(`2024-11-26T11:30`), an RFC 3339 instant (`2024-11-26T03:30:00Z`) or, except `start`, an offset
from the start (`+2d6h`). Durations are a sum of parts in w, d, h, m, s: `7d`, `1d12h`, `90m`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.model import TOPIC_SAFE_ID

__all__ = [
    "FaultSpec",
    "HolidaySpec",
    "PointInTime",
    "ScenarioFile",
    "fault_params",
    "parse_duration",
]

_UNITS = {"w": 604_800.0, "d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[wdhms])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


def parse_duration(value: object) -> float:
    """Seconds in a duration such as `7d`, `1d12h` or `90m`."""
    if isinstance(value, bool) or not isinstance(value, str) or not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration; write e.g. 7d, 36h, 1d12h, 90m or 30s")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return seconds


@dataclass(frozen=True, slots=True)
class PointInTime:
    """An instant as written: absolute (`at`, naive = the site's local time) or `after_s` seconds
    after the scenario's start."""

    at: datetime | None = None
    after_s: float | None = None


def _point_in_time(value: object) -> PointInTime:
    if isinstance(value, datetime):
        return PointInTime(at=value)
    if isinstance(value, date):
        return PointInTime(at=datetime.combine(value, time()))
    if isinstance(value, str) and value.startswith("+"):
        return PointInTime(after_s=parse_duration(value[1:]))
    if isinstance(value, str):
        try:
            return PointInTime(at=datetime.fromisoformat(value.replace("z", "Z")))
        except ValueError:
            pass
    raise ValueError(
        f"{value!r} is not a time; write a date (2024-11-26), a local time (2024-11-26T11:30), "
        "an RFC 3339 instant (2024-11-26T03:30:00Z) or an offset from the start (+2d6h)"
    )


Instant = Annotated[PointInTime, BeforeValidator(_point_in_time)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Identifier = Annotated[str, Field(pattern=TOPIC_SAFE_ID)]
Severity = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class HolidaySpec(_Strict):
    """School holiday, local dates inclusive: the canteen is closed, buildings nearly empty."""

    name: str = ""
    start: date
    end: date | None = None  # default: the start date alone

    @model_validator(mode="after")
    def _ordered(self) -> HolidaySpec:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end: {self.end} is before the start {self.start}")
        return self


class _Fault(_Strict):
    device: Identifier
    onset: Instant
    end: Instant | None = None
    lasting: Duration | None = None  # instead of `end`: this long after the onset
    severity: Severity = 1.0

    @model_validator(mode="after")
    def _one_end(self) -> _Fault:
        if self.end is not None and self.lasting is not None:
            raise ValueError("lasting: give either end or lasting, not both")
        return self


class SealLeak(_Fault):
    type: Literal["seal_leak"]
    ramp: Duration | None = None  # grows from nothing to `severity` over this long


class CompressorFailure(_Fault):
    type: Literal["compressor_failure"]


class DoorLeftOpen(_Fault):
    type: Literal["door_left_open"]


class DisinfectionMissed(_Fault):
    type: Literal["disinfection_missed"]
    meal: Identifier | None = None


class DisinfectionAborted(_Fault):
    type: Literal["disinfection_aborted"]
    meal: Identifier | None = None


class DisinfectionUnderTemp(_Fault):
    type: Literal["disinfection_under_temp"]
    meal: Identifier | None = None
    deficit_c: float | None = Field(default=None, gt=0, le=100)


class SensorStuck(_Fault):
    type: Literal["sensor_stuck"]
    metric: str | None = None


class SensorSpikes(_Fault):
    type: Literal["sensor_spikes"]
    metric: str | None = None
    magnitude: float | None = Field(default=None, gt=0)


class SensorDrift(_Fault):
    type: Literal["sensor_drift"]
    metric: str | None = None
    rate_per_day: float | None = None


class DeviceOffline(_Fault):
    type: Literal["device_offline"]
    buffered: bool = False


class BatteryDrain(_Fault):
    type: Literal["battery_drain"]
    rate_per_day: float | None = Field(default=None, gt=0)  # % of the charge a day


class MeterReset(_Fault):
    type: Literal["meter_reset"]


class MeterReplacement(_Fault):
    type: Literal["meter_replacement"]
    value: float = Field(default=0.0, ge=0)
    # Supply isolated while the fitter swaps the meter (assumed 20 min).
    downtime: Duration = 20 * 60.0


class CounterRollover(_Fault):
    type: Literal["counter_rollover"]
    modulus: float = Field(gt=0, allow_inf_nan=False)


class WaterLeak(_Fault):
    type: Literal["water_leak"]
    load: float | None = Field(default=None, gt=0)  # m³/h


class EquipmentLeftOn(_Fault):
    type: Literal["equipment_left_on"]
    load: float | None = Field(default=None, gt=0)  # the meter's rate unit: W or m³/h


FaultSpec = Annotated[
    SealLeak
    | CompressorFailure
    | DoorLeftOpen
    | DisinfectionMissed
    | DisinfectionAborted
    | DisinfectionUnderTemp
    | SensorStuck
    | SensorSpikes
    | SensorDrift
    | DeviceOffline
    | BatteryDrain
    | MeterReset
    | MeterReplacement
    | CounterRollover
    | WaterLeak
    | EquipmentLeftOn,
    Field(discriminator="type"),
]


class ScenarioFile(_Strict):
    name: str | None = None
    description: str = ""
    site: str = Field(min_length=1)  # the site config, relative to the scenario file
    start: Instant
    duration: Duration
    seed: int = 0
    devices: list[Identifier] | None = None  # default: every device of the site
    holidays: list[HolidaySpec] = []
    faults: list[FaultSpec] = []

    @model_validator(mode="after")
    def _absolute_start(self) -> ScenarioFile:
        if self.start.after_s is not None:
            raise ValueError("start: must be a date or a time, not an offset")
        return self


def fault_params(spec: Any) -> dict[str, Any]:
    """The type-specific fields of a fault spec, as `Fault` keyword arguments."""
    names = ("meal", "metric", "magnitude", "rate_per_day", "value", "modulus", "load")
    out = {n: getattr(spec, n) for n in names if getattr(spec, n, None) is not None}
    if getattr(spec, "ramp", None):
        out["ramp_s"] = spec.ramp
    if getattr(spec, "downtime", None):
        out["downtime_s"] = spec.downtime
    for name in ("deficit_c", "buffered"):
        if getattr(spec, name, None) is not None:
            out[name] = getattr(spec, name)
    return out
