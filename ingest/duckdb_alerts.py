"""Alerts, their history, the food-safety registers and the rules' saved state, in the same
DuckDB file as the readings (DESIGN.md, storage: relational records in the same database).

`DuckDBAlertStore` opens its own connection to the file that `DuckDBStore` uses; DuckDB shares
one database instance between connections of a process, so both see each other's commits. The
daily temperature log is computed here in SQL over the readings table, never in Python.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

import duckdb
import numpy as np
import pyarrow as pa

from alerts.model import (
    Alert,
    AlertHistoryEntry,
    AlertQuery,
    DailyTemperature,
    DisinfectionRecord,
    Message,
    RetentionRecord,
    RuleId,
    SealHealthPoint,
)
from alerts.store import DayWindow
from core.readings import ReadingBatch
from ingest.errors import StoreError

__all__ = ["DuckDBAlertStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS alert_ids;
CREATE TABLE IF NOT EXISTS alerts (
    id BIGINT PRIMARY KEY DEFAULT nextval('alert_ids'),
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, rule VARCHAR NOT NULL,
    severity VARCHAR NOT NULL, state VARCHAR NOT NULL, food_safety BOOLEAN NOT NULL,
    condition_active BOOLEAN NOT NULL, pending_since TIMESTAMP NOT NULL,
    message_zh VARCHAR NOT NULL, message_en VARCHAR NOT NULL, evidence JSON NOT NULL,
    updated_at TIMESTAMP NOT NULL, fired_at TIMESTAMP, occurrences INTEGER NOT NULL,
    acknowledged_at TIMESTAMP, acknowledged_by VARCHAR, resolved_at TIMESTAMP,
    resolved_by VARCHAR, closed_at TIMESTAMP, closed_by VARCHAR, corrective_action VARCHAR,
    food_decision VARCHAR, food_reason VARCHAR, note VARCHAR, last_finding_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS alert_history (
    alert_id BIGINT NOT NULL, "at" TIMESTAMP NOT NULL, action VARCHAR NOT NULL,
    state VARCHAR NOT NULL, actor VARCHAR NOT NULL, note VARCHAR);
CREATE TABLE IF NOT EXISTS disinfection_register (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, meal VARCHAR NOT NULL,
    service_date DATE NOT NULL, window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL, target_c DOUBLE NOT NULL, hold_threshold_c DOUBLE NOT NULL,
    required_hold_min DOUBLE NOT NULL, decided_at TIMESTAMP NOT NULL,
    reason_zh VARCHAR NOT NULL, reason_en VARCHAR NOT NULL, cycles INTEGER NOT NULL,
    cycle_start TIMESTAMP, cycle_end TIMESTAMP, max_temp_c DOUBLE, hold_min DOUBLE,
    PRIMARY KEY (site, device, meal, service_date));
CREATE TABLE IF NOT EXISTS sample_retention (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, meal VARCHAR NOT NULL,
    service_date DATE NOT NULL, "start" TIMESTAMP NOT NULL, "end" TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL, low_c DOUBLE, high_c DOUBLE, updated_at TIMESTAMP NOT NULL,
    min_c DOUBLE, max_c DOUBLE, minutes_out_of_band DOUBLE NOT NULL,
    completeness DOUBLE NOT NULL, longest_gap_min DOUBLE NOT NULL,
    PRIMARY KEY (site, device, meal, service_date));
CREATE TABLE IF NOT EXISTS seal_health (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
    health DOUBLE NOT NULL, evidence JSON NOT NULL, PRIMARY KEY (site, device, ts));
CREATE TABLE IF NOT EXISTS rule_state (
    site VARCHAR NOT NULL, name VARCHAR NOT NULL, state JSON NOT NULL,
    PRIMARY KEY (site, name));
"""

# Each reading stands for the time until the next one, capped at the largest gap that still
# counts as continuous data and at the end of its day; out-of-band time sums those spans.
_DAILY_LOG = """
WITH r AS (
    SELECT ts, value,
           least(coalesce(epoch(lead(ts) OVER (ORDER BY ts) - ts), $gap), $gap) AS span_s
    FROM readings
    WHERE site = $site AND device = $device AND metric = 'temp_c'
      AND ts >= (SELECT min(d0) FROM day_windows) AND ts < (SELECT max(d1) FROM day_windows)
)
SELECT d.day, count(r.ts), min(r.value), max(r.value), avg(r.value),
       coalesce(sum(CASE WHEN r.value > $high OR r.value < $low
                         THEN least(r.span_s, epoch(d.d1 - r.ts)) END), 0) / 60.0,
       coalesce(sum(least(r.span_s, epoch(d.d1 - r.ts))), 0) / epoch(d.d1 - d.d0)
FROM day_windows d LEFT JOIN r ON r.ts >= d.d0 AND r.ts < d.d1
GROUP BY d.day, d.d0, d.d1
ORDER BY d.day
"""


class DuckDBAlertStore:
    """Implements `alerts.store.AlertPersistence` on a DuckDB file."""

    backend = "duckdb"

    def __init__(self, path: str | Path) -> None:
        self._target = str(path)
        if self._target == ":memory:":
            raise StoreError(
                "alerts share the readings' database file; ':memory:' would be a separate, "
                "empty database",
                backend=self.backend,
                target=self._target,
            )
        Path(self._target).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        with self._translated():
            self._con = duckdb.connect(self._target)
            self._con.execute(_SCHEMA)

    # -- alerts -----------------------------------------------------------------------------

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None:
        rows = self._query(
            f"SELECT {_ALERTS.select} FROM alerts WHERE site = ? AND device = ? AND rule = ? "
            "AND state <> 'closed' ORDER BY id DESC LIMIT 1",
            [site, device, rule.value],
        )
        return _ALERTS.decode(rows[0]) if rows else None

    def alert(self, site: str, alert_id: int) -> Alert | None:
        rows = self._query(
            f"SELECT {_ALERTS.select} FROM alerts WHERE site = ? AND id = ?", [site, alert_id]
        )
        return _ALERTS.decode(rows[0]) if rows else None

    def create_alert(self, alert: Alert) -> Alert:
        row = _ALERTS.encode(alert)[1:]
        names = _ALERTS.columns[1:]
        rows = self._write(
            f"INSERT INTO alerts ({', '.join(names)}) VALUES ({_marks(names)}) RETURNING id", row
        )
        return _ALERTS.decode((rows[0][0], *row))

    def replace_alert(self, alert: Alert) -> None:
        assignments = ", ".join(f"{name} = ?" for name in _ALERTS.columns[1:])
        row = _ALERTS.encode(alert)
        self._write(f"UPDATE alerts SET {assignments} WHERE id = ?", [*row[1:], row[0]])

    def delete_alert(self, alert_id: int) -> None:
        self._write("DELETE FROM alert_history WHERE alert_id = ?", [alert_id])
        self._write("DELETE FROM alerts WHERE id = ?", [alert_id])

    def find_alerts(self, query: AlertQuery) -> list[Alert]:
        sql = f"""SELECT {_ALERTS.select} FROM alerts
            WHERE site = $site
              AND (len($states) = 0 OR list_contains($states, state))
              AND ($device IS NULL OR device = $device)
              AND ($rule IS NULL OR rule = $rule)
              AND ($severity IS NULL OR severity = $severity)
              AND ($since IS NULL OR pending_since >= $since)
              AND ($until IS NULL OR pending_since < $until)
            ORDER BY pending_since DESC, id DESC LIMIT $limit"""
        params = {
            "site": query.site,
            "states": [s.value for s in query.states],
            "device": query.device,
            "rule": query.rule.value if query.rule else None,
            "severity": query.severity.value if query.severity else None,
            "since": _naive(query.since),
            "until": _naive(query.until),
            "limit": query.limit,
        }
        return [_ALERTS.decode(row) for row in self._query(sql, params)]

    def add_history(self, entry: AlertHistoryEntry) -> None:
        self._write(
            f"INSERT INTO alert_history VALUES ({_marks(_HISTORY.columns)})",
            _HISTORY.encode(entry),
        )

    def alert_history(self, alert_id: int) -> list[AlertHistoryEntry]:
        rows = self._query(
            f"SELECT {_HISTORY.select} FROM alert_history WHERE alert_id = ? ORDER BY rowid",
            [alert_id],
        )
        return [_HISTORY.decode(row) for row in rows]

    # -- registers --------------------------------------------------------------------------

    def save_disinfection(self, records: Sequence[DisinfectionRecord]) -> None:
        for record in records:
            self._write(_DISINFECTION.upsert("disinfection_register"), _DISINFECTION.encode(record))

    def disinfection_records(
        self, site: str, first: date, last: date, device: str | None
    ) -> list[DisinfectionRecord]:
        rows = self._query(
            f"""SELECT {_DISINFECTION.select} FROM disinfection_register
                WHERE site = $site AND service_date BETWEEN $first AND $last
                  AND ($device IS NULL OR device = $device)
                ORDER BY window_start, device""",
            {"site": site, "first": first, "last": last, "device": device},
        )
        return [_DISINFECTION.decode(row) for row in rows]

    def save_retention(self, records: Sequence[RetentionRecord]) -> None:
        for record in records:
            self._write(_RETENTION.upsert("sample_retention"), _RETENTION.encode(record))

    def retention_records(
        self, site: str, first: date, last: date, device: str | None
    ) -> list[RetentionRecord]:
        rows = self._query(
            f"""SELECT {_RETENTION.select} FROM sample_retention
                WHERE site = $site AND service_date BETWEEN $first AND $last
                  AND ($device IS NULL OR device = $device)
                ORDER BY "start", device""",
            {"site": site, "first": first, "last": last, "device": device},
        )
        return [_RETENTION.decode(row) for row in rows]

    def save_seal_health(self, points: Sequence[SealHealthPoint]) -> None:
        for point in points:
            self._write(_SEAL.upsert("seal_health"), _SEAL.encode(point))

    def seal_health(
        self, site: str, device: str, start: datetime, end: datetime
    ) -> list[SealHealthPoint]:
        rows = self._query(
            f"""SELECT {_SEAL.select} FROM seal_health
                WHERE site = ? AND device = ? AND ts >= ? AND ts < ? ORDER BY ts""",
            [site, device, _naive(start), _naive(end)],
        )
        return [_SEAL.decode(row) for row in rows]

    def daily_temperature_log(
        self,
        site: str,
        device: str,
        days: Sequence[DayWindow],
        low_c: float | None,
        high_c: float | None,
        max_gap_s: float,
    ) -> list[DailyTemperature]:
        if not days:
            return []
        windows = pa.table(
            {
                "day": pa.array([d.day for d in days], pa.date32()),
                "d0": pa.array([_naive(d.start) for d in days], pa.timestamp("us")),
                "d1": pa.array([_naive(d.end) for d in days], pa.timestamp("us")),
            }
        )
        params = {"site": site, "device": device, "low": low_c, "high": high_c, "gap": max_gap_s}
        with self._translated():
            cursor = self._con.cursor()
            try:
                cursor.register("day_windows", windows)
                rows = cursor.execute(_DAILY_LOG, params).fetchall()
            finally:
                cursor.close()
        return [
            DailyTemperature(
                device, day, int(n), low, high, mean, float(out_min), min(1.0, float(covered))
            )
            for day, n, low, high, mean, out_min, covered in rows
        ]

    # -- rule state and replay --------------------------------------------------------------

    def save_rule_state(self, site: str, states: Mapping[str, str]) -> None:
        for name, state in states.items():
            self._write("INSERT OR REPLACE INTO rule_state VALUES (?, ?, ?)", [site, name, state])

    def load_rule_state(self, site: str) -> dict[str, str]:
        rows = self._query("SELECT name, state FROM rule_state WHERE site = ?", [site])
        return {str(name): str(state) for name, state in rows}

    def readings_between(self, site: str, start: datetime, end: datetime) -> ReadingBatch:
        with self._translated():
            cursor = self._con.cursor()
            try:
                columns = cursor.execute(
                    """SELECT device, metric, epoch_ms(ts) AS ts_ms, value FROM readings
                       WHERE site = ? AND ts > ? AND ts <= ? ORDER BY ts""",
                    [site, _naive(start), _naive(end)],
                ).fetchnumpy()
            finally:
                cursor.close()
        devices = [str(d) for d in columns["device"]]
        return ReadingBatch(
            site=[site] * len(devices),
            device=devices,
            metric=[str(m) for m in columns["metric"]],
            ts_ms=np.asarray(columns["ts_ms"], dtype=np.int64),
            value=np.asarray(columns["value"], dtype=np.float64),
        )

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _write(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        with self._lock, self._translated():
            return self._con.execute(sql, params).fetchall()

    def _query(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        with self._translated():
            cursor = self._con.cursor()
            try:
                return cursor.execute(sql, params).fetchall()
            finally:
                cursor.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        if self._closed:
            raise StoreError("the store is closed", backend=self.backend, target=self._target)
        try:
            yield
        except duckdb.Error as exc:
            raise StoreError(str(exc), backend=self.backend, target=self._target) from exc


def _marks(columns: Sequence[str]) -> str:
    return ", ".join("?" for _ in columns)


def _naive(instant: datetime | None) -> datetime | None:
    """DuckDB TIMESTAMP is naive: store the UTC wall time."""
    return None if instant is None else instant.astimezone(UTC).replace(tzinfo=None)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


class _RowCodec(Generic[T]):
    """Maps a record dataclass to a table row and back, column per field, in field order.

    A `Message` field is two columns (`<name>_zh`, `<name>_en`), evidence is JSON, instants
    are naive UTC, enums are their values.
    """

    def __init__(self, cls: type[T]) -> None:
        self._cls = cls
        hints = get_type_hints(cls)
        self._fields = [(f.name, _bare(hints[f.name])) for f in fields(cls)]  # type: ignore[arg-type]
        self.columns: list[str] = []
        for name, kind in self._fields:
            self.columns += [f"{name}_zh", f"{name}_en"] if kind is Message else [f'"{name}"']
        self.select = ", ".join(self.columns)

    def upsert(self, table: str) -> str:
        return f"INSERT OR REPLACE INTO {table} ({self.select}) VALUES ({_marks(self.columns)})"

    def encode(self, record: T) -> list[Any]:
        row: list[Any] = []
        for name, kind in self._fields:
            value = getattr(record, name)
            if kind is Message:
                row += [value.zh, value.en]
            elif isinstance(value, datetime):
                row.append(_naive(value))
            elif isinstance(value, Enum):
                row.append(value.value)
            elif kind is dict:
                row.append(json.dumps(dict(value), ensure_ascii=False))
            else:
                row.append(value)
        return row

    def decode(self, row: Sequence[Any]) -> T:
        values: dict[str, Any] = {}
        cells = iter(row)
        for name, kind in self._fields:
            cell = next(cells)
            if kind is Message:
                values[name] = Message(cell, next(cells))
            elif cell is None:
                values[name] = None
            elif kind is datetime:
                values[name] = _utc(cell)
            elif kind is dict:
                values[name] = json.loads(cell)
            elif isinstance(kind, type) and issubclass(kind, Enum):
                values[name] = kind(cell)
            else:
                values[name] = cell
        return self._cls(**values)


def _bare(hint: Any) -> Any:
    """The type a column holds: `X | None` is X, a mapping (evidence) is dict."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if get_origin(hint) in (Union, UnionType) and len(args) == 1:
        hint = args[0]
    if get_origin(hint) is Mapping:
        return dict
    return hint


_ALERTS = _RowCodec(Alert)
_HISTORY = _RowCodec(AlertHistoryEntry)
_DISINFECTION = _RowCodec(DisinfectionRecord)
_RETENTION = _RowCodec(RetentionRecord)
_SEAL = _RowCodec(SealHealthPoint)
