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

Per phase (one per background rate): a publisher in its own process sends canonical telemetry
for `--devices` fridges at the rate (QoS 1, paced every 5 ms) and keeps going through the
phase; after a warm-up, this process publishes one crossing reading on a fresh probe device at
a time (QoS 1) and takes the time from just before `publish` to the receiver's arrival of the
`fired` notice naming that device; `--samples` of them, spaced `--gap` apart. Both instants are
`time.perf_counter()` in this process. Meanwhile the service's `readings_stored` (GET
/api/health) says how many background readings it stored, against what the publisher sent in
the same window (its ratio shows whether the service kept up, the same run's own baseline).

Targets (issue 13): p99 <= 100 ms at 1 k msg/s; p99 <= 250 ms at 10 k msg/s. A sample that does
not arrive within 10 s is counted as `missed` (the phase is not met, its p99 is null) and named on
stderr. The background comes from one publisher process per 2 k msg/s (`--publishers`), each with
its own share of the fridges and at most 5,000 messages unacknowledged, so `published_msg_s` is
what the broker took, not what was queued in the publisher.

`rules` per phase: the service's own figures (`/api/health` `rules`, alerts/pace.py) polled after
each crossing: how old background readings were when the rules judged them (`age_ms_*`: the
publisher stamps each reading with the wall clock just before publishing, so this is the
publish-to-rules lag), the rules' CPU time per reading (and wall time) and the share of a core
they took. `service_cpu`: the service process's CPU time in the sampling window
(`/proc`), its share of a core and that share per 1 k readings a second stored: what the
service spends on a reading, little changed by other jobs on the machine (unlike the latencies).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import duckdb
import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from demo_broker.mosquitto import MosquittoProcess, free_port

SITE = "bench-school"
PREFIX = "canteen/v1"
_ARRIVAL_TIMEOUT_S = 10.0
_START_TIMEOUT_S = 90.0
_TICK_S = 0.005  # the background publisher's pacing step
# Messages the background publisher lets be unacknowledged at once. paho scans its whole queue of
# waiting messages on each PUBACK, so publishing past the in-flight window without a bound grows
# that queue until the publisher itself stalls (it stopped near 11 k messages while counting
# 290 k as sent); with the bound, "published" is what the broker took.
_UNACKED = 5_000
TARGETS_MS = {1000: 100.0, 10000: 250.0}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the webhook receiver --------------------------------------------------------------------


class Receiver:
    """Records when the first `fired` notice naming each device arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.arrived_wall: dict[str, float] = {}  # time.time(), to compare with the service's
        self.requests = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, device: str, timeout_s: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: device in self.arrived, timeout_s)
            return self.arrived.get(device)

    def _record(self, body: bytes) -> None:
        at, wall = time.perf_counter(), time.time()
        data = json.loads(body)
        with self._changed:
            self.requests += 1
            if data.get("kind") in ("fired", "digest"):
                for alert in data.get("alerts", []):
                    self.arrived.setdefault(str(alert.get("device")), at)
                    self.arrived_wall.setdefault(str(alert.get("device")), wall)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._record(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# -- the service -----------------------------------------------------------------------------


def site_config(
    devices: int, probes: int, hook: str, linger_ms: float | None = None
) -> dict[str, Any]:
    fridge = {"kind": "fridge", "building": "canteen", "interval_s": 60}
    return {
        "site": {"id": SITE, "name": "Bench School", "timezone": "Asia/Shanghai"},
        "mqtt": {"topic_prefix": PREFIX, "client_id": "bench-alerts-gateway"},
        # Judged on the air probe; devices stay "online" for the whole run.
        "rules": {"judge_on": "air", "offline_min_s": 36000},
        # The gateway's batch linger (default 50 ms) as configured, or as the bench is told.
        **({"gateway": {"batch_linger_ms": linger_ms}} if linger_ms is not None else {}),
        "buildings": [{"id": "canteen", "name": "食堂", "kind": "canteen"}],
        "devices": [
            *({"id": f"bg-{i}", "name": f"背景 {i}", **fridge} for i in range(devices)),
            *(
                {
                    "id": f"probe-{i}",
                    "name": f"探测冷藏柜 {i}",
                    "location": "后厨",
                    "limits": {"alert_after_min": 0},
                    **fridge,
                }
                for i in range(probes)
            ),
        ],
        "notify": {
            "channels": {"hook": {"type": "webhook", "url": hook}},
            "people": {"bench": {"display_name": "Bench", "channels": ["hook"]}},
            "roles": {"cook_on_duty": {"default": ["bench"]}},
            "routes": [
                {"name": "all", "levels": [{"roles": ["cook_on_duty"]}], "reminder_every_min": None}
            ],
        },
    }


def start_service(
    work: Path, broker: MosquittoProcess, config: dict[str, Any]
) -> tuple[subprocess.Popen[bytes], str]:
    path = work / "site.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    port = free_port()
    log = (work / "service.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canteen",
            "--log-level",
            "warning",
            "serve",
            "--config",
            str(path),
            "--broker",
            broker.url,
            "--db",
            str(work / "bench.duckdb"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (work / "service.log").read_text()[-2000:]
            raise RuntimeError(f"canteen serve exited {proc.returncode}: {tail}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).json().get("broker_connected"):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the service did not come up in {_START_TIMEOUT_S:g} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the service; killed when it does not stop in time (a loaded machine)."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (Linux `/proc`), 0.0 where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_figures(cpu_s: float, elapsed_s: float, readings: int) -> dict[str, float | None]:
    """The service's CPU in the window: its share of a core, and that share per 1 k readings a
    second stored (what a reading costs it, whatever else runs on the machine)."""
    share = cpu_s / elapsed_s if elapsed_s > 0 else None
    per_k = cpu_s / readings * 1000 if readings > 0 else None
    return {
        "cpu_s": round(cpu_s, 2),
        "core_share": None if share is None else round(share, 3),
        "core_share_per_1k_msg_s": None if per_k is None else round(per_k, 3),
    }


def stored(base: str) -> int:
    return int(httpx.get(f"{base}/api/health", timeout=10).json()["readings_stored"])


def rules_figures(base: str) -> dict[str, Any]:
    """The service's own `rules` block of /api/health (alerts.pace), {} from a release
    without it."""
    figures = httpx.get(f"{base}/api/health", timeout=10).json().get("rules", {})
    return dict(figures) if isinstance(figures, dict) else {}


def rules_lag(seen: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rules' figures polled after each crossing, summed up: how old the readings were when
    judged (the median of the polls' p50 and the largest p99 and max: each poll covers the
    service's last 256 batches), the rules' own time per reading and share of a core."""
    polls = [f for f in seen if f.get("age_ms", {}).get("p50") is not None]
    if not polls:
        return {"polls": 0}

    def median(path: tuple[str, ...], digits: int = 1) -> float | None:
        values = [_dig(f, path) for f in polls]
        present = sorted(v for v in values if v is not None)
        return round(statistics.median(present), digits) if present else None

    def largest(path: tuple[str, ...]) -> float | None:
        present = [v for v in (_dig(f, path) for f in polls) if v is not None]
        return round(max(present), 1) if present else None

    return {
        "polls": len(polls),
        "age_ms_p50": median(("age_ms", "p50")),
        "age_ms_p99": largest(("age_ms", "p99")),
        "age_ms_max": largest(("age_ms", "max")),
        "judge_us_per_reading": median(("judge_us_per_reading",)),
        "judge_wall_us_per_reading": median(("judge_wall_us_per_reading",)),
        "busy_share": median(("busy_share",), 3),
        "findings_wait_ms_p99": largest(("findings_wait_ms", "p99")),
        "thread_hop_ms_p50": median(("thread_hop_ms", "p50")),
        "thread_hop_ms_p99": largest(("thread_hop_ms", "p99")),
        "alert_book_ms_p50": median(("alert_book_ms", "p50")),
        "alert_book_ms_p99": largest(("alert_book_ms", "p99")),
        "state_snapshot_ms": largest(("state_snapshot_ms",)),
    }


def _dig(figures: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = figures
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


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


def background(port: int, rate: float, devices: range, stop: MpEvent, sent: Any) -> None:
    """Publish `rate` msg/s of in-band telemetry over the fridges numbered `devices` until
    `stop`."""
    client = _client(port, f"bench-bg-{os.getpid()}")
    acked = [0]

    def on_publish(*_: object) -> None:
        acked[0] += 1

    client.on_publish = on_publish
    topics = [f"{PREFIX}/{SITE}/bg-{i}/telemetry" for i in devices]
    rng = random.Random(7)
    count, begun = 0, time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - begun) * rate)
        room = _UNACKED - (count - acked[0])
        for _ in range(max(0, min(due - count, room))):
            payload = {
                "ts": int(time.time() * 1000),
                "seq": count,
                "m": {"temp_c": round(rng.uniform(3.0, 5.0), 2)},
            }
            client.publish(topics[count % len(topics)], json.dumps(payload), qos=1)
            count += 1
        sent.value = count
        time.sleep(_TICK_S)
    client.disconnect()
    client.loop_stop()


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
    # One paho publisher reaches ~1.5-2 k QoS 1 msg/s here: several processes, each with its own
    # share of the fridges (so each fridge's readings keep their order), make up the rate.
    count = max(1, min(args.publishers or -(-rate // 2_000), args.devices))
    stop, sents = context.Event(), [context.Value("q", 0) for _ in range(count)]
    publishers = [
        context.Process(
            target=background,
            args=(port, rate / count, range(i, args.devices, count), stop, sents[i]),
        )
        for i in range(count)
    ]
    for publisher in publishers:
        publisher.start()

    def sent_total() -> int:
        return sum(int(s.value) for s in sents)

    probe = _client(port, f"bench-probe-{rate}")
    try:
        time.sleep(args.warmup)
        stored0, sent0, t0 = stored(base), sent_total(), time.perf_counter()
        cpu0 = cpu_seconds(service_pid)
        answers, polled = [], []
        for i in range(args.samples):
            answers.append(_sample(probe, receiver, f"probe-{first_probe + i}", published))
            polled.append(rules_figures(base))
        latencies = [a for a in answers if a is not None]
        elapsed = time.perf_counter() - t0
        stored1, sent1 = stored(base), sent_total()
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
    p99 = math.inf if missed or not ordered else _quantile(ordered, 0.99)
    return {
        "rate_target_msg_s": rate,
        "publisher_processes": count,
        "published_msg_s": round((sent1 - sent0) / elapsed, 1),
        "stored_msg_s": round((stored1 - stored0 - args.samples) / elapsed, 1),
        "background_stored_during_samples": stored1 - stored0 - args.samples,
        "background_published_during_samples": sent1 - sent0,
        "window_s": round(elapsed, 2),
        "service_cpu": _cpu_figures(cpu1 - cpu0, elapsed, stored1 - stored0),
        "latency_ms": _latency(ordered, None if math.isinf(p99) else p99),
        "rules": rules_lag(polled),
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
        "p50": round(_quantile(ordered, 0.5), 1),
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


# -- where the time goes -----------------------------------------------------------------


_STAGES_SQL = """
SELECT a.device, epoch_ms(o.created_at), epoch_ms(l."at"), l.latency_ms
FROM alerts a
JOIN outbox o ON list_contains(o.alert_ids, a.id) AND o.kind IN ('fired', 'digest')
JOIN delivery_log l ON l.notice_key = o."key" AND l.attempt = 1
WHERE a.device LIKE 'probe-%'
"""
STAGES = {
    "to_notice": "publish > gateway batch, DuckDB write, rules, alert book > the notice made",
    "to_send": "notice made > outbox persisted (with the alert) > handed to its lane > send begins",
    "send_to_received": "send begins > webhook request received by the receiver",
    "send_recorded": "the channel's own send time, as its delivery log row says",
}


def stage_timings(
    db: Path, published: dict[str, float], arrived: dict[str, float], devices: Sequence[str]
) -> dict[str, dict[str, float]]:
    """p50/p99 of each stage for `devices`, from the service's own stamps (the outbox's
    created_at, the delivery log's send start and latency; wall clock, UTC) and the bench's
    wall-clock publish and arrival instants. Read after the service stopped."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = {str(r[0]): r[1:] for r in con.execute(_STAGES_SQL).fetchall()}
    spans: dict[str, list[float]] = {name: [] for name in STAGES}
    for device in devices:
        if device not in rows or device not in arrived:
            continue
        made_ms, begun_ms, sent_ms = rows[device]
        spans["to_notice"].append(made_ms - published[device] * 1000.0)
        spans["to_send"].append(begun_ms - made_ms)
        spans["send_to_received"].append(arrived[device] * 1000.0 - begun_ms)
        spans["send_recorded"].append(float(sent_ms))
    return {
        name: {
            "n": len(values),
            "p50": round(_quantile(sorted(values), 0.5), 1),
            "p99": round(_quantile(sorted(values), 0.99), 1),
        }
        for name, values in spans.items()
        if values
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (the value below which q of the samples lie)."""
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return ordered[rank - 1]


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
            _stop(proc)
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
