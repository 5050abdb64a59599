"""When the DuckDB store brings its rollups up to date: after the write, never inside it.

A write only notes the minutes it touched (`ingest.duckdb_rollup.note_touched`, a few ms
of CPU); the
recompute of their buckets (`settle`, tens of ms) runs for many writes at once:

- on a timer: the service calls `DuckDBStore.settle_rollups` every `SETTLE_EVERY_S`;
- right after a write, once more than `SETTLE_AT_KEYS` keys are pending (a bulk load, a tool
  or a test with no timer), so the table and the recompute stay bounded;
- before a read whose range holds pending minutes of its device and metrics further back
  than `RAW_TAIL` from its end;
- on opening a file a crash left with pending minutes.

A settle never delays a write: it runs on a cursor of its own, in its own transaction, under
its own lock, not the writer's. Snapshot isolation makes that safe: the settle recomputes and
forgets exactly the pending minutes its snapshot sees; a write that commits meanwhile appends
readings and notes the settle does not see, and they stay pending for the next one. Writes
only append to `rollup_pending` and never touch the rollups or `latest`, so the two never
change the same rows. The settle also brings the `latest` table up to date from the pending
minutes (`ingest.duckdb_write`: the writer keeps the newest values in memory).

A read never sees a stale bucket: it looks for pending minutes and reads in one snapshot (a
transaction on its own cursor), so a write committed in between cannot slip past the check.
From the earliest pending minute of its device and metrics on, it reads the raw readings, the
rollups before it: for a chart up to now that is the last few seconds, cheaper than a settle.
When those minutes go further back it settles first; if another settle holds the lock past
`LOCK_WAIT_S`, it reads raw from there instead: slower, still exact, never waiting long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import duckdb

from ingest.duckdb_rollup import earliest_pending, pending_count, settle
from ingest.duckdb_write import refresh_latest

__all__ = [
    "LOCK_WAIT_S",
    "RAW_TAIL",
    "SETTLE_AT_KEYS",
    "SETTLE_EVERY_S",
    "RollupKeeper",
    "settle_every",
]

log = logging.getLogger(__name__)

# How often the service settles: a chart drawn seconds after a write then finds nothing
# pending, and each settle covers a few seconds of writes (at 1 k readings/s and 200 devices,
# a few hundred keys).
SETTLE_EVERY_S = 2.0

# Pending keys past which a write settles them itself, in its own transaction.
SETTLE_AT_KEYS = 50_000

# A read whose pending minutes all lie within this much of its end (a chart up to now, the
# last seconds of writes) reads the raw readings from the earliest of them and the rollups
# before it: a few minutes of raw readings cost less than a settle. Further back (a late
# reading hours ago), it settles first.
RAW_TAIL = timedelta(hours=1)

# How long a read that found pending minutes waits for a settle in progress before it answers
# from the raw readings instead (a settle of a few seconds of writes takes tens of ms).
LOCK_WAIT_S = 0.2

ReadKey = tuple[str, str, Sequence[str]]  # site, device, metrics


class RollupKeeper:
    """The pending-minute bookkeeping of one store: `con` is the store's connection (the
    settle gets a cursor of its own on it); `enabled` is false for a file without
    `rollup_pending` (opened read-only from before schema 4), `writable` false for a
    read-only store."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, enabled: bool, writable: bool) -> None:
        self._enabled = enabled
        self._writable = writable
        self._settling = con.cursor() if enabled and writable else None
        self._lock = threading.Lock()
        # A hint for the write path's threshold; the table is the truth.
        self._pending = pending_count(con) if enabled else 0

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def lock(self) -> threading.Lock:
        """Held while a settle runs."""
        return self._lock

    def noted(self, keys: int) -> None:
        """After a write committed that noted `keys`: past the threshold, settle them all."""
        self._pending += keys
        if self._pending > SETTLE_AT_KEYS:
            self.settle()

    def settle(self, *, wait_s: float | None = None) -> int:
        """Bring every pending bucket and the `latest` table up to date in a transaction of
        its own; returns the keys settled, or -1 when another settle held the lock for
        `wait_s` (None: wait as long as needed)."""
        con = self._settling
        if con is None:
            return 0
        if not self._lock.acquire(timeout=-1 if wait_s is None else wait_s):
            return -1
        try:
            con.execute("BEGIN")
            try:
                count = pending_count(con)
                if count:
                    refresh_latest(con)
                    settle(con)
                con.execute("COMMIT")
            except duckdb.Error:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            self._pending = max(0, self._pending - count)
            return count
        finally:
            self._lock.release()

    def close(self) -> None:
        if self._settling is not None:
            with self._lock:
                self._settling.close()
                self._settling = None

    def prepare_read(
        self, cursor: duckdb.DuckDBPyConnection, key: ReadKey, span: tuple[datetime, datetime]
    ) -> datetime | None:
        """Open a snapshot on `cursor` for a read of `key` over `span` (naive UTC); returns
        the instant from which the read must take the raw readings (None: the rollups are
        exact for all of it). The snapshot ends with the cursor."""
        cursor.execute("BEGIN")
        if not self._enabled:
            return None
        earliest = earliest_pending(cursor, key, span)
        if earliest is None or span[1] - earliest <= RAW_TAIL:
            return earliest
        cursor.execute("ROLLBACK")
        self.settle(wait_s=LOCK_WAIT_S)
        cursor.execute("BEGIN")
        # Settled, unless the lock stayed busy or a write noted this range again since.
        return earliest_pending(cursor, key, span)


async def settle_every(settle_rollups: Callable[[], int], every_s: float = SETTLE_EVERY_S) -> None:
    """Call `settle_rollups` (a store's) in a worker thread every `every_s` seconds until
    cancelled. The interval paces CPU work, not event time, so it is the loop's own monotonic
    time rather than the injected clock. A failed settle (disk full) is logged and tried again
    at the next turn: its minutes stay pending and reads stay exact meanwhile."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(settle_rollups)
        except Exception:
            log.exception("settling the readings rollups failed; retried in %.0f s", every_s)
