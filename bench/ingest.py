"""Ingest throughput: our gateway path against a bare paho subscriber, same broker, same run.

Run ``python -m bench.ingest [--devices N] [--messages M] [--rules] [--json-only]``. One JSON
object goes to stdout at the end; progress goes to stderr.

What is compared
    bare   a paho-mqtt 2.x client (VERSION2 callbacks, MQTT 3.1.1, QoS 1, auto-ack, network
           loop in its thread) that only counts messages;
    ours   the real `Gateway` with `StoreWriter(DuckDBStore(<tmp file>))`: decode, validate,
           store in DuckDB, then acknowledge (DESIGN.md, delivery guarantees). It counts when
           `gateway.stats.acked` reaches M, and the store must then hold exactly M * 3 readings,
           or the bench fails.

Method, and why it is fair on a 2-core machine
    1. One mosquitto (`demo_broker.MosquittoProcess`) on loopback. Three persistent sessions
       are registered first (clean session off, the gateway's own topic filters, QoS 1, then
       disconnect): bare-before, the gateway's client id, bare-after.
    2. N simulated devices publish M canonical telemetry messages at QoS 1 from a few paho
       clients, as fast as the broker takes them, and the bench waits for every PUBACK. All
       subscribers are offline, so the broker queues a copy of each message for each session
       and the publishers' CPU is never inside a measurement.
    3. Each subscriber then drains its backlog alone, in its own spawned child process, in the
       order bare-before, ours, bare-after. The clock runs from the subscriber's connect to its
       M-th message (bare) or M-th acknowledgement (ours), so both include the same session
       resumption. Bracketing ours between two bare runs means neither side gets a warmer or
       emptier broker, and the gap between the two bare figures shows the run's noise; the
       bare rate reported is their mean.
    4. A child process per subscriber makes each peak RSS that subscriber's own, without the
       bench's publishers or the other side's libraries: the bare child imports only paho, ours
       what the gateway needs (pydantic, numpy, pyarrow, DuckDB). The peak is the child's
       VmHWM, not `ru_maxrss`, which Linux carries over the exec from the forking parent.
    Every phase has a deadline (M / 1000 msg/s, at least 60 s); missing it, a refused
    connection or a wrong reading count fails the bench (exit 1) with what was seen.
    `--profile FILE` writes a cProfile of the pipeline child's event-loop thread; it slows the
    pipeline (to about half here), so a profiled run's ratio is not a result (`"profiled"`).
    `--rules` adds what `canteen serve` does with each stored batch on the event loop: the rule
    engine judges it (one fridge's rules per device) and ticks; `"rules"` says so in the JSON.

The target (issue): pipeline / bare >= 0.5; the anchor is about 45 k msg/s for bare paho here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho

if TYPE_CHECKING:
    from core.config import SiteConfig
    from core.readings import ReadingBatch
    from gateway.service import Gateway

from bench.backlog import (
    GATEWAY_CLIENT_ID,
    HOST,
    SITE,
    TOPIC_PREFIX,
    BenchError,
    Plan,
    paho_client,
    publish_backlog,
    register_sessions,
    site_config,
    start_client,
    stop_client,
)

__all__ = ["BenchError", "Drain", "main", "run_bench", "site_config"]

BARE_BEFORE_ID = "bench-bare-before"
BARE_AFTER_ID = "bench-bare-after"
METRICS_PER_MESSAGE = 3  # temp_c, door_open, power_w
TARGET_RATIO = 0.5
# A phase slower than this is treated as hung: its timeout is M / this rate (at least 60 s).
SLOWEST_RATE_MSGS_S = 1000
# The pipeline's stop condition is polled; 2 ms is well under 0.1 % of a run of seconds.
ACK_POLL_S = 0.002


@dataclass(frozen=True, slots=True)
class Drain:
    """One subscriber draining its queued session: M messages in `seconds`, and its memory."""

    name: str
    messages: int
    seconds: float
    peak_rss_mb: float
    readings_stored: int = 0
    dead_letters: int = 0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


# -- the subscribers, each run in its own child process ------------------------------------------


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Not `ru_maxrss`: Linux carries it over execve, and spawn
    forks from the bench's process, so a child would report the parent's peak as its own."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # the high-water mark of this address space, in kB
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def drain_bare(plan: Plan, client_id: str) -> Drain:
    """The baseline: count messages in paho's callback, nothing else (paho acks QoS 1 itself)."""
    done = threading.Event()
    received = 0
    finished_at = 0.0

    def on_message(_c: paho.Client, _u: Any, _m: paho.MQTTMessage) -> None:
        nonlocal received, finished_at
        received += 1
        if received == plan.messages:
            finished_at = time.perf_counter()
            done.set()

    client = paho_client(client_id, clean_session=False)
    client.on_message = on_message
    started = time.perf_counter()
    start_client(client, plan.port, plan.timeout_s)
    # Subscribe again once connected, as the gateway does, so both do the same work.
    client.subscribe([(topic, 1) for topic in plan.filters])
    try:
        if not done.wait(plan.timeout_s):
            raise BenchError(f"received {received} of {plan.messages} in {plan.timeout_s:.0f} s")
    finally:
        stop_client(client)
    return Drain(client_id, plan.messages, finished_at - started, _peak_rss_mb())


def drain_pipeline(plan: Plan, rules: bool = False) -> Drain:
    """Ours: the real Gateway storing into DuckDB, with the rules on every batch if asked,
    optionally under cProfile."""
    if not plan.profile:
        return asyncio.run(_pipeline(plan, rules))
    import cProfile

    with cProfile.Profile() as profiler:
        drain = asyncio.run(_pipeline(plan, rules))
    profiler.dump_stats(plan.profile)
    return drain


async def _pipeline(plan: Plan, rules: bool) -> Drain:
    from core.clock import SystemClock
    from gateway.service import Gateway
    from ingest import DuckDBStore, StoreWriter

    store = DuckDBStore(plan.db_path)
    try:
        broker_url = f"mqtt://{HOST}:{plan.port}"
        config = site_config(plan.devices)
        writer = StoreWriter(store)
        if rules:
            writer.add_listener(_rules_on_every_batch(config))
        gateway = Gateway(config, writer, SystemClock(), broker_url=broker_url)
        started = time.perf_counter()
        running = asyncio.create_task(gateway.run(), name="bench-gateway")
        try:
            finished_at = await _until_acked(gateway, running, plan)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        seconds, letters = finished_at - started, sum(gateway.stats.dead_letters.values())
        rss, stored = _peak_rss_mb(), store.reading_count()
        return Drain("pipeline", plan.messages, seconds, rss, stored, letters)
    finally:
        store.close()


def _rules_on_every_batch(config: SiteConfig) -> Callable[[ReadingBatch], None]:
    """What `canteen serve` does with each stored batch on the event loop: the rule engine
    judges it, then ticks (the alerts service wakes for it). The findings go nowhere: the
    alert book and notifications are measured by bench.alerts."""
    from alerts.engine import RuleEngine
    from core.clock import SystemClock

    engine = RuleEngine(config, SystemClock())

    def judge(batch: ReadingBatch) -> None:
        engine.process(batch)
        engine.tick()

    return judge


async def _until_acked(gateway: Gateway, running: asyncio.Task[None], plan: Plan) -> float:
    expected, timeout_s = plan.messages, plan.timeout_s
    deadline = time.perf_counter() + timeout_s
    while gateway.stats.acked < expected:
        if running.done():
            running.result()  # raises the gateway's own error, if it has one
            raise BenchError("the gateway stopped before acknowledging every message")
        if time.perf_counter() > deadline:
            stats = gateway.stats
            raise BenchError(
                f"the gateway acknowledged {stats.acked} of {expected} messages in "
                f"{timeout_s:.0f} s (received {stats.messages}, dead letters "
                f"{dict(stats.dead_letters)}, store retries {stats.store_retries})"
            )
        await asyncio.sleep(ACK_POLL_S)
    return time.perf_counter()


def _child_main(target: Callable[..., Drain], conn: Connection, *args: Any) -> None:
    try:
        conn.send(("ok", target(*args)))
    except BaseException as exc:  # reported to the parent, which fails the bench with it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def in_child(name: str, target: Callable[..., Drain], *args: Any, timeout_s: float) -> Drain:
    """Run `target(*args)` in a fresh (spawned) interpreter and return its Drain."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(target, sender, *args), name=name)
    child.start()
    sender.close()
    try:
        # The child keeps its own timeout; the margin covers interpreter start and imports.
        if not receiver.poll(timeout_s + 30):
            raise BenchError(f"{name}: no result from the child within {timeout_s + 30:.0f} s")
        status, value = receiver.recv()
    except EOFError:
        raise BenchError(f"{name}: the child exited ({child.exitcode}) without a result") from None
    finally:
        child.join(10)
        if child.is_alive():
            child.terminate()
            child.join()
    if status != "ok":
        raise BenchError(f"{name}: {value}")
    assert isinstance(value, Drain)
    return value


# -- the run -------------------------------------------------------------------------------------


def run_bench(
    devices: int,
    messages: int,
    *,
    publishers: int,
    profile: str,
    say: Callable[[str], None],
    rules: bool = False,
) -> dict[str, Any]:
    from core.topics import TopicScheme
    from demo_broker.mosquitto import MosquittoProcess

    try:
        broker = MosquittoProcess().start()
    except (OSError, RuntimeError) as exc:
        raise BenchError(f"cannot start mosquitto: {exc}") from exc
    say(f"mosquitto on port {broker.port}")
    filters = tuple(TopicScheme(TOPIC_PREFIX).site_filters(SITE))
    timeout_s = max(60.0, messages / SLOWEST_RATE_MSGS_S)
    try:
        with tempfile.TemporaryDirectory(prefix="canteen-bench-") as tmp:
            db_path = str(Path(tmp) / "bench.duckdb")
            plan = Plan(broker.port, devices, messages, filters, timeout_s, db_path, profile)
            phases = _measure(plan, max(1, min(publishers, devices)), rules, say)
    finally:
        broker.stop()
    _verify(phases.ours, messages)
    return _report(plan, phases) | {"rules": rules}


@dataclass(frozen=True, slots=True)
class _Phases:
    published_s: float
    before: Drain
    ours: Drain
    after: Drain


def _measure(plan: Plan, publishers: int, rules: bool, say: Callable[[str], None]) -> _Phases:
    register_sessions(plan, [BARE_BEFORE_ID, GATEWAY_CLIENT_ID, BARE_AFTER_ID])
    say(f"publishing {plan.messages} messages from {plan.devices} devices, QoS 1")
    published_s = publish_backlog(plan, publishers)
    say(f"published and PUBACKed in {published_s:.2f} s: the three sessions hold the backlog")
    before = _drain("bare-before", say, drain_bare, plan, BARE_BEFORE_ID)
    ours = _drain("pipeline", say, drain_pipeline, plan, rules)
    after = _drain("bare-after", say, drain_bare, plan, BARE_AFTER_ID)
    return _Phases(published_s, before, ours, after)


def _drain(
    name: str, say: Callable[[str], None], target: Callable[..., Drain], plan: Plan, *args: Any
) -> Drain:
    say(f"{name}: draining its backlog in a child process")
    drain = in_child(name, target, plan, *args, timeout_s=plan.timeout_s)
    say(f"  {name}: {drain.rate:,.0f} msg/s, peak RSS {drain.peak_rss_mb:.0f} MB")
    return drain


def _verify(ours: Drain, messages: int) -> None:
    expected = messages * METRICS_PER_MESSAGE
    if ours.dead_letters:
        raise BenchError(f"the gateway dead-lettered {ours.dead_letters} bench messages")
    if ours.readings_stored != expected:
        raise BenchError(
            f"the store holds {ours.readings_stored} readings after {messages} acknowledged "
            f"messages; expected exactly {expected}"
        )


def _report(plan: Plan, phases: _Phases) -> dict[str, Any]:
    before, ours, after = phases.before, phases.ours, phases.after
    bare_rate = (before.rate + after.rate) / 2
    ratio = ours.rate / bare_rate
    return {
        "bare_paho_msgs_per_s": round(bare_rate),
        "pipeline_msgs_per_s": round(ours.rate),
        "ratio": round(ratio, 3),
        "peak_rss_mb": round(ours.peak_rss_mb, 1),
        "bare_peak_rss_mb": round(max(before.peak_rss_mb, after.peak_rss_mb), 1),
        "bare_runs_msgs_per_s": [round(before.rate), round(after.rate)],
        "pipeline_seconds": round(ours.seconds, 3),
        "pipeline_readings_per_s": round(ours.readings_stored / ours.seconds),
        "readings_stored": ours.readings_stored,
        "messages": plan.messages,
        "devices": plan.devices,
        "publish_msgs_per_s": round(plan.messages / phases.published_s),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "profiled": bool(plan.profile),
    }


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--devices", type=int, default=200, help="simulated devices (200)")
    parser.add_argument("--messages", type=int, default=200_000, help="messages in total (200000)")
    parser.add_argument("--publishers", type=int, default=4, help="publishing clients (4)")
    parser.add_argument("--json-only", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--rules", action="store_true", help="the rule engine on every stored batch, as serve"
    )
    parser.add_argument(
        "--profile", default="", metavar="FILE", help="write a cProfile of the pipeline child"
    )
    args = parser.parse_args(argv)
    if args.devices < 1 or args.messages < 1:
        parser.error("--devices and --messages must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)

    def say(line: str) -> None:
        if not args.json_only:
            print(line, file=sys.stderr, flush=True)

    try:
        report = run_bench(
            args.devices,
            args.messages,
            publishers=args.publishers,
            profile=args.profile,
            say=say,
            rules=args.rules,
        )
    except BenchError as exc:
        print(f"bench.ingest FAILED: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
