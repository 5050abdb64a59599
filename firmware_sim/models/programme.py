"""A cabinet controller's programme, one cycle at a time: heat, hold at the target, stop; and
what the disinfection faults do to a cycle.

- missed: the cycle never starts (staff forgot to press start);
- aborted: the programme stops after (1 - severity) of its hold (door opened, stop pressed);
- under temperature: the chamber runs `deficit_c` below the target. In a dry-heat (infrared)
  cabinet the controller's probe reads that much high (misplaced or miscalibrated), so the
  thermostat holds the chamber low while the controller believes all is well; a steam
  cabinet's generator is weak (scale, low water) and only reaches target - deficit.

Every cycle is logged as a `CycleRecord` with the controller's view and the true one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from firmware_sim.faults import UNDER_TEMP_DEFICIT_C, Fault, FaultType

__all__ = ["CycleFaults", "CycleRecord", "ProgrammeRun", "ProgrammeStage"]


class ProgrammeStage(StrEnum):
    IDLE = "idle"
    HEATING = "heating"
    HOLDING = "holding"


@dataclass(slots=True)
class CycleRecord:
    """One cycle that was due: what the controller saw and what really happened."""

    meal: str
    meal_edge_s: float  # the service start or end the cycle follows
    due_s: float
    cycle: int = 0  # the controller's counter; 0 for a cycle that never started
    start_s: float | None = None
    end_s: float | None = None
    result: str = "running"  # completed | aborted | timeout | missed
    faults: tuple[int, ...] = ()  # indexes of the faults that hit it
    hold_s: float = 0.0  # as the controller counted it
    max_c: float = -math.inf  # the controller's probe
    true_hold_s: float = 0.0  # seconds the chamber really was at or above the target
    true_max_c: float = -math.inf
    heat_up_s: float | None = None  # start to the chamber first reaching the target
    energy_kwh: float = 0.0


@dataclass(slots=True)
class CycleFaults:
    """What the device's disinfection faults do to one cycle."""

    missed: bool = False
    hold_share: float = 1.0  # share of the hold the programme runs before it stops
    probe_offset_c: float = 0.0
    deficit_c: float = 0.0
    hits: tuple[int, ...] = ()

    @classmethod
    def of(
        cls, faults: Sequence[Fault], meal: str, edge_s: float, due_s: float, zone: ZoneInfo
    ) -> CycleFaults:
        out = cls()
        for fault in faults:
            if not fault.selects_cycle(meal, edge_s, due_s, zone):
                continue
            if fault.type is FaultType.DISINFECTION_MISSED:
                out.missed = True
            elif fault.type is FaultType.DISINFECTION_ABORTED:
                out.hold_share = min(out.hold_share, 1.0 - fault.severity)
            elif fault.type is FaultType.DISINFECTION_UNDER_TEMP:
                deficit = fault.deficit_c
                out.deficit_c = (
                    deficit if deficit is not None else fault.severity * UNDER_TEMP_DEFICIT_C
                )
            else:
                continue
            out.hits = (*out.hits, fault.index)
        return out


@dataclass(slots=True)
class ProgrammeRun:
    """A cycle in progress. `threshold_c` is where the controller considers the hold begun."""

    record: CycleRecord
    threshold_c: float
    true_threshold_c: float
    hold_limit_s: float
    probe_offset_c: float
    heater_factor: float
    aborts: bool  # the hold is cut short
    stage: ProgrammeStage = ProgrammeStage.HEATING
    hold_started: float = 0.0

    def step(self, t: float, temp: float, dt: float, max_s: float) -> str | None:
        """Advance the controller by one step; the cycle's result once it is over."""
        record, probe = self.record, temp + self.probe_offset_c
        record.max_c = max(record.max_c, probe)
        record.true_max_c = max(record.true_max_c, temp)
        if temp >= self.true_threshold_c:
            record.true_hold_s += dt
            if record.heat_up_s is None and record.start_s is not None:
                record.heat_up_s = t - record.start_s
        at_target = probe >= self.threshold_c
        if at_target:
            record.hold_s += dt
        if self.stage is ProgrammeStage.HEATING and at_target:
            self.stage, self.hold_started = ProgrammeStage.HOLDING, t
        if self.stage is ProgrammeStage.HOLDING and t - self.hold_started >= self.hold_limit_s:
            return "aborted" if self.aborts else "completed"
        if record.start_s is not None and t - record.start_s >= max_s:
            return "timeout"
        return None
