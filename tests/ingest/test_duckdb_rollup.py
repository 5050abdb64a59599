"""Rollups of the DuckDB store: series read from them equal series read from the raw readings,
whatever order, lateness and duplication the readings arrived in; a late reading changes the
answers; an existing file is rolled up on migration; a rebuild restores them."""

from __future__ import annotations

import asyncio
import itertools
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.readings import ReadingBatch
from ingest import DuckDBStore
from ingest.duckdb_rollup import LEVELS, query_series
from ingest.duckdb_rollup import pending_count as pending_count_of
from ingest.duckdb_rollup import settle as settle_rows
from ingest.duckdb_rollup_keeper import settle_every
from ingest.duckdb_schema import READINGS
from ingest.errors import StoreUnavailableError
from ingest.migrations import migrate
from ingest.store import Aggregate, SeriesPoint, chart_step

SITE = "s1"
T0 = datetime(2026, 3, 28, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai; 20:30 in Kolkata
T0_MS = int(T0.timestamp() * 1000)
HOURS = 30
SHANGHAI = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: its midnights are not on the hour
STEPS = [1, 7, 60, 120, 300, 600, 900, 3600, 7200, 86_400, 2 * 86_400]

Reading = tuple[str, str, int, float]  # device, metric, epoch ms, value

readings_st = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["temp_c", "door_open"]),
        # Many readings within 20 minutes, so buckets hold several; some anywhere in the span.
        st.one_of(
            st.integers(T0_MS + 3_590_000, T0_MS + 4_790_000),
            st.integers(T0_MS, T0_MS + HOURS * 3_600_000),
        ),
        st.floats(-30, 30, allow_nan=False).map(lambda v: round(v, 3)),
    ),
    min_size=20,
    max_size=200,
)


def batch_of(readings: list[Reading]) -> ReadingBatch:
    return ReadingBatch(
        site=[SITE] * len(readings),
        device=[r[0] for r in readings],
        metric=[r[1] for r in readings],
        ts_ms=np.array([r[2] for r in readings], dtype=np.int64),
        value=np.array([r[3] for r in readings], dtype=np.float64),
    )


def write_in_batches(store: DuckDBStore, readings: list[Reading], cuts: list[int]) -> None:
    """The readings in the order given (late and out of order), cut into batches."""
    bounds = sorted({0, len(readings), *(c % (len(readings) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            store.write(batch_of(readings[lo:hi]))


def raw_series(
    store: DuckDBStore,
    key: tuple[str, str],
    span: tuple[datetime, datetime],
    step_s: int,
    agg: Aggregate,
    zone: ZoneInfo | None,
) -> list[SeriesPoint]:
    naive = (span[0].replace(tzinfo=None), span[1].replace(tzinfo=None))
    with store._cursor() as cursor:
        return query_series(cursor, (SITE, *key), naive, step_s, agg, zone=zone, rollups=False)


def same(a: list[SeriesPoint], b: list[SeriesPoint]) -> bool:
    return len(a) == len(b) and all(
        x.start == y.start and x.count == y.count and math.isclose(x.value, y.value, abs_tol=1e-9)
        for x, y in zip(a, b, strict=True)
    )


def rollup_rows(store: DuckDBStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        # Sums may differ in the last bit with the order they were added in.
        level.table: store._query(
            f"""SELECT site, device, metric, bucket, n, round(total, 6), low, high, first_ts,
                last_ts, last_value FROM {level.table} ORDER BY ALL""",
            [],
        )
        for level in LEVELS
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    readings=readings_st,
    replays=st.lists(st.integers(0, 199), max_size=10),
    new_values=st.lists(st.floats(-30, 30, allow_nan=False), max_size=10),
    cuts=st.lists(st.integers(0, 200), max_size=6),
    start_ms=st.integers(T0_MS - 3_600_000, T0_MS + HOURS * 3_600_000),
    length_ms=st.integers(1, (HOURS + 2) * 3_600_000),
    step_s=st.sampled_from(STEPS),
    agg=st.sampled_from(list(Aggregate)),
    zone=st.sampled_from([None, SHANGHAI, KOLKATA]),
    # The whole span at a few of the steps the rollup levels serve, in Shanghai's days.
    whole_asked=st.lists(
        st.tuples(st.sampled_from([60, 300, 3600, 86_400]), st.sampled_from(list(Aggregate))),
        min_size=1,
        max_size=4,
        unique=True,
    ),
)
def test_series_from_rollups_equal_series_from_raw_readings(
    readings: list[Reading],
    replays: list[int],
    new_values: list[float],
    cuts: list[int],
    start_ms: int,
    length_ms: int,
    step_s: int,
    agg: Aggregate,
    zone: ZoneInfo | None,
    whole_asked: list[tuple[int, Aggregate]],
) -> None:
    # Replays: some readings sent again later, some with another value (the last one counts).
    again = [readings[i % len(readings)] for i in replays]
    again = [
        (d, m, t, new_values[i] if i < len(new_values) else v)
        for i, (d, m, t, v) in enumerate(again)
    ]
    store = DuckDBStore(":memory:")
    try:
        write_in_batches(store, readings + again, cuts)
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
        span = (start, start + timedelta(milliseconds=length_ms))
        whole = (T0 - timedelta(hours=1), T0 + timedelta(hours=HOURS + 1))
        asked = [(span, step_s, agg, zone)] + [
            (whole, step, every, SHANGHAI) for step, every in whole_asked
        ]
        for key in [("a", "temp_c"), ("b", "door_open")]:
            for period, step, how, where in asked:
                rolled = store.series(SITE, *key, *period, step, how, zone=where)
                raw = raw_series(store, key, period, step, how, where)
                assert same(rolled, raw), (key, period, step, how)
        # Kept up write by write, the rollups are what a rebuild from the readings gives.
        store.settle_rollups()
        kept = rollup_rows(store)
        store.rebuild_rollups()
        assert rollup_rows(store) == kept
    finally:
        store.close()


def test_a_late_reading_changes_its_buckets_at_every_level_and_the_chart_envelope() -> None:
    store = DuckDBStore(":memory:")
    try:
        minutes = np.arange(0, 24 * 60, dtype=np.int64)
        store.write(
            ReadingBatch(
                site=[SITE] * len(minutes),
                device=["a"] * len(minutes),
                metric=["temp_c"] * len(minutes),
                ts_ms=T0_MS + minutes * 60_000,
                value=np.full(len(minutes), 4.0),
            )
        )
        span = (T0, T0 + timedelta(days=1))
        step = chart_step(86_400, 720)  # 2 min: 720 columns over a day
        before = store.envelopes(SITE, "a", ["temp_c"], *span, step)["temp_c"]
        assert {e.high for e in before} == {4.0}
        # Hours later the device's buffer delivers a reading from 10:07:30 at 12 °C.
        late = T0_MS + (10 * 60 + 7) * 60_000 + 30_000
        store.write(batch_of([("a", "temp_c", late, 12.0)]))
        after = store.envelopes(SITE, "a", ["temp_c"], *span, step)["temp_c"]
        changed = [e for e in after if e.high == 12.0]
        assert [e.start for e in changed] == [T0 + timedelta(hours=10, minutes=6)]
        assert changed[0].count == 3 and changed[0].mean == pytest.approx((4 * 2 + 12) / 3)
        for level in LEVELS:
            [(high, n)] = store._query(
                f"SELECT high, n FROM {level.table} WHERE bucket = ?",
                [datetime.fromtimestamp(late // 1000 // level.width_s * level.width_s)],
            )
            assert high == 12.0 and n == level.width_s // 60 + 1, level
        # Replayed with a corrected value, the spike goes again: min and max are recomputed.
        store.write(batch_of([("a", "temp_c", late, 4.0)]))
        again = store.envelopes(SITE, "a", ["temp_c"], *span, step)["temp_c"]
        assert {e.high for e in again} == {4.0}
    finally:
        store.close()


def test_chart_steps_are_whole_rollup_buckets_with_a_point_per_column() -> None:
    for span_s, columns in [(3600, 720), (86_400, 720), (7 * 86_400, 720), (30 * 86_400, 720)]:
        step = chart_step(span_s, columns)
        assert span_s / step >= columns
        assert step < 60 or any(step % level.width_s == 0 for level in LEVELS)
    assert chart_step(7 * 86_400, 720) == 600  # a week from 5-min rollups, 1,008 steps
    assert chart_step(30 * 86_400, 720) == 3600  # a month from hourly rollups


def test_envelopes_equal_min_max_mean_of_the_raw_readings() -> None:
    rng = np.random.default_rng(3)
    store = DuckDBStore(":memory:")
    try:
        ts = T0_MS + np.sort(rng.choice(6 * 3_600_000, 500, replace=False))
        values = rng.normal(4, 2, 500).round(2)
        doors = (rng.random(500) < 0.1).astype(np.float64)
        store.write(
            ReadingBatch(
                site=[SITE] * 1000,
                device=["a"] * 1000,
                metric=["temp_c"] * 500 + ["door_open"] * 500,
                ts_ms=np.concatenate([ts, ts]),
                value=np.concatenate([values, doors]),
            )
        )
        span = (T0 + timedelta(minutes=7, seconds=13), T0 + timedelta(hours=5, seconds=5))
        got = store.envelopes(SITE, "a", ["temp_c", "door_open"], *span, 600)
        for metric in ["temp_c", "door_open"]:
            lows = raw_series(store, ("a", metric), span, 600, Aggregate.MIN, None)
            highs = raw_series(store, ("a", metric), span, 600, Aggregate.MAX, None)
            means = raw_series(store, ("a", metric), span, 600, Aggregate.AVG, None)
            assert [(e.start, e.low, e.high, e.count) for e in got[metric]] == [
                (lo.start, lo.value, hi.value, lo.count) for lo, hi in zip(lows, highs, strict=True)
            ]
            assert [e.mean for e in got[metric]] == pytest.approx([m.value for m in means])
    finally:
        store.close()


def test_an_existing_file_is_rolled_up_on_migration_and_a_rebuild_restores_rollups(
    tmp_path: Path,
) -> None:
    path = tmp_path / "site.duckdb"
    # A file of schema 2 (before rollups) with a day of readings written straight in.
    con = duckdb.connect(str(path))
    migrate(con, "readings", READINGS[:2], target=str(path))
    con.execute(
        """INSERT INTO readings SELECT 's1', 'a', 'temp_c',
           TIMESTAMP '2026-03-28 15:00:00' + to_seconds(i * 30), (i % 17) - 5.0
           FROM range(2880) t(i)"""
    )
    con.close()
    span = (T0, T0 + timedelta(days=1))
    with pytest.raises(duckdb.Error):  # no rollups yet
        duckdb.connect(str(path), read_only=True).execute("SELECT * FROM rollup_1h").fetchall()
    old = DuckDBStore(path, read_only=True)  # a report reading the old file: raw series
    try:
        expected = old.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
    finally:
        old.close()
    assert len(expected) == 24
    store = DuckDBStore(path)
    try:
        assert store._query("SELECT count(*), sum(n) FROM rollup_1h", []) == [(24, 2880)]
        assert same(store.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX), expected)
        store._con.execute("DELETE FROM rollup_1h")  # lost, e.g. by a hand-made repair
        store.rebuild_rollups()
        assert same(store.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX), expected)
    finally:
        store.close()


def test_reads_do_not_wait_for_the_writer_or_each_other() -> None:
    """Each read has a cursor of its own: with the writer's lock held and a write transaction
    open on the store's connection, series from other threads still answer."""
    store = DuckDBStore(":memory:")
    try:
        store.write(batch_of([("a", "temp_c", T0_MS + i * 60_000, 4.0) for i in range(600)]))
        span = (T0, T0 + timedelta(hours=10))
        with store._lock:
            store._con.execute("BEGIN")
            store._con.execute(
                "INSERT INTO readings VALUES ('s1', 'a', 'temp_c', TIMESTAMP '2026-03-28 16:00:30',"
                " 99.0)"
            )
            with ThreadPoolExecutor(4) as pool:
                reads = [
                    pool.submit(store.series, SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
                    for _ in range(8)
                ]
                answers = [r.result(timeout=30) for r in reads]
            store._con.execute("ROLLBACK")
        # Each read saw the committed readings only, not the open transaction's.
        assert all([p.value for p in a] == [4.0] * 10 for a in answers)
    finally:
        store.close()


# -- deferred maintenance: writes note minutes, settles recompute them ------------------------


def pending(store: DuckDBStore) -> int:
    return int(store._query("SELECT count(*) FROM rollup_pending", [])[0][0])


def day_of_minutes(device: str = "a", value: float = 4.0) -> ReadingBatch:
    minutes = np.arange(0, 24 * 60, dtype=np.int64)
    return ReadingBatch(
        site=[SITE] * len(minutes),
        device=[device] * len(minutes),
        metric=["temp_c"] * len(minutes),
        ts_ms=T0_MS + minutes * 60_000,
        value=np.full(len(minutes), value),
    )


def test_a_write_notes_its_minutes_and_a_settle_recomputes_them_all_at_once() -> None:
    store = DuckDBStore(":memory:")
    try:
        store.write(day_of_minutes("a"))
        store.write(day_of_minutes("b"))
        # Late and replayed readings of minutes already noted: one key each, noted twice.
        late = T0_MS + 7 * 3_600_000 + 30_000
        store.write(batch_of([("a", "temp_c", late, 9.0), ("b", "temp_c", late, -1.0)]))
        assert pending(store) == 2 * 24 * 60 + 2
        assert all(rows == [] for rows in rollup_rows(store).values())  # not on the write path
        assert store.settle_rollups() == 2 * 24 * 60 + 2
        assert pending(store) == 0 and store.settle_rollups() == 0
        settled = rollup_rows(store)
        assert len(settled["rollup_1h"]) == 2 * 24
        store.rebuild_rollups()
        assert rollup_rows(store) == settled
    finally:
        store.close()


def test_reads_right_after_writes_are_exact_without_a_settle_step() -> None:
    store = DuckDBStore(":memory:")
    try:
        store.write(day_of_minutes("a"))
        store.write(day_of_minutes("b"))
        store.settle_rollups()
        span = (T0, T0 + timedelta(days=1))
        late = T0_MS + (10 * 60 + 7) * 60_000 + 30_000
        store.write(batch_of([("b", "temp_c", late, -3.0)]))
        # b's minute is pending, but it cannot change a's answer: a's read settles nothing.
        hourly = store.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
        assert {p.value for p in hourly} == {4.0} and pending(store) == 1
        # Nor can it change b's morning.
        store.series(SITE, "b", "temp_c", T0, T0 + timedelta(hours=9), 3600, Aggregate.MIN)
        assert pending(store) == 1
        store.write(batch_of([("a", "temp_c", late, 12.0)]))
        hourly = store.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
        assert [p.value for p in hourly if p.value != 4.0] == [12.0]
        assert pending(store) == 0  # one settle for all that was pending
        got = store.envelopes(SITE, "b", ["temp_c"], *span, 600)["temp_c"]
        assert [e.low for e in got if e.low != 4.0] == [-3.0]
        for key in [("a", "temp_c"), ("b", "temp_c")]:
            for agg in Aggregate:
                rolled = store.series(SITE, *key, *span, 300, agg)
                assert same(rolled, raw_series(store, key, span, 300, agg, None))
    finally:
        store.close()


def test_a_chart_up_to_now_reads_the_pending_last_minutes_raw_without_settling() -> None:
    store = DuckDBStore(":memory:")
    try:
        store.write(day_of_minutes("a"))
        store.settle_rollups()
        end = T0 + timedelta(days=1)
        # The newest minutes, still pending: a replay of 20 min ago (9 °C instead of 4) and a
        # reading a second ago.
        store.write(batch_of([("a", "temp_c", int(end.timestamp() * 1000) - 1_200_000, 9.0)]))
        store.write(batch_of([("a", "temp_c", int(end.timestamp() * 1000) - 1_000, 7.0)]))
        span = (end - timedelta(days=1), end)
        for step, agg in [(3600, Aggregate.MAX), (600, Aggregate.AVG), (86_400, Aggregate.MIN)]:
            got = store.series(SITE, "a", "temp_c", *span, step, agg)
            assert same(got, raw_series(store, ("a", "temp_c"), span, step, agg, None))
        [last] = store.envelopes(SITE, "a", ["temp_c"], end - timedelta(hours=1), end, 3600)[
            "temp_c"
        ]
        assert (last.high, last.count) == (9.0, 61)
        assert pending(store) == 2  # left to the timer: nothing recomputed by the reads
    finally:
        store.close()


def test_a_read_that_cannot_settle_answers_exactly_from_the_raw_readings() -> None:
    """With another settle in progress (its lock held), a read over pending minutes does not
    wait for it: it reads the raw readings of its snapshot and still sees the late reading."""
    store = DuckDBStore(":memory:")
    try:
        store.write(day_of_minutes("a"))
        store.settle_rollups()
        late = T0_MS + (10 * 60 + 7) * 60_000 + 30_000
        store.write(batch_of([("a", "temp_c", late, 12.0)]))
        span = (T0, T0 + timedelta(days=1))
        with store._keeper.lock, ThreadPoolExecutor(2) as pool:
            answer = pool.submit(store.series, SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
            hourly = answer.result(timeout=30)
        assert [p.value for p in hourly if p.value != 4.0] == [12.0]
        assert pending(store) == 1  # settled by the next timer step or read instead
        assert same(hourly, raw_series(store, ("a", "temp_c"), span, 3600, Aggregate.MAX, None))
    finally:
        store.close()


def test_a_settle_in_progress_never_delays_a_write_and_leaves_its_minutes_pending() -> None:
    """The settle runs on its own cursor and lock: a write commits while a settle's
    transaction is open, and the settle forgets only the minutes its snapshot saw."""
    store = DuckDBStore(":memory:")
    try:
        store.write(day_of_minutes("a"))
        keeper = store._keeper
        assert keeper._settling is not None
        with keeper.lock:  # a settle in progress: its transaction open, its snapshot taken
            keeper._settling.execute("BEGIN")
            assert pending_count_of(keeper._settling) == 24 * 60
            with ThreadPoolExecutor(1) as pool:
                late = T0_MS + 5 * 60_000 + 10_000
                wrote = pool.submit(store.write, batch_of([("a", "temp_c", late, 12.0)]))
                assert wrote.result(timeout=30) == 1
            settle_rows(keeper._settling)
            keeper._settling.execute("COMMIT")
        # The write's minute stays pending: its 12.0 was not in the settle's snapshot.
        assert store._query("SELECT minute FROM rollup_pending", []) == [
            (datetime(2026, 3, 28, 15, 5),)
        ]
        assert store.settle_rollups() == 1
        span = (T0, T0 + timedelta(hours=1))
        hourly = store.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
        assert [p.value for p in hourly] == [12.0]
    finally:
        store.close()


def test_past_the_threshold_a_write_settles_in_its_own_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ingest.duckdb_rollup_keeper.SETTLE_AT_KEYS", 100)
    store = DuckDBStore(":memory:")
    try:
        store.write(batch_of([("a", "temp_c", T0_MS + i * 60_000, 4.0) for i in range(60)]))
        assert pending(store) == 60
        store.write(batch_of([("a", "temp_c", T0_MS + i * 60_000, 5.0) for i in range(60, 120)]))
        assert pending(store) == 0
        assert store._query("SELECT n, low, high FROM rollup_1h ORDER BY bucket", []) == [
            (60, 4.0, 4.0),
            (60, 5.0, 5.0),
        ]
    finally:
        store.close()


_CRASHING_WRITER = """
import os, sys
import numpy as np
from core.readings import ReadingBatch
from ingest import DuckDBStore
store = DuckDBStore(sys.argv[1])
minutes = np.arange(0, 3 * 60, dtype=np.int64)
for device in ("a", "b"):
    store.write(ReadingBatch(site=["s1"] * len(minutes), device=[device] * len(minutes),
        metric=["temp_c"] * len(minutes), ts_ms={t0} + minutes * 60_000,
        value=(minutes % 7).astype(np.float64)))
os._exit(0)  # dies before any settle, without closing the file
"""


def test_a_crash_between_write_and_settle_is_repaired_when_the_file_is_next_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / "site.duckdb"
    code = _CRASHING_WRITER.format(t0=T0_MS)
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)
    con = duckdb.connect(str(path), read_only=True)  # what the crash left behind
    try:
        assert con.execute("SELECT count(*) FROM rollup_pending").fetchall() == [(360,)]
        assert con.execute("SELECT count(*) FROM rollup_1m").fetchall() == [(0,)]
    finally:
        con.close()
    store = DuckDBStore(path)
    try:
        assert pending(store) == 0
        repaired = rollup_rows(store)
        assert [len(repaired[lv.table]) for lv in LEVELS] == [360, 72, 6]
        store.rebuild_rollups()
        assert rollup_rows(store) == repaired
    finally:
        store.close()


def test_a_file_of_schema_3_gains_the_pending_table_and_keeps_its_rollups(
    tmp_path: Path,
) -> None:
    path = tmp_path / "site.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, "readings", READINGS[:2], target=str(path))
    con.execute(
        """INSERT INTO readings SELECT 's1', 'a', 'temp_c',
           TIMESTAMP '2026-03-28 15:00:00' + to_seconds(i * 30), (i % 17) - 5.0
           FROM range(2880) t(i)"""
    )
    migrate(con, "readings", READINGS[:3], target=str(path))  # the rollups, as release 3 did
    before = con.execute("SELECT * FROM rollup_5m ORDER BY ALL").fetchall()
    con.close()
    old = DuckDBStore(path, read_only=True)  # a report on the schema-3 file: no pending table
    try:
        span = (T0, T0 + timedelta(days=1))
        expected = old.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX)
    finally:
        old.close()
    store = DuckDBStore(path)
    try:
        assert store._query(
            "SELECT max(version) FROM schema_migrations WHERE component = 'readings'", []
        ) == [(len(READINGS),)]
        assert pending(store) == 0
        assert store._query("SELECT * FROM rollup_5m ORDER BY ALL", []) == before
        assert same(store.series(SITE, "a", "temp_c", *span, 3600, Aggregate.MAX), expected)
    finally:
        store.close()


def test_the_timer_settles_a_running_store_and_outlives_a_failed_settle() -> None:
    store = DuckDBStore(":memory:")
    calls: list[int] = []

    def flaky_settle() -> int:
        calls.append(len(calls))
        if len(calls) == 1:
            raise StoreUnavailableError("disk full", backend="duckdb", target=":memory:")
        return store.settle_rollups()

    async def run() -> None:
        timer = asyncio.create_task(settle_every(flaky_settle, every_s=0.01))
        try:
            store.write(day_of_minutes("a"))
            for _ in range(3000):  # bounded: the timer turns every 10 ms
                if len(calls) >= 2 and pending(store) == 0:
                    break
                await asyncio.sleep(0.01)
        finally:
            timer.cancel()

    try:
        asyncio.run(run())
        assert len(calls) >= 2 and pending(store) == 0
        assert len(rollup_rows(store)["rollup_1m"]) == 24 * 60
    finally:
        store.close()
