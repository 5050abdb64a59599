"""Live-mode capacity of the simulator: how many devices at one reading per 30 s one process
keeps publishing on schedule, with bounded lag and memory.

Run ``python -m bench.sim_live [--population N] [--json-only]``; one JSON object goes to stdout.
`measure_live_devices_sustained()` returns the same dict (``bench.sim`` uses it).

Method
    1. A mosquitto on loopback (`demo_broker.mosquitto.MosquittoProcess`) and, in this
       process, a bare paho subscriber counting every telemetry message, so delivery is checked
       end to end.
    2. A spawned child process builds a real population of N devices (default 10 000: the
       issue's target) in buildings of 150 with the demo school's mix of kinds, every device
       reporting every 30 s, phases staggered over the interval as a real fleet is. It runs the
       real `Fleet`: bridges of 500 devices (one MQTT connection, one Last Will each) plus five
       devices on connections of their own. Every model is stepped to the start first, so the
       models' warm-up (hours of plant history) is not mistaken for publishing lag; that time
       is reported as `live_prime_s`.
    3. The fleet runs on a clock whose speed the bench sets. Simulated time running S times
       faster makes the N devices publish what N * S devices do in real time (N * S / 30 msg/s),
       through the same code: schedule heap, models, encoding, outbox, QoS 1 with broker
       acknowledgement.
    4. Warm-up, not measured: opening the connections takes a second or two of wall time, and
       the readings due meanwhile go out in one late burst once they are up (at 10 000 devices,
       some 600 readings more than a window's due, a p99 lag over 1 s). That is start-up, not a
       fleet that cannot keep up, so the fleet runs in real time from its start for at least
       `warmup_s` and until its outbox holds less than a second of traffic; the warm-up's
       figures are reported (`live_warmup`) and not judged.
    5. Then speeds double from 1 until a speed is not sustained, and the midpoint between the
       last sustained speed and that one is tried. Each speed gets `repeats` windows of
       `window_s` wall seconds, each started with the outbox drained, and is sustained when at
       least `min_passing` of them pass (default 2 of 3): one stall of the machine (the broker,
       the counter and the fleet share 2 cores) fails one window, not the figure.
    6. A window passes when the fleet published at least 95 % of the readings due in it, the
       99th percentile of lag (reading due -> broker PUBACK, in wall time) is at most 1 s, and
       the backlog at its end is under one second of traffic. `live_devices_sustained` is
       N * (fastest sustained speed); `live_msgs_per_s` and `live_lag_p99_s` are the medians of
       that speed's windows. Every window is in `live_windows` and each speed's verdict in
       `live_speeds`, so the spread is visible.
    Memory is measured on the real population, not extrapolated: `live_peak_rss_mb` is the
    child's VmHWM over the whole run, `live_rss_growth_mb` how much its RSS grew across the
    windows (flat when memory is bounded), `live_kb_per_device` the cost of building a device.
    Sustaining N * S devices for real would add about (N * S - N) * that per device. The whole
    run takes about two minutes here (2 cores shared with mosquitto and the counter).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

__all__ = [
    "LadderClock",
    "Plan",
    "Window",
    "main",
    "measure_live_devices_sustained",
    "sustained",
    "window_lines",
]

INTERVAL_S = 30.0
DEVICES_PER_BRIDGE = 500
OWN_CONNECTIONS = 5
DEVICES_PER_BUILDING = 150  # a school's sensors (DESIGN.md, scale-out)
# The demo school's mix: 7 cold rooms, 4 cabinets, 9 meters per 20 devices.
KIND_MIX = (
    ["fridge"] * 4
    + ["freezer"] * 2
    + ["sample_fridge"]
    + ["steam_cabinet"] * 2
    + ["disinfection_cabinet"] * 2
    + ["electricity_meter"] * 3
    + ["water_meter"] * 3
    + ["gas_meter"] * 3
)
BUILDING_KINDS = ("canteen", "teaching", "dormitory")
MIN_COMPLETION = 0.95
MAX_LAG_P99_S = 1.0
SPEEDS = (1, 2, 4, 8, 16, 32, 64)
REPEATS = 3  # windows per speed
MIN_PASSING = 2  # of them must pass for the speed to be sustained
WARMUP_S = 5.0  # at least this much real time from the fleet's start is not measured...
WARMUP_MAX_S = 30.0  # ...and at most this much waiting for the start-up burst to drain
PREFIX = "bench/live"
SITE = "district"


@dataclass(frozen=True, slots=True)
class Plan:
    """What to measure: the population, and the windows each speed gets."""

    population: int = 10_000
    window_s: float = 5.0
    repeats: int = REPEATS
    min_passing: int = MIN_PASSING

    @property
    def budget_s(self) -> float:
        """How long the child may take: build, prime and warm-up, then every window of every
        speed with a drain of up to 10 s before each."""
        return 120 + WARMUP_MAX_S + (len(SPEEDS) + 1) * self.repeats * (self.window_s + 10)


@dataclass(frozen=True, slots=True)
class Window:
    """One window at one speed: what was due, what went out, how late."""

    speed: float
    wall_s: float
    due: int
    published: int
    lag_p99_s: float
    lag_max_s: float
    backlog: int
    rss_mb: float

    @property
    def msgs_per_s(self) -> float:
        return self.published / self.wall_s

    @property
    def passed(self) -> bool:
        return (
            self.published >= MIN_COMPLETION * self.due
            and self.lag_p99_s <= MAX_LAG_P99_S
            and self.backlog <= self.due / self.wall_s
        )


def sustained(windows: list[Window], min_passing: int = MIN_PASSING) -> bool:
    """A speed is sustained when at least `min_passing` of its windows passed."""
    return sum(w.passed for w in windows) >= min_passing


class LadderClock:
    """Simulated time from `start` at a speed that can change while it runs; a change wakes
    every sleeper to recompute its wait at the new speed."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self._sim0, self._mono0, self._speed = start, time.monotonic(), speed
        self._changed = asyncio.Event()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        return self._sim0 + timedelta(seconds=(time.monotonic() - self._mono0) * self._speed)

    def set_speed(self, speed: float) -> None:
        self._sim0, self._mono0, self._speed = self.now(), time.monotonic(), speed
        self._changed.set()
        self._changed = asyncio.Event()

    def restart(self, start: datetime) -> None:
        """Simulated time back at `start`, from now on."""
        self._sim0, self._mono0 = start, time.monotonic()

    async def sleep(self, seconds: float) -> None:
        deadline = self.now() + timedelta(seconds=seconds)
        while (left := (deadline - self.now()).total_seconds()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left / self._speed)


# -- the child: the fleet under test -------------------------------------------------------------


def _site_config(population: int) -> Any:
    from core.config import SiteConfig

    buildings = -(-population // DEVICES_PER_BUILDING)
    return SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "Bench district"},
            "mqtt": {"topic_prefix": PREFIX},
            "buildings": [
                {"id": f"b{b}", "name": f"B{b}", "kind": BUILDING_KINDS[b % 3]}
                for b in range(buildings)
            ],
            "meals": [
                {"name": "breakfast", "start": "07:00", "end": "07:40"},
                {"name": "lunch", "start": "11:40", "end": "12:40"},
                {"name": "dinner", "start": "17:30", "end": "18:20"},
            ],
            "devices": [
                {
                    "id": f"d{i}",
                    "kind": KIND_MIX[i % len(KIND_MIX)],
                    "building": f"b{i // DEVICES_PER_BUILDING}",
                    "interval_s": INTERVAL_S,
                }
                for i in range(population)
            ],
        }
    )


def _rss_mb(field: str = "VmRSS") -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _figures(fleet: Any, speed: float, began: float, published_before: int) -> Window:
    """What the fleet did since `began` (monotonic) at `speed`; lag in wall time."""
    wall_s = time.monotonic() - began
    lag = fleet.stats.lag
    return Window(
        speed=speed,
        wall_s=wall_s,
        due=round(len(fleet.device_ids()) * wall_s * speed / INTERVAL_S),
        published=fleet.stats.total - published_before,
        lag_p99_s=lag.quantile_ms(0.99) / 1000 / speed,
        lag_max_s=lag.max_ms / 1000 / speed,
        backlog=fleet.backlog(),
        rss_mb=_rss_mb(),
    )


async def _warm_up(fleet: Any, clock: LadderClock, began: float) -> Window:
    """Real time from the fleet's start (`began`, monotonic, when its connections began to
    open) for at least WARMUP_S and until less than a second of traffic waits."""
    await asyncio.sleep(max(0.0, began + WARMUP_S - time.monotonic()))
    per_s = len(fleet.device_ids()) / INTERVAL_S
    await _drain(fleet, clock, at_most=round(per_s), limit_s=WARMUP_MAX_S - WARMUP_S)
    return _figures(fleet, clock.speed, began, 0)


async def _window(fleet: Any, clock: LadderClock, speed: float, wall_s: float) -> Window:
    await _drain(fleet, clock)
    clock.set_speed(speed)
    fleet.stats.lag.reset()
    before, began = fleet.stats.total, time.monotonic()
    await asyncio.sleep(wall_s)
    return _figures(fleet, speed, began, before)


async def _drain(fleet: Any, clock: LadderClock, at_most: int = 100, limit_s: float = 10.0) -> None:
    """Real time until at most `at_most` messages wait (for `limit_s` at most), so a window
    is not judged on the late readings a failed one left (after a pass, nothing waits)."""
    if fleet.backlog() <= at_most:
        return
    clock.set_speed(1.0)
    for _ in range(round(limit_s / 0.2)):
        await asyncio.sleep(0.2)
        if fleet.backlog() <= at_most:
            return


async def _ladder(
    fleet: Any, clock: LadderClock, window_s: float, repeats: int, min_passing: int
) -> list[Window]:
    async def at(speed: float) -> list[Window]:
        return [await _window(fleet, clock, speed, window_s) for _ in range(repeats)]

    windows: list[Window] = []
    last_sustained, first_not = 0.0, 0.0
    for speed in SPEEDS:
        tried = await at(speed)
        windows += tried
        if not sustained(tried, min_passing):
            first_not = speed
            break
        last_sustained = speed
    if last_sustained and first_not:
        windows += await at((last_sustained + first_not) / 2)
    return windows


def _speeds(windows: list[Window], min_passing: int) -> list[dict[str, Any]]:
    """Each speed tried, in order, with its verdict and the medians of its windows."""
    by_speed: dict[float, list[Window]] = {}
    for w in windows:
        by_speed.setdefault(w.speed, []).append(w)
    return [
        {
            "speed": speed,
            "passed": f"{sum(w.passed for w in tried)}/{len(tried)}",
            "sustained": sustained(tried, min_passing),
            "msgs_per_s_median": statistics.median(w.msgs_per_s for w in tried),
            "lag_p99_s_median": statistics.median(w.lag_p99_s for w in tried),
        }
        for speed, tried in by_speed.items()
    ]


async def _run_fleet(port: int, plan: Plan) -> dict[str, Any]:
    from firmware_sim import Fleet

    config = _site_config(plan.population)
    start = datetime.now(UTC).replace(microsecond=0)
    clock = LadderClock(start)
    rss_before, started = _rss_mb(), time.perf_counter()
    own = {d.id for d in config.devices[:OWN_CONNECTIONS]}
    url = f"mqtt://127.0.0.1:{port}"
    per_bridge = DEVICES_PER_BRIDGE
    fleet = Fleet(
        config, clock, url, devices_per_bridge=per_bridge, own_connection=own, stagger=True
    )
    build_s, rss_built = time.perf_counter() - started, _rss_mb()
    started = time.perf_counter()
    for device_id in fleet.device_ids():
        fleet.model(device_id).step_to(start)
    prime_s = time.perf_counter() - started
    clock.restart(start)  # priming took wall time the schedule must not count as lag
    began = time.monotonic()
    running = asyncio.create_task(fleet.run(), name="bench-fleet")
    try:
        await asyncio.wait_for(fleet.wait_online(), 60)
        online_s = time.monotonic() - began
        warmup = await _warm_up(fleet, clock, began)
        windows = await _ladder(fleet, clock, plan.window_s, plan.repeats, plan.min_passing)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running, 30)
    return {
        "online_s": online_s,
        "warmup": asdict(warmup),
        "windows": [asdict(w) | {"passed": w.passed} for w in windows],
        "speeds": _speeds(windows, plan.min_passing),
        "published": fleet.stats.total,
        "build_s": build_s,
        "prime_s": prime_s,
        "kb_per_device": (rss_built - rss_before) * 1024 / plan.population,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "connections": len(fleet.bridge_ids()) + OWN_CONNECTIONS,
    }


def _child(conn: Connection, port: int, plan: Plan) -> None:
    try:
        conn.send(asyncio.run(_run_fleet(port, plan)))
    except BaseException as exc:
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        conn.close()


# -- the parent: broker, counter, child, result --------------------------------------------------


class _Counter:
    """A bare paho subscriber counting telemetry messages (QoS 0: counting, not storing)."""

    def __init__(self, port: int) -> None:
        self.received = 0
        subscribed = threading.Event()
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"bench-live-count-{uuid.uuid4().hex[:6]}",
        )
        self._client.on_connect = lambda c, *_: c.subscribe(f"{PREFIX}/{SITE}/+/telemetry", 0)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._count
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the counting subscriber could not subscribe")

    def _count(self, _c: paho.Client, _u: Any, _m: paho.MQTTMessage) -> None:
        self.received += 1

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def measure_live_devices_sustained(
    population: int = 10_000,
    window_s: float = 5.0,
    repeats: int = REPEATS,
    min_passing: int = MIN_PASSING,
) -> dict[str, Any]:
    """See the module docstring. Needs mosquitto; takes about two minutes."""
    from demo_broker.mosquitto import MosquittoProcess

    plan = Plan(population, window_s, repeats, min_passing)
    with MosquittoProcess() as broker:
        counter = _Counter(broker.port)
        try:
            child = _run_child(broker.port, plan)
            deadline = time.monotonic() + 10
            while counter.received < child["published"] and time.monotonic() < deadline:
                time.sleep(0.05)
            received = counter.received
        finally:
            counter.close()
    return _result(child, plan, received)


def _run_child(port: int, plan: Plan) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child_end, port, plan), name="bench-live-fleet")
    process.start()
    child_end.close()
    try:
        if not parent_end.poll(plan.budget_s):
            raise RuntimeError(f"the fleet child did not report within {plan.budget_s:.0f} s")
        result: dict[str, Any] = parent_end.recv()
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    if "error" in result:
        raise RuntimeError(f"the fleet child failed: {result['error']}")
    return result


def _result(child: dict[str, Any], plan: Plan, received: int) -> dict[str, Any]:
    windows, speeds = child["windows"], child["speeds"]
    best = max((s for s in speeds if s["sustained"]), key=lambda s: s["speed"], default=None)
    rss = [w["rss_mb"] for w in windows]
    return {
        "live_devices_sustained": round(plan.population * best["speed"]) if best else 0,
        "live_msgs_per_s": round(best["msgs_per_s_median"], 1) if best else 0.0,
        "live_peak_rss_mb": round(child["peak_rss_mb"], 1),
        "live_population": plan.population,
        "live_speedup": best["speed"] if best else 0,
        "live_lag_p99_s": round(best["lag_p99_s_median"], 3) if best else None,
        "live_rss_growth_mb": round(max(rss) - min(rss), 1),
        "live_kb_per_device": round(child["kb_per_device"], 1),
        "live_build_s": round(child["build_s"], 1),
        "live_prime_s": round(child["prime_s"], 1),
        "live_online_s": round(child["online_s"], 1),
        "live_connections": child["connections"],
        "live_delivered_ratio": round(received / max(1, child["published"]), 4),
        "live_method": (
            f"{plan.repeats} windows of {plan.window_s:g} s per speed, sustained when"
            f" {plan.min_passing} pass; after a warm-up of {child['warmup']['wall_s']:.1f} s"
        ),
        "live_warmup": _rounded(child["warmup"]),
        "live_speeds": [_rounded(s) for s in speeds],
        "live_windows": [_rounded(w) for w in windows],
    }


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}


def window_lines(result: dict[str, Any]) -> list[str]:
    """The warm-up, every window and each speed's verdict, one line each, for a reader."""
    lines = ["warm-up (not judged): " + json.dumps(result["live_warmup"])]
    lines += ["window: " + json.dumps(w) for w in result["live_windows"]]
    lines += ["speed: " + json.dumps(s) for s in result["live_speeds"]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sim_live", description=__doc__)
    parser.add_argument("--population", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=5.0, help="wall seconds per window")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="windows per speed")
    parser.add_argument(
        "--min-passing", type=int, default=MIN_PASSING, help="passing windows a speed needs"
    )
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args(argv)
    result = measure_live_devices_sustained(
        args.population, args.window, args.repeats, args.min_passing
    )
    if not args.json_only:
        for line in window_lines(result):
            print(line, file=sys.stderr)
    print(
        json.dumps({k: v for k, v in result.items() if k != "live_windows" or not args.json_only})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
