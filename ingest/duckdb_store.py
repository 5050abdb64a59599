"""The embedded default store: one DuckDB file holding readings and the records beside them.

Readings are written as one Arrow table per batch with a single `INSERT ... SELECT` (row-by-row
`executemany` is ~1,500x slower here, DESIGN.md), idempotently without a primary key
(`ingest.duckdb_write`). Timestamps are stored as UTC `TIMESTAMP`.
One connection writes, under a lock; each read opens its own cursor, so API queries run in
threads beside the writer. The tables are the 'readings' component of the file's schema
(`ingest.migrations`): every INSERT and SELECT names its columns.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch
from ingest import duckdb_schema
from ingest.duckdb_energy import query_counter_deltas, query_device_events
from ingest.duckdb_guard import Translate, check_readable
from ingest.duckdb_rollup import query_envelope_steps, query_series, rebuild
from ingest.duckdb_rollup_keeper import ReadKey, RollupKeeper
from ingest.duckdb_write import KeylessWriter, LatestValues
from ingest.errors import StoreError, StoreUnavailableError
from ingest.migrations import migrate_or_close, schema_version
from ingest.store import (
    Aggregate,
    CounterDeltas,
    CounterSpec,
    DeadLetterRecord,
    Envelope,
    EnvelopeSteps,
    LatestValue,
    PresenceRecord,
    SeriesPoint,
)

__all__ = ["DuckDBStore"]


class DuckDBStore:
    """Readings and records in one DuckDB file (or ':memory:')."""

    backend = "duckdb"

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open (or create) the file; `read_only` opens an existing file of this schema for
        reading (a report), never creating or migrating it."""
        self._target = str(path)
        if self._target != ":memory:" and not read_only:
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self._target, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(str(exc), backend=self.backend, target=self._target) from exc
        if read_only:
            check_readable(self._con, self._target)
        else:
            migrate_or_close(self._con, "readings", duckdb_schema.READINGS, target=self._target)
        # A file opened read-only may predate the rollups (schema 3): its series read raw.
        self._rollups = schema_version(self._con, "readings") >= duckdb_schema.ROLLUPS_VERSION
        self._lock = threading.Lock()
        self._closed = False
        self._open_keeper(read_only=read_only)
        # The writing process keeps each key's newest reading in memory (after the open's
        # settle has brought the table up to date); a read-only one reads the table.
        self._latest: LatestValues | None = None
        self._writer: KeylessWriter | None = None
        if not read_only:
            self._latest = LatestValues()
            with self._guard():
                self._latest.load(self._con)
            self._writer = KeylessWriter(self._con, self._latest)

    # -- readings ---------------------------------------------------------------------------

    def write(self, batch: ReadingBatch) -> int:
        if len(batch) == 0:
            return 0
        if self._writer is None:
            raise StoreError("opened read-only", backend=self.backend, target=self._target)
        with self._lock, self._guard():
            result = self._writer.write(batch)
        with self._guard():
            self._keeper.noted(result.minutes)
        return len(batch)

    def latest(self, site: str, device: str) -> list[LatestValue]:
        if self._latest is not None:
            with self._guard():
                rows = self._latest.of_device(site, device)
            return [LatestValue(metric, _utc_ms(ts), value) for metric, ts, value in rows]
        found = self._query(
            "SELECT metric, ts, value FROM latest WHERE site = ? AND device = ? ORDER BY metric",
            [site, device],
        )
        return [LatestValue(metric, _utc(ts), value) for metric, ts, value in found]

    def series(
        self,
        site: str,
        device: str,
        metric: str,
        start: datetime,
        end: datetime,
        step_s: int,
        agg: Aggregate,
        *,
        zone: ZoneInfo | None = None,
    ) -> list[SeriesPoint]:
        span = (_naive(start), _naive(end))
        with self._rollup_read((site, device, (metric,)), span) as (cursor, raw_from):
            return query_series(
                cursor,
                (site, device, metric),
                span,
                step_s,
                agg,
                zone=zone,
                rollups=self._rollups,
                raw_from=raw_from,
            )

    def envelopes(
        self,
        site: str,
        device: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
        step_s: int,
    ) -> dict[str, list[Envelope]]:
        steps = self.envelope_steps(site, device, metrics, start, end, step_s)
        return {metric: found.envelopes() for metric, found in steps.items()}

    def envelope_steps(
        self,
        site: str,
        device: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
        step_s: int,
    ) -> dict[str, EnvelopeSteps]:
        span = (_naive(start), _naive(end))
        with self._rollup_read((site, device, metrics), span) as (cursor, raw_from):
            return query_envelope_steps(
                cursor,
                site,
                device,
                metrics,
                span,
                step_s,
                rollups=self._rollups,
                raw_from=raw_from,
            )

    def settle_rollups(self) -> int:
        """Bring the rollups of every minute written since the last settle up to date, in one
        transaction (the service calls it on a timer); returns the keys settled."""
        with self._guard():
            return self._keeper.settle()

    def _open_keeper(self, *, read_only: bool) -> None:
        """The rollups' bookkeeping; a writable file a crash left with pending minutes is
        brought up to date here, before anything reads it."""
        pending = schema_version(self._con, "readings") >= duckdb_schema.PENDING_VERSION
        self._keeper = RollupKeeper(self._con, enabled=pending, writable=not read_only)
        with self._guard():
            self._keeper.settle()

    @contextlib.contextmanager
    def _rollup_read(
        self, key: ReadKey, span: tuple[datetime, datetime]
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, datetime | None]]:
        """A cursor in a snapshot for a read of `key` over `span`, and the instant from which
        its rollups may miss pending minutes, to be read raw (None: exact throughout)."""
        with self._cursor() as cursor:
            yield cursor, self._keeper.prepare_read(cursor, key, span)

    def rebuild_rollups(self) -> None:
        """Every rollup computed again from the raw readings, in one transaction."""
        self.settle_rollups()  # the latest values of the pending minutes, before they go
        with self._lock, self._keeper.lock, self._guard():
            self._con.execute("BEGIN")
            try:
                rebuild(self._con)
                self._con.execute("COMMIT")
            except duckdb.Error:
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                raise

    def counter_deltas(
        self,
        site: str,
        counters: Sequence[CounterSpec],
        start: datetime,
        end: datetime,
        slot_s: int,
        bridge_s: int,
    ) -> CounterDeltas:
        with self._cursor() as cursor:
            return query_counter_deltas(cursor, site, counters, start, end, slot_s, bridge_s)

    # -- records ----------------------------------------------------------------------------

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        table = pa.table(
            {
                "received_at": pa.array(
                    [_naive(x.received_at) for x in letters], pa.timestamp("us")
                ),
                "topic": pa.array([x.topic for x in letters], pa.string()),
                "site": pa.array([x.site for x in letters], pa.string()),
                "device": pa.array([x.device for x in letters], pa.string()),
                "reason": pa.array([x.reason for x in letters], pa.string()),
                "payload": pa.array([x.payload for x in letters], pa.binary()),
                "payload_size": pa.array([x.payload_size for x in letters], pa.int64()),
                "code": pa.array([x.code for x in letters], pa.string()),
            }
        )
        self._insert_table(
            "INSERT INTO dead_letters (received_at, topic, site, device, reason, payload, "
            "payload_size, code) SELECT received_at, topic, site, device, reason, payload, "
            "payload_size, code FROM letters",
            "letters",
            table,
        )

    def dead_letters(
        self, site: str | None, limit: int, reason: str | None = None, code: str | None = None
    ) -> list[DeadLetterRecord]:
        rows = self._query(
            f"""SELECT id, received_at, topic, reason, payload, payload_size, site, device, code
               FROM dead_letters WHERE {_LETTERS_WHERE}
               ORDER BY id DESC LIMIT $limit""",
            {"site": site, "reason": reason, "code": code, "limit": limit},
        )
        return [_dead_letter(*row) for row in rows]

    def dead_letter_count(
        self, site: str | None = None, code: str | None = None, reason: str | None = None
    ) -> int:
        rows = self._query(
            f"SELECT count(*) FROM dead_letters WHERE {_LETTERS_WHERE}",
            {"site": site, "reason": reason, "code": code},
        )
        return int(rows[0][0])

    def write_presence(self, changes: Sequence[PresenceChange]) -> None:
        with self._lock, self._guard():
            for change in changes:
                # A presence message that arrives late must not overwrite a newer state.
                self._con.execute(
                    """INSERT INTO presence (site, device, online, since) VALUES (?, ?, ?, ?)
                       ON CONFLICT DO UPDATE SET online = excluded.online, since = excluded.since
                       WHERE excluded.since >= presence.since""",
                    [change.site, change.device, change.online, _naive(change.at)],
                )

    def presence(self, site: str) -> list[PresenceRecord]:
        rows = self._query("SELECT device, online, since FROM presence WHERE site = ?", [site])
        return [PresenceRecord(device, online, _utc(since)) for device, online, since in rows]

    def write_events(self, events: Sequence[DeviceEvent]) -> None:
        if not events:
            return
        table = pa.table(
            {
                "site": pa.array([e.site for e in events], pa.string()),
                "device": pa.array([e.device for e in events], pa.string()),
                "ts": pa.array([e.ts_ms for e in events], pa.timestamp("ms")),
                "kind": pa.array([e.kind for e in events], pa.string()),
                "data": pa.array([json.dumps(e.data) for e in events], pa.string()),
            }
        )
        self._insert_table(
            "INSERT OR REPLACE INTO device_events (site, device, ts, kind, data) "
            "SELECT site, device, ts, kind, data FROM events",
            "events",
            table,
        )

    def device_events(
        self, site: str, kinds: Sequence[str], start: datetime, end: datetime
    ) -> list[DeviceEvent]:
        with self._cursor() as cursor:
            return query_device_events(cursor, site, kinds, start, end)

    def reading_count(self) -> int:
        return int(self._query("SELECT count(*) FROM readings", [])[0][0])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._keeper.close()
                self._con.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _insert_table(self, sql: str, name: str, table: Any) -> None:
        with self._lock, self._guard():
            self._con.register(name, table)
            try:
                self._con.execute(sql)
            finally:
                self._con.unregister(name)

    def _query(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            return cursor.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for one read, so reads run in threads beside the writer."""
        with self._guard():
            cursor = self._con.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def _guard(self) -> Translate:
        if self._closed:
            raise StoreUnavailableError(
                "the store is closed", backend=self.backend, target=self._target
            )
        return Translate(self._target)


# Letters of a site (and those whose topic named no site), by reason text and reason code.
_LETTERS_WHERE = """($site IS NULL OR site = $site OR site IS NULL)
    AND ($reason IS NULL OR contains(lower(reason), lower($reason)))
    AND ($code IS NULL OR code = $code)"""


def _dead_letter(
    id_: int,
    received_at: datetime,
    topic: str,
    reason: str,
    payload: bytes,
    payload_size: int,
    site: str | None,
    device: str | None,
    code: str | None,
) -> DeadLetterRecord:
    """A row selected as `id, received_at, topic, reason, payload, payload_size, site, device,
    code`."""
    letter = DeadLetter(
        received_at=_utc(received_at),
        topic=topic,
        reason=reason,
        payload=payload,
        payload_size=payload_size,
        site=site,
        device=device,
        code=code,
    )
    return DeadLetterRecord(id=id_, letter=letter)


def _naive(instant: datetime) -> datetime:
    """DuckDB TIMESTAMP is naive: store the UTC wall time."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _utc_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
