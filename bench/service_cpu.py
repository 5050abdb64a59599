"""What a message costs the running service in CPU, in total, per thread and per stage.

Run ``python -m bench.service_cpu [--rates 1000,3000] [--seconds 20] [--spy]``; one JSON object
goes to stdout, progress to stderr.

Per rate: a loopback Mosquitto, `canteen serve` as a child process with `bench.alerts`'s site
(`--devices` background fridges, rules on, notifications to a webhook receiver in this process)
and `bench.publisher` offering the rate at QoS 1 from its own process (~4 us of CPU a message, so
the publisher leaves the cores to the service). After `--warmup` seconds the service's CPU
time is read from `/proc` (the process and each of its threads) over `--seconds`, beside the
readings it stored meanwhile (`/api/health`): `service_us_per_msg` is its CPU per reading
stored, `main_us_per_msg` the event loop thread's share, `threads_us_per_msg` every thread's.

With `--spy`, `py-spy record` samples the service over the same window and each thread's CPU is
split between the stages its samples fall in (`stages_us_per_msg`): MQTT receive and parse, the
PUBACKs, JSON parse, validation, decode (routing, batches), the readings' DuckDB write, the rollup
settle, the rules by family and their dispatch, the live hub, the chart warmer, the alert book.
A sample counts for the first stage in `STAGES` that one of its frames names; samples of a
thread waiting in `select` are left out. Sampling costs the service little (py-spy reads its
memory from outside) but the split is a sample, not a measurement: compare runs of one kind.

CPU per message depends on the batch sizes (a DuckDB transaction's cost is mostly fixed), so it
falls when the service is behind, and on the load of the machine: report `load` beside it.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.alerts_receiver import Receiver
from bench.alerts_service import site_config, start_service
from bench.publisher import device_topics, run_background
from demo_broker.mosquitto import MosquittoProcess

# (stage, frame substrings), first match wins: specific before general.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("charts (warmer)", ("chart-warmer", "ChartCache", "chart_")),
    ("rollup settle", ("settle_rollups", "duckdb_rollup")),
    ("duckdb write", ("DuckDBStore.write", "KeylessWriter", "duckdb_write")),
    ("alert book, outbox", ("AlertBook", "alerts/lifecycle", "alerts/notify", "alerts/store")),
    ("mqtt receive, parse", ("BrokerLink._read", "_read_ready", "mqtt_wire", "paho")),
    ("pubacks", ("BrokerLink.ack",)),
    ("json parse", ("decode_json",)),
    ("validation", ("_decode_item", "_metric_value", "parse_ts")),
    ("batches (merge, build)", ("merged", "readings_of", "ReadingBatchBuilder.build")),
    ("decode other", ("Gateway._decode_loop", "MessageDecoder")),
    ("rule: door seal", ("SealRule", "CycleInference", "rules/seal_")),
    ("rule: excursion", ("ExcursionRule", "ProductEstimate", "rules/threshold")),
    ("rule: sensor", ("SensorFaultRule",)),
    ("rule: disturbances", ("Disturbances",)),
    (
        "rules: dispatch, other rules",
        ("RuleEngine", "samples_by_device", "DeviceRules", "AlertService.on_batch"),
    ),
    ("live hub", ("LiveHub",)),
    ("api", ("uvicorn", "starlette", "fastapi")),
    ("store writer, hops", ("StoreWriter", "to_thread", "run_in_executor")),
)
_IDLE = ("EpollSelector.select", "Condition.wait", "Event.wait")
# The count of this instant, not the /api/health answer the service keeps for a second.
_FRESH = {"Cache-Control": "no-cache"}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of `pid` (Linux `/proc`)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def stored(base: str) -> int:
    """Readings stored so far; a service busy past a timeout is asked again."""
    for _ in range(5):
        try:
            answer = httpx.get(f"{base}/api/health", headers=_FRESH, timeout=30)
            return int(answer.json()["readings_stored"])
        except httpx.HTTPError as exc:
            say(f"health did not answer ({exc}); asking again")
    raise RuntimeError("the service's /api/health did not answer in 150 s")


def stage_split(raw: Path, us_per_thread: dict[int, float]) -> dict[str, float]:
    """Each thread's CPU per message spread over the stages of its py-spy samples."""
    counts: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw.read_text().splitlines():
        found = re.match(r"thread \((\d+)\)", line)
        stack, _, number = line.rpartition(" ")
        if found is None or not number.isdigit():
            continue
        frames = stack.split(";")
        if any(idle in frames[-1] for idle in _IDLE):
            continue
        stage = next(
            (name for name, marks in STAGES if any(m in f for f in frames for m in marks)),
            "event loop, other",
        )
        counts[int(found.group(1))][stage] += int(number)
    split: dict[str, float] = collections.defaultdict(float)
    for tid, us in us_per_thread.items():
        seen = counts.get(tid)
        if not seen:
            split["native threads (DuckDB)"] += us
            continue
        total = sum(seen.values())
        for stage, count in seen.items():
            split[stage] += us * count / total
    return {k: round(v, 1) for k, v in sorted(split.items(), key=lambda kv: -kv[1])}


def measure(rate: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    receiver = Receiver()
    receiver.start()
    context = multiprocessing.get_context("spawn")
    with MosquittoProcess() as broker:
        proc, base = start_service(work, broker, site_config(args.devices, 1, receiver.url))
        stop, sent, acked = context.Event(), context.Value("q", 0), context.Value("q", 0)
        reports = context.Queue()
        topics = device_topics(
            "canteen/v1", "bench-school", [f"bg-{i}" for i in range(args.devices)]
        )
        publisher = context.Process(
            target=run_background, args=(broker.port, rate, topics, stop, sent, acked, 1, reports)
        )
        try:
            publisher.start()
            time.sleep(args.warmup)
            stored0, acked0, threads0 = stored(base), acked.value, thread_cpu(proc.pid)
            load0, begun = os.getloadavg()[0], time.perf_counter()
            raw = work / f"spy-{rate}.txt"
            if args.spy:
                _spy(proc.pid, args.seconds, raw)
            else:
                time.sleep(args.seconds)
            stored1, acked1, threads1 = stored(base), acked.value, thread_cpu(proc.pid)
            elapsed = time.perf_counter() - begun
        finally:
            stop.set()
            try:
                report = reports.get(timeout=60)
            except Exception as exc:  # the publisher died: say how, keep the service's figures
                report = {"error": repr(exc)}
            publisher.join(60)
            proc.terminate()
            proc.wait(60)
            receiver.stop()
    readings = max(1, stored1 - stored0)
    us = {t: (c - threads0.get(t, 0.0)) / readings * 1e6 for t, c in threads1.items()}
    result: dict[str, Any] = {
        "rate_asked": rate,
        "broker_took_msg_s": round((acked1 - acked0) / elapsed),
        "stored_msg_s": round((stored1 - stored0) / elapsed),
        "service_cores": round(sum(us.values()) * readings / 1e6 / elapsed, 3),
        "service_us_per_msg": round(sum(us.values()), 1),
        "main_us_per_msg": round(us.get(proc.pid, 0.0), 1),
        "threads_us_per_msg": {str(t): round(v, 1) for t, v in sorted(us.items()) if v >= 0.5},
        "publisher": report,
        "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    if args.spy and raw.exists():
        result["stages_us_per_msg"] = stage_split(raw, us)
    return result


def _spy(pid: int, seconds: float, out: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    subprocess.run(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            "--threads",
        ],
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service_cpu", description=__doc__)
    parser.add_argument("--rates", default="1000,3000", help="msg/s offered, one run each")
    parser.add_argument("--seconds", type=float, default=20.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--devices", type=int, default=1000, help="background fridges")
    parser.add_argument("--spy", action="store_true", help="split the CPU by stage (py-spy)")
    args = parser.parse_args()
    runs = []
    for rate in (int(r) for r in args.rates.split(",")):
        say(f"{rate} msg/s: starting")
        with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
            runs.append(measure(rate, args, Path(tmp)))
        say(
            json.dumps(
                {k: runs[-1][k] for k in ("rate_asked", "stored_msg_s", "service_us_per_msg")}
            )
        )
    print(json.dumps({"runs": runs, "cpus": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
