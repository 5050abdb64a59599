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
heat-up takes 15-25 min, as vendors describe. A worn door seal adds `seal_leak_ua_w_per_k` (at
severity 1) to UA_loss: the chamber heats up slower, a steam chamber whose losses outgrow its
element holds a plateau below boiling, and every cycle takes more energy. The programme and the
disinfection faults are in `programme.py`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from core.model import Device, Meal
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models.base import DEFAULT_BLOCK_STEPS, Block, BlockModel, Hysteresis, Values
from firmware_sim.models.calendar import KITCHEN_AMBIENT_C, KitchenPhase, SiteDay, phase_table
from firmware_sim.models.display import quantise
from firmware_sim.models.programme import CycleFaults, CycleRecord, ProgrammeRun

__all__ = [
    "BOILING_C",
    "ChamberParams",
    "HeatedBlock",
    "HeatedCabinetModel",
    "ProgrammeParams",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

BOILING_C = 100.0  # at sea level; a site at altitude boils lower (not modelled)
# A programme that has not finished after this long is abandoned (a failed element).
MAX_PROGRAMME_S = 2 * 3600.0
# Cycles a live cabinet keeps in `cycles` (three a day: about a month); batch keeps them all.
CYCLE_LOG = 100
_DISINFECTION_FAULTS = (
    FaultType.DISINFECTION_MISSED,
    FaultType.DISINFECTION_ABORTED,
    FaultType.DISINFECTION_UNDER_TEMP,
)


@dataclass(frozen=True, slots=True)
class ChamberParams:
    heater_w: float
    capacity_j_per_k: float
    loss_ua_w_per_k: float
    vent_ua_w_per_k: float  # extra loss while venting after a programme
    vent_s: float
    seal_leak_ua_w_per_k: float  # extra loss through a worn door seal (severity 1)
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


@dataclass(slots=True)
class HeatedBlock(Block):
    temp: FloatArray
    heater: BoolArray
    power: FloatArray  # what the cabinet draws, standby included


class HeatedCabinetModel(BlockModel[HeatedBlock]):
    """Reports temp_c and power_w; disinfection cabinets also emit cycle events. Every cycle
    that fell due is logged in `cycles`."""

    # Long enough for a programme that fell due just before the first reading to be running
    # (or venting) when it is taken, as it would be in the real kitchen.
    warmup_s = MAX_PROGRAMME_S + 3600.0
    noise_channels = 2
    main_metric = "temp_c"
    resolutions = MappingProxyType({"temp_c": 0.1, "power_w": 0.1})

    def __init__(
        self,
        device: Device,
        chamber: ChamberParams,
        programme: ProgrammeParams,
        site_day: SiteDay,
        seed: int,
        faults: Sequence[Fault] = (),
        *,
        block_steps: int = DEFAULT_BLOCK_STEPS,
        keep_cycles: int | None = CYCLE_LOG,
    ) -> None:
        super().__init__(device, seed, faults, block_steps=block_steps)
        self.chamber = chamber
        self.programme = programme
        self.cycles: deque[CycleRecord] = deque(maxlen=keep_cycles)
        self._day = site_day
        self._ambient = phase_table(KITCHEN_AMBIENT_C)
        self._temp = 0.0
        self._heater = False
        self._vent_until = -np.inf
        self._run: ProgrammeRun | None = None
        self._count = 0

    def _begin(self, k: int) -> None:
        self._temp = float(self._ambient[self._day.phase_of(np.array([k * self.dt_s]))[0]])

    def _simulate(self, k0: int, n: int) -> HeatedBlock:
        c, dt = self.chamber, self.dt_s
        t = Block(k0, n).times(dt)
        ambient = self._ambient[self._day.phase_of(t)].tolist()
        leak = sum((f.level(t) for f in self.faults_of(FaultType.SEAL_LEAK)), np.zeros(n))
        loss = (c.loss_ua_w_per_k + leak * c.seal_leak_ua_w_per_k).tolist()
        due = self._due(k0, n)
        temps, heaters, powers = [0.0] * n, [False] * n, [0.0] * n
        per_joule, steam = dt / c.capacity_j_per_k, c.thermostat is None
        for i, ti in enumerate(t.tolist()):
            if i in due:
                self._on_due(ti, *due[i])
            run = self._run
            if run is not None:
                self._heater = self._programme_step(run, ti)
                run = self._run
            draw = c.heater_w * run.heater_factor if self._heater and run else 0.0
            temps[i], heaters[i], powers[i] = self._temp, self._heater, draw or c.standby_w
            ua = loss[i] + (c.vent_ua_w_per_k if ti < self._vent_until else 0.0)
            temp = self._temp + (draw - ua * (self._temp - ambient[i])) * per_joule
            self._temp = min(temp, BOILING_C) if steam else temp
            if run is not None:
                run.record.energy_kwh += draw * dt / 3.6e6
        return HeatedBlock(k0, n, np.array(temps), np.array(heaters), np.array(powers))

    def _due(self, k0: int, n: int) -> dict[int, tuple[float, float, Meal]]:
        """Cycles falling due in this block, by step: each follows a meal edge by an offset
        drawn from that edge, so the timetable does not depend on when the run began."""
        low, high = self.programme.offset_min
        first, last = k0 * self.dt_s, (k0 + n - 1) * self.dt_s
        edges = self._day.meal_edges(
            first - self.dt_s - high * 60, last - low * 60, self.programme.anchor
        )
        if not edges:
            return {}
        instants = np.array([e for e, _ in edges])
        u = self.random.uniforms("plan", np.round(instants * 1000).astype(np.int64))[:, 0]
        due = instants + (low + (high - low) * u) * 60.0
        steps = np.ceil(due / self.dt_s).astype(np.int64) - k0
        return {
            int(j): (edge, float(d), meal)
            for j, d, (edge, meal) in zip(steps, due, edges, strict=True)
            if 0 <= j < n
        }

    def _on_due(self, t: float, edge: float, due: float, meal: Meal) -> None:
        faults = self.faults_of(*_DISINFECTION_FAULTS)
        hits = CycleFaults.of(faults, meal.name, edge, due, self._day.zone)
        record = CycleRecord(meal.name, edge, due, faults=hits.hits)
        self.cycles.append(record)
        if hits.missed or self._run is not None:
            record.result = "missed" if hits.missed else "busy"
            return
        self._count += 1
        record.cycle, record.start_s = self._count, t
        self._run = self._new_run(record, hits)
        self._heater = True
        if self.programme.reports_cycles:
            p = self.programme
            self._emit(
                t, "cycle_start", cycle=self._count, meal=meal.name, method=p.method,
                target_c=p.target_c,
            )  # fmt: skip

    def _new_run(self, record: CycleRecord, hits: CycleFaults) -> ProgrammeRun:
        c, p = self.chamber, self.programme
        threshold = p.target_c if c.thermostat else min(p.target_c, BOILING_C) - 0.5
        offset, factor = 0.0, 1.0
        if hits.deficit_c and c.thermostat is not None:
            offset = hits.deficit_c  # the controller's probe reads high
        elif hits.deficit_c:
            # A weak steam generator: its element balances the losses at target - deficit.
            kitchen = KITCHEN_AMBIENT_C[KitchenPhase.CLEAN_UP]
            plateau = min(p.target_c, BOILING_C) - hits.deficit_c
            factor = min(1.0, max(0.05, c.loss_ua_w_per_k * (plateau - kitchen) / c.heater_w))
        return ProgrammeRun(
            record, threshold, threshold, p.hold_s * hits.hold_share, offset, factor,
            aborts=hits.hold_share < 1.0,
        )  # fmt: skip

    def _programme_step(self, run: ProgrammeRun, t: float) -> bool:
        """The controller's decision for the next step: heater on or off."""
        result = run.step(t, self._temp, self.dt_s, MAX_PROGRAMME_S)
        if result is not None:
            self._finish(run, t, result)
            return False
        thermostat = self.chamber.thermostat
        if thermostat is None:
            return True
        return thermostat.heating(self._temp + run.probe_offset_c, self._heater)

    def _finish(self, run: ProgrammeRun, t: float, result: str) -> None:
        record = run.record
        record.end_s, record.result = t, result
        self._run = None
        self._vent_until = t + self.chamber.vent_s
        if self.programme.reports_cycles:
            p = self.programme
            self._emit(
                t, "cycle_end", cycle=record.cycle, meal=record.meal, method=p.method,
                target_c=p.target_c, hold_s=round(record.hold_s),
                max_temp_c=round(record.max_c, 1), result=result,
            )  # fmt: skip

    def _observe(self, block: HeatedBlock, index: npt.NDArray[np.int64], t: FloatArray) -> Values:
        return {"temp_c": block.temp[index], "power_w": block.power[index]}

    def _measure(self, true: Values, noise: FloatArray) -> Values:
        c = self.chamber
        power = true["power_w"]
        heating = power > c.standby_w
        return {
            "temp_c": quantise(true["temp_c"] + c.sensor_sigma_c * noise[:, 0], 0.1),
            "power_w": quantise(np.where(heating, power * (1 + 0.01 * noise[:, 1]), power), 0.1),
        }
