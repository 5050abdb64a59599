"""Rollup upkeep on and off the write path, measured in one run (issues 12/13).

A file of `--devices` devices x `--days` days at one reading a minute is built and rolled up;
then, on the same file and in the same run:

- write batches of 200 and 2,000 readings (new minutes, every device), the minutes only noted:
  the CPU seconds of the process per batch (DuckDB's own threads included), and the CPU of the
  settles that follow them, spread over them. (The comparison with the recompute inside the
  write, release 134b2ea, is in the message of commit 034c308; since readings schema 5 the note
  is part of `ingest.duckdb_write` and has no hook of its own to swap.)
- a week chart (envelopes, 10-min steps) and a week series (1 h MAX) of one device: with
  nothing pending, right after a write of its newest minute (read raw from there), right after
  a late reading three days back (the read settles first), and from the raw readings alone.

Figures are medians; the load average is printed beside them. Run:
`nice -n 10 .venv/bin/python -m bench.rollups [--devices 200 --days 7]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from core.readings import ReadingBatch
from ingest import DuckDBStore
from ingest.duckdb_rollup import query_envelope_steps
from ingest.store import Aggregate

START = datetime(2026, 3, 1, tzinfo=UTC)


def _build(path: Path, devices: int, days: int) -> None:
    store = DuckDBStore(path)
    store.close()
    con = duckdb.connect(str(path))
    for day in range(days):
        # One day at a time, in time order, as the gateway writes it.
        con.execute(
            """INSERT INTO readings SELECT 's1', printf('d%03d', d), 'temp_c',
               $start + to_minutes(m), 4.0 + (m % 13) / 10.0 + d / 100.0
               FROM range($lo, $hi) t(m), range($devices) u(d) ORDER BY m, d""",
            {
                "start": START.replace(tzinfo=None),
                "lo": day * 1440,
                "hi": (day + 1) * 1440,
                "devices": devices,
            },
        )
    con.close()
    store = DuckDBStore(path)
    store.rebuild_rollups()
    store.close()


class _Minutes:
    """New minutes after the file's end, every device each minute."""

    def __init__(self, devices: int, start_minute: int) -> None:
        self.devices = devices
        self.minute = start_minute

    def batch(self, size: int) -> ReadingBatch:
        per = max(1, size // self.devices)
        minutes = self.minute + np.repeat(np.arange(per, dtype=np.int64), self.devices)
        self.minute += per
        ids = [f"d{i:03d}" for i in range(self.devices)] * per
        ts = int(START.timestamp() * 1000) + minutes * 60_000
        return ReadingBatch(
            site=["s1"] * len(ids),
            device=ids,
            metric=["temp_c"] * len(ids),
            ts_ms=ts,
            value=np.full(len(ids), 5.0),
        )


def _cpu(work: Callable[[], Any]) -> float:
    begin = time.process_time()
    work()
    return time.process_time() - begin


def _writes(store: DuckDBStore, source: _Minutes, size: int, count: int) -> list[float]:
    return [_cpu(lambda: store.write(source.batch(size))) for _ in range(count)]


def _write_figures(store: DuckDBStore, source: _Minutes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size, count in ((200, 40), (2000, 12)):
        store.settle_rollups()
        writes, settles = [], []
        for _ in range(count // 4):
            # Four writes, then the timer's settle (2 s of writes at 1 k readings/s ~ 10).
            writes += _writes(store, source, size, 4)
            settles.append(_cpu(store.settle_rollups))
        w = statistics.median(writes)
        out[f"write_{size}"] = {
            "write_ms": round(w * 1e3, 2),
            "settle_of_4_writes_ms": round(statistics.median(settles) * 1e3, 2),
            "write_with_settle_share_ms": round((w + statistics.median(settles) / 4) * 1e3, 2),
        }
    return out


def _read_figures(store: DuckDBStore, source: _Minutes, days: int) -> dict[str, Any]:
    # A week ending an hour past the last write: the writes below land inside it.
    end = START + timedelta(minutes=source.minute + 60)
    span = (end - timedelta(days=min(days, 7)), end)
    naive = (span[0].replace(tzinfo=None), span[1].replace(tzinfo=None))

    def chart() -> None:
        store.envelopes("s1", "d007", ["temp_c"], *span, 600)

    def series() -> None:
        store.series("s1", "d007", "temp_c", *span, 3600, Aggregate.MAX)

    def raw_chart() -> None:
        with store._cursor() as cursor:
            query_envelope_steps(cursor, "s1", "d007", ["temp_c"], naive, 600, rollups=False)

    late_ms = int((end - timedelta(days=3)).timestamp() * 1000)

    def late_write(i: int) -> None:
        # A device's buffer delivering a reading of three days ago: the read settles first.
        store.write(
            ReadingBatch(["s1"], ["d007"], ["temp_c"], np.array([late_ms + i]), np.array([6.0]))
        )

    out: dict[str, Any] = {}
    for name, read in (("week_chart", chart), ("week_series", series)):
        store.settle_rollups()
        clean = [_cpu(read) for _ in range(15)]
        recent, late = [], []
        for i in range(15):
            store.write(source.batch(200))  # d007's newest minute: read raw, no settle
            recent.append(_cpu(read))
            store.settle_rollups()
            late_write(i)
            late.append(_cpu(read))
        c, r, la = (statistics.median(x) for x in (clean, recent, late))
        out[name] = {
            "nothing_pending_ms": round(c * 1e3, 2),
            "newest_minute_pending_ms": round(r * 1e3, 2),
            "late_reading_pending_ms": round(la * 1e3, 2),
            "ratio_newest_over_clean": round(r / c, 1),
            "ratio_late_over_clean": round(la / c, 1),
        }
    store.settle_rollups()
    raw = statistics.median([_cpu(raw_chart) for _ in range(15)])
    out["week_chart"]["raw_readings_ms"] = round(raw * 1e3, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        load_start = os.getloadavg()
        t0 = time.perf_counter()
        _build(path, args.devices, args.days)
        built_s = time.perf_counter() - t0
        store = DuckDBStore(path)
        try:
            source = _Minutes(args.devices, args.days * 1440)
            figures = {
                "readings": store.reading_count(),
                "build_s": round(built_s, 1),
                **_write_figures(store, source),
                **_read_figures(store, source, args.days),
            }
        finally:
            store.close()
    figures["load_start_end"] = [round(load_start[0], 1), round(os.getloadavg()[0], 1)]
    figures["cpus"] = os.cpu_count()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
