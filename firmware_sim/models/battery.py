"""A battery-powered device's charge: a slow healthy decline, faster while a drain fault lasts.

A drain fault's end is when someone fits a new battery (100 %). At 0 % the device is silent
until then: it neither samples nor connects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware_sim.faults import BATTERY_DRAIN_PCT_PER_DAY, Fault, FaultType

__all__ = ["Battery", "BatteryParams"]

FloatArray = npt.NDArray[np.float64]
_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class BatteryParams:
    life_days: float  # from full to empty in normal use
    start_pct: tuple[float, float]  # level at the start of a run, drawn in this range


class Battery:
    def __init__(
        self, params: BatteryParams, start_pct: float, t0: float, faults: Sequence[Fault]
    ) -> None:
        self.params = params
        self._start_pct = start_pct
        self._t0 = t0
        self._drains = sorted(
            (f for f in faults if f.type is FaultType.BATTERY_DRAIN), key=lambda f: f.onset_s
        )

    def level(self, t: FloatArray) -> FloatArray:
        """State of charge in %, 0-100."""
        healthy = 100.0 / self.params.life_days / _DAY_S
        level = self._start_pct - healthy * (t - self._t0)
        since = np.full_like(t, self._t0)
        for fault in self._drains:
            rate = (fault.rate_per_day or fault.severity * BATTERY_DRAIN_PCT_PER_DAY) / _DAY_S
            end = np.inf if fault.end_s is None else fault.end_s
            drained = np.clip(np.minimum(t, end) - np.maximum(fault.onset_s, since), 0.0, None)
            level = level - rate * drained
            if fault.end_s is not None:
                replaced = t >= fault.end_s
                level = np.where(replaced, 100.0 - healthy * (t - fault.end_s), level)
                since = np.where(replaced, fault.end_s, since)
        return np.clip(level, 0.0, 100.0)

    def alive(self, t: FloatArray) -> npt.NDArray[np.bool_]:
        return self.level(t) > 0.0
