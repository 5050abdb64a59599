"""(b) of `bench.dashboard`: live fan-out. `--sse-clients` clients hold `/api/live` open in a
child process while readings are published through the broker and the real gateway at
`--rate` readings/s; each reading carries its publish time, `--lag-clients` of the clients
parse every event and record publish-to-receipt lag, all count events and whether they were
told to reload (fell behind)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import httpx

from bench.backlog import BenchError, paho_client, start_client, stop_client
from bench.dashboard_proc import CpuShare, broker_pids, percentiles, rss_mb
from bench.dashboard_store import PREFIX, SITE

__all__ = ["live_fanout", "publish_at_rate", "stored"]

CONNECT_TIMEOUT_S = 120.0  # for every SSE client to hold its snapshot, on a loaded machine
DRAIN_TIMEOUT_S = 180.0  # for the service to store what was published, after publishing
REQUEST_TIMEOUT_S = 120.0


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
