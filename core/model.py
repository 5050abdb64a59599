"""Domain types of a site: buildings, devices and their control limits, the canteen timetable.

These are the validated shapes of the site config. They are frozen: a running service reads its
site, it never edits it.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "TOPIC_SAFE_ID",
    "Building",
    "BuildingKind",
    "Device",
    "DeviceKind",
    "DeviceSource",
    "Limits",
    "Meal",
    "Site",
]

# Ids appear as MQTT topic levels, so they exclude '/', '+', '#' and whitespace.
TOPIC_SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_TOPIC_SAFE = re.compile(TOPIC_SAFE_ID)

Identifier = Annotated[str, Field(pattern=TOPIC_SAFE_ID)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceKind(StrEnum):
    FRIDGE = "fridge"
    FREEZER = "freezer"
    SAMPLE_FRIDGE = "sample_fridge"
    STEAM_CABINET = "steam_cabinet"
    DISINFECTION_CABINET = "disinfection_cabinet"
    ELECTRICITY_METER = "electricity_meter"
    WATER_METER = "water_meter"
    GAS_METER = "gas_meter"

    @property
    def is_cold_storage(self) -> bool:
        return self in (DeviceKind.FRIDGE, DeviceKind.FREEZER, DeviceKind.SAMPLE_FRIDGE)

    @property
    def is_meter(self) -> bool:
        return self in (
            DeviceKind.ELECTRICITY_METER,
            DeviceKind.WATER_METER,
            DeviceKind.GAS_METER,
        )


class BuildingKind(StrEnum):
    TEACHING = "teaching"
    CANTEEN = "canteen"
    DORMITORY = "dormitory"
    OFFICE = "office"
    SPORTS = "sports"
    OTHER = "other"


class Limits(Frozen):
    """Control limits of a device. Every field is optional so a device can override just one."""

    low_c: float | None = None
    high_c: float | None = None
    # Hysteresis: an over-temperature alert clears only below high_c - clear_margin_c.
    clear_margin_c: float | None = Field(default=None, ge=0)
    alert_after_min: float | None = Field(default=None, ge=0)
    door_grace_min: float | None = Field(default=None, ge=0)
    target_c: float | None = None
    hold_min: float | None = Field(default=None, ge=0)
    sample_hold_h: float | None = Field(default=None, ge=0)
    sample_min_g: float | None = Field(default=None, ge=0)

    def over(self, base: Limits) -> Limits:
        """These limits laid over `base`: a field set here wins, an unset one falls through."""
        mine = self.model_dump(exclude_none=True)
        return base.model_copy(update=mine)


class WireFormat(StrEnum):
    """How a device's messages look on the wire; gateway adapters map foreign ones."""

    CANONICAL = "canonical"
    ZIGBEE2MQTT = "zigbee2mqtt"  # zigbee2mqtt/<friendly_name>
    TASMOTA = "tasmota"  # tele/<topic>/SENSOR
    SHELLY_GEN2 = "shelly_gen2"  # <device id>/events/rpc NotifyStatus


class DeviceSource(Frozen):
    """Where a device's data comes from: our canonical topics, or a foreign format under the
    device's own name in that ecosystem (Zigbee2MQTT friendly name, Tasmota topic, Shelly id)."""

    format: WireFormat = WireFormat.CANONICAL
    id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _foreign_needs_id(self) -> DeviceSource:
        if self.format is not WireFormat.CANONICAL and self.id is None:
            raise ValueError(f"source.id is required for format {self.format.value!r}")
        if self.id is not None and any(c in self.id for c in "#+"):
            raise ValueError(f"source.id {self.id!r} must not contain MQTT wildcards # or +")
        return self


class Building(Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    kind: BuildingKind = BuildingKind.OTHER
    floor_area_m2: float | None = Field(default=None, gt=0)
    occupants: int | None = Field(default=None, gt=0)


class Device(Frozen):
    id: Identifier
    kind: DeviceKind
    building: Identifier
    location: str = ""
    name: str = ""
    # How often the device reports; the offline rule waits a multiple of it.
    interval_s: float = Field(default=60.0, gt=0, le=86_400)
    limits: Limits = Limits()
    # Disinfection cabinets: infrared (≥ 120 °C) or steam (100 °C) programmes differ.
    method: Literal["infrared", "steam"] | None = None
    source: DeviceSource = DeviceSource()

    @property
    def label(self) -> str:
        return self.name or self.id


class Meal(Frozen):
    """One service on the canteen timetable, in the site's local time; may span midnight."""

    name: Identifier
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_hhmm(cls, value: object) -> object:
        # YAML reads 07:30 unquoted as a sexagesimal integer (450); accept it as minutes.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        return value


class Site(Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai'"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def is_topic_safe(value: str) -> bool:
    return bool(_TOPIC_SAFE.match(value))
