"""A small school for energy tests: readings built here, written into a real DuckDB file.

Meters read every 15 minutes and loads are whole kW (or m³/h), so every expected figure in
the tests can be worked out by hand: 4 kW for 15 min is exactly 1 kWh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core import ReadingBatchBuilder
from core.config import SiteConfig
from ingest import DuckDBStore

SITE = "test-school"
ZONE = ZoneInfo("Asia/Shanghai")
STEP = timedelta(minutes=15)

Rate = Callable[[datetime], float]


def school(**extra: Any) -> SiteConfig:
    """Teaching building (elec main + 2 subs, water) and a canteen (elec, gas); October 2026
    in term with National Day 10-01..10-07; Guangdong time of use at 0.65 CNY/kWh flat."""
    meter = {"interval_s": 900}
    data: dict[str, Any] = {
        "site": {"id": SITE, "name": "Test School"},
        "buildings": [
            {
                "id": "teaching",
                "name": "教学楼",
                "kind": "teaching",
                "floor_area_m2": 2000,
                "occupants": 400,
            },
            {"id": "canteen", "name": "食堂", "kind": "canteen", "floor_area_m2": 500},
        ],
        "meals": [{"name": "lunch", "start": "11:30", "end": "12:30"}],
        "devices": [
            {"id": "elec-t", "kind": "electricity_meter", "building": "teaching", **meter},
            {
                "id": "elec-t-light",
                "kind": "electricity_meter",
                "building": "teaching",
                "parent": "elec-t",
                "category": "lighting_sockets",
                **meter,
            },
            {
                "id": "elec-t-hvac",
                "kind": "electricity_meter",
                "building": "teaching",
                "parent": "elec-t",
                "category": "hvac",
                **meter,
            },
            {"id": "water-t", "kind": "water_meter", "building": "teaching", **meter},
            {"id": "elec-c", "kind": "electricity_meter", "building": "canteen", **meter},
            {"id": "gas-c", "kind": "gas_meter", "building": "canteen", **meter},
        ],
        "calendar": {
            "terms": [{"start": "2026-09-01", "end": "2027-01-22"}],
            "holidays": [{"name": "National Day", "start": "2026-10-01", "end": "2026-10-07"}],
        },
        "tariffs": [
            {
                "id": "gd",
                "name": "Guangdong TOU",
                "carrier": "electricity",
                "base_price": 0.65,
                "ratios": {"critical_peak": 2.125, "peak": 1.7, "flat": 1.0, "valley": 0.38},
                "bands": [
                    {"period": "valley", "start": "00:00", "end": "08:00"},
                    {"period": "flat", "start": "08:00", "end": "10:00"},
                    {"period": "peak", "start": "10:00", "end": "12:00"},
                    {"period": "flat", "start": "12:00", "end": "14:00"},
                    {"period": "peak", "start": "14:00", "end": "19:00"},
                    {"period": "flat", "start": "19:00", "end": "24:00"},
                ],
                "critical_peak": {
                    "months": [7, 8, 9],
                    "windows": [
                        {"start": "11:00", "end": "12:00"},
                        {"start": "15:00", "end": "17:00"},
                    ],
                },
            },
            {
                "id": "water",
                "name": "Water",
                "carrier": "water",
                "tiers": [{"up_to": 100, "price": 4.0}, {"price": 6.0}],
            },
            {"id": "gas", "name": "Gas", "carrier": "gas", "base_price": 4.0},
        ],
    }
    for key, value in extra.items():
        data[key] = value
    return SiteConfig.model_validate(data)


def local(day: date, hh: int = 0, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE)


def constant(rate: float) -> Rate:
    return lambda _t: rate


class Meters:
    """Writes a meter's register every 15 minutes from a rate (per hour) at each step."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store

    def write(
        self,
        device: str,
        metric: str,
        first: date,
        last: date,
        rate: Rate,
        start: float = 0.0,
        silent: Callable[[datetime], bool] = lambda _t: False,
        shown: Callable[[datetime, float], float] = lambda _t, v: v,
    ) -> float:
        """Readings from local midnight of `first` to that after `last`, both included; the
        register is `shown(t, value)` (to fake resets and wraps); returns the last value."""
        rows = ReadingBatchBuilder()
        t, end, value = local(first), local(last + timedelta(days=1)), start
        while t <= end:
            if not silent(t):
                rows.append(SITE, device, metric, int(t.timestamp() * 1000), shown(t, value))
            value += rate(t) * STEP.total_seconds() / 3600
            t += STEP
        self.store.write(rows.build())
        return value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    db = DuckDBStore(tmp_path / "energy.duckdb")
    yield db
    db.close()


@pytest.fixture
def meters(store: DuckDBStore) -> Meters:
    return Meters(store)
