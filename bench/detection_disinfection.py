"""The disinfection register on independent cabinets, with the data arriving three ways:

- ``live``: each reading arrives at its own time;
- ``late``: the uplink's latency moves between 0 and 10 min every 2-20 min, so readings come
  late, in bursts, and out of order where the latency drops;
- ``catch-up``: once a day per cabinet the gateway is cut for 2-6 h from around a meal's end;
  what the cabinet buffered in that time arrives in one burst when the link returns (the
  device's history is still arriving; DESIGN.md, time: it must not be judged on the part that
  has not arrived).

Per mode: spoiled cycles flagged (non-compliant register line), compliant cycles flagged, meals
left without a verdict, and how long after its window closed a meal's verdict was written.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from alerts import DisinfectionStatus
from bench.detection_replay import DEMO_MEALS, Deliveries, Replayed, replay, site_config
from bench.independent_cabinet import (
    CycleKind,
    CyclePlan,
    MealWindow,
    draw_cabinet,
    meal_windows,
    plan_cycles,
    simulate_cabinet,
)
from core.clock import utc_from_ms

__all__ = ["MODES", "CabinetPlan", "arrival_times", "run_mode"]

MODES = ("live", "late", "catch-up")
LATE_MAX_S = 600.0
OUTAGE_S = (2 * 3600.0, 6 * 3600.0)
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class CabinetPlan:
    days: int = 5
    infrared: int = 4
    steam: int = 4


def run_mode(mode: str, plan: CabinetPlan, seed: int, first: date) -> dict[str, Any]:
    # The same cabinets and cycles in every mode: only the delivery differs.
    rng = np.random.default_rng([seed, 0xD15])
    link = np.random.default_rng([seed, MODES.index(mode), 0x11A])
    cabinets = [draw_cabinet(f"infrared-{i}", "infrared", rng) for i in range(plan.infrared)]
    cabinets += [draw_cabinet(f"steam-{i}", "steam", rng) for i in range(plan.steam)]
    config = site_config(
        [
            {
                "id": c.id,
                "kind": "disinfection_cabinet",
                "method": c.method,
                "interval_s": c.interval_s,
            }
            for c in cabinets
        ],
        meals=True,
    )
    window_min = config.rules.disinfection_window_min
    windows = meal_windows(DEMO_MEALS, first, plan.days, ZONE)
    start_s = datetime.combine(first, time(0), ZONE).timestamp()
    end_s = windows[-1].end.timestamp() + 3 * 3600
    plans: list[CyclePlan] = []
    out = Deliveries()
    for k, cabinet in enumerate(cabinets):
        cabinet_plans = plan_cycles(cabinet, windows, window_min, rng)
        plans.extend(cabinet_plans)
        times, temps = simulate_cabinet(cabinet, cabinet_plans, start_s, end_s, seed * 1000 + k)
        ms = np.round(times * 1000).astype(np.int64)
        out.add(cabinet.id, "temp_c", ms, temps, arrival_times(mode, times, windows, link))
    replayed = replay(config, out, utc_from_ms(int(start_s * 1000)), utc_from_ms(int(end_s * 1000)))
    return _score(plans, replayed, window_min)


def arrival_times(
    mode: str, times: np.ndarray, windows: list[MealWindow], rng: np.random.Generator
) -> np.ndarray:
    """When each reading of a cabinet reaches the service (ms), by delivery mode."""
    if mode == "live":
        arrive = times
    elif mode == "late":
        arrive = times + _link_delay(times, rng)
    else:
        arrive = times.copy()
        per_day = len(DEMO_MEALS)
        for day in range(len(windows) // per_day):
            window = windows[day * per_day + int(rng.integers(per_day))]
            cut = window.end.timestamp() + rng.uniform(-1800, 1800)
            back = cut + rng.uniform(*OUTAGE_S)
            arrive[(times >= cut) & (times < back)] = back
    return np.round(np.asarray(arrive) * 1000).astype(np.int64)


def _link_delay(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A gateway uplink whose latency changes every 2-20 min to a new 0-10 min: readings come
    in bursts, and where the latency drops, newer readings overtake older ones."""
    delay = np.empty(len(times))
    edge, level = float(times[0]), 0.0
    for i, t in enumerate(times.tolist()):
        if t >= edge:
            edge, level = t + rng.uniform(120, 1200), rng.uniform(0, LATE_MAX_S)
        delay[i] = level
    return delay


def _score(plans: list[CyclePlan], replayed: Replayed, window_min: float) -> dict[str, Any]:
    lines = {(r.device, r.meal, r.service_date): r for r in replayed.disinfection}
    by_kind: dict[str, dict[str, int]] = {k.value: {"meals": 0, "flagged": 0} for k in CycleKind}
    unjudged = 0
    delays = []
    for plan in plans:
        line = lines.get((plan.cabinet, plan.window.meal, plan.window.service_date))
        counts = by_kind[plan.kind.value]
        counts["meals"] += 1
        if line is None:
            unjudged += 1
            continue
        counts["flagged"] += line.status is not DisinfectionStatus.COMPLIANT
        closes = plan.window.end + timedelta(minutes=window_min)
        delays.append((line.decided_at - closes).total_seconds() / 60)
    spoiled = [v for k, v in by_kind.items() if k != CycleKind.COMPLIANT.value]
    return {
        "spoiled": sum(v["meals"] for v in spoiled),
        "spoiled_flagged": sum(v["flagged"] for v in spoiled),
        "compliant": by_kind[CycleKind.COMPLIANT.value]["meals"],
        "compliant_flagged": by_kind[CycleKind.COMPLIANT.value]["flagged"],
        "unjudged": unjudged,
        "by_kind": by_kind,
        "verdict_after_window_median_min": round(statistics.median(delays), 1) if delays else None,
        "verdict_after_window_max_min": round(max(delays), 1) if delays else None,
        "readings": replayed.readings,
    }
