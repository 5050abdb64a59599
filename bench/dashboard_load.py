"""(a) of `bench.dashboard`: page data and charts under concurrent HTTP clients, kind by kind
and mixed, with the clients in their own processes.

Why each kind in its own phase: the issue's target is per kind ("overview and a one-week
device chart at p99 <= 50 ms under 20 concurrent clients"). In one mixed phase every client
also asks the raw week series and the cold charts (tens of ms of CPU each): on two cores those
queue every cheap answer behind them, so a mixed p99 says what the heaviest kind costs the
others, not what a kind costs. Each kind is measured alone with all the clients (its p50/p99,
the service's CPU per answer, the clients' CPU), then the mixed phase as before, reported
apart.

Why processes: twenty httpx clients in one Python process spend a good part of a core of their
own (parsing, TLS-less sockets, asyncio), on the same two cores as the service; in one process
the client can be the bottleneck and its own queueing shows up as service latency. The clients
are spread over `--client-procs` processes (2 by default, one per core) and each phase reports
their CPU share beside the service's.

Why two week-chart kinds: a school opens a device's page and its browser fetches the chart
URL the page embeds (a preset week ending "now", snapped to the chart's step). `chart_week`
asks exactly that URL, read from each device's page before the phase: what a person gets, warm
when the service kept it. `chart_week_cold` asks windows nobody asked before (a week ending at
a random second of the data's last day), so every answer is a first drawing: its service CPU
per answer is the cost of a cold drawing, its latency what a first drawing costs under load.
`latest_304` revalidates a device's latest values with the ETag it was given: no body, so its
service CPU per answer is the floor of a request (routing, the viewer check from the login
memory, the security headers).
"""

from __future__ import annotations

import asyncio
import html
import multiprocessing
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import httpx

__all__ = [
    "ClientProcesses",
    "Plan",
    "UrlFor",
    "client_processes",
    "merge_results",
    "mixed_plan",
    "page_chart_urls",
    "request_kinds",
    "single_kind_plan",
    "wait_for_kept_charts",
]

REQUEST_TIMEOUT_S = 120.0  # a request slower than this is counted as a failure
REVALIDATED = "_304"  # a kind named so sends back the ETag it got for the URL (304 expected)

UrlFor = Callable[[random.Random], str]
Plan = list[list[tuple[str, str]]]  # per client: (kind, URL) in order
_CHART_IMG = re.compile(r'<img src="(/api/devices/[^"]+/chart\.svg\?[^"]+)" data-testid="chart"')


def request_kinds(
    devices: int,
    end: datetime,
    extra: Sequence[str],
    week_urls: dict[str, str] | None = None,
) -> dict[str, UrlFor]:
    """The kinds of request, in the bench's order; `week_urls` (device -> the chart URL its
    page embeds for a week) makes `chart_week` what a browser asks for."""
    week = {"start": (end - timedelta(days=7)).isoformat(), "end": end.isoformat()}

    def device(rng: random.Random) -> str:
        return f"d{rng.randrange(devices):03d}"

    def chart_week(rng: random.Random) -> str:
        picked = device(rng)
        if week_urls and picked in week_urls:
            return week_urls[picked]
        return _chart(picked, week)

    def chart_week_cold(rng: random.Random) -> str:
        # A week ending at a random second of the data's last day: a window nobody asked for.
        last = end - timedelta(seconds=rng.randrange(1, 86_400))
        window = {"start": (last - timedelta(days=7)).isoformat(), "end": last.isoformat()}
        return _chart(device(rng), window)

    kinds: dict[str, UrlFor] = {
        "devices": lambda _r: "/api/devices",
        "latest": lambda r: f"/api/devices/{device(r)}/latest",
        # One device's latest values asked again and again with the ETag it gave: 304s.
        "latest_304": lambda _r: "/api/devices/d001/latest",
        "chart_week": chart_week,
        "chart_week_cold": chart_week_cold,
        # The web UI as a person opens it: the overview page, and a device's page showing a
        # week (its chart is the `chart.svg` above, fetched by the browser as an image).
        "page_overview": lambda _r: "/",
        "page_device_week": lambda r: f"/devices/{device(r)}?metric=temp_c&range=7d",
        # The baseline: the same week as one point per reading (what a client-side chart loads).
        "series_week_raw": lambda r: str(
            httpx.URL(
                f"/api/devices/{device(r)}/series",
                params={**week, "metric": "temp_c", "step": "61s", "agg": "avg"},
            )
        ),
    }
    for url in extra:
        kinds[f"page {url}"] = _fixed(url)
    return kinds


def _chart(device: str, window: dict[str, str]) -> str:
    params = {**window, "metric": "temp_c", "width": 960, "height": 360}
    return str(httpx.URL(f"/api/devices/{device}/chart.svg", params=params))


def _fixed(url: str) -> UrlFor:
    return lambda _rng: url


def single_kind_plan(url_for: UrlFor, kind: str, clients: int, rounds: int) -> Plan:
    return [
        [(kind, url_for(rng)) for _ in range(rounds)]
        for rng in (random.Random(seed) for seed in range(clients))
    ]


def mixed_plan(kinds: dict[str, UrlFor], clients: int, rounds: int) -> Plan:
    """Each client loops over every kind, `rounds` times (the bench's first method)."""
    plans: Plan = []
    for seed in range(clients):
        rng = random.Random(seed)
        plans.append([(k, f(rng)) for _ in range(rounds) for k, f in kinds.items()])
    return plans


def page_chart_urls(
    base: str, headers: dict[str, str], devices: int, say: Callable[[str], None]
) -> dict[str, str]:
    """The week chart URL each device's page embeds now (empty from a tree without it)."""
    urls: dict[str, str] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        for i in range(devices):
            page = http.get(f"/devices/d{i:03d}", params={"metric": "temp_c", "range": "7d"})
            found = _CHART_IMG.search(page.text) if page.status_code == 200 else None
            if found is not None:
                urls[f"d{i:03d}"] = html.unescape(found.group(1))
    if len(urls) < devices:
        say(f"{devices - len(urls)} device pages embedded no chart URL; those ask a fixed week")
    return urls


def wait_for_kept_charts(
    base: str, headers: dict[str, str], urls: Sequence[str], bound_s: float
) -> tuple[float | None, int]:
    """Seconds until the service holds every one of `urls` drawn (asked with
    `Cache-Control: only-if-cached`, which never draws), or None after `bound_s`; and how
    many it held at the end. Each look stops at the first chart not held (the service's
    background drawing holds back while it answers requests), one look per 10 s."""
    began = time.perf_counter()
    ask = {**headers, "Cache-Control": "only-if-cached"}
    with httpx.Client(base_url=base, headers=ask, timeout=REQUEST_TIMEOUT_S) as http:
        while True:
            waited = time.perf_counter() - began
            if all(http.get(url).status_code == 200 for url in urls):
                return round(waited, 1), len(urls)
            if waited > bound_s:
                return None, sum(http.get(url).status_code == 200 for url in urls)
            time.sleep(10.0)


# -- the client processes ------------------------------------------------------------------------


class ClientProcesses:
    """`count` processes, each running its share of the clients of a plan on its own loop."""

    def __init__(self, base: str, token: str | None, count: int) -> None:
        if count < 1:
            raise ValueError(f"--client-procs must be at least 1, got {count}")
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs = []
        for _ in range(count):
            parent, child = context.Pipe()
            proc = context.Process(target=_child, args=(child, base, token), daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    @property
    def pids(self) -> dict[str, int]:
        return {f"client_proc_{i}": proc.pid or 0 for i, proc in enumerate(self._procs)}

    def run(self, plan: Plan) -> dict[str, Any]:
        """Every client of `plan` at once, spread over the processes; merged results."""
        shares = [plan[i :: len(self._conns)] for i in range(len(self._conns))]
        for conn, share in zip(self._conns, shares, strict=True):
            conn.send(share)
        return merge_results([conn.recv() for conn in self._conns])

    def close(self) -> None:
        for conn in self._conns:
            conn.send(None)
        for proc in self._procs:
            proc.join(10)


@contextmanager
def client_processes(base: str, token: str | None, count: int) -> Iterator[ClientProcesses]:
    pool = ClientProcesses(base, token, count)
    try:
        yield pool
    finally:
        pool.close()


def merge_results(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    kept: dict[str, int] = {}
    for part in parts:
        for kind, samples in part["latencies"].items():
            latencies.setdefault(kind, []).extend(samples)
        for what, count in part["failures"].items():
            failures[what] = failures.get(what, 0) + count
        for kind, count in part.get("kept", {}).items():
            kept[kind] = kept.get(kind, 0) + count
    return {"latencies": latencies, "failures": failures, "kept": kept}


def _child(conn: Connection, base: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while (plans := conn.recv()) is not None:
        conn.send(asyncio.run(_run_clients(base, headers, plans)))


async def _run_clients(base: str, headers: dict[str, str], plans: Plan) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    kept: dict[str, int] = {}  # answers the service had kept (`X-Chart-Cache: hit`)

    async def client(plan: list[tuple[str, str]]) -> None:
        tags: dict[str, str] = {}
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=REQUEST_TIMEOUT_S
        ) as http:
            for kind, url in plan:
                sent = {"If-None-Match": tags[url]} if url in tags else {}
                began = time.perf_counter()
                try:
                    answer = await http.get(url, headers=sent)
                except httpx.HTTPError as exc:
                    what = f"{kind} {type(exc).__name__}"
                    failures[what] = failures.get(what, 0) + 1
                    continue
                elapsed = time.perf_counter() - began
                if kind.endswith(REVALIDATED) and "etag" in answer.headers:
                    tags[url] = answer.headers["etag"]
                if answer.status_code not in (200, 304):
                    what = f"{kind} {answer.status_code}"
                    failures[what] = failures.get(what, 0) + 1
                    continue
                latencies.setdefault(kind, []).append(elapsed)
                if answer.headers.get("x-chart-cache") == "hit":
                    kept[kind] = kept.get(kind, 0) + 1

    await asyncio.gather(*(client(plan) for plan in plans))
    return {"latencies": latencies, "failures": failures, "kept": kept}
