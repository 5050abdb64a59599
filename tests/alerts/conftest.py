"""Shared pieces of the alert tests: a small canteen, a clock the test moves, readings built
row by row, and an alert service on a real DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.model import Alert, AlertQuery, AlertState, RuleId
from alerts.rules.seal_baseline import HourFeatures
from alerts.service import AlertService
from core.clock import StepClock, to_epoch_ms
from core.config import SiteConfig
from core.readings import ReadingBatch, ReadingBatchBuilder
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore

SITE = "test-school"
# Monday 2026-11-23 00:00 in Asia/Shanghai is Sunday 16:00 UTC.
MIDNIGHT = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def school(**extra: Any) -> SiteConfig:
    data: dict[str, Any] = {
        "site": {"id": SITE, "name": "Test School"},
        "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
        "meals": [
            {"name": "breakfast", "start": "07:00", "end": "07:40"},
            {"name": "lunch", "start": "11:40", "end": "12:40"},
            {"name": "dinner", "start": "17:30", "end": "18:20"},
        ],
        "devices": [
            {"id": "fridge-1", "kind": "fridge", "building": "canteen", "interval_s": 30},
            {"id": "freezer-1", "kind": "freezer", "building": "canteen", "interval_s": 30},
            {"id": "sample-1", "kind": "sample_fridge", "building": "canteen", "interval_s": 30},
            {
                "id": "ir-1",
                "kind": "disinfection_cabinet",
                "method": "infrared",
                "building": "canteen",
                "interval_s": 15,
            },
            {
                "id": "steam-1",
                "kind": "disinfection_cabinet",
                "method": "steam",
                "building": "canteen",
                "interval_s": 15,
            },
            {"id": "rice-1", "kind": "steam_cabinet", "building": "canteen", "interval_s": 15},
        ],
    }
    data.update(extra)
    return SiteConfig.model_validate(data)


def alike_hours(
    days: int,
    cycles: int,
    rates: tuple[float, float],
    duty: float | None,
    duty_read: float | None = None,
    rate_read: float | None = None,
) -> list[HourFeatures]:
    """Hours of `cycles` alike clean cycles each (warming and cooling K/h `rates`, turn to turn
    and fitted alike, metered on-share `duty`), as a sealed hour keeps them; a read left None
    is absent, as in hours saved before it was kept."""
    hours = []
    for at in range(days * 24):
        features = HourFeatures(at * 3_600_000, at % 24)
        for _ in range(cycles):
            features.warm.append(rates[0])
            features.cool.append(rates[1])
            features.duty.append(duty)
            features.warm_fit.append(rates[0])
            features.cool_fit.append(rates[1])
            if duty_read is not None:
                features.duty_read.append(duty_read)
            if rate_read is not None:
                features.rate_read.append(rate_read)
        hours.append(features)
    return hours


def batch(*rows: tuple[str, datetime, dict[str, float]]) -> ReadingBatch:
    """Readings as (device, instant, {metric: value}) rows, in the order given."""
    builder = ReadingBatchBuilder()
    for device, at, metrics in rows:
        for metric, value in metrics.items():
            builder.append(SITE, device, metric, to_epoch_ms(at), float(value))
    return builder.build()


def series(
    device: str, start: datetime, step_s: float, values: list[float], **flags: list[float]
) -> list[tuple[str, datetime, dict[str, float]]]:
    """`values` of temp_c every `step_s` from `start`, with optional parallel metrics."""
    rows = []
    for i, value in enumerate(values):
        metrics = {"temp_c": value, **{k: v[i] for k, v in flags.items()}}
        rows.append((device, start + timedelta(seconds=i * step_s), metrics))
    return rows


@dataclass
class Harness:
    """An alert service on a DuckDB file, fed readings and moved in time by the test."""

    path: Path
    config: SiteConfig
    clock: StepClock

    def __post_init__(self) -> None:
        self.readings = DuckDBStore(self.path)
        self.store = DuckDBAlertStore(self.path)
        self.service = AlertService(self.config, self.store, self.clock)

    def feed(
        self, rows: list[tuple[str, datetime, dict[str, float]]], *, store: bool = True
    ) -> None:
        """Store the readings, move the clock to the newest, and run the rules on them."""
        readings = batch(*rows)
        if store:
            self.readings.write(readings)
        self.clock.instant = max(self.clock.instant, max(at for _, at, _ in rows))
        self.service.process(readings)

    def tick(self, at: datetime) -> None:
        self.clock.instant = at
        self.service.tick(at)

    def alerts(self, rule: RuleId | None = None, device: str | None = None) -> list[Alert]:
        query = AlertQuery(SITE, states=tuple(AlertState), device=device, rule=rule, limit=1000)
        return self.service.book.find(query)

    def close(self) -> None:
        self.store.close()
        self.readings.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "canteen.duckdb", school(), StepClock(MIDNIGHT))
    yield h
    h.close()
