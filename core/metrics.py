"""The metric vocabulary of the wire protocol: names, units and the range a sensor can report.

Names are snake_case with the unit as suffix (DESIGN.md, wire protocol). A value outside its
range is not a reading a working sensor could produce: the gateway dead-letters it. Plausibility
against the device's own history (stuck values, jumps) is the rules' job, not this table's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["METRICS", "MetricSpec", "ValueType"]


class ValueType(StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: str
    value_type: ValueType
    low: float
    high: float
    cumulative: bool = False


def _number(name: str, unit: str, low: float, high: float, cumulative: bool = False) -> MetricSpec:
    return MetricSpec(name, unit, ValueType.NUMBER, low, high, cumulative)


def _flag(name: str) -> MetricSpec:
    return MetricSpec(name, "", ValueType.BOOLEAN, 0.0, 1.0)


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        # Probes in cold rooms and disinfection cabinets: -60 °C covers blast freezers, 400 °C
        # covers the hottest infrared cabinets with margin (GB 17988 cabinets run at ~120-150 °C).
        _number("temp_c", "°C", -60.0, 400.0),
        # A probe in the food or a food simulant (a glycol bottle): the food's own temperature
        # where the air probe only lets the rules estimate it. Cold storage and hot holding.
        _number("food_temp_c", "°C", -60.0, 150.0),
        _number("ambient_temp_c", "°C", -40.0, 80.0),
        _number("humidity_pct", "%", 0.0, 100.0),
        _flag("door_open"),
        _flag("compressor_on"),
        _flag("defrost_on"),
        _number("power_w", "W", 0.0, 5_000_000.0),
        _number("energy_kwh", "kWh", 0.0, 1e12, cumulative=True),
        _number("water_m3", "m³", 0.0, 1e12, cumulative=True),
        _number("gas_m3", "m³", 0.0, 1e12, cumulative=True),
        _number("flow_m3_h", "m³/h", 0.0, 10_000.0),
        _number("battery_pct", "%", 0.0, 100.0),
        _number("rssi_dbm", "dBm", -140.0, 0.0),
        _number("voltage_v", "V", 0.0, 1000.0),
    )
}
