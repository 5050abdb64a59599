"""The alert path alone: a rule's finding applied to the alert book, to the webhook request
that tells someone, with no telemetry, broker or ingest in front of it.

Run ``python -m bench.alerts_path [--samples 60] [--readings-rate 1000]``. One JSON object goes
to stdout. With `--readings-rate`, the part before the rules is measured too, split by step
(`bench.readings_path`: publish -> broker -> gateway -> DuckDB -> hand-over, with the
service's own stage histograms) and reported as `readings_path`.

What `python -m bench.alerts` measures end to end includes the gateway's batch linger, the
DuckDB write of the readings and the rules; this bench takes the part after the rules: the
alert book's writes, the notification planner, the outbox and the dispatcher's lane, the
webhook channel (httpx) and a stdlib HTTP receiver in this process. The wiring is the one
`canteen serve` builds (`canteen.notify_wiring.NotifyWiring` on `DuckDBAlertStore` in a
temporary file); findings are applied in a worker thread as the alerts service does, and each
change is told to the wiring's listener as the service's flush does. Times are
`time.perf_counter()` in this process, from just before the finding is applied to the arrival
of the `fired` notice naming its device. Run it on two versions of the code one after the
other to compare them on the same machine; the load average goes with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from alerts.lifecycle import AlertBook
from alerts.model import Finding, Phase
from bench import readings_path
from bench.alerts_receiver import Receiver
from bench.alerts_service import site_config
from bench.alerts_stages import quantile
from canteen.notify_wiring import NotifyWiring
from core.clock import SystemClock, to_epoch_ms
from core.config import load_config
from core.records import Message, RuleId, Severity
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore

_ARRIVAL_TIMEOUT_S = 10.0


def _finding(device: str, clock: SystemClock) -> Finding:
    now = clock.now()
    return Finding(
        device, RuleId.OVER_TEMPERATURE, Phase.FIRING, to_epoch_ms(now),
        to_epoch_ms(now - timedelta(minutes=1)), Severity.CRITICAL,
        Message(f"{device} 12.0 °C", f"{device} at 12.0 °C"), {"temp_c": 12.0, "limit_c": 8.0},
    )  # fmt: skip


async def _measure(
    args: argparse.Namespace, work: Path, receiver: Receiver
) -> tuple[list[float], dict[str, Any]]:
    path = work / "site.yaml"
    config_data = site_config(0, args.samples, receiver.url)
    path.write_text(json.dumps(config_data, ensure_ascii=False), encoding="utf-8")
    config = load_config(path)
    clock = SystemClock()
    db = work / "path.duckdb"
    readings, store = DuckDBStore(db), DuckDBAlertStore(db)
    book = AlertBook(store, config.site.id, clock)
    wiring = NotifyWiring(config, clock, db_path=db, alerts=store, book=book)
    task = asyncio.create_task(wiring.run(), name="notify")
    latencies: list[float] = []
    steps: dict[str, Any] = {}
    try:
        await asyncio.sleep(0.5)
        for index in range(args.samples):
            device = f"probe-{index}"
            begun = time.perf_counter()
            changes = await asyncio.to_thread(book.apply, [_finding(device, clock)])
            for change in changes:
                wiring.on_alert_change(change)
            arrived = await asyncio.to_thread(receiver.wait, device, _ARRIVAL_TIMEOUT_S)
            if arrived is None:
                raise RuntimeError(f"no notice for {device} within {_ARRIVAL_TIMEOUT_S:g} s")
            latencies.append((arrived - begun) * 1000.0)
            await asyncio.sleep(args.gap)
        steps = book.times.figures()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await wiring.disconnect()
        wiring.close()
        store.close()
        readings.close()
    return latencies, steps


def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver()
    receiver.start()
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-alerts-path-") as tmp:
            latencies, steps = asyncio.run(_measure(args, Path(tmp), receiver))
    finally:
        receiver.stop()
    ordered = sorted(latencies)
    return {
        "bench": "alerts_path",
        "path": "finding > alert book > planner > outbox > lane > webhook request received",
        "latency_ms": {
            "n": len(ordered),
            "p50": round(quantile(ordered, 0.5), 1),
            "p99": round(quantile(ordered, 0.99), 1),
            "max": round(ordered[-1], 1),
            "mean": round(statistics.fmean(ordered), 1),
        },
        # The alert book's own steps per finding (alerts.pace.BookTimes): lock, statements,
        # plan, notices, commit, total.
        "alert_book_steps_ms": steps,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alerts_path", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--samples", type=int, default=60, help="findings, one at a time")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between two findings")
    parser.add_argument(
        "--readings-rate",
        type=float,
        default=None,
        help="also measure the readings path at this many messages a second (bench.readings_path)",
    )
    readings_path.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be >= 1")
    if args.readings_rate is not None and args.readings_rate <= 0:
        parser.error("--readings-rate must be > 0")
    try:
        report = run(args)
        if args.readings_rate is not None:
            args.rate = args.readings_rate
            report["readings_path"] = readings_path.run(args)
    except RuntimeError as exc:
        print(f"bench.alerts_path failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
