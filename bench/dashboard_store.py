"""The store and site of `bench.dashboard` (and of the benches that reuse its store): a site of
N fridges and freezers, D days of readings written straight into a DuckDB file through the
store's batch write (one day per batch; publishing a month over MQTT would measure the
broker), kept for later runs of the same shape, and a viewer's bearer token."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.backlog import BenchError
from core.readings import ReadingBatch
from ingest import DuckDBStore

__all__ = ["PREFIX", "SITE", "fill_store", "prepared_store", "site_document", "viewer_token"]

SITE = "bench-school"
PREFIX = "bench/v1"
# A door contact reports every 5th reading: a morning's openings, not every minute.
DOOR_EVERY = 5


def site_document(devices: int, interval_s: int) -> dict[str, Any]:
    return {
        "site": {"id": SITE, "name": "Bench school"},
        "mqtt": {"topic_prefix": PREFIX},
        "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
        "devices": [
            {
                "id": f"d{i:03d}",
                "name": f"Cold store {i}",
                "kind": "freezer" if i % 5 == 0 else "fridge",
                "building": "canteen",
                "interval_s": interval_s,
            }
            for i in range(devices)
        ],
    }


def fill_store(db: Path, devices: int, days: int, interval_s: int, end: datetime) -> int:
    """D days of readings ending at `end`, one batch per day; returns how many were written."""
    rng = np.random.default_rng(7)
    ids = [f"d{i:03d}" for i in range(devices)]
    per_day = 86_400 // interval_s
    start_ms = int((end - timedelta(days=days)).timestamp() * 1000)
    written = 0
    store = DuckDBStore(db)
    try:
        for day in range(days):
            ts = start_ms + (day * per_day + np.arange(per_day, dtype=np.int64)) * interval_s * 1000
            temp_ts = np.tile(ts, devices)
            base = np.repeat(
                np.array([-18.0 if i % 5 == 0 else 4.0 for i in range(devices)]), per_day
            )
            temp = base + rng.normal(0, 0.6, temp_ts.size)
            door_ts = np.tile(ts[::DOOR_EVERY], devices)
            door = (rng.random(door_ts.size) < 0.05).astype(np.float64)
            n_door = door_ts.size // devices
            batch = ReadingBatch(
                site=[SITE] * (temp_ts.size + door_ts.size),
                device=[d for d in ids for _ in range(per_day)]
                + [d for d in ids for _ in range(n_door)],
                metric=["temp_c"] * temp_ts.size + ["door_open"] * door_ts.size,
                ts_ms=np.concatenate([temp_ts, door_ts]),
                value=np.concatenate([temp, door]),
            )
            written += store.write(batch)
    finally:
        store.close()
    return written


def prepared_store(
    db: Path, args: argparse.Namespace, say: Callable[[str], None]
) -> tuple[datetime, int]:
    """The filled database and the end of its data: filled now, or kept from an earlier run of
    the same shape (`--db`; its figures are in a file beside it)."""
    sidecar = db.with_suffix(".bench.json")
    shape = {"devices": args.devices, "days": args.days, "interval_s": args.interval_s}
    if db.exists() and sidecar.exists():
        kept = json.loads(sidecar.read_text())
        if kept["shape"] == shape:
            say(f"reusing {db} ({kept['written']:,} readings)")
            return datetime.fromisoformat(kept["end"]), int(kept["written"])
        raise BenchError(f"{db} holds another shape ({kept['shape']}); remove it or use another")
    if db.exists():
        raise BenchError(f"{db} exists without {sidecar.name}; remove it or use another path")
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    began = time.perf_counter()
    written = fill_store(db, args.devices, args.days, args.interval_s, end)
    say(f"{written:,} readings written in {time.perf_counter() - began:.1f} s")
    sidecar.write_text(json.dumps({"shape": shape, "end": end.isoformat(), "written": written}))
    return end, written


def viewer_token(
    config: Path, db: Path, root: Path | None, say: Callable[[str], None]
) -> str | None:
    """A viewer's bearer token made with `canteen token create` while the service is stopped;
    None from a source tree whose API has no login (its requests need none)."""
    create = ["token", "create", "bench-dashboard", "--config", str(config), "--db", str(db)]
    made = subprocess.run(
        [sys.executable, "-m", "canteen", *create],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        say(f"no token made ({made.stderr.strip()[-200:]}); requests go without one")
        return None
    return made.stdout.strip().splitlines()[-1]
