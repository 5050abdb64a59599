"""The service under the alert bench: its site config (background fridges, probe fridges that
fire on one reading, every alert routed to the bench's webhook), `canteen serve` started as a
child process on a real broker, and what the bench reads of it (readings stored, its CPU time,
its `/api/health` figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from demo_broker.mosquitto import MosquittoProcess, free_port

__all__ = [
    "PREFIX",
    "SITE",
    "counted_health",
    "cpu_figures",
    "cpu_seconds",
    "health",
    "site_config",
    "start_service",
    "stop_service",
    "stored",
]

SITE = "bench-school"
PREFIX = "canteen/v1"
_START_TIMEOUT_S = 90.0


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


def stop_service(proc: subprocess.Popen[bytes]) -> None:
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


def cpu_figures(cpu_s: float, elapsed_s: float, readings: int) -> dict[str, float | None]:
    """The service's CPU in the window: its share of a core, and that share per 1 k readings a
    second stored (what a reading costs it, whatever else runs on the machine)."""
    share = cpu_s / elapsed_s if elapsed_s > 0 else None
    per_k = cpu_s / readings * 1000 if readings > 0 else None
    return {
        "cpu_s": round(cpu_s, 2),
        "core_share": None if share is None else round(share, 3),
        "core_share_per_1k_msg_s": None if per_k is None else round(per_k, 3),
    }


def health(base: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The service's `/api/health` answer; {} when it did not answer in time (a service that
    cannot keep up answers late: the poll is lost, not the run)."""
    try:
        # The figures of this instant, not the answer the service keeps for a second.
        answer = httpx.get(
            f"{base}/api/health", headers={"Cache-Control": "no-cache"}, timeout=timeout_s
        ).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return dict(answer) if isinstance(answer, dict) else {}


def counted_health(base: str, attempts: int = 4) -> dict[str, Any]:
    """`/api/health` with its `readings_stored`, asked again (30 s each) while the service is
    too busy to answer; RuntimeError when it never does."""
    for _ in range(attempts):
        answer = health(base, timeout_s=30.0)
        if "readings_stored" in answer:
            return answer
    raise RuntimeError(f"the service did not answer /api/health in {attempts} x 30 s")


def stored(base: str) -> int:
    return int(counted_health(base)["readings_stored"])
