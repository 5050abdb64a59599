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
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import yaml

from bench.backlog import BenchError, paho_client, start_client, stop_client
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
from bench.fuzz_service import ServiceUnderTest
from core.readings import ReadingBatch
from demo_broker.mosquitto import MosquittoProcess, free_port
from ingest import DuckDBStore

SITE = "bench-school"
PREFIX = "bench/v1"
HOST = "127.0.0.1"
TARGET_P99_MS = 50.0
CONNECT_TIMEOUT_S = 120.0  # for every SSE client to hold its snapshot, on a loaded machine
REQUEST_TIMEOUT_S = 120.0  # a request slower than this is counted as a failure (and above)
DRAIN_TIMEOUT_S = 180.0  # for the service to store what was published, after publishing
IDLE_SAMPLE_S = 5.0  # the service's own CPU use, sampled before the clients start
# Settled: the service's CPU under a tenth of a core for 3 s in a row (start-up work done).
SETTLED_CPU_SHARE = 0.1
SETTLED_FOR_S = 3.0
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


def percentiles(samples_s: Sequence[float]) -> dict[str, float | int]:
    if not samples_s:
        return {"n": 0}
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


# -- (a) page data and charts ------------------------------------------------------------------


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


# -- (b) live fan-out ---------------------------------------------------------------------------


async def _sse_client(
    base: str,
    parse: bool,
    stop: asyncio.Event,
    out: dict[str, Any],
    headers: dict[str, str],
    arrived: Callable[[], None],
) -> None:
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=None) as http,
        http.stream("GET", "/api/live") as response,
    ):
        if response.status_code != 200:
            out["refused"] += 1
            arrived()
            return
        out["connected"] += 1
        arrived()
        buffer = ""
        async for chunk in response.aiter_text():
            now_ms = time.time() * 1000
            out["events"] += chunk.count("\nevent: reading\n")
            if "event: reload" in chunk:
                out["told_to_reload"] += 1
                return
            if parse:
                events, _, buffer = (buffer + chunk).rpartition("\n\n")
                out["lags"].extend(_lags(events, now_ms))
            if stop.is_set():
                return


def _lags(events: str, now_ms: float) -> list[float]:
    """Seconds from each reading's own time (its publish time) to receipt."""
    lags = []
    for line in events.split("\n"):
        data = json.loads(line[6:]) if line.startswith("data: {") else {}
        if "device" in data and "values" in data:  # a reading event
            for value in data["values"].values():
                sent_ms = datetime.fromisoformat(value["ts"]).timestamp() * 1000
                lags.append((now_ms - sent_ms) / 1000)
    return lags


def _sse_child(
    conn: Connection, base: str, clients: int, lag_clients: int, token: str | None
) -> None:
    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {
            "connected": 0,
            "refused": 0,
            "events": 0,
            "told_to_reload": 0,
            "lags": [],
        }
        stop, everyone = asyncio.Event(), asyncio.Event()

        def arrived() -> None:
            if out["connected"] + out["refused"] >= clients:
                everyone.set()

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        tasks = [
            asyncio.create_task(_sse_client(base, i < lag_clients, stop, out, headers, arrived))
            for i in range(clients)
        ]
        # Ready once every client holds its snapshot (or after a bound, with what connected).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone.wait(), CONNECT_TIMEOUT_S)
        conn.send("started")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return out

    conn.send(asyncio.run(run()))


def publish_at_rate(port: int, devices: int, rate: int, seconds: float) -> dict[str, Any]:
    """One reading per message, paced per 10 ms tick; each carries its publish time."""
    client = paho_client(f"bench-pub-{random.getrandbits(32):08x}", clean_session=True)
    client.max_inflight_messages_set(2000)
    start_client(client, port, 10)
    sent, seq = 0, 0
    began = time.perf_counter()
    try:
        while (elapsed := time.perf_counter() - began) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                device = f"d{seq % devices:03d}"
                payload = {
                    "ts": int(time.time() * 1000),
                    "seq": seq,
                    "m": {"temp_c": 4.0 + (seq % 7) / 10},
                }
                client.publish(f"{PREFIX}/{SITE}/{device}/telemetry", json.dumps(payload), qos=1)
                sent, seq = sent + 1, seq + 1
            time.sleep(0.01)
    finally:
        stop_client(client)
    return {"published": sent, "achieved_per_s": round(sent / (time.perf_counter() - began), 1)}


def live_fanout(args: argparse.Namespace, base: str, port: int, service_pid: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    clients = context.Process(
        target=_sse_child,
        args=(child, base, args.sse_clients, args.lag_clients, args.token),
        daemon=True,
    )
    clients.start()
    if not parent.poll(CONNECT_TIMEOUT_S + 120) or parent.recv() != "started":
        raise BenchError("the SSE clients did not start")
    peak = {"rss": rss_mb(service_pid)}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            peak["rss"] = max(peak["rss"], rss_mb(service_pid))

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    stored_before = stored(base)
    helpers = {**broker_pids(), "sse_clients": clients.pid or 0}
    with CpuShare(service_pid, helpers) as cpu:
        published = publish_at_rate(port, args.devices, args.rate, args.publish_s)
    ingest: dict[str, float] = {"stored_when_publishing_ended": stored(base) - stored_before}
    if ingest["stored_when_publishing_ended"]:
        # The service's CPU per reading stored and fanned out to every client, load aside.
        per_k = cpu.service_cpu_s * 1000 / ingest["stored_when_publishing_ended"] * 1000
        cpu.shares["service_cpu_ms_per_1k_readings_stored"] = round(per_k, 1)
    # Until every published reading is stored (bounded): the lag then includes any backlog.
    ended = time.perf_counter()
    while stored(base) - stored_before < published["published"]:
        if time.perf_counter() - ended > DRAIN_TIMEOUT_S:
            break
        time.sleep(0.2)
    ingest["stored"] = stored(base) - stored_before
    ingest["drain_after_publishing_s"] = round(time.perf_counter() - ended, 1)
    time.sleep(2.0)  # the last readings reach the clients
    sampling.set()
    sampler.join()
    parent.send("stop")
    if not parent.poll(60):
        raise BenchError("the SSE clients did not report")
    out = parent.recv()
    clients.join(10)
    lags = out.pop("lags")
    return {
        **published,
        **ingest,
        "sse_clients": args.sse_clients,
        **out,
        "lag": percentiles(lags),
        "fell_behind": out["told_to_reload"] > 0,
        # While publishing: "client" is the publisher (this process), "sse_clients" the
        # process holding the streams, "broker" Mosquitto.
        "cpu": cpu.shares,
        "service_rss_mb_with_clients_peak": round(peak["rss"], 1),
    }


def stored(base: str) -> int:
    """Readings the service has stored since it started (its health counters)."""
    answer = httpx.get(f"{base}/api/health", timeout=REQUEST_TIMEOUT_S).json()
    return int(answer["readings_stored"])


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


def settle(pid: int, bound_s: float, say: Callable[[str], None]) -> float | None:
    """Seconds until the service's start-up work is done (the rules replaying the stored
    readings, rollups catching up): its CPU below `SETTLED_CPU_SHARE` for `SETTLED_FOR_S`.
    None when it is still busy after `bound_s` (measured anyway, and the JSON says so)."""
    began = time.perf_counter()
    quiet_since: float | None = None
    before = tree_cpu_s(pid)
    while (waited := time.perf_counter() - began) < bound_s:
        time.sleep(1.0)
        now_s = tree_cpu_s(pid)
        busy, before = now_s - before, now_s
        if busy > SETTLED_CPU_SHARE:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.perf_counter()
        elif time.perf_counter() - quiet_since >= SETTLED_FOR_S:
            return round(waited, 1)
    say(f"the service was still busy after {bound_s:.0f} s; measuring anyway")
    return None


def broker_pids() -> dict[str, int]:
    """The Mosquitto this run started (a child of this process), to count its CPU."""
    found = [c.pid for c in psutil.Process().children() if "mosquitto" in c.name()]
    return {"broker": found[0]} if found else {}


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children so far."""
    total = 0.0
    try:
        process = psutil.Process(pid)
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return total
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class CpuShare:
    """The share of one CPU the service (its process tree) and this client process used over
    the block, and the machine's: on a shared machine a slow answer may be the client's own
    doing or another's load, and these say which."""

    def __init__(self, service_pid: int, others: dict[str, int] | None = None) -> None:
        self._service = service_pid
        self._others = dict(others or {})
        self.shares: dict[str, float] = {}
        self.service_cpu_s = 0.0

    def __enter__(self) -> CpuShare:
        self._began = time.perf_counter()
        self._client = time.process_time()
        self._service_s = tree_cpu_s(self._service)
        self._others_s = {name: tree_cpu_s(pid) for name, pid in self._others.items()}
        self._machine = psutil.cpu_times()
        return self

    def __exit__(self, *_exc: object) -> None:
        wall = max(time.perf_counter() - self._began, 1e-9)
        machine = psutil.cpu_times()
        busy = sum(
            getattr(machine, f) - getattr(self._machine, f) for f in ("user", "system", "nice")
        )
        self.service_cpu_s = tree_cpu_s(self._service) - self._service_s
        self.shares = {
            "wall_s": round(wall, 2),
            "service_cpu_s": round(self.service_cpu_s, 2),
            "service_cpu_share": round(self.service_cpu_s / wall, 3),
            "client_cpu_share": round((time.process_time() - self._client) / wall, 3),
            "machine_busy_cpus": round(busy / wall, 2),
        }
        for name, pid in self._others.items():
            share = (tree_cpu_s(pid) - self._others_s[name]) / wall
            self.shares[f"{name}_cpu_share"] = round(share, 3)


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
