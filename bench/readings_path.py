"""The readings path alone, split by step: publish -> broker -> gateway -> DuckDB -> hand-over.

`python -m bench.alerts_path --readings-rate 1000` runs it beside the alert path (or
``python -m bench.readings_path [--rate 1000] [--seconds 20]`` alone); one JSON object goes to
stdout. A Mosquitto on loopback, the real `Gateway` and `StoreWriter(DuckDBStore(<tmp file>))`
sharing one `core.stages.StageTimes`, as `canteen serve` wires them, and a listener in the
place of the rules that notes when each message's reading was handed over. A publisher in a
child process (its own interpreter: it does not share the gateway's GIL) sends `--rate`
canteen telemetry messages a second at QoS 1, paced in 10 ms steps, each with a time unique
to its device, and reports when it published each (`time.monotonic()`: one clock for every
process on Linux). The figures: publish -> handed over, per message (p50, p99, max), and the
service's own stage histograms (`/api/health` shows the same as `ingest_latency_ms`), so the
time between publish and the rules is split into broker + paho (publish -> received, the
remainder), inbox, linger, decode, queued, write_hop, write, handover. The listener itself is
cheap but not free: it runs where the rules would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.backlog import (
    SITE,
    TOPIC_PREFIX,
    BenchError,
    device_id,
    paho_client,
    site_config,
    start_client,
    stop_client,
    telemetry_payload,
)

_STEP_S = 0.01  # the publisher's pacing step
_DRAIN_TIMEOUT_S = 60.0


def _publish(port: int, rate: float, seconds: float, devices: int, out: Connection) -> None:
    """Child process: publish at `rate` for `seconds`; send back [(device, ts_ms, published)]."""
    client = paho_client("bench-readings-path-publisher", clean_session=True)
    client.max_inflight_messages_set(5_000)
    acked = [0]  # PUBACKs, counted by paho's thread

    def on_publish(*_args: Any) -> None:
        acked[0] += 1

    client.on_publish = on_publish
    start_client(client, port, 10.0)
    sent: list[tuple[int, int, float]] = []
    last_ts = [0] * devices
    begun = time.monotonic()
    try:
        index = 0
        while (now := time.monotonic()) - begun < seconds:
            due = int((now - begun) * rate) + 1
            while index < due:
                device = index % devices
                ts = max(time.time_ns() // 1_000_000, last_ts[device] + 1)
                last_ts[device] = ts
                topic = f"{TOPIC_PREFIX}/{SITE}/{device_id(device)}/telemetry"
                client.publish(topic, telemetry_payload(ts, index), qos=1)
                sent.append((device, ts, time.monotonic()))
                index += 1
            time.sleep(_STEP_S)
        # Disconnecting with messages still queued in paho would lose them: wait for the broker.
        deadline = time.monotonic() + _DRAIN_TIMEOUT_S
        while acked[0] < len(sent) and time.monotonic() < deadline:
            time.sleep(_STEP_S)
    finally:
        stop_client(client)
    out.send(sent)
    out.close()


async def _measure(
    port: int, work: Path, args: argparse.Namespace
) -> tuple[list[float], dict[str, Any] | None, int]:
    # Imported here: the publisher child needs none of the service's packages.
    from core.clock import SystemClock
    from core.readings import ReadingBatch
    from gateway import Gateway
    from ingest import DuckDBStore, StoreWriter

    store = DuckDBStore(work / "readings.duckdb")
    writer = StoreWriter(store)
    config = site_config(args.devices)
    if args.linger_ms is not None:
        gateway_settings = config.gateway.model_copy(update={"batch_linger_ms": args.linger_ms})
        config = config.model_copy(update={"gateway": gateway_settings})
    url = f"mqtt://127.0.0.1:{port}"
    # A version of the code from before the stamps (run from a copy of an older commit, to
    # compare) has no `stages`: its publish-to-handed figures still count.
    stages = getattr(writer, "stages", None)
    if stages is None:
        gateway = Gateway(config, writer, SystemClock(), broker_url=url)
    else:
        gateway = Gateway(config, writer, SystemClock(), broker_url=url, stages=stages)
    handed: dict[tuple[str, int], float] = {}

    def listener(batch: ReadingBatch) -> None:
        now = time.monotonic()
        for device, ts in zip(batch.device, batch.ts_ms.tolist(), strict=True):
            handed.setdefault((device, ts), now)

    writer.add_listener(listener)
    running = asyncio.create_task(gateway.run(), name="gateway")
    # The rollups settled on the service's timer, as `canteen serve` does (an older copy of the
    # code may have none: its writes then settle past their threshold).
    settling = asyncio.create_task(_settle_every(store), name="rollups")
    try:
        await _until(lambda: gateway.subscribed, 10.0, "the gateway's subscription")
        sent = await asyncio.to_thread(_run_publisher, port, args)
        try:
            await _until(lambda: gateway.stats.acked >= len(sent), _DRAIN_TIMEOUT_S, "drain")
        except BenchError:
            stats = gateway.stats
            raise BenchError(
                f"{stats.acked} of {len(sent)} messages acknowledged within "
                f"{_DRAIN_TIMEOUT_S:.0f} s ({stats.messages} received, {stats.stored} readings "
                f"stored, {gateway.pending()} waiting in the link)"
            ) from None
    finally:
        for task in (running, settling):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        store.close()
    latencies = [
        (handed[(device_id(device), ts)] - published) * 1000.0 for device, ts, published in sent
    ]
    return latencies, stages.snapshot() if stages is not None else None, len(sent)


async def _settle_every(store: Any) -> None:
    try:
        from ingest.duckdb_rollup_keeper import settle_every
    except ImportError:
        return
    await settle_every(store.settle_rollups)


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` (counters of another thread, nothing to await) until true."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"no {what} within {timeout_s:.0f} s")
        await asyncio.sleep(0.05)


def _run_publisher(port: int, args: argparse.Namespace) -> list[tuple[int, int, float]]:
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_publish, args=(port, args.rate, args.seconds, args.devices, sending)
    )
    child.start()
    sending.close()
    try:
        sent: list[tuple[int, int, float]] = receiving.recv()
    except EOFError as exc:
        raise BenchError("the publisher process ended without reporting") from exc
    finally:
        child.join(timeout=30)
    return sent


def run(args: argparse.Namespace) -> dict[str, Any]:
    from demo_broker.mosquitto import MosquittoProcess

    load_before = [round(x, 2) for x in os.getloadavg()]
    with (
        tempfile.TemporaryDirectory(prefix="bench-readings-path-") as tmp,
        MosquittoProcess() as broker,
    ):
        latencies, stages, sent = asyncio.run(_measure(broker.port, Path(tmp), args))
    ordered = sorted(latencies)
    return {
        "path": "publish > broker > gateway > DuckDB > handed to the listener (the rules' place)",
        "rate_msg_s": args.rate,
        "linger_ms": args.linger_ms,
        "messages": sent,
        "publish_to_handed_ms": {
            "p50": round(_quantile(ordered, 0.5), 1),
            "p99": round(_quantile(ordered, 0.99), 1),
            "max": round(ordered[-1], 1),
            "mean": round(statistics.fmean(ordered), 1),
        },
        "stages_ms": stages,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", type=int, default=200, help="simulated devices (200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="publishing time (20)")
    parser.add_argument(
        "--linger-ms", type=int, default=None, help="gateway.batch_linger_ms (the config's default)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.readings_path", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="messages a second (1000)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.devices < 1:
        parser.error("--rate and --seconds must be > 0, --devices >= 1")
    try:
        report = run(args)
    except BenchError as exc:
        print(f"bench.readings_path failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
