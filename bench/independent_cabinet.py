"""Tableware disinfection cabinets for scoring the disinfection register, written apart from
`firmware_sim.models.heated`: one cycle after each meal, some of them spoiled, and the
readings delivered live, late or in a catch-up burst.

The chamber is one lumped node. Its heater drives it towards the temperature its power could
reach against the losses (`T_amb + P / UA`); an infrared cabinet's thermostat clips it at its
setpoint with a small ripple, a steam chamber sits at the boiling point while water boils. When
the programme ends (or is aborted) the heater stops and the chamber cools towards the kitchen.

What a meal's cycle is planned to be (a fixed share of each, drawn per meal); whether it was
spoiled is then read from the true chamber (`CabinetTrace.held_min`): an aborted programme that
still held long enough while the chamber cooled was not spoiled.

- compliant: the programme holds the chamber above the target for 12-25 min (10 min is the
  requirement: GB 17988 infrared ≥ 120 °C, 操作规范 steam 100 °C);
- missed: nobody starts it;
- aborted: the door is opened or the power cut after 2-7 min at temperature;
- under temperature: a failing element or low water: the plateau is 8-18 K short (infrared) or
  the steam chamber never boils (92-97 °C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

__all__ = [
    "Cabinet",
    "CabinetTrace",
    "CycleKind",
    "CyclePlan",
    "MealWindow",
    "draw_cabinet",
    "meal_windows",
    "plan_cycles",
    "simulate_cabinet",
]

F64 = npt.NDArray[np.float64]
STEP_S = 5.0
KITCHEN_C = 26.0  # a washing-up room (assumed)
BOILING_C = 100.0  # at sea level
REQUIRED_MIN = 10.0
SPOILED_SHARE = {"missed": 0.08, "aborted": 0.08, "under_temp": 0.08}  # the rest compliant


class CycleKind(StrEnum):
    COMPLIANT = "compliant"
    MISSED = "missed"
    ABORTED = "aborted"
    UNDER_TEMP = "under_temp"


@dataclass(frozen=True, slots=True)
class Cabinet:
    id: str
    method: str  # infrared | steam
    heater_w: float
    capacity_j_per_k: float
    loss_w_per_k: float
    setpoint_c: float  # infrared thermostat; steam boils at BOILING_C
    interval_s: float
    sigma_c: float
    resolution_c: float


@dataclass(frozen=True, slots=True)
class MealWindow:
    meal: str
    service_date: date
    end: datetime  # the meal's end: the window opens here


@dataclass(frozen=True, slots=True)
class CyclePlan:
    cabinet: str
    window: MealWindow
    kind: CycleKind
    start_s: float  # epoch seconds (nan when missed)
    hold_s: float  # programme time once at temperature
    plateau_c: float


def draw_cabinet(name: str, method: str, rng: np.random.Generator) -> Cabinet:
    """A cabinet of 1.5-3 kW (infrared) or 3-6 kW (steam), sized to heat up in 10-25 min."""
    infrared = method == "infrared"
    heater = rng.uniform(1500, 3000) if infrared else rng.uniform(3000, 6000)
    capacity = heater * rng.uniform(600, 1100) / ((125.0 if infrared else 100.0) - KITCHEN_C)
    return Cabinet(
        id=name,
        method=method,
        heater_w=heater,
        capacity_j_per_k=capacity,
        loss_w_per_k=heater / rng.uniform(150, 250),  # could reach 150-250 K above the room
        setpoint_c=rng.uniform(125, 135) if infrared else BOILING_C,
        interval_s=float(rng.choice([15.0, 30.0, 60.0])),
        sigma_c=rng.uniform(0.1, 0.4) if infrared else rng.uniform(0.05, 0.2),
        resolution_c=float(rng.choice([0.1, 0.5])),
    )


def meal_windows(
    meals: list[tuple[str, str, str]], first: date, days: int, zone: ZoneInfo
) -> list[MealWindow]:
    """Every meal (name, start, end as HH:MM local) of `days` days from `first`."""
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for name, _, end in meals:
            local = datetime.combine(day, time.fromisoformat(end), zone)
            out.append(MealWindow(name, day, local))
    return out


def plan_cycles(
    cabinet: Cabinet, windows: list[MealWindow], window_min: float, rng: np.random.Generator
) -> list[CyclePlan]:
    """One plan per meal: its kind, when it starts inside the window and how it runs."""
    kinds = [CycleKind.MISSED, CycleKind.ABORTED, CycleKind.UNDER_TEMP]
    shares = [SPOILED_SHARE[k.value] for k in kinds]
    plans = []
    for window in windows:
        u = rng.uniform()
        edges = np.cumsum(shares)
        kind = next((k for k, e in zip(kinds, edges, strict=True) if u < e), CycleKind.COMPLIANT)
        # Started 5 min after the meal at the earliest, early enough to finish in the window.
        start = window.end.timestamp() + rng.uniform(5, window_min - 45) * 60
        hold = rng.uniform(12, 25) * 60
        plateau = cabinet.setpoint_c
        if kind is CycleKind.ABORTED:
            hold = rng.uniform(2, 7) * 60
        elif kind is CycleKind.UNDER_TEMP:
            plateau = rng.uniform(92, 97) if cabinet.method == "steam" else 120 - rng.uniform(8, 18)
        if kind is CycleKind.MISSED:
            start = math.nan
        plans.append(CyclePlan(cabinet.id, window, kind, start, hold, plateau))
    return plans


@dataclass(frozen=True, slots=True)
class CabinetTrace:
    times: F64  # what the cabinet reports
    reported_c: F64
    true_times: F64  # the chamber every STEP_S
    true_c: F64

    def held_min(self, plan: CyclePlan, threshold_c: float) -> float:
        """The longest continuous time the true chamber spent at or above `threshold_c` from
        the plan's start to an hour after its programme, in minutes (0 when missed)."""
        if math.isnan(plan.start_s):
            return 0.0
        inside = (self.true_times >= plan.start_s) & (
            self.true_times < plan.start_s + plan.hold_s + 2 * 3600
        )
        hot = self.true_c[inside] >= threshold_c
        best = run = 0
        for flag in hot.tolist():
            run = run + 1 if flag else 0
            best = max(best, run)
        return best * STEP_S / 60


def simulate_cabinet(
    cabinet: Cabinet, plans: list[CyclePlan], start_s: float, end_s: float, seed: int
) -> CabinetTrace:
    """One cabinet over [start_s, end_s): what it reports and the true chamber."""
    rng = np.random.default_rng(seed)
    times = np.arange(start_s, end_s, STEP_S)
    heating = np.zeros(len(times), dtype=np.bool_)
    ceiling = np.full(len(times), cabinet.setpoint_c)
    for plan in plans:
        if math.isnan(plan.start_s):
            continue
        # Heat until the plateau is reached (estimated from the lumped node), then hold.
        rise = _time_to_reach(cabinet, plan.plateau_c)
        inside = (times >= plan.start_s) & (times < plan.start_s + rise + plan.hold_s)
        heating |= inside
        ceiling[inside] = plan.plateau_c
    temp = np.empty(len(times))
    level = KITCHEN_C
    c, ua, p = cabinet.capacity_j_per_k, cabinet.loss_w_per_k, cabinet.heater_w
    for i in range(len(times)):
        power = p if heating[i] else 0.0
        level += (power - ua * (level - KITCHEN_C)) * STEP_S / c
        level = min(level, ceiling[i]) if heating[i] else level
        temp[i] = level
    # An infrared thermostat hunts about its setpoint (assumed ±0.8 K); steam is pinned at boiling.
    hunting = 0.8 if cabinet.method == "infrared" else 0.0
    chamber = temp + np.where(heating, hunting * np.sin(times / 90.0), 0.0)
    every = max(1, round(cabinet.interval_s / STEP_S))
    picked = np.arange(int(rng.integers(0, every)), len(times), every)
    measured = chamber[picked] + rng.normal(0, cabinet.sigma_c, len(picked))
    steps = np.round(measured / cabinet.resolution_c) * cabinet.resolution_c
    return CabinetTrace(times[picked], steps, times, chamber)


def _time_to_reach(cabinet: Cabinet, target_c: float) -> float:
    """Heat-up time of the lumped node from the kitchen to `target_c`, in seconds."""
    ceiling = KITCHEN_C + cabinet.heater_w / cabinet.loss_w_per_k
    tau = cabinet.capacity_j_per_k / cabinet.loss_w_per_k
    return tau * math.log((ceiling - KITCHEN_C) / max(ceiling - target_c, 1e-6))
