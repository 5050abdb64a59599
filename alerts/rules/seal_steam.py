"""Door-seal degradation of a steam cabinet (蒸饭柜), from each programme cycle.

A worn seal lets steam out: the chamber heats up slower, may settle below the boiling point,
and the element uses more energy per cycle (DESIGN.md, seal failure physics). Per cycle (see
`cycles`): heat-up time from 50 °C to the hold threshold, which does not depend on how warm
the chamber started; the plateau it holds; the energy of the cycle when `power_w` is reported.

The first `seal_baseline_cycles` complete cycles are the baseline (medians). Each later cycle
is judged on the median of the last three, so one odd cycle (a door opened to add a tray) does
not move the score. The load index weighs heat-up most; a plateau 5 K below baseline counts as
a 100 % move; a cycle that never reaches the threshold counts as a failed seal.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from alerts.model import Finding, SealHealthPoint
from alerts.rules.base import MINUTE_MS, DeviceSetup, StatefulRule
from alerts.rules.cycles import Cycle, CycleTrackerState
from alerts.rules.disinfection import cycle_tracker
from alerts.rules.seal import Change, GradeState, SealGrader, evidence, health_from_load
from alerts.samples import Sample
from core.clock import utc_from_ms

__all__ = ["SteamSealRule"]

_WEIGHTS = {"heat_up": 0.6, "plateau": 0.2, "cycle_energy": 0.2}
_PLATEAU_FAIL_K = 5.0
_RECENT_CYCLES = 3


@dataclass(slots=True)
class CycleFeatures:
    end_ms: int
    heat_up_ms: int | None  # None: never reached the threshold
    plateau_c: float | None
    energy_wh: float | None


@dataclass(slots=True)
class SteamSealState:
    cycles: CycleTrackerState = field(default_factory=CycleTrackerState)
    learning: list[CycleFeatures] = field(default_factory=list)
    baseline: CycleFeatures | None = None
    recent: list[CycleFeatures] = field(default_factory=list)
    grade: GradeState = field(default_factory=GradeState)


class SteamSealRule(StatefulRule[SteamSealState]):
    rule = SealGrader.rule_id

    def __init__(self, setup: DeviceSetup) -> None:
        super().__init__(setup)
        self.tracker = cycle_tracker(setup)
        # The median of three cycles needs two bad ones to move: that is the confirmation.
        self._grader = SealGrader(setup, self, confirm=False)
        self._fail = setup.settings.seal_steam_fail_ratio
        self.state = SteamSealState(cycles=self.tracker.state)

    def restore(self, data: Any) -> None:
        super().restore(data)
        self.tracker.state = self.state.cycles

    def relearn(self, ts: int, by: str, reason: str, out: list[Finding]) -> None:
        """Forget the baseline and learn a new one from the next cycles (a cycle under way
        is still tracked)."""
        self._grader.release(self.state.grade, ts, by, reason, out)
        self.state = SteamSealState(cycles=self.tracker.state)

    def observe(self, sample: Sample, out: list[Finding]) -> None:
        temp = sample.get("temp_c")
        if temp is None:
            return
        cycle = self.tracker.observe(sample.ts_ms, temp, sample.get("power_w"))
        self.tracker.forget_before(sample.ts_ms)
        if cycle is None or cycle.partial:
            return
        features = _features(cycle, sample.get("power_w") is not None)
        st = self.state
        if st.baseline is None:
            st.learning.append(features)
            if len(st.learning) >= self.setup.settings.seal_baseline_cycles:
                st.baseline, st.learning = _median_features(st.learning), []
            return
        st.recent = [*st.recent, features][-_RECENT_CYCLES:]
        self._judge(sample.ts_ms, out)

    def _judge(self, ts: int, out: list[Finding]) -> None:
        st = self.state
        assert st.baseline is not None
        now = _median_features(st.recent)
        changes = _changes(st.baseline, now)
        loads = {c.feature: _load(c) for c in changes}
        if now.heat_up_ms is None:
            loads["heat_up"] = self._fail  # it never got there: as bad as a failed seal
        weight = sum(_WEIGHTS[f] for f in loads)
        if weight == 0:
            return
        load = sum(_WEIGHTS[f] * value for f, value in loads.items()) / weight
        health = health_from_load(load, self._fail)
        point = SealHealthPoint(
            self.setup.site, self.setup.id, utc_from_ms(ts), health, evidence(health, changes)
        )
        self.records.append(point)
        self._grader.grade(st.grade, ts, health, changes, out)


def _features(cycle: Cycle, metered: bool) -> CycleFeatures:
    end = cycle.end_ms if cycle.end_ms is not None else cycle.last_ms
    return CycleFeatures(
        end, cycle.heat_up_ms, cycle.plateau_c, cycle.energy_wh if metered else None
    )


def _median_features(cycles: list[CycleFeatures]) -> CycleFeatures:
    heat = [c.heat_up_ms for c in cycles if c.heat_up_ms is not None]
    plateau = [c.plateau_c for c in cycles if c.plateau_c is not None]
    energy = [c.energy_wh for c in cycles if c.energy_wh is not None]
    reached = len(heat) * 2 > len(cycles)  # most cycles reached the threshold
    return CycleFeatures(
        cycles[-1].end_ms,
        int(statistics.median(heat)) if heat and reached else None,
        statistics.median(plateau) if plateau else None,
        statistics.median(energy) if energy else None,
    )


def _changes(base: CycleFeatures, now: CycleFeatures) -> list[Change]:
    changes = []
    if base.heat_up_ms and now.heat_up_ms is not None:
        b, n = base.heat_up_ms / MINUTE_MS, now.heat_up_ms / MINUTE_MS
        changes.append(Change("heat_up", b, n, f"{b:.1f} min", f"{n:.1f} min"))
    if base.plateau_c is not None and now.plateau_c is not None:
        b, n = base.plateau_c, now.plateau_c
        changes.append(Change("plateau", b, n, f"{b:.1f} °C", f"{n:.1f} °C"))
    if base.energy_wh and now.energy_wh is not None:
        b, n = base.energy_wh / 1000, now.energy_wh / 1000
        changes.append(Change("cycle_energy", b, n, f"{b:.2f} kWh", f"{n:.2f} kWh"))
    return changes


def _load(change: Change) -> float:
    if change.feature == "plateau":
        return max(0.0, change.base - change.now) / _PLATEAU_FAIL_K
    return max(0.0, change.relative)
