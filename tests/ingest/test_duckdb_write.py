"""The keyless readings write: effectively-once storage without a primary key (readings
schema 5), the latest values kept in memory and settled into their table, and the upgrade of a
file whose readings had the key."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from core.readings import ReadingBatch
from ingest import DuckDBStore
from ingest.duckdb_schema import KEYLESS_VERSION, READINGS
from ingest.duckdb_write import CLUSTER_GAP_MS, clusters
from ingest.migrations import migrate

SITE = "s1"
T0 = datetime(2026, 3, 28, 15, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
MINUTE = 60_000


def batch_of(rows: list[tuple[str, str, int, float]]) -> ReadingBatch:
    return ReadingBatch(
        site=[SITE] * len(rows),
        device=[r[0] for r in rows],
        metric=[r[1] for r in rows],
        ts_ms=np.array([r[2] for r in rows], np.int64),
        value=np.array([r[3] for r in rows], np.float64),
    )


def stored(store: DuckDBStore) -> list[tuple[str, str, datetime, float]]:
    return [
        (device, metric, ts, value)
        for device, metric, ts, value in store._query(
            "SELECT device, metric, ts, value FROM readings ORDER BY ALL", []
        )
    ]


def latest_of(store: DuckDBStore, device: str) -> list[tuple[str, datetime, float]]:
    return [(v.metric, v.ts, v.value) for v in store.latest(SITE, device)]


def naive(ms: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=ms)


def test_the_same_batch_twice_is_stored_once() -> None:
    store = DuckDBStore(":memory:")
    try:
        batch = batch_of([("a", "temp_c", T0_MS + i * MINUTE, 4.0 + i) for i in range(50)])
        assert store.write(batch) == 50
        first = stored(store)
        store.write(batch)
        assert stored(store) == first
        assert store.reading_count() == 50
    finally:
        store.close()


def test_within_a_batch_the_last_copy_of_a_reading_wins() -> None:
    store = DuckDBStore(":memory:")
    try:
        store.write(
            batch_of(
                [
                    ("a", "temp_c", T0_MS, 4.0),
                    ("a", "temp_c", T0_MS + MINUTE, 5.0),
                    ("a", "temp_c", T0_MS, 6.0),
                ]
            )
        )
        assert stored(store) == [
            ("a", "temp_c", naive(T0_MS), 6.0),
            ("a", "temp_c", naive(T0_MS + MINUTE), 5.0),
        ]
        assert latest_of(store, "a") == [("temp_c", T0 + timedelta(minutes=1), 5.0)]
    finally:
        store.close()


def test_out_of_order_readings_are_stored_and_never_replace_a_newer_latest_value() -> None:
    store = DuckDBStore(":memory:")
    try:
        store.write(batch_of([("a", "temp_c", T0_MS + 10 * MINUTE, 4.0)]))
        store.write(batch_of([("a", "temp_c", T0_MS + 3 * MINUTE, 9.0)]))  # late
        assert [row[3] for row in stored(store)] == [9.0, 4.0]
        assert latest_of(store, "a") == [("temp_c", T0 + timedelta(minutes=10), 4.0)]
        store.settle_rollups()
        table = store._query("SELECT metric, ts, value FROM latest WHERE device = 'a'", [])
        assert table == [("temp_c", naive(T0_MS + 10 * MINUTE), 4.0)]
    finally:
        store.close()


def test_a_corrected_value_for_a_stored_reading_replaces_it() -> None:
    store = DuckDBStore(":memory:")
    try:
        store.write(batch_of([("a", "temp_c", T0_MS + i * MINUTE, 4.0) for i in range(5)]))
        store.write(batch_of([("a", "temp_c", T0_MS + 2 * MINUTE, 7.5)]))
        assert [row[3] for row in stored(store)] == [4.0, 4.0, 7.5, 4.0, 4.0]
        # The newest value corrected: the latest value follows it.
        store.write(batch_of([("a", "temp_c", T0_MS + 4 * MINUTE, 3.0)]))
        assert latest_of(store, "a") == [("temp_c", T0 + timedelta(minutes=4), 3.0)]
        assert store.reading_count() == 5
    finally:
        store.close()


def test_a_replayed_batch_spanning_days_is_looked_up_range_by_range() -> None:
    store = DuckDBStore(":memory:")
    try:
        yesterday = T0_MS - 86_400_000
        rows = [("a", "temp_c", yesterday + i * MINUTE, 1.0) for i in range(3)]
        rows += [("a", "temp_c", T0_MS + i * MINUTE, 2.0) for i in range(3)]
        rows += [("b", "door_open", T0_MS + i * MINUTE, 0.0) for i in range(3)]
        store.write(batch_of(rows))
        replay = [(d, m, ts, v + 10) for d, m, ts, v in rows]
        store.write(batch_of(replay))
        assert store.reading_count() == 9
        assert sorted(r[3] for r in stored(store)) == [10.0] * 3 + [11.0] * 3 + [12.0] * 3
        assert clusters(np.array([r[2] for r in rows], np.int64)) == [
            (yesterday, yesterday + 2 * MINUTE),
            (T0_MS, T0_MS + 2 * MINUTE),
        ]
    finally:
        store.close()


def test_clusters_cut_only_at_gaps_wider_than_the_limit() -> None:
    ts = np.array([0, CLUSTER_GAP_MS, 3 * CLUSTER_GAP_MS, 3 * CLUSTER_GAP_MS], np.int64)
    assert clusters(ts) == [(0, CLUSTER_GAP_MS), (3 * CLUSTER_GAP_MS, 3 * CLUSTER_GAP_MS)]


_CRASH_BEFORE_ACK = """
import os, sys
import numpy as np
from core.readings import ReadingBatch
from ingest import DuckDBStore
store = DuckDBStore(sys.argv[1])
minutes = np.arange(0, 30, dtype=np.int64)
store.write(ReadingBatch(site=["s1"] * 30, device=["a"] * 30, metric=["temp_c"] * 30,
    ts_ms={t0} + minutes * 60_000, value=minutes.astype(np.float64)))
os._exit(0)  # stored, never acknowledged, never settled, the file never closed
"""


def test_a_redelivery_after_a_crash_between_store_and_ack_is_not_stored_twice(
    tmp_path: Path,
) -> None:
    db = tmp_path / "crash.duckdb"
    code = _CRASH_BEFORE_ACK.format(t0=T0_MS)
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, timeout=120)
    store = DuckDBStore(db)
    try:
        # The open settled what the crash left: the latest value is the stored newest.
        assert latest_of(store, "a") == [("temp_c", T0 + timedelta(minutes=29), 29.0)]
        redelivered = batch_of([("a", "temp_c", T0_MS + i * MINUTE, float(i)) for i in range(30)])
        store.write(redelivered)
        assert store.reading_count() == 30
        assert [row[3] for row in stored(store)] == [float(i) for i in range(30)]
    finally:
        store.close()


def test_a_file_whose_readings_had_the_primary_key_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "schema4.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con, "readings", READINGS[: KEYLESS_VERSION - 1], target=str(path))
        con.execute(
            """INSERT INTO readings SELECT 's1', 'a', 'temp_c',
               TIMESTAMP '2026-03-28 15:00:00' + to_seconds(i * 60), i FROM range(100) t(i)"""
        )
        con.execute(
            "INSERT INTO latest VALUES ('s1', 'a', 'temp_c', TIMESTAMP '2026-03-28 16:39:00', 99)"
        )
    store = DuckDBStore(path)
    try:
        assert store._query(
            "SELECT max(version) FROM schema_migrations WHERE component = 'readings'", []
        ) == [(KEYLESS_VERSION,)]
        assert store.reading_count() == 100
        assert store._query("SELECT count(*) FROM duckdb_constraints() WHERE "
                            "table_name = 'readings' AND constraint_type = 'PRIMARY KEY'", []
                            ) == [(0,)]  # fmt: skip
        assert latest_of(store, "a") == [("temp_c", T0 + timedelta(minutes=99), 99.0)]
        # The old rows are found by the keyless write: a replay of them adds nothing.
        store.write(batch_of([("a", "temp_c", T0_MS + i * MINUTE, -1.0) for i in range(100)]))
        assert store.reading_count() == 100
        assert {row[3] for row in stored(store)} == {-1.0}
    finally:
        store.close()


def test_writes_and_settles_from_two_threads_never_conflict_and_stay_exact() -> None:
    """The settle's own cursor and lock beside the writer's: 200 writes while another thread
    settles over and over; none fails, nothing is lost, the rollups equal the raw readings."""
    store = DuckDBStore(":memory:")
    done = threading.Event()
    settled: list[int] = []
    failures: list[BaseException] = []

    def settle_loop() -> None:
        try:
            while not done.is_set():
                settled.append(store.settle_rollups())
        except BaseException as exc:  # the failure is the test's finding
            failures.append(exc)

    settler = threading.Thread(target=settle_loop)
    settler.start()
    try:
        for i in range(200):
            rows = [(d, "temp_c", T0_MS + i * 20_000, float(i % 9)) for d in ("a", "b")]
            if i % 10 == 9:  # a late reading and a replay among them
                rows.append(("a", "temp_c", T0_MS + (i - 5) * 20_000, 50.0))
            store.write(batch_of(rows))
    finally:
        done.set()
        settler.join(timeout=60)
    assert failures == []
    assert sum(n for n in settled if n > 0) > 0  # the settles ran between the writes
    store.settle_rollups()
    assert store.reading_count() == 400
    rollup = store._query("SELECT sum(n), max(high) FROM rollup_1m", [])
    raw = store._query("SELECT count(*), max(value) FROM readings", [])
    assert rollup == raw
    assert latest_of(store, "b") == [("temp_c", T0 + timedelta(seconds=199 * 20), 1.0)]
    table = store._query("SELECT ts, value FROM latest WHERE device = 'b'", [])
    assert table == [(naive(T0_MS + 199 * 20_000), 1.0)]
