"""What `bench.dashboard` and `bench.dashboard_ab` read of the processes: the service's CPU
(its process tree), RSS, when its start-up work is done, and the CPU shares of the service,
the clients, the broker and the machine over a block; latency percentiles."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import psutil

__all__ = ["CpuShare", "broker_pids", "percentiles", "rss_mb", "settle", "tree_cpu_s"]

# Settled: the service's CPU under a tenth of a core for 3 s in a row (start-up work done).
SETTLED_CPU_SHARE = 0.1
SETTLED_FOR_S = 3.0


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
