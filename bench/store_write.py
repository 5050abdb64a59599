"""The readings write alone: ways to store one batch idempotently in DuckDB, side by side.

Run ``python -m bench.store_write [--days 30] [--devices 200] [--batches 60]``. One JSON object
goes to stdout at the end; progress goes to stderr.

Each variant gets its own copy of the same history (`--days` of `--devices` fridges, two
metrics a minute: 30 x 200 is 17.3 M readings, the table a school reaches in a month) and then
writes the same `--batches` batches of each size in `--sizes`: the newest minute of every
device (the live stream), with one batch in five a redelivery of the batch before (QoS 1 after
a crash between store and ack). The figure is ms per batch (median, p90) and readings/s, CPU
wall time of the write statement(s) in one transaction with its COMMIT. Each batch is written
by every variant in turn, each on its own file, so a change of load falls on all alike and
their ratios hold on a loaded machine.

Variants
    replace_pk      today's write until this bench: `INSERT OR REPLACE` on the primary key
                    (site, device, metric, ts), the batch de-duplicated by `QUALIFY`, the latest
                    upsert grouped in SQL, the rollup note.
    nothing_pk      `INSERT ... ON CONFLICT DO NOTHING` on the same key (a newer value for a
                    stored key would be dropped: shown for the index cost, not a candidate).
    probe_nokey     no primary key: every batch's keys are looked up in the readings of its
                    time range (an anti-join; zone maps skip the rest); those found are deleted
                    first; then a plain append, the latest upsert and the note in SQL.
    keyless         the store's write since readings schema 5 (`ingest.duckdb_write`): the
                    batch made unique in memory, only readings not newer than their key's
                    known newest looked up, append and note; the latest values kept in memory
                    and settled into their table off the write path.
    executemany     row-by-row parameters into the keyless table (the smallest size only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from core.readings import ReadingBatch
from ingest.duckdb_write import KeylessWriter, LatestValues

_START_MS = 1_767_225_600_000  # 2026-01-01T00:00Z
_MINUTE_MS = 60_000
_METRICS = ("temp_c", "door_open")

_KEYED = """CREATE TABLE readings (site VARCHAR NOT NULL, device VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL,
    PRIMARY KEY (site, device, metric, ts))"""
_KEYLESS = """CREATE TABLE readings (site VARCHAR NOT NULL, device VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL)"""
_SIDE = """CREATE TABLE latest (site VARCHAR NOT NULL, device VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL,
    PRIMARY KEY (site, device, metric));
CREATE TABLE rollup_pending (site VARCHAR NOT NULL, device VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, minute TIMESTAMP NOT NULL)"""
# History in ts order, as a live stream leaves it.
_HISTORY = """INSERT INTO readings SELECT 'bench', 'fridge-' || d, m,
    make_timestamp(($start + t * 60000)::BIGINT * 1000), 3.0 + (t % 7) / 10.0
FROM range($minutes) r(t), range($devices) dv(d), (SELECT unnest($metrics) AS m) ms
ORDER BY t"""

_REPLACE = """INSERT OR REPLACE INTO readings (site, device, metric, ts, value)
SELECT site, device, metric, ts, value FROM batch
QUALIFY row_number() OVER (PARTITION BY site, device, metric, ts ORDER BY ord DESC) = 1"""
_NOTHING = """INSERT INTO readings (site, device, metric, ts, value)
SELECT site, device, metric, ts, value FROM batch
QUALIFY row_number() OVER (PARTITION BY site, device, metric, ts ORDER BY ord DESC) = 1
ON CONFLICT DO NOTHING"""
_LATEST_SQL = """INSERT INTO latest (site, device, metric, ts, value)
SELECT site, device, metric, max(ts), arg_max(value, (ts, ord)) FROM batch
GROUP BY site, device, metric
ON CONFLICT DO UPDATE SET ts = excluded.ts, value = excluded.value
WHERE excluded.ts >= latest.ts"""
_NOTE = """INSERT INTO rollup_pending (site, device, metric, minute)
SELECT DISTINCT site, device, metric, time_bucket(INTERVAL 60 SECOND, ts) FROM batch"""


def _table(batch: ReadingBatch) -> pa.Table:
    return pa.table(
        {
            "site": pa.array(batch.site, pa.string()),
            "device": pa.array(batch.device, pa.string()),
            "metric": pa.array(batch.metric, pa.string()),
            "ts": pa.array(batch.ts_ms, pa.timestamp("ms")),
            "value": pa.array(batch.value, pa.float64()),
            "ord": pa.array(range(len(batch)), pa.int64()),
        }
    )


def _sql_write(*statements: str) -> Callable[[duckdb.DuckDBPyConnection, ReadingBatch], None]:
    def write(con: duckdb.DuckDBPyConnection, batch: ReadingBatch) -> None:
        con.register("batch", _table(batch))
        con.execute("BEGIN")
        for statement in statements:
            con.execute(statement)
        con.execute("COMMIT")
        con.unregister("batch")

    return write


def _probe_write(con: duckdb.DuckDBPyConnection, batch: ReadingBatch) -> None:
    """The keyless probe with SQL-side de-duplication and latest (no numpy help)."""
    con.register("batch", _table(batch))
    con.execute("BEGIN")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE b AS SELECT site, device, metric, ts, value FROM batch
        QUALIFY row_number() OVER (PARTITION BY site, device, metric, ts ORDER BY ord DESC) = 1"""
    )
    [(lo, hi)] = con.execute("SELECT min(ts), max(ts) FROM b").fetchall()
    [(found,)] = con.execute(
        """SELECT count(*) FROM readings r SEMI JOIN b USING (site, device, metric, ts)
        WHERE r.ts BETWEEN $lo AND $hi""",
        {"lo": lo, "hi": hi},
    ).fetchall()
    if found:
        con.execute(
            """DELETE FROM readings r USING b WHERE r.site = b.site AND r.device = b.device
            AND r.metric = b.metric AND r.ts = b.ts AND r.ts BETWEEN $lo AND $hi""",
            {"lo": lo, "hi": hi},
        )
    con.execute("INSERT INTO readings SELECT * FROM b")
    con.execute(_LATEST_SQL)
    con.execute(_NOTE)
    con.execute("COMMIT")
    con.unregister("batch")


def _keyless() -> Callable[[duckdb.DuckDBPyConnection, ReadingBatch], None]:
    latest = LatestValues()
    writers: dict[int, KeylessWriter] = {}

    def write(con: duckdb.DuckDBPyConnection, batch: ReadingBatch) -> None:
        if id(con) not in writers:
            latest.load(con)
            writers[id(con)] = KeylessWriter(con, latest)
        writers[id(con)].write(batch)

    return write


def _executemany(con: duckdb.DuckDBPyConnection, batch: ReadingBatch) -> None:
    rows = [
        (r.site, r.device, r.metric, np.datetime64(r.ts_ms, "ms").astype(object), r.value)
        for r in batch
    ]
    con.execute("BEGIN")
    con.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")


def _batches(devices: int, minutes: int, size: int, count: int) -> list[ReadingBatch]:
    """`count` batches of `size` readings after the history; one in five repeats the last."""
    out: list[ReadingBatch] = []
    cursor = 0
    for index in range(count):
        if index % 5 == 4:
            out.append(out[-1])
            continue
        slots = np.arange(cursor, cursor + size)
        cursor += size
        per_minute = devices * len(_METRICS)
        minute = minutes + slots // per_minute
        device = (slots % per_minute) // len(_METRICS)
        metric = slots % len(_METRICS)
        out.append(
            ReadingBatch(
                ["bench"] * size,
                [f"fridge-{d}" for d in device],
                [_METRICS[m] for m in metric],
                (_START_MS + minute * _MINUTE_MS).astype(np.int64),
                np.full(size, 4.2),
            )
        )
    return out


_VARIANTS: dict[str, tuple[str, Callable[[duckdb.DuckDBPyConnection, ReadingBatch], None]]] = {
    "replace_pk": (_KEYED, _sql_write(_REPLACE, _LATEST_SQL, _NOTE)),
    "nothing_pk": (_KEYED, _sql_write(_NOTHING, _LATEST_SQL, _NOTE)),
    "probe_nokey": (_KEYLESS, _probe_write),
    "keyless": (_KEYLESS, _keyless()),
    "executemany": (_KEYLESS, _executemany),
}


def _history(path: Path, ddl: str, args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(ddl)
    con.execute(_SIDE)
    minutes = args.days * 1440
    con.execute(
        _HISTORY,
        {
            "start": _START_MS,
            "minutes": minutes,
            "devices": args.devices,
            "metrics": list(_METRICS),
        },
    )
    con.execute(
        """INSERT INTO latest SELECT site, device, metric, max(ts), arg_max(value, ts)
        FROM readings GROUP BY ALL"""
    )
    con.execute("CHECKPOINT")
    return con


def _interleaved(
    cons: dict[str, duckdb.DuckDBPyConnection],
    batches: Sequence[ReadingBatch],
) -> dict[str, dict[str, float]]:
    """Each batch written by every variant in turn (on its own file), so a change of the
    machine's load falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in cons}
    cpu: dict[str, list[float]] = {name: [] for name in cons}
    for index, batch in enumerate(batches):
        names = list(cons)
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            write = _VARIANTS[name][1]
            begun, begun_cpu = time.perf_counter(), time.process_time()
            write(cons[name], batch)
            times[name].append((time.perf_counter() - begun) * 1000.0)
            cpu[name].append((time.process_time() - begun_cpu) * 1000.0)
    return {name: _figures(t, cpu[name], len(batches[0])) for name, t in times.items()}


def _figures(times: list[float], cpu: list[float], size: int) -> dict[str, float]:
    """Wall ms per batch (p50, p90), readings/s at the median, and the process's CPU ms per
    batch (DuckDB's threads included: less sensitive to other processes than wall time)."""
    times.sort()
    median = statistics.median(times)
    return {
        "ms_per_batch_p50": round(median, 2),
        "ms_per_batch_p90": round(times[int(0.9 * (len(times) - 1))], 2),
        "readings_per_s": round(size / (median / 1000.0)),
        "cpu_ms_per_batch_p50": round(statistics.median(cpu), 2),
    }


def _check(cons: dict[str, duckdb.DuckDBPyConnection]) -> None:
    """Every idempotent variant holds each reading once, and all the same number of them
    (executemany keeps no identity: its redelivered batches are there twice)."""
    totals: dict[str, int] = {}
    for name, con in cons.items():
        if name == "executemany":
            continue
        [(total, distinct)] = con.execute(
            "SELECT count(*), count(DISTINCT (site, device, metric, ts)) FROM readings"
        ).fetchall()
        if total != distinct:
            raise RuntimeError(f"{name}: {total} rows but {distinct} distinct readings")
        totals[name] = int(total)
    if len(set(totals.values())) > 1:
        raise RuntimeError(f"the variants stored different counts: {totals}")


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    minutes = args.days * 1440
    history = minutes * args.devices * len(_METRICS)
    results: dict[str, Any] = {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-store-write-") as tmp:
        cons: dict[str, duckdb.DuckDBPyConnection] = {}
        for name in args.variants:
            say(f"{name}: building {history:,} readings of history")
            cons[name] = _history(Path(tmp) / f"{name}.duckdb", _VARIANTS[name][0], args)
        written = 0
        for size in args.sizes:
            batches = _batches(args.devices, minutes + written, size, args.batches)
            # executemany only at the smallest size: row by row is the slow way at any size.
            taking = {n: c for n, c in cons.items() if n != "executemany" or size == args.sizes[0]}
            for name, figures in _interleaved(taking, batches).items():
                results.setdefault(name, {})[str(size)] = figures
                say(f"{name} size {size}: {figures}")
            written += -(-size * args.batches // (args.devices * len(_METRICS))) + 1
        _check(cons)
        for con in cons.values():
            con.close()
    return {
        "bench": "store_write",
        "history_readings": history,
        "batches_per_size": args.batches,
        "results": results,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store_write", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--days", type=int, default=30, help="days of history (30)")
    parser.add_argument("--devices", type=int, default=200, help="devices (200)")
    parser.add_argument("--batches", type=int, default=60, help="batches per size (60)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 400, 4000])
    parser.add_argument("--variants", nargs="+", default=list(_VARIANTS), choices=list(_VARIANTS))
    args = parser.parse_args(argv)
    report = run(args, lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
