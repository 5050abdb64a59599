"""The readings write of the DuckDB store: idempotent without a primary key.

A reading's identity is (site, device, metric, ts) and a replay overwrites it, never duplicates
it (DESIGN.md, storage). Until readings schema 5 a primary key kept that, and with the upsert of
the latest values it cost most of each write (`python -m bench.store_write`). Now:

1. the batch is made unique in memory, the last copy of a key winning (a device replaying its
   buffer may send a reading twice in one batch);
2. the store remembers each key's newest stored time (`LatestValues`, loaded from the `latest`
   table at open). A reading newer than that cannot be stored yet: the live stream is
   appended without any look-up. Only older readings (a redelivery after a crash between
   store and ack, a device's backfill, a corrected value) are looked up in the readings of
   their own time ranges, cluster by cluster, so zone maps on `ts` skip every other row group
   (readings are appended in arrival order, nearly time order); those found are deleted first;
3. the batch is appended and its (key, minute) pairs noted for the rollups, in one
   transaction; at its COMMIT the newest values go to memory. The `latest` table is brought
   up to date from the readings of the pending minutes by the rollup settle, off the write
   path (`refresh_latest`, called by `ingest.duckdb_rollup_keeper`), so after a crash it is
   repaired at the next open, before memory is loaded from it.

One writer at a time (the store's lock): the look-up and the append see the same table, so two
batches cannot both miss a key and both append it. The process that writes is the only one
(DuckDB locks the file), so memory is the truth for `latest()` there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from core.readings import ReadingBatch

__all__ = ["CLUSTER_GAP_MS", "KeylessWriter", "LatestValues", "WriteResult", "refresh_latest"]

# Older readings further apart than this in one batch are looked up as separate time ranges,
# so a batch holding a reading from yesterday and one from now scans two short stretches.
CLUSTER_GAP_MS = 10 * 60_000

_EPOCH = datetime(1970, 1, 1)

Key = tuple[str, str, str]  # site, device, metric
Newest = dict[Key, tuple[int, float]]  # epoch ms, value

_FOUND = """SELECT count(*) FROM readings r SEMI JOIN batch_old b
    ON r.site = b.site AND r.device = b.device AND r.metric = b.metric AND r.ts = b.ts
    WHERE r.ts BETWEEN $lo AND $hi"""

_DELETE = """DELETE FROM readings r USING batch_old b
    WHERE r.site = b.site AND r.device = b.device AND r.metric = b.metric AND r.ts = b.ts
    AND r.ts BETWEEN $lo AND $hi"""

# The batch's distinct (key, minute) pairs, noted for the rollups (a projection of the batch's
# relation: no table is registered for it).
_NOTE = "site, device, metric, date_trunc('minute', ts) AS minute"


# Each key's newest reading within its newest pending minute: every reading written since the
# last settle lies in a pending minute of its key, so that is the newest written since. Late
# readings (an older minute) never replace a newer latest value.
_PENDING_NEWEST = """SELECT site, device, metric, max(minute) AS minute FROM rollup_pending
    GROUP BY site, device, metric"""
_REFRESH = f"""INSERT INTO latest (site, device, metric, ts, value)
SELECT r.site, r.device, r.metric, max(r.ts), arg_max(r.value, r.ts)
FROM readings r JOIN ({_PENDING_NEWEST}) p
  ON r.site = p.site AND r.device = p.device AND r.metric = p.metric
 AND r.ts >= p.minute AND r.ts < p.minute + INTERVAL 60 SECOND
WHERE r.ts >= $lo AND r.ts < $hi
GROUP BY r.site, r.device, r.metric
ON CONFLICT DO UPDATE SET ts = excluded.ts, value = excluded.value
WHERE excluded.ts >= latest.ts"""


def refresh_latest(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the `latest` table up to date with the readings of the pending minutes, in the
    caller's transaction (the rollup settle's, before it forgets them)."""
    [(lo, hi)] = con.execute(f"SELECT min(minute), max(minute) FROM ({_PENDING_NEWEST})").fetchall()
    if lo is not None:
        con.execute(_REFRESH, {"lo": lo, "hi": hi + timedelta(seconds=60)})


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: int  # distinct readings appended
    looked_up: int  # of them, readings not newer than their key's newest (looked up)
    replaced: int  # of those, found stored already and replaced
    minutes: int  # (key, minute) pairs noted for the rollups
    newest: Newest  # the batch's newest reading per key


class LatestValues:
    """The newest stored reading of each key, in memory (module docstring, step 2). Reads come
    from API threads, updates from the writer: a small lock keeps them apart."""

    def __init__(self) -> None:
        self._by_device: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
        self._lock = threading.Lock()

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "SELECT site, device, metric, epoch_ms(ts), value FROM latest"
        ).fetchall()
        with self._lock:
            self._by_device.clear()
            for site, device, metric, ts_ms, value in rows:
                self._by_device.setdefault((site, device), {})[metric] = (int(ts_ms), value)

    def newest_ms(self, key: Key) -> int | None:
        metrics = self._by_device.get((key[0], key[1]))
        seen = None if metrics is None else metrics.get(key[2])
        return None if seen is None else seen[0]

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def advance_held(self, newest: Newest) -> None:
        """Take a committed batch's newest readings, with `lock` held; an older one never
        replaces a newer."""
        for (site, device, metric), (ts_ms, value) in newest.items():
            metrics = self._by_device.setdefault((site, device), {})
            seen = metrics.get(metric)
            if seen is None or ts_ms >= seen[0]:
                metrics[metric] = (ts_ms, value)

    def of_device(self, site: str, device: str) -> list[tuple[str, int, float]]:
        """(metric, epoch ms, value) of a device's metrics, by metric name."""
        with self._lock:
            metrics = dict(self._by_device.get((site, device), {}))
        return [(m, ts, value) for m, (ts, value) in sorted(metrics.items())]


class KeylessWriter:
    """Steps 1-3 on the store's connection, called under the store's writer lock; each write
    is a transaction of its own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, latest: LatestValues) -> None:
        self._con = con
        self._latest = latest

    def write(self, batch: ReadingBatch) -> WriteResult:
        """Steps 1-3 of the module docstring in one transaction of their own; the newest
        values go to memory once it has committed.

        The batch goes in as a relation over its Arrow table (`from_arrow`, `insert_into`)
        and the rollup note reads that relation: registering and unregistering a table per
        step cost more CPU than the append itself (`python -m bench.store_write`). Only a
        batch with readings not newer than their key's newest registers `batch_old`."""
        unique = _Unique.of(batch)
        newest, minutes, first = unique.scan()
        old = unique.not_newer_than(self._latest, first)
        con = self._con
        if len(old):
            con.register("batch_old", unique.table(old))
        try:
            con.execute("BEGIN")
            try:
                replaced = self._replace(unique.ts[old]) if len(old) else 0
                rows = con.from_arrow(unique.table(None))
                # By position: the table's columns are (site, device, metric, ts, value), the
                # Arrow table's order (readings schema 5, `ingest.duckdb_schema`).
                rows.insert_into("readings")
                rows.project(_NOTE).distinct().insert_into("rollup_pending")
                # Readers of `latest()` wait for the COMMIT: one that has seen the readings
                # committed never gets an older latest value.
                with self._latest.lock:
                    con.execute("COMMIT")
                    self._latest.advance_held(newest)
            except duckdb.Error:
                # A failed COMMIT (disk full) has already ended the transaction; the error
                # worth reporting is the first one, not "no transaction is active".
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        finally:
            if len(old):
                con.unregister("batch_old")
        return WriteResult(len(unique.ts), len(old), replaced, minutes, newest)

    def _replace(self, ts: npt.NDArray[np.int64]) -> int:
        """Delete the stored copies of the registered `batch_old`; returns how many."""
        replaced = 0
        for lo, hi in clusters(ts):
            bounds = {"lo": naive_ms(lo), "hi": naive_ms(hi)}
            [(found,)] = self._con.execute(_FOUND, bounds).fetchall()
            if found:
                self._con.execute(_DELETE, bounds)
                replaced += int(found)
        return replaced


@dataclass(frozen=True, slots=True)
class _Unique:
    """A batch with one row per key (the last copy wins), as plain lists."""

    site: Sequence[str]
    device: Sequence[str]
    metric: Sequence[str]
    ts: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]

    @staticmethod
    def of(batch: ReadingBatch) -> _Unique:
        keys = zip(batch.site, batch.device, batch.metric, batch.ts_ms.tolist(), strict=True)
        last = {key: index for index, key in enumerate(keys)}
        if len(last) == len(batch):
            return _Unique(batch.site, batch.device, batch.metric, batch.ts_ms, batch.value)
        keep = sorted(last.values())
        return _Unique(
            [batch.site[i] for i in keep],
            [batch.device[i] for i in keep],
            [batch.metric[i] for i in keep],
            batch.ts_ms[keep],
            batch.value[keep],
        )

    def not_newer_than(self, latest: LatestValues, first: dict[Key, int]) -> npt.NDArray[np.int64]:
        """Indices of the rows whose key has a stored reading at their time or later. Only
        keys whose oldest reading in the batch (`first`) is not newer than the stored newest
        have rows to find: one look-up per key, and a pass over the rows only for those."""
        suspects: dict[Key, int] = {}
        for key, oldest in first.items():
            seen = latest.newest_ms(key)
            if seen is not None and oldest <= seen:
                suspects[key] = seen
        if not suspects:
            return np.empty(0, np.int64)
        found = [
            i
            for i, (site, device, metric, ts) in enumerate(
                zip(self.site, self.device, self.metric, self.ts.tolist(), strict=True)
            )
            if (stored := suspects.get((site, device, metric))) is not None and ts <= stored
        ]
        return np.asarray(found, np.int64)

    def table(self, rows: npt.NDArray[np.int64] | None) -> pa.Table:
        def pick(column: Sequence[str]) -> Sequence[str]:
            return column if rows is None else [column[i] for i in rows.tolist()]

        return pa.table(
            {
                "site": pa.array(pick(self.site), pa.string()),
                "device": pa.array(pick(self.device), pa.string()),
                "metric": pa.array(pick(self.metric), pa.string()),
                "ts": pa.array(self.ts if rows is None else self.ts[rows], pa.timestamp("ms")),
                "value": pa.array(self.value if rows is None else self.value[rows], pa.float64()),
            }
        )

    def scan(self) -> tuple[Newest, int, dict[Key, int]]:
        """One pass over the rows: each key's newest reading, how many distinct (key,
        minute) pairs the batch notes for the rollups, and each key's oldest time."""
        newest: Newest = {}
        oldest: dict[Key, int] = {}
        pairs: set[tuple[Key, int]] = set()
        for site, device, metric, ts, value in zip(
            self.site, self.device, self.metric, self.ts.tolist(), self.value.tolist(), strict=True
        ):
            key = (site, device, metric)
            seen = newest.get(key)
            if seen is None:
                newest[key] = (ts, value)
                oldest[key] = ts
            else:
                if ts >= seen[0]:
                    newest[key] = (ts, value)
                if ts < oldest[key]:
                    oldest[key] = ts
            pairs.add((key, ts // 60_000))
        return newest, len(pairs), oldest


def clusters(ts: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """Time ranges covering `ts`: sorted times cut where neighbours lie more than
    `CLUSTER_GAP_MS` apart."""
    ordered = np.unique(ts)
    cuts = np.flatnonzero(np.diff(ordered) > CLUSTER_GAP_MS)
    starts = np.concatenate(([0], cuts + 1))
    ends = np.concatenate((cuts, [len(ordered) - 1]))
    return [(int(ordered[s]), int(ordered[e])) for s, e in zip(starts, ends, strict=True)]


def naive_ms(ms: int) -> datetime:
    """DuckDB TIMESTAMP is naive: the UTC wall time of epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)
