"""The disinfection register on independent cabinets, with the data arriving three ways:

- ``live``: each reading arrives at its own time;
- ``late``: the uplink's latency moves between 0 and 10 min every 2-20 min, so readings come
  late, in bursts, and out of order where the latency drops;
- ``catch-up``: once a day per cabinet the gateway is cut for 2-6 h from around a meal's end;
  what the cabinet buffered in that time arrives in one burst when the link returns (the
  device's history is still arriving; DESIGN.md, time: it must not be judged on the part that
  has not arrived).

Per mode: spoiled cycles flagged (a register line missed or incomplete), compliant cycles
flagged so (target 0), compliant cycles first unconfirmed (the cabinet really was silent, so
the notice was true) and then confirmed by its uploaded data, lines left unconfirmed at the
end, meals left without a verdict, and how long after its window closed a meal's first verdict
was written. Whether a cycle was spoiled is read from the true chamber, not from its plan.
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
    BOILING_C,
    REQUIRED_MIN,
    CycleKind,
    CyclePlan,
    MealWindow,
    draw_cabinet,
    meal_windows,
    plan_cycles,
    simulate_cabinet,
)
from core.clock import utc_from_ms
from core.rule_settings import RuleSettings

__all__ = ["MODES", "CabinetPlan", "arrival_times", "run_mode"]

MODES = ("live", "late", "catch-up")
LATE_MAX_S = 600.0
OUTAGE_S = (2 * 3600.0, 6 * 3600.0)
ZONE = ZoneInfo("Asia/Shanghai")
# A spoiled cycle is caught by a final non-compliant line; an unconfirmed one is a notice that
# the cabinet was silent, not a verdict on the cycle.
_FLAGGED = (DisinfectionStatus.MISSED, DisinfectionStatus.INCOMPLETE)


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
    held: list[tuple[CyclePlan, float]] = []
    out = Deliveries()
    steam_tolerance = RuleSettings().steam_tolerance_c
    for k, cabinet in enumerate(cabinets):
        cabinet_plans = plan_cycles(cabinet, windows, window_min, rng)
        trace = simulate_cabinet(cabinet, cabinet_plans, start_s, end_s, seed * 1000 + k)
        # The rule's thresholds: GB 17988 120 °C infrared; steam 100 °C less the documented
        # probe tolerance (core.rule_settings), since a steam chamber sits at boiling.
        threshold = 120.0 if cabinet.method == "infrared" else BOILING_C - steam_tolerance
        held += [(plan, trace.held_min(plan, threshold)) for plan in cabinet_plans]
        ms = np.round(trace.times * 1000).astype(np.int64)
        arrive = arrival_times(mode, trace.times, windows, link)
        out.add(cabinet.id, "temp_c", ms, trace.reported_c, arrive)
    replayed = replay(config, out, utc_from_ms(int(start_s * 1000)), utc_from_ms(int(end_s * 1000)))
    return _score(held, replayed, window_min)


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


def _score(
    held: list[tuple[CyclePlan, float]], replayed: Replayed, window_min: float
) -> dict[str, Any]:
    """Spoiled: the true chamber held the threshold less than `REQUIRED_MIN` - 1 min (or no
    cycle ran); compliant: at least `REQUIRED_MIN` + 1 min; in between is too close to call
    from sampled data and is only counted."""
    lines = {(r.device, r.meal, r.service_date): r for r in replayed.disinfection}
    by_kind: dict[str, dict[str, int]] = {
        k.value: {"meals": 0, "spoiled": 0, "flagged": 0} for k in CycleKind
    }
    counts = dict.fromkeys(
        (
            "spoiled",
            "spoiled_flagged",
            "spoiled_unconfirmed_first",
            "compliant",
            "compliant_flagged",
            "compliant_unconfirmed_then_confirmed",
            "unconfirmed_left",
        ),
        0,
    )
    borderline = unjudged = 0
    delays = []
    for plan, minutes in held:
        line = lines.get((plan.cabinet, plan.window.meal, plan.window.service_date))
        flagged = line is not None and line.status in _FLAGGED
        was_unconfirmed = line is not None and any(
            a["status"] == DisinfectionStatus.UNCONFIRMED.value for a in line.amendments
        )
        kind = by_kind[plan.kind.value]
        kind["meals"] += 1
        kind["flagged"] += flagged
        if line is None:
            unjudged += 1
        else:
            counts["unconfirmed_left"] += line.status is DisinfectionStatus.UNCONFIRMED
            closes = plan.window.end + timedelta(minutes=window_min)
            first = (
                datetime.fromisoformat(line.amendments[0]["decided_at"])
                if was_unconfirmed
                else line.decided_at
            )
            delays.append((first - closes).total_seconds() / 60)
        if minutes < REQUIRED_MIN - 1:
            kind["spoiled"] += 1
            counts["spoiled"] += 1
            counts["spoiled_flagged"] += flagged
            counts["spoiled_unconfirmed_first"] += was_unconfirmed
        elif minutes >= REQUIRED_MIN + 1:
            counts["compliant"] += 1
            counts["compliant_flagged"] += flagged
            counts["compliant_unconfirmed_then_confirmed"] += (
                was_unconfirmed and line is not None and line.status is DisinfectionStatus.COMPLIANT
            )
        else:
            borderline += 1
    return {
        **counts,
        "borderline": borderline,
        "unjudged": unjudged,
        "by_planned_kind": by_kind,
        "verdict_after_window_median_min": round(statistics.median(delays), 1) if delays else None,
        "verdict_after_window_max_min": round(max(delays), 1) if delays else None,
        "readings": replayed.readings,
    }
