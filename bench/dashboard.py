"""Dashboard benchmark: page data and charts under concurrent clients, live fan-out to many
browsers, and the service's memory with them connected.

Run ``python -m bench.dashboard [--devices 200] [--days 30] [--json-only]``. One JSON object
goes to stdout at the end; progress goes to stderr.

Method
    1. A site of N fridges and freezers; D days of readings every `--interval-s` (temp_c, and
       door_open every 5 readings) written straight into a DuckDB file through the store's
       batch write, one day per batch (publishing a month over MQTT would measure the broker).
    2. The real service (`canteen serve`, a child process; `--service-root` runs another
       source tree) on a free loopback port, with a real Mosquitto; measured once its start-up
       work is done (the rules replay the stored readings: a minute or more on a month of
       200 devices), at most `--settle-s`; `service_settled_after_s` says how long that took.
    3. (a) `--clients` concurrent HTTP clients, spread over `--client-procs` processes, ask
       each kind of request in a phase of its own (then all kinds mixed, reported apart;
       `bench.dashboard_load` says why): the overview's data (`/api/devices`, a device's
       latest values, and the same revalidated with its ETag: the floor of a request, plus
       any `--overview-url`), the web pages (the overview `/` and a device's page over a
       week, as the viewer's token: pages take it as they take a login session), the week
       chart the device page embeds (`chart_week`, warm when the service kept it) and weeks
       nobody asked before (`chart_week_cold`: each a first drawing, its CPU the cost of one)
       and, as the baseline, the same week as a raw series (one point per reading); per phase
       p50/p99 latency, the service's CPU per answer and the clients' CPU; target p99 <= 50 ms
       per kind; the ratio warm chart / raw series.
    4. (b) `--sse-clients` clients hold `/api/live` open in a child process while readings are
       published through the broker and the real gateway at `--rate` readings/s. Each reading
       carries its publish time; `--lag-clients` of the clients parse every event and record
       publish-to-receipt lag, all clients count events and whether they were told to reload
       (fell behind). The publisher's pace is reported as achieved.
    5. (c) The service's RSS (its process tree) idle, after (a), and peak with the SSE clients.
    6. Over (a) and over (b)'s publishing, the CPU used by the service, by this client process,
       by the SSE clients' process and the broker, and by the whole machine, with the load
       average: the clients run on the same 2 cores as the service, and a figure is only read
       beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.backlog import BenchError
from bench.dashboard_live import live_fanout
from bench.dashboard_load import (
    ClientProcesses,
    UrlFor,
    client_processes,
    mixed_plan,
    page_chart_urls,
    request_kinds,
    single_kind_plan,
    wait_for_kept_charts,
)
from bench.dashboard_proc import CpuShare, broker_pids, percentiles, rss_mb, settle
from bench.dashboard_store import SITE, prepared_store, site_document, viewer_token
from bench.fuzz_service import ServiceUnderTest
from demo_broker.mosquitto import MosquittoProcess, free_port

# SITE and site_document are the store's (`bench.dashboard_store`); kept here for the benches
# that reuse this store through this module.
__all__ = [
    "HOST",
    "SITE",
    "TARGET_P99_MS",
    "chosen_kinds",
    "main",
    "parse_args",
    "percentiles",
    "request_kinds",
    "settle",
    "site_document",
    "viewer_token",
]

HOST = "127.0.0.1"
TARGET_P99_MS = 50.0
REQUEST_TIMEOUT_S = 120.0  # a request slower than this is counted as a failure (and above)
IDLE_SAMPLE_S = 5.0  # the service's own CPU use, sampled before the clients start


def chosen_kinds(kinds: dict[str, UrlFor], wanted: Sequence[str] | None) -> dict[str, UrlFor]:
    """The kinds `--kinds` names (all without it), in the bench's order; an unknown one is
    refused with the known ones."""
    if not wanted:
        return kinds
    unknown = sorted(set(wanted) - set(kinds))
    if unknown:
        raise BenchError(f"--kinds: no kind {unknown[0]!r}; known: {', '.join(kinds)}")
    return {kind: url_for for kind, url_for in kinds.items() if kind in wanted}


def load_pages(
    args: argparse.Namespace, base: str, pid: int, end: datetime, say: Callable[[str], None]
) -> dict[str, Any]:
    """Each kind alone with every client, then all kinds mixed (`bench.dashboard_load` says
    why); per phase the latencies, the service's CPU per answer and the clients' CPU."""
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    week_urls = page_chart_urls(base, headers, args.devices, say)
    # The service draws each device's week chart in the background after its start: measure
    # chart_week once they are kept (or after --warm-s, with how many were), with the URLs the
    # pages embed by then (the window moves on by a step every 10 min).
    say(f"waiting (at most {args.warm_s:.0f} s) for the service to hold the week charts")
    warm_after, _ = wait_for_kept_charts(base, headers, list(week_urls.values()), args.warm_s)
    week_urls = page_chart_urls(base, headers, args.devices, say)
    _, held_now = wait_for_kept_charts(base, headers, list(week_urls.values()), 0)
    kinds = chosen_kinds(request_kinds(args.devices, end, args.overview_url, week_urls), args.kinds)
    # What the service spends doing nothing asked of it (rule ticks, housekeeping, the chart
    # warmer), so the cost per request below is not charged with it.
    with CpuShare(pid) as quiet:
        time.sleep(IDLE_SAMPLE_S)
    idle_share = quiet.service_cpu_s / IDLE_SAMPLE_S
    report: dict[str, Any] = {
        "service_idle_cpu_share": round(idle_share, 3),
        "week_charts_kept_after_s": warm_after,
        "week_charts_kept_when_measuring": f"{held_now} of {len(week_urls)}",
        "per_kind": {},
    }
    with client_processes(base, args.token, args.client_procs) as clients:
        for kind, url_for in kinds.items():
            plan = single_kind_plan(url_for, kind, args.clients, args.rounds)
            first = [url_for(random.Random(-1))]  # not one of the plan's: a cold one stays cold
            report["per_kind"][kind] = _phase(clients, plan, first, pid, idle_share, base, headers)
            figures = report["per_kind"][kind]
            say(f"{kind}: p50 {figures.get('p50_ms')} p99 {figures.get('p99_ms')} ms")
        if not args.no_mixed:
            plan = mixed_plan(kinds, args.clients, args.rounds)
            first = [url_for(random.Random(-1)) for url_for in kinds.values()]
            report["mixed"] = _phase(clients, plan, first, pid, idle_share, base, headers)
    per_kind = report["per_kind"]
    report["meets_target_p99_50ms"] = {
        kind: float(figures.get("p99_ms", 1e9)) <= TARGET_P99_MS
        for kind, figures in per_kind.items()
    }
    chart, raw = per_kind.get("chart_week", {}), per_kind.get("series_week_raw", {})
    if chart.get("n") and raw.get("n"):
        report["ratio_chart_vs_raw_series_p50"] = round(chart["p50_ms"] / raw["p50_ms"], 3)
    cold = per_kind.get("chart_week_cold", {})
    if cold.get("n"):
        report["cold_week_drawing_service_cpu_ms"] = cold["cpu"].get("service_cpu_ms_per_request")
    return report


def _phase(
    clients: ClientProcesses,
    plan: list[list[tuple[str, str]]],
    first: list[str],
    pid: int,
    idle_share: float,
    base: str,
    headers: dict[str, str],
) -> dict[str, Any]:
    """One phase: the `first` URLs asked once (the file's pages read from disk, not what a
    client sees; none of the plan's), then the plan with every client at once."""
    with httpx.Client(base_url=base, headers=headers, timeout=REQUEST_TIMEOUT_S) as warm:
        for url in first:
            warm.get(url)
    with CpuShare(pid, {**broker_pids(), **clients.pids}) as cpu:
        results = clients.run(plan)
    samples = [s for kind_samples in results["latencies"].values() for s in kind_samples]
    figures: dict[str, Any] = percentiles(samples)
    if len({kind for client in plan for kind, _ in client}) > 1:
        figures["kinds"] = {k: percentiles(v) for k, v in results["latencies"].items()}
    figures["failures"] = results["failures"]
    if results["kept"]:  # charts: answers the service had kept, the rest drawn for them
        figures["kept"] = results["kept"]
    shares = cpu.shares
    shares["clients_cpu_share"] = round(
        sum(v for k, v in shares.items() if k.startswith("client_proc_")), 3
    )
    if samples:
        # All the service spent over the phase per answer (its background work, such as the
        # chart warmer, holds back while requests are answered, so it is mostly the
        # requests'), and less its idle use over the same time (a lower bound).
        per = 1000 / len(samples)
        shares["service_cpu_ms_per_request"] = round(cpu.service_cpu_s * per, 2)
        spent = max(0.0, cpu.service_cpu_s - idle_share * shares["wall_s"])
        shares["service_cpu_ms_per_request_less_idle"] = round(spent * per, 2)
    figures["cpu"] = shares
    return figures


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        work = Path(tmp)
        db = args.db or work / "site.duckdb"
        (work / "site.yaml").write_text(
            yaml.safe_dump(site_document(args.devices, args.interval_s))
        )
        end, written = prepared_store(db, args, say)
        broker = MosquittoProcess().start()
        try:
            api = f"{HOST}:{free_port()}"
            serve = [
                "serve",
                "--config",
                str(work / "site.yaml"),
                "--broker",
                broker.url,
                "--db",
                str(db),
            ]
            command = [
                sys.executable,
                "-m",
                "canteen",
                "--log-level",
                "warning",
                *serve,
                "--listen",
                api,
            ]
            if args.token is None:
                args.token = viewer_token(work / "site.yaml", db, args.service_root, say)
            service = ServiceUnderTest(
                command, f"http://{api}", work, 0, say, cwd=args.service_root
            )
            service.start()
            try:
                return measure(args, service, f"http://{api}", broker.port, end, written, say)
            finally:
                service.stop()
        finally:
            broker.stop()


def measure(
    args: argparse.Namespace,
    service: ServiceUnderTest,
    base: str,
    port: int,
    end: datetime,
    written: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    pid = service._proc.pid if service._proc is not None else 0
    settled = settle(pid, args.settle_s, say)
    load_at_start = round(os.getloadavg()[0], 2)
    idle = rss_mb(pid)
    say(f"service up (RSS {idle:.0f} MB); {args.clients} clients, {args.rounds} rounds each")
    pages = load_pages(args, base, pid, end, say)
    after_pages = rss_mb(pid)
    say(f"pages done; now {args.sse_clients} SSE clients at {args.rate}/s")
    if args.no_live:
        live: dict[str, Any] = {"skipped": "--no-live", "service_rss_mb_with_clients_peak": None}
    else:
        try:
            live = live_fanout(args, base, port, pid)
        except BenchError as exc:  # what (a) measured is still worth printing
            live = {"error": str(exc), "service_rss_mb_with_clients_peak": None}
    return {
        "load_avg_1m": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        "service_settled_after_s": settled,
        "cpus": os.cpu_count(),
        "devices": args.devices,
        "days": args.days,
        "readings_in_store": written,
        "concurrent_clients": args.clients,
        "pages": pages,
        "live": live,
        "service_rss_mb": {
            "idle": round(idle, 1),
            "after_pages": round(after_pages, 1),
            "with_sse_clients_peak": live["service_rss_mb_with_clients_peak"],
        },
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval-s", type=int, default=60)
    parser.add_argument("--clients", type=int, default=20, help="concurrent HTTP clients")
    parser.add_argument("--rounds", type=int, default=10, help="requests of each kind per client")
    parser.add_argument("--overview-url", action="append", default=[], help="more URLs, e.g. /")
    parser.add_argument(
        "--kinds",
        type=lambda text: [k.strip() for k in text.split(",") if k.strip()],
        default=None,
        help="only these kinds of request, comma-separated (e.g. devices,latest,page_overview)",
    )
    parser.add_argument(
        "--client-procs", type=int, default=2, help="processes the HTTP clients run in"
    )
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed phase of (a)")
    parser.add_argument(
        "--warm-s",
        type=float,
        default=600.0,
        help="wait up to this long for the service to hold every device's week chart",
    )
    parser.add_argument("--no-live", action="store_true", help="skip (b), the live fan-out")
    parser.add_argument(
        "--settle-s",
        type=float,
        default=300.0,
        help="wait up to this long for the service's start-up work to finish (0: do not wait)",
    )
    parser.add_argument("--sse-clients", type=int, default=200)
    parser.add_argument("--lag-clients", type=int, default=20, help="SSE clients that parse lag")
    parser.add_argument("--rate", type=int, default=1000, help="readings/s published")
    parser.add_argument("--publish-s", type=float, default=20.0)
    parser.add_argument("--token", default=None, help="bearer token when the API needs one")
    parser.add_argument("--service-root", type=Path, default=None, help="run canteen from here")
    parser.add_argument("--db", type=Path, default=None, help="fill once here, reuse after")
    parser.add_argument("--json-only", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def say(text: str) -> None:
        if not args.json_only:
            print(text, file=sys.stderr, flush=True)

    try:
        report = run(args, say)
    except BenchError as exc:
        print(f"bench.dashboard: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=None if args.json_only else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
