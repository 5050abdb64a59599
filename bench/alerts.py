"""Alert latency under load: the publish of a reading that crosses a line to the webhook
request that tells someone, with background telemetry flowing.

Run ``python -m bench.alerts [--rates 1000,10000] [--samples 40] [--devices 1000]``. One JSON
object goes to stdout at the end; progress goes to stderr.

Setup, all real and on loopback: a Mosquitto (`demo_broker`), `canteen serve` as a child
process (gateway, DuckDB store, rules, notification planner, outbox and dispatcher, API), and a
webhook receiver in this process (a stdlib HTTP server) that the site config routes every
alert to. The probe fridges are judged on the air probe with no duration (`judge_on: air`,
`alert_after_min: 0`): one reading above 8 °C fires, so what is measured is the pipeline, not
a rule's waiting time.

Per phase (one per background rate): a publisher in its own process (`bench.publisher`, raw MQTT
3.1.1, a few hundredths of a core at 10 k msg/s) sends canonical telemetry for `--devices`
fridges at the rate (QoS 1, paced every 5 ms) and keeps going through the phase; after a
warm-up, this process publishes one crossing reading on a fresh probe device at a time (QoS 1)
and takes the time from just before `publish` to the receiver's arrival of the `fired` notice
naming that device; `--samples` of them, spaced `--gap` apart. Both instants are
`time.perf_counter()` in this process. Meanwhile the service's `readings_stored` (GET
/api/health) says how many background readings it stored, against what the publisher sent in the
same window (its ratio shows whether the service kept up, the same run's own baseline).

Targets (issue 13): p99 <= 100 ms at 1 k msg/s; p99 <= 250 ms at 10 k msg/s. A sample that does
not arrive within 10 s is counted as `missed` (the phase is not met, its p99 is null) and named on
stderr. The background comes from one publisher process (`--publishers` for more, each with its
own share of the fridges), at most 5,000 messages unacknowledged; `published_msg_s` counts the
PUBACKs, what the broker took, not what was queued in the publisher.

`rules` per phase: the service's own figures (`/api/health` `rules`, alerts/pace.py) polled after
each crossing: how old background readings were when the rules judged them (`age_ms_*`: the
publisher stamps each reading with the wall clock just before publishing, so this is the
publish-to-rules lag), the rules' CPU time per reading (and wall time) and the share of a core
they took. `service_cpu`: the service process's CPU time in the sampling window
(`/proc`), its share of a core and that share per 1 k readings a second stored: what the
service spends on a reading, little changed by other jobs on the machine (unlike the latencies).
`rules.alert_book_steps_ms`: the alert book's steps per batch that changed an alert (lock,
statements, plan, notices, commit). `ingest_ms`: the readings path's steps in the window
(`/api/health` `ingest_latency_ms`: batches and mean in the window, p99 and max since start).

The parts live beside this module: the webhook receiver (`bench.alerts_receiver`), the service
and its config (`bench.alerts_service`), the stages and figures (`bench.alerts_stages`).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.alerts_receiver import Receiver
from bench.alerts_service import (
    PREFIX,
    SITE,
    counted_health,
    cpu_figures,
    cpu_seconds,
    health,
    site_config,
    start_service,
    stop_service,
)
from bench.alerts_stages import STAGES, ingest_window, quantile, rules_lag, stage_timings
from bench.publisher import run_background
from demo_broker.mosquitto import MosquittoProcess

_ARRIVAL_TIMEOUT_S = 10.0
TARGETS_MS = {1000: 100.0, 10000: 250.0}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- publishers ------------------------------------------------------------------------------


def _client(port: int, name: str) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=name)
    client.max_inflight_messages_set(10_000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError(f"{name} could not connect to the broker")
    return client


def _topics(devices: range) -> list[str]:
    return [f"{PREFIX}/{SITE}/bg-{i}/telemetry" for i in devices]


# -- one phase -------------------------------------------------------------------------------


def phase(
    rate: int,
    args: argparse.Namespace,
    port: int,
    base: str,
    receiver: Receiver,
    first_probe: int,
    published: dict[str, float],
    service_pid: int,
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    # bench.publisher offers 10 k QoS 1 msg/s for a few hundredths of a core: one process is
    # enough; with more, each has its own share of the fridges (their readings keep order).
    count = max(1, min(args.publishers or 1, args.devices))
    stop = context.Event()
    sents, ackeds = (
        [context.Value("q", 0) for _ in range(count)],
        [context.Value("q", 0) for _ in range(count)],
    )
    publishers = [
        context.Process(
            target=run_background,
            args=(
                port,
                rate / count,
                _topics(range(i, args.devices, count)),
                stop,
                sents[i],
                ackeds[i],
            ),
        )
        for i in range(count)
    ]
    for publisher in publishers:
        publisher.start()

    def sent_total() -> int:
        """What the broker took (PUBACKs), not what was queued in the publishers."""
        return sum(int(a.value) for a in ackeds)

    probe = _client(port, f"bench-probe-{rate}")
    try:
        time.sleep(args.warmup)
        before = counted_health(base)
        stored0, sent0, t0 = int(before["readings_stored"]), sent_total(), time.perf_counter()
        cpu0 = cpu_seconds(service_pid)
        answers, polled = [], []
        for i in range(args.samples):
            answers.append(_sample(probe, receiver, f"probe-{first_probe + i}", published))
            polled.append(health(base).get("rules", {}))
        latencies = [a for a in answers if a is not None]
        elapsed = time.perf_counter() - t0
        after = counted_health(base)
        stored1, sent1 = int(after["readings_stored"]), sent_total()
        cpu1 = cpu_seconds(service_pid)
    finally:
        stop.set()
        for publisher in publishers:
            publisher.join(30)
        probe.disconnect()
        probe.loop_stop()
    # A crossing whose notice never came counts against the target, not out of the figures.
    missed = args.samples - len(latencies)
    ordered = sorted(latencies)
    target = TARGETS_MS.get(rate)
    p99 = math.inf if missed or not ordered else quantile(ordered, 0.99)
    return {
        "rate_target_msg_s": rate,
        "publisher_processes": count,
        "published_msg_s": round((sent1 - sent0) / elapsed, 1),
        "stored_msg_s": round((stored1 - stored0 - args.samples) / elapsed, 1),
        "background_stored_during_samples": stored1 - stored0 - args.samples,
        "background_published_during_samples": sent1 - sent0,
        "window_s": round(elapsed, 2),
        "service_cpu": cpu_figures(cpu1 - cpu0, elapsed, stored1 - stored0),
        "latency_ms": _latency(ordered, None if math.isinf(p99) else p99),
        "rules": rules_lag(polled),
        "ingest_ms": ingest_window(
            before.get("ingest_latency_ms", {}), after.get("ingest_latency_ms", {})
        ),
        "target_p99_ms": target,
        "missed": missed,
        "met": missed == 0 and (target is None or p99 <= target),
    }


def _latency(ordered: list[float], p99: float | None) -> dict[str, float | int | None]:
    """The arrivals' figures; p99 is None when a notice never came (the true p99 is unknown)."""
    if not ordered:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(ordered),
        "p50": round(quantile(ordered, 0.5), 1),
        "p99": None if p99 is None else round(p99, 1),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


def _sample(
    client: paho.Client, receiver: Receiver, device: str, published: dict[str, float]
) -> float | None:
    topic = f"{PREFIX}/{SITE}/{device}/telemetry"
    payload = json.dumps({"ts": int(time.time() * 1000), "seq": 1, "m": {"temp_c": 12.0}})
    published[device] = time.time()  # wall clock: the service's stamps are wall clock too
    begun = time.perf_counter()
    client.publish(topic, payload, qos=1)
    arrived = receiver.wait(device, _ARRIVAL_TIMEOUT_S)
    if arrived is None:
        say(f"no notice for {device} within {_ARRIVAL_TIMEOUT_S:g} s: counted as missed")
        return None
    time.sleep(0.2 + random.random() * 0.2)  # spaced, not in step with the publisher's tick
    return (arrived - begun) * 1000.0


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver()
    receiver.start()
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp, MosquittoProcess() as broker:
        work = Path(tmp)
        probes = args.samples * len(args.rates)
        config = site_config(args.devices, probes, receiver.url, args.linger_ms)
        say(f"starting canteen serve ({args.devices} background fridges, {probes} probes)")
        proc, base = start_service(work, broker, config)
        published: dict[str, float] = {}
        try:
            phases = []
            for index, rate in enumerate(args.rates):
                say(f"phase {rate} msg/s: {args.samples} crossings")
                first = index * args.samples
                phases.append(
                    phase(rate, args, broker.port, base, receiver, first, published, proc.pid)
                )
                say(json.dumps(phases[-1]["latency_ms"]))
        finally:
            stop_service(proc)
            receiver.stop()
        for index, result in enumerate(phases):
            devices = [f"probe-{index * args.samples + i}" for i in range(args.samples)]
            result["stages_ms"] = stage_timings(
                work / "bench.duckdb", published, receiver.arrived_wall, devices
            )
            say(f"{result['rate_target_msg_s']} msg/s stages: {json.dumps(result['stages_ms'])}")
    return {
        "bench": "alerts",
        "path": "publish (QoS 1) > broker > gateway > DuckDB > rules > planner > outbox > webhook",
        "devices": args.devices,
        "samples_per_phase": args.samples,
        "phases": phases,
        "met": all(p["met"] for p in phases),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "gateway_batch_linger_ms": args.linger_ms if args.linger_ms is not None else 50.0,
        "stages": STAGES,
    }


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alerts", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rates", default="1000,10000", help="background msg/s per phase")
    parser.add_argument("--samples", type=int, default=40, help="crossings per phase")
    parser.add_argument("--devices", type=int, default=1000, help="background fridges")
    parser.add_argument(
        "--linger-ms", type=float, default=None, help="gateway batch linger (default: config's)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before sampling")
    parser.add_argument(
        "--publishers",
        type=int,
        default=0,
        help="background publisher processes per phase (default: one per 2 k msg/s)",
    )
    args = parser.parse_args(argv)
    args.rates = [int(r) for r in str(args.rates).split(",") if r]
    if args.samples < 1 or not args.rates or min(args.rates) < 0:
        parser.error("--samples must be >= 1 and --rates a list of msg/s >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        report = run(args)
    except RuntimeError as exc:
        say(f"bench.alerts failed: {exc}")
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
