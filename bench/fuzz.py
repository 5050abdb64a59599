"""Fuzzing the running service: mixed good and hostile payloads through a real broker into
`canteen serve`. Good data beside bad must never be lost, and nothing may stop the service.

Run ``python -m bench.fuzz [--count N] [--seed S] [--json]``. Progress goes to stderr, the
report to stdout (one JSON object with ``--json``); the exit code is 1 when the service crashed
or a good reading was lost, 2 when the bench itself could not run.

Method
    1. One mosquitto (`demo_broker.MosquittoProcess`) on loopback. The gateway's persistent
       session, and one for a bare paho counter, are registered first, so both get every
       message even while the service restarts.
    2. `canteen serve` runs as a child process on a generated site (`bench.fuzz_payloads`:
       canonical devices of several kinds and devices mapped from Zigbee2MQTT, Tasmota and
       Shelly Gen2) with a DuckDB file in a temporary directory. `bench.fuzz_service` watches
       it: an exit is a crash, counted with its reason, and the service is started again on
       the same database, at most --max-restarts times. Its RSS (with children) is sampled.
    3. N messages of the seeded mix (`bench.fuzz_stream`) are published at QoS 1 from one
       paho client, as fast as the broker acknowledges them with at most --window in flight.
    4. The bench waits until the service has acknowledged all of them, or its counters stop
       moving for --quiet seconds, or the deadline passes, then stops it and counts the rows of
       its DuckDB file: per good device, the readings in the good time window must equal what
       was sent (each has a key of its own, so an overwrite cannot hide a loss).
    5. For context, the bare counter drains its copy of the same backlog in a child process
       (`bench.ingest.drain_bare`): the rate a subscriber doing nothing reaches on this broker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.backlog import HOST, BenchError, Plan, register_sessions
from bench.fuzz_payloads import DEVICES, GATEWAY_CLIENT_ID, SITE, TOPIC_PREFIX, site_document
from bench.fuzz_publish import Tally, WindowedPublisher
from bench.fuzz_report import count_store, judge, render
from bench.fuzz_service import ServiceUnderTest
from bench.fuzz_stream import WEIGHTS, FuzzStream
from bench.ingest import drain_bare, in_child

__all__ = ["main", "run_fuzz"]

BARE_ID = "bench-fuzz-bare"
SLOWEST_RATE_MSGS_S = 500  # below this the run is treated as hung: deadline N / this, >= 60 s


def run_fuzz(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    from demo_broker.mosquitto import MosquittoProcess, free_port

    try:
        broker = MosquittoProcess().start()
    except (OSError, RuntimeError) as exc:
        raise BenchError(f"cannot start mosquitto: {exc}") from exc
    say(f"mosquitto on port {broker.port}")
    try:
        with tempfile.TemporaryDirectory(prefix="canteen-fuzz-") as tmp:
            work = Path(tmp)
            plan = _plan(broker.port, args.count, work)
            register_sessions(plan, [GATEWAY_CLIENT_ID, *([BARE_ID] if args.baseline else [])])
            api = f"{HOST}:{free_port()}"
            command = _command(work, broker.url, plan.db_path, api)
            service = ServiceUnderTest(
                command, f"http://{api}", work, args.max_restarts, say, cwd=args.service_root
            )
            report = _exercise(args, plan, service, say)
            report["store"] = count_store(Path(plan.db_path), report.pop("good_window_ms"))
            report["bare_paho_msgs_per_s"] = _baseline(plan, say) if args.baseline else None
            if args.keep is not None:
                _keep(work, args.keep)
    finally:
        broker.stop()
    report["verdict"] = judge(report)
    return report


def _plan(port: int, count: int, work: Path) -> Plan:
    from core.config import SiteConfig
    from core.topics import TopicScheme
    from gateway.adapters import ForeignRouter

    document = site_document()
    config = SiteConfig.model_validate(document)  # a mistake here is the bench's: say it early
    (work / "site.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    filters = TopicScheme(TOPIC_PREFIX).site_filters(SITE) + ForeignRouter(config).filters()
    timeout_s = max(60.0, count / SLOWEST_RATE_MSGS_S)
    return Plan(port, len(DEVICES), count, tuple(filters), timeout_s, str(work / "fuzz.duckdb"))


def _command(work: Path, broker: str, db: str, api: str) -> list[str]:
    serve = ["serve", "--config", str(work / "site.yaml"), "--broker", broker, "--db", db]
    return [sys.executable, "-m", "canteen", "--log-level", "warning", *serve, "--listen", api]


def _exercise(
    args: argparse.Namespace, plan: Plan, service: ServiceUnderTest, say: Callable[[str], None]
) -> dict[str, Any]:
    service.start()
    say(f"canteen serve is up; publishing {args.count:,} messages (seed {args.seed})")
    stream = FuzzStream(args.seed, int(time.time() * 1000), args.exclude)
    tally = Tally()
    started = time.perf_counter()
    try:
        with WindowedPublisher(plan.port, args.window) as publisher:
            for message in stream.messages(args.count):
                publisher.publish(message.topic, message.payload)
                tally.add(message)
                if tally.messages % max(1, args.count // 10) == 0:
                    say(f"  published {tally.messages:,}, crashes so far {len(service.crashes)}")
            publisher.wait_all_acknowledged(plan.timeout_s)
        published_s = time.perf_counter() - started
        say(f"published in {published_s:.1f} s; waiting for the service to catch up")
        caught_up, last_progress = _settle(service, tally.messages, args.quiet, plan.timeout_s)
    finally:
        service.stop()
    elapsed = last_progress - started
    return {
        "seed": args.seed,
        "commit": _commit(args.service_root),
        "sent": tally.as_dict(),
        "published_s": round(published_s, 2),
        "elapsed_s": round(elapsed, 2),
        "msgs_per_s": round(tally.messages / elapsed) if caught_up else 0,
        "caught_up": caught_up,
        "service": service.totals(),
        "lifetimes": service.lifetimes,
        "crashes": [dataclasses.asdict(crash) for crash in service.crashes],
        "gave_up_restarting": service.gave_up,
        "peak_rss_mb": round(service.peak_rss_bytes / 2**20, 1),
        "good_window_ms": stream.clocks.good_window_ms,
    }


def _settle(
    service: ServiceUnderTest, sent: int, quiet_s: float, timeout_s: float
) -> tuple[bool, float]:
    """Wait until every message is acknowledged (True), or the counters have not moved for
    `quiet_s`, or the service is gone for good, or `timeout_s` passed (False). Also returns
    when the acknowledged count last moved (perf_counter)."""
    deadline = time.perf_counter() + timeout_s
    seen, moved_at = -1, time.perf_counter()
    while time.perf_counter() < deadline:
        acked = int(service.totals()["messages_acknowledged"])
        if acked >= sent:
            return True, time.perf_counter()
        if acked != seen:
            seen, moved_at = acked, time.perf_counter()
        elif time.perf_counter() - moved_at > quiet_s or (service.gave_up and not service.alive):
            return False, moved_at
        time.sleep(0.2)
    return False, moved_at


def _baseline(plan: Plan, say: Callable[[str], None]) -> int | None:
    """The bare paho counter's rate draining its copy of the same backlog, or None."""
    say("bare paho subscriber: draining the same backlog in a child process")
    try:
        drain = in_child("bare", drain_bare, plan, BARE_ID, timeout_s=plan.timeout_s)
    except BenchError as exc:
        say(f"  no baseline: {exc}")
        return None
    return round(drain.rate)


def _keep(work: Path, into: Path) -> None:
    """The service's logs, its DuckDB file and the site config, for a closer look."""
    into.mkdir(parents=True, exist_ok=True)
    for path in [*sorted(work.glob("service-*.log")), work / "fuzz.duckdb", work / "site.yaml"]:
        if path.exists():
            shutil.copy(path, into / path.name)


def _commit(root: Path | None) -> str:
    """The commit under test, marked when the service's packages have uncommitted changes."""
    git = ["git", "-C", str(root or Path.cwd())]
    packages = ["gateway", "ingest", "core", "canteen", "dashboard_api"]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", *packages], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"the source tree {root}" if root else "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--count", type=int, default=100_000, help="messages (100000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mix (1)")
    parser.add_argument("--window", type=int, default=1000, help="QoS 1 messages in flight (1000)")
    parser.add_argument(
        "--max-restarts", type=int, default=10, help="restarts of a crashed service (10)"
    )
    parser.add_argument(
        "--quiet", type=float, default=15.0, help="stop waiting after S s without progress (15)"
    )
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_false", help="skip the bare paho drain"
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--exclude",
        type=lambda text: frozenset(filter(None, text.split(","))),
        default=frozenset(),
        metavar="FAMILY,...",
        help="leave these families out (to see what else a crash hid)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="copy the service's logs, its DuckDB file and the site config here",
    )
    parser.add_argument(
        "--service-root",
        type=Path,
        help="run canteen serve from this source tree (e.g. another commit's `git archive`)",
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.window < 1 or args.max_restarts < 0:
        parser.error("--count and --window must be at least 1, --max-restarts at least 0")
    unknown = args.exclude - set(WEIGHTS)
    if unknown:
        parser.error(f"--exclude: unknown families {sorted(unknown)}; known: {', '.join(WEIGHTS)}")
    if args.service_root is not None:
        args.service_root = args.service_root.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        report = run_fuzz(args, say)
    except BenchError as exc:
        print(f"bench.fuzz could not run: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
