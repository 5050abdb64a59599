"""The alerts service's start with no saved rule state (a first install, a restore after a disk
swap): how long until every device's rules have caught up, and how long until a fridge that is
warm right now raises its alert.

Run ``python -m bench.alerts_start --db STORE [--devices 200] [--interval-s 60]``. STORE is a
database filled by ``bench.dashboard`` (same site shape); it is copied, never written. One JSON
object goes to stdout.

Method
    1. The store is copied and the copy's rule state, alerts and seal-health points are
       removed: the rules replay their look-back (`seal_baseline_days` + 1 days) from scratch.
    2. The real `AlertService.run` starts on a clock at the end of the stored data. At once,
       two fridges report 90 minutes at 12 °C, after 4 °C (the food estimate, tau 30 min,
       passes the 8 °C limit after ~21 min, and the alert fires 30 min later): the first in
       the replay's order and the last (config order; no saved state means equal look-backs).
       Their readings are stored, then handed to the service, as the store writer does.
    3. Wall time from the start to each fridge's over-temperature alert firing, and to the
       service being live (every device caught up); the readings replayed; the process CPU.
       Alerts are noted by a change listener (no polling of the alert book). The machine
       is shared: the load average is printed beside every figure, and only
       ratios taken in one run (first vs last fridge, alert vs live) carry over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from alerts.lifecycle import AlertChange
from alerts.model import AlertState, RuleId
from alerts.service import AlertService
from bench.dashboard import SITE, site_document
from core.clock import ManualClock, to_epoch_ms
from core.config import SiteConfig
from core.readings import ReadingBatch
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore

WARM_C = 12.0
WARM_MIN = 90
TIMEOUT_S = 3600.0


def first_start_copy(source: Path, work: Path) -> datetime:
    """The store copied with no rule state, alerts or seal points; the end of its readings."""
    shutil.copyfile(source, work)
    con = duckdb.connect(str(work))
    try:
        for table in ("rule_state", "alert_history", "alerts", "seal_health"):
            con.execute(f"DELETE FROM {table}")
        [(end,)] = con.execute("SELECT max(ts) FROM readings").fetchall()
    finally:
        con.close()
    assert isinstance(end, datetime), "the copy holds no readings"
    return end.replace(tzinfo=UTC)


def warm_rows(device: str, start: datetime) -> ReadingBatch:
    ts = [to_epoch_ms(start + timedelta(minutes=i + 1)) for i in range(WARM_MIN)]
    return ReadingBatch(
        [SITE] * WARM_MIN,
        [device] * WARM_MIN,
        ["temp_c"] * WARM_MIN,
        np.asarray(ts, dtype=np.int64),
        np.full(WARM_MIN, WARM_C),
    )


async def measure(db: Path, config: SiteConfig, end: datetime) -> dict[str, Any]:
    fridges = [d.id for d in config.devices if d.kind.value == "fridge"]
    probes = {"first_in_order": fridges[0], "last_in_order": fridges[-1]}
    loaded = [round(x, 2) for x in os.getloadavg()]
    readings, store = DuckDBStore(db), DuckDBAlertStore(db)
    clock = ManualClock(end)
    service = AlertService(config, store, clock)
    fired: dict[str, float] = {}
    names = {device: name for name, device in probes.items()}

    def note(change: AlertChange) -> None:  # in the service's worker thread
        alert = change.alert
        over = alert.rule is RuleId.OVER_TEMPERATURE and alert.state is AlertState.FIRING
        if over and alert.device in names:
            fired.setdefault(names[alert.device], time.perf_counter() - began)

    service.add_change_listener(note)
    began, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(service.run(), name="alerts")
    for device in probes.values():
        rows = warm_rows(device, end)
        await asyncio.to_thread(readings.write, rows)
        service.on_batch(rows)
    await clock.set(end + timedelta(minutes=WARM_MIN))
    live_s: float | None = None
    while time.perf_counter() - began < TIMEOUT_S:
        if live_s is None and service.live:
            live_s = time.perf_counter() - began
        if live_s is not None and len(fired) == len(probes):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    figures: dict[str, Any] = getattr(service, "catch_up_figures", lambda: {})()
    store.close()
    readings.close()
    return {
        "live_after_s": _r(live_s),
        "alert_after_s": {name: _r(fired.get(name)) for name in probes},
        "probes": probes,
        "readings_replayed": figures.get("readings_replayed"),
        "process_cpu_s": _r(time.process_time() - cpu),
        "load_average_before": loaded,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a bench.dashboard store")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--interval-s", type=int, default=60)
    parser.add_argument("--work", type=Path, default=None, help="where the copy goes")
    args = parser.parse_args(argv)
    config = SiteConfig.model_validate(site_document(args.devices, args.interval_s))
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        db = Path(work) / "start.duckdb"
        print(f"copying {args.db} ...", file=sys.stderr)
        end = first_start_copy(args.db, db)
        result = asyncio.run(measure(db, config, end))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
