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

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from core.metrics import METRICS

__all__ = [
    "SUB_METER_CATEGORIES",
    "TOPIC_SAFE_ID",
    "Building",
    "BuildingKind",
    "Carrier",
    "CounterReset",
    "Device",
    "DeviceKind",
    "DeviceSource",
    "Limits",
    "Meal",
    "MeterCategory",
    "MeterCounter",
    "Site",
]

# Ids appear as MQTT topic levels, so they exclude '/', '+', '#' and whitespace.
TOPIC_SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_TOPIC_SAFE = re.compile(TOPIC_SAFE_ID)
# `DeviceSource.fields`: how many a device may map, how deep a path may reach.
_SOURCE_FIELDS_MAX = 16
_SOURCE_FIELD_DEPTH = 4

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

    @property
    def carrier(self) -> Carrier | None:
        """What a meter of this kind measures; None for devices that are not meters."""
        return _CARRIERS.get(self)


class Carrier(StrEnum):
    """An energy or utility carrier, each with its own counter metric and unit."""

    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"

    @property
    def metric(self) -> str:
        return {"electricity": "energy_kwh", "water": "water_m3", "gas": "gas_m3"}[self.value]

    @property
    def unit(self) -> str:
        return "kWh" if self is Carrier.ELECTRICITY else "m³"


_CARRIERS = {
    DeviceKind.ELECTRICITY_METER: Carrier.ELECTRICITY,
    DeviceKind.WATER_METER: Carrier.WATER,
    DeviceKind.GAS_METER: Carrier.GAS,
}


class MeterCategory(StrEnum):
    """What a meter measures. A main meter (no parent) measures its building's whole supply of a
    carrier; a sub-meter (分项) one end use below its parent."""

    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    # Electricity end uses after 住房和城乡建设部《国家机关办公建筑和大型公共建筑能耗监测系统
    # 分项能耗数据采集技术导则》(2008): 照明插座, 空调, 动力 (lifts, pumps, fans), 特殊 (data
    # room, kitchen and canteen, laundry, pool).
    LIGHTING_SOCKETS = "lighting_sockets"
    HVAC = "hvac"
    POWER = "power"
    SPECIAL = "special"
    # Water and gas end uses.
    KITCHEN = "kitchen"
    HOT_WATER = "hot_water"
    OTHER = "other"


SUB_METER_CATEGORIES: dict[Carrier, tuple[MeterCategory, ...]] = {
    Carrier.ELECTRICITY: (
        MeterCategory.LIGHTING_SOCKETS,
        MeterCategory.HVAC,
        MeterCategory.POWER,
        MeterCategory.SPECIAL,
        MeterCategory.OTHER,
    ),
    Carrier.WATER: (MeterCategory.KITCHEN, MeterCategory.HOT_WATER, MeterCategory.OTHER),
    Carrier.GAS: (MeterCategory.KITCHEN, MeterCategory.HOT_WATER, MeterCategory.OTHER),
}


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
    # Fields of the foreign message read as a metric, beside or instead of the format's usual
    # mapping: a second probe of a two-channel sensor as the kitchen's air, a probe in a glycol
    # bottle as the food's. Keys are a path of object keys joined by dots, as the message has
    # them (Tasmota `DS18B20-2.Temperature`, Shelly `temperature:101.tC`, Zigbee2MQTT
    # `external_temperature`); values are metric names (`core.metrics`).
    fields: dict[str, str] = Field(default_factory=dict, max_length=_SOURCE_FIELDS_MAX)

    @model_validator(mode="after")
    def _foreign_needs_id(self) -> DeviceSource:
        if self.format is not WireFormat.CANONICAL and self.id is None:
            raise ValueError(f"source.id is required for format {self.format.value!r}")
        if self.id is not None and any(c in self.id for c in "#+"):
            raise ValueError(f"source.id {self.id!r} must not contain MQTT wildcards # or +")
        if self.fields and self.format is WireFormat.CANONICAL:
            raise ValueError(
                "fields: maps a foreign format's fields; a canonical device names its metrics "
                "itself"
            )
        claimed: dict[str, str] = {}
        for path, metric in self.fields.items():
            _check_field_path(path)
            if metric not in METRICS:
                raise ValueError(
                    f"fields[{path!r}]: {metric!r} is not a metric; one of "
                    f"{', '.join(sorted(METRICS))}"
                )
            if metric in claimed:
                raise ValueError(
                    f"fields[{path!r}]: {claimed[metric]!r} is mapped to {metric} already; a "
                    "metric comes from one field"
                )
            claimed[metric] = path
        return self


def _check_field_path(path: str) -> None:
    keys = path.split(".")
    if len(keys) > _SOURCE_FIELD_DEPTH or not all(keys) or len(path) > 200:
        raise ValueError(
            f"fields[{path!r}]: a field is 1-{_SOURCE_FIELD_DEPTH} non-empty object keys "
            "joined by dots (e.g. DS18B20-2.Temperature), at most 200 characters"
        )


class Building(Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    kind: BuildingKind = BuildingKind.OTHER
    floor_area_m2: float | None = Field(default=None, gt=0)
    occupants: int | None = Field(default=None, gt=0)


class CounterReset(Frozen):
    """A declared reset or meter replacement: readings from `at` on count from `start`.

    `final` is the old register's last value from the work order, if known; without it the use
    between the last reading and `at` is unknown (a gap), never guessed."""

    at: AwareDatetime
    kind: Literal["reset", "replacement"] = "replacement"
    start: float = 0.0
    final: float | None = None
    note: str = ""


class MeterCounter(Frozen):
    """How a meter's cumulative register behaves, so its readings can be trusted or flagged."""

    # The register wraps to 0 at this value (a 6-digit kWh register: 1000000).
    modulus: float | None = Field(default=None, gt=0)
    # The most the supply can deliver per hour (kW for electricity, m³/h for water and gas);
    # a larger implied rate is an impossible jump, and a rollover must stay below it.
    max_rate: float | None = Field(default=None, gt=0)
    # Current/voltage transformer ratio (倍率): consumption = register delta × multiplier.
    multiplier: float = Field(default=1.0, gt=0)
    # The register's last digit; the rate check allows one digit of truncation.
    resolution: float = Field(default=0.0, ge=0)
    resets: list[CounterReset] = []


class Device(Frozen):
    id: Identifier
    kind: DeviceKind
    building: Identifier
    location: str = ""
    name: str = ""
    # How often the device reports; the offline rule waits a multiple of it.
    interval_s: float = Field(default=60.0, gt=0, le=86_400)
    limits: Limits = Limits()
    # Overrides of the rule settings for this device (`core.rule_settings`), checked by the
    # site config against the settings' names and bounds.
    rules: dict[str, float | int | str] = {}
    # Another device whose temperature probe sits in the same cabinet (an independent logger,
    # the controller's own probe): the two are compared to catch a drifting probe.
    neighbour: Identifier | None = None
    # Disinfection cabinets: infrared (≥ 120 °C) or steam (100 °C) programmes differ.
    method: Literal["infrared", "steam"] | None = None
    source: DeviceSource = DeviceSource()
    # Meters only: the meter this one is a sub-meter of, what it measures, its register, and
    # the tariff that prices it (default: the site's first tariff for its carrier).
    parent: Identifier | None = None
    category: MeterCategory | None = None
    counter: MeterCounter | None = None
    tariff: Identifier | None = None

    @property
    def label(self) -> str:
        return self.name or self.id

    @model_validator(mode="after")
    def _meter_fields(self) -> Device:
        carrier = self.kind.carrier
        if carrier is None:
            for name in ("parent", "category", "counter", "tariff"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to meters only, not to a {self.kind.value}")
            return self
        allowed = SUB_METER_CATEGORIES[carrier] if self.parent else (MeterCategory(carrier),)
        if self.parent and self.category is None:
            raise ValueError(f"a sub-meter needs a category; expected one of {_names(allowed)}")
        if self.category is not None and self.category not in allowed:
            where = "a sub-meter" if self.parent else "a main meter (no parent)"
            raise ValueError(
                f"category {self.category.value!r} does not fit {where} of {carrier.value}; "
                f"expected one of {_names(allowed)}"
            )
        return self

    @property
    def meter_category(self) -> MeterCategory | None:
        carrier = self.kind.carrier
        if carrier is None:
            return None
        return self.category or MeterCategory(carrier)


def _names(values: tuple[StrEnum, ...]) -> str:
    return ", ".join(repr(v.value) for v in values)


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
