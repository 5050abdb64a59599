"""Faults of a sensor itself: the plant is fine, the reading is not.

- stuck: the metric repeats the last value reported before the onset (the first value inside
  the window when the device was not read before it);
- spikes: a reading now and then is off by about `magnitude`, either way;
- drift: an offset that grows by `rate_per_day` from the onset; gone after the end (the probe is
  recalibrated or replaced).

Applied in reading order with state carried between calls, so reading a device once per call
(live) or all at once (batch) gives the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_sim.faults import (
    DRIFT_PER_DAY,
    SPIKE_MAGNITUDE,
    SPIKE_PROBABILITY,
    Fault,
    FaultType,
    sensor_fault_types,
)
from firmware_sim.models.display import quantise
from firmware_sim.models.random import DeviceRandom

__all__ = ["SensorFaults"]

FloatArray = npt.NDArray[np.float64]
Values = dict[str, npt.NDArray[Any]]


class SensorFaults:
    def __init__(
        self,
        faults: Sequence[Fault],
        random: DeviceRandom,
        resolutions: Mapping[str, float],
        main_metric: str,
    ) -> None:
        self._faults = [f for f in faults if f.type in sensor_fault_types()]
        self._random = random
        self._resolutions = resolutions
        self._main = main_metric
        self._held: dict[int, Any] = {}  # stuck faults: the value they hold

    def metric_of(self, fault: Fault) -> str:
        return fault.metric or self._main

    def apply(self, t: FloatArray, t_ms: npt.NDArray[np.int64], values: Values) -> None:
        """Rewrite `values` (reported, one array per metric) in place."""
        for fault in self._faults:
            metric = self.metric_of(fault)
            if metric not in values:
                continue
            if fault.type is FaultType.SENSOR_STUCK:
                values[metric] = self._stuck(fault, t, values[metric])
            elif fault.type is FaultType.SENSOR_DRIFT:
                values[metric] = self._round(metric, values[metric] + self._drift(fault, t))
            else:
                offset = self._spikes(fault, t, t_ms)
                values[metric] = self._round(metric, values[metric] + offset)

    def _stuck(self, fault: Fault, t: FloatArray, v: npt.NDArray[Any]) -> npt.NDArray[Any]:
        before = t < fault.onset_s
        if before.any():
            self._held[fault.index] = v[before][-1]
        window = fault.active(t)
        if not window.any():
            return v
        held = self._held.setdefault(fault.index, v[window][0])
        out = v.copy()
        out[window] = held
        return out

    def _drift(self, fault: Fault, t: FloatArray) -> FloatArray:
        rate = (
            fault.rate_per_day if fault.rate_per_day is not None else fault.severity * DRIFT_PER_DAY
        )
        return np.where(fault.active(t), rate * (t - fault.onset_s) / 86_400.0, 0.0)

    def _spikes(self, fault: Fault, t: FloatArray, t_ms: npt.NDArray[np.int64]) -> FloatArray:
        u = self._random.uniforms(f"spikes.{fault.index}", t_ms, 3)
        hit = fault.active(t) & (u[:, 0] < fault.severity * SPIKE_PROBABILITY)
        size = (fault.magnitude or SPIKE_MAGNITUDE) * (0.5 + u[:, 1])
        sign = np.where(u[:, 2] < 0.5, -1.0, 1.0)
        return np.where(hit, sign * size, 0.0)

    def _round(self, metric: str, v: npt.NDArray[Any]) -> FloatArray:
        return quantise(v.astype(np.float64), self._resolutions.get(metric, 0.001))
