"""Steam cabinets (rice steamers) and tableware disinfection cabinets: a heated chamber run by a
programme that the canteen timetable starts.

The chamber is one thermal node heated by an electric element and losing heat to the kitchen::

    C dT/dt = P_heater [on] - (UA_loss + UA_vent [venting]) (T - T_amb)

A steam chamber is open to the air, so it cannot rise above the boiling point; its element runs
throughout the programme and the surplus leaves as steam. A dry-heat (infrared) chamber has a
thermostat that holds it in a band above the target. A programme heats the chamber, holds it at
or above the target for the hold time, then stops and vents (door opened to unload, or a cooling
fan), after which the chamber cools towards the kitchen.

Parameter values are assumptions for commercial units (no data sheet behind them) chosen so that
heat-up takes 15-25 min, as vendors describe; a worn seal (a later fault) raises UA_loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from core.model import Device
from firmware_sim.models.base import GridModel, Hysteresis, Metrics, quantise
from firmware_sim.models.calendar import KITCHEN_AMBIENT_C, SiteDay

__all__ = [
    "BOILING_C",
    "ChamberParams",
    "HeatedCabinetModel",
    "ProgrammeParams",
    "ProgrammeStage",
]

BOILING_C = 100.0  # at sea level; a site at altitude boils lower (not modelled)
# A programme that has not finished after this long is abandoned (a failed element).
MAX_PROGRAMME_S = 2 * 3600.0


@dataclass(frozen=True, slots=True)
class ChamberParams:
    heater_w: float
    capacity_j_per_k: float
    loss_ua_w_per_k: float
    vent_ua_w_per_k: float  # extra loss while venting after a programme
    vent_s: float
    # None: a steam chamber (element on throughout, capped at the boiling point).
    thermostat: Hysteresis | None
    standby_w: float = 5.0
    sensor_sigma_c: float = 0.2


@dataclass(frozen=True, slots=True)
class ProgrammeParams:
    """When a programme starts (minutes from a meal's start or end) and what it must hold."""

    anchor: Literal["start", "end"]
    offset_min: tuple[float, float]  # drawn uniformly per cycle
    target_c: float
    hold_s: float
    reports_cycles: bool  # whether the controller publishes cycle_start / cycle_end events
    method: str


class ProgrammeStage(StrEnum):
    IDLE = "idle"
    HEATING = "heating"
    HOLDING = "holding"


class HeatedCabinetModel(GridModel):
    """Reports temp_c and power_w; disinfection cabinets also emit cycle events."""

    def __init__(
        self,
        device: Device,
        chamber: ChamberParams,
        programme: ProgrammeParams,
        site_day: SiteDay,
        seed: int,
    ) -> None:
        super().__init__(device, seed)
        self.chamber = chamber
        self.programme = programme
        self._day = site_day
        self.stage = ProgrammeStage.IDLE
        self._temp = 0.0
        self._heater = False
        self._vent_until = 0.0
        self._next: tuple[float, str] | None = None  # (start, meal name)
        self._cycle = 0
        self._meal = ""
        self._started = self._hold_started = 0.0
        self._above_s = 0.0
        self._max_c = 0.0

    def _begin(self, t: float) -> None:
        self._temp = self._ambient(t)
        self._plan_after(t)

    def _advance(self, t: float, dt: float) -> None:
        if self._next is not None and t >= self._next[0]:
            if self.stage is ProgrammeStage.IDLE:
                self._start(t, self._next[1])
            self._plan_after(t)
        if self.stage is not ProgrammeStage.IDLE:
            self._run_programme(t, dt)
        self._integrate(t, dt)

    def _plan_after(self, t: float) -> None:
        low, high = self.programme.offset_min
        offset_s = float(self._plant.uniform(low, high)) * 60.0
        edge = self._day.next_meal_edge(t - offset_s, self.programme.anchor)
        self._next = None if edge is None else (edge[0] + offset_s, edge[1].name)

    def _start(self, t: float, meal: str) -> None:
        self.stage = ProgrammeStage.HEATING
        self._cycle += 1
        self._meal = meal
        self._started, self._above_s, self._max_c = t, 0.0, self._temp
        self._heater = True
        if self.programme.reports_cycles:
            p = self.programme
            self._emit(
                t, "cycle_start", cycle=self._cycle, meal=meal, method=p.method, target_c=p.target_c
            )

    def _run_programme(self, t: float, dt: float) -> None:
        at_target = self._temp >= self._hold_threshold()
        if at_target:
            self._above_s += dt
        if self.stage is ProgrammeStage.HEATING and at_target:
            self.stage, self._hold_started = ProgrammeStage.HOLDING, t
        held_long_enough = (
            self.stage is ProgrammeStage.HOLDING and t - self._hold_started >= self.programme.hold_s
        )
        if held_long_enough or t - self._started >= MAX_PROGRAMME_S:
            self._finish(t)
            return
        thermostat = self.chamber.thermostat
        self._heater = True if thermostat is None else thermostat.heating(self._temp, self._heater)

    def _finish(self, t: float) -> None:
        self.stage, self._heater = ProgrammeStage.IDLE, False
        self._vent_until = t + self.chamber.vent_s
        if self.programme.reports_cycles:
            self._emit(
                t,
                "cycle_end",
                cycle=self._cycle,
                meal=self._meal,
                method=self.programme.method,
                target_c=self.programme.target_c,
                hold_s=round(self._above_s),
                max_temp_c=round(self._max_c, 1),
            )

    def _hold_threshold(self) -> float:
        if self.chamber.thermostat is None:
            # Steam is present once the chamber is at the boiling point (probe tolerance 0.5 K).
            return min(self.programme.target_c, BOILING_C) - 0.5
        return self.programme.target_c

    def _integrate(self, t: float, dt: float) -> None:
        c = self.chamber
        ua = c.loss_ua_w_per_k + (c.vent_ua_w_per_k if t < self._vent_until else 0.0)
        power = c.heater_w if self._heater else 0.0
        self._temp += (power - ua * (self._temp - self._ambient(t))) * dt / c.capacity_j_per_k
        if c.thermostat is None:
            self._temp = min(self._temp, BOILING_C)
        self._max_c = max(self._max_c, self._temp)

    def _ambient(self, t: float) -> float:
        return KITCHEN_AMBIENT_C[self._day.phase(t)]

    def _observe(self, t: float) -> Metrics:
        c = self.chamber
        power = c.heater_w * (1.0 + self._noise(0.01)) if self._heater else c.standby_w
        return {
            "temp_c": quantise(self._temp + self._noise(c.sensor_sigma_c), 0.1),
            "power_w": quantise(power, 0.1),
        }
