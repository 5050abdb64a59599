"""Alerts, their history, the food-safety registers and the rules' saved state, in the same
DuckDB file as the readings (DESIGN.md, storage: relational records in the same database).

`DuckDBAlertStore` opens its own connection to the file that `DuckDBStore` uses; DuckDB shares
one database instance between connections of a process, so both see each other's commits. The
daily temperature log is computed here in SQL over the readings table, never in Python.

`transaction()` gives the alert book one transaction for a batch of changes: the alerts, their
history and the notices about them (the outbox's rows, `ingest.duckdb_outbox.enqueue_on`) are
committed together, so a notice is persisted before it is sent and never without its alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from pydantic import ValidationError

from core.readings import ReadingBatch
from core.records import (
    Alert,
    AlertHistoryEntry,
    AlertQuery,
    DailyTemperature,
    DayWindow,
    DisinfectionRecord,
    OutboxEntry,
    RetentionRecord,
    RuleId,
    SealHealthPoint,
)
from ingest import duckdb_schema
from ingest.duckdb_outbox import enqueue_on
from ingest.duckdb_rows import RecordTable, naive_utc
from ingest.duckdb_tables import DuckDBTables
from ingest.errors import StoreError

__all__ = ["DuckDBAlertStore"]

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


class DuckDBAlertStore(DuckDBTables):
    """`alerts.store.AlertPersistence` on a DuckDB file (structurally: nothing of alerts is
    imported); its tables are the 'alerts' component of the file's schema (ingest.migrations)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "alerts", duckdb_schema.ALERTS, allow_memory=False)

    # -- alerts -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[AlertChanges]:
        """The alert book's writes (and the notices about them) in one transaction, committed
        when the block ends, rolled back when it raises. Reads inside see its own writes."""
        with self._transaction() as con:
            yield AlertChanges(con, self._target)

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None:
        return _first(self._records(_ALERTS, _OPEN_ALERT, [site, device, rule.value]))

    def alert(self, site: str, alert_id: int) -> Alert | None:
        return _first(self._records(_ALERTS, _ALERT_BY_ID, [site, alert_id]))

    def open_alerts(self, site: str) -> list[Alert]:
        return self._records(_ALERTS, _OPEN_ALERTS, [site])

    def create_alert(self, alert: Alert) -> Alert:
        rows = self._write(_CREATE_ALERT, _ALERTS.encode(alert, _ALERT_VALUES))
        return replace(alert, id=int(rows[0][0]))

    def replace_alert(self, alert: Alert) -> None:
        self._write(_REPLACE_ALERT, [*_ALERTS.encode(alert, _ALERT_VALUES), alert.id])

    def delete_alert(self, alert_id: int) -> None:
        with self._transaction() as con:
            AlertChanges(con, self._target).delete_alert(alert_id)

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
        return self._records(_ALERTS, sql, params)

    def add_history(self, entry: AlertHistoryEntry) -> None:
        self._write(_HISTORY.insert(), _HISTORY.encode(entry))

    def alert_history(self, alert_id: int) -> list[AlertHistoryEntry]:
        return self._records(
            _HISTORY,
            f"SELECT {_HISTORY.select} FROM alert_history WHERE alert_id = ? ORDER BY rowid",
            [alert_id],
        )

    # -- registers --------------------------------------------------------------------------

    def save_disinfection(self, records: Sequence[DisinfectionRecord]) -> None:
        for record in records:
            self._write(_DISINFECTION.insert(replace=True), _DISINFECTION.encode(record))

    def disinfection_records(
        self, site: str, first: date, last: date, device: str | None
    ) -> list[DisinfectionRecord]:
        return self._records(
            _DISINFECTION,
            f"""SELECT {_DISINFECTION.select} FROM disinfection_register
                WHERE site = $site AND service_date BETWEEN $first AND $last
                  AND ($device IS NULL OR device = $device)
                ORDER BY window_start, device""",
            {"site": site, "first": first, "last": last, "device": device},
        )

    def save_retention(self, records: Sequence[RetentionRecord]) -> None:
        for record in records:
            self._write(_RETENTION.insert(replace=True), _RETENTION.encode(record))

    def retention_records(
        self, site: str, first: date, last: date, device: str | None
    ) -> list[RetentionRecord]:
        return self._records(
            _RETENTION,
            f"""SELECT {_RETENTION.select} FROM sample_retention
                WHERE site = $site AND service_date BETWEEN $first AND $last
                  AND ($device IS NULL OR device = $device)
                ORDER BY "start", device""",
            {"site": site, "first": first, "last": last, "device": device},
        )

    def save_seal_health(self, points: Sequence[SealHealthPoint]) -> None:
        # One statement: a statement per point (~10 ms each on a loaded machine, even inside one
        # transaction) took most of a restart's replay (200 fridges x 5 days, 24 k points);
        # 960 points at once take ~0.3 s. A key twice in one statement is refused: the last wins.
        rows = {tuple(v[:3]): v for v in (_SEAL.encode(point) for point in points)}
        if not rows:
            return
        columns = [list(column) for column in zip(*rows.values(), strict=True)]
        with self._transaction() as con:
            con.execute(_SEAL_MANY, columns)

    def seal_health(
        self, site: str, device: str, start: datetime, end: datetime
    ) -> list[SealHealthPoint]:
        return self._records(
            _SEAL,
            f"""SELECT {_SEAL.select} FROM seal_health
                WHERE site = ? AND device = ? AND ts >= ? AND ts < ? ORDER BY ts""",
            [site, device, _naive(start), _naive(end)],
        )

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
                device=device,
                day=day,
                readings=int(n),
                min_c=low,
                max_c=high,
                mean_c=mean,
                minutes_out_of_band=float(out_min),
                completeness=min(1.0, float(covered)),
            )
            for day, n, low, high, mean, out_min, covered in rows
        ]

    # -- rule state and replay --------------------------------------------------------------

    def save_rule_state(self, site: str, states: Mapping[str, str]) -> None:
        """Every state in one statement and one transaction: a statement per device committed
        on its own cost ~7 ms each, 7 s for 1,000 devices, and held the connection (and with it
        the alert book's writes) that long (bench.alerts p99 3.2 s at 3 k msg/s)."""
        if not states:
            return
        with self._transaction() as con:
            con.execute(
                """INSERT OR REPLACE INTO rule_state (site, name, state)
                   SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[])""",
                [site, list(states.keys()), list(states.values())],
            )

    def load_rule_state(self, site: str) -> dict[str, str]:
        rows = self._query("SELECT name, state FROM rule_state WHERE site = ?", [site])
        return {str(name): str(state) for name, state in rows}

    def readings_between(
        self, site: str, start: datetime, end: datetime, devices: Sequence[str] | None = None
    ) -> ReadingBatch:
        with self._translated():
            cursor = self._con.cursor()
            try:
                columns = cursor.execute(
                    """SELECT device, metric, epoch_ms(ts) AS ts_ms, value FROM readings
                       WHERE site = ? AND ts > ? AND ts <= ?
                         AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], device))
                       ORDER BY ts""",
                    [site, _naive(start), _naive(end), devices, devices],
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


class AlertChanges:
    """The alert book's writes on a connection inside `DuckDBAlertStore.transaction()`
    (`alerts.store.AlertChanges`): the same SQL as the store's own methods."""

    def __init__(self, con: duckdb.DuckDBPyConnection, target: str) -> None:
        self._run: Callable[[str, Any], list[tuple[Any, ...]]] = lambda sql, params: con.execute(
            sql, params
        ).fetchall()
        self._con = con
        self._target = target

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None:
        return _first(self._alerts(_OPEN_ALERT, [site, device, rule.value]))

    def alert(self, site: str, alert_id: int) -> Alert | None:
        return _first(self._alerts(_ALERT_BY_ID, [site, alert_id]))

    def create_alert(self, alert: Alert) -> Alert:
        rows = self._run(_CREATE_ALERT, _ALERTS.encode(alert, _ALERT_VALUES))
        return replace(alert, id=int(rows[0][0]))

    def replace_alert(self, alert: Alert) -> None:
        self._run(_REPLACE_ALERT, [*_ALERTS.encode(alert, _ALERT_VALUES), alert.id])

    def delete_alert(self, alert_id: int) -> None:
        self._run("DELETE FROM alert_history WHERE alert_id = ?", [alert_id])
        self._run("DELETE FROM alerts WHERE id = ?", [alert_id])

    def add_history(self, entry: AlertHistoryEntry) -> None:
        self._run(_HISTORY.insert(), _HISTORY.encode(entry))

    def enqueue(self, entry: OutboxEntry) -> bool:
        """A notice into the outbox, committed with the alert changes; False: key known."""
        return enqueue_on(self._con, entry)

    def _alerts(self, sql: str, params: Any) -> list[Alert]:
        try:
            return [_ALERTS.decode(row) for row in self._run(sql, params)]
        except ValidationError as exc:
            raise StoreError(
                f"a row of alerts does not fit its record: {exc}",
                backend="duckdb",
                target=self._target,
            ) from exc


def _first(alerts: list[Alert]) -> Alert | None:
    return alerts[0] if alerts else None


def _naive(instant: datetime | None) -> datetime | None:
    return None if instant is None else naive_utc(instant)


_ALERTS = RecordTable(
    "alerts",
    Alert,
    (
        "id", "site", "device", "rule", "severity", "state", "food_safety", "condition_active",
        "pending_since", "message_zh", "message_en", "evidence", "updated_at", "fired_at",
        "occurrences", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
        "closed_at", "closed_by", "corrective_action", "food_decision", "food_reason", "note",
        "last_finding_at",
    ),
    messages=("message",),
    json_columns=("evidence",),
)  # fmt: skip
# Everything but the id, which the alert_ids sequence assigns.
_ALERT_VALUES = _ALERTS.columns[1:]
_OPEN_ALERT = (
    f"SELECT {_ALERTS.select} FROM alerts WHERE site = ? AND device = ? AND rule = ? "
    "AND state <> 'closed' ORDER BY id DESC LIMIT 1"
)
_OPEN_ALERTS = (
    f"SELECT {_ALERTS.select} FROM alerts WHERE site = ? AND state <> 'closed' ORDER BY id"
)
_ALERT_BY_ID = f"SELECT {_ALERTS.select} FROM alerts WHERE site = ? AND id = ?"
_CREATE_ALERT = f"{_ALERTS.insert(columns=_ALERT_VALUES)} RETURNING id"
_ASSIGNMENTS = ", ".join(f'"{name}" = ?' for name in _ALERT_VALUES)
_REPLACE_ALERT = f"UPDATE alerts SET {_ASSIGNMENTS} WHERE id = ?"
_HISTORY = RecordTable(
    "alert_history", AlertHistoryEntry, ("alert_id", "at", "action", "state", "actor", "note")
)
_DISINFECTION = RecordTable(
    "disinfection_register",
    DisinfectionRecord,
    (
        "site", "device", "meal", "service_date", "window_start", "window_end", "status",
        "target_c", "hold_threshold_c", "required_hold_min", "decided_at", "reason_zh",
        "reason_en", "cycles", "cycle_start", "cycle_end", "max_temp_c", "hold_min",
        "amendments",
    ),
    messages=("reason",),
    json_columns=("amendments",),
)  # fmt: skip
_RETENTION = RecordTable(
    "sample_retention",
    RetentionRecord,
    (
        "site", "device", "meal", "service_date", "start", "end", "status", "low_c", "high_c",
        "updated_at", "min_c", "max_c", "minutes_out_of_band", "completeness",
        "longest_gap_min", "amendments",
    ),
    json_columns=("amendments",),
)  # fmt: skip
_SEAL = RecordTable(
    "seal_health",
    SealHealthPoint,
    ("site", "device", "ts", "health", "evidence"),
    json_columns=("evidence",),
)
_SEAL_MANY = """INSERT OR REPLACE INTO seal_health (site, device, ts, health, evidence)
    SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::TIMESTAMP[]),
           unnest(?::DOUBLE[]), unnest(?::JSON[])"""
