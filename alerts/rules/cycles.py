"""Programme cycles of a heated cabinet (disinfection cabinet, steam cabinet), read from its
temperature alone so a cabinet that reports no cycle events is judged the same way.

A cycle starts when the chamber rises through `cycle_start_c` and ends when it falls below
`cycle_end_c` (hysteresis, so probe noise at 50 °C is not a flurry of cycles). Within a cycle:

- heat-up: from the start to the first reading at or above the hold threshold;
- hold: the longest continuous run at or above the threshold, where a dip shorter than
  `hold_dip_s` is probe noise and does not break the run, and a silence longer than that does
  (nobody saw the chamber then);
- plateau: the median of the readings within 10 K below the threshold or above it, which a
  programme spends most of its time in (for a steam chamber: the boiling point it actually
  holds, or the lower level a leaking one settles at);
- energy: power integrated over the cycle, when the cabinet reports `power_w`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = ["Cycle", "CycleTracker", "CycleTrackerState"]

_PLATEAU_BAND_C = 10.0


@dataclass(slots=True)
class Cycle:
    start_ms: int
    last_ms: int
    max_c: float
    end_ms: int | None = None
    partial: bool = False  # seen from the middle (no data before): heat-up unknown
    reached_ms: int | None = None
    hold_start_ms: int | None = None
    last_above_ms: int | None = None
    longest_hold_ms: int = 0
    energy_wh: float = 0.0
    last_power_w: float | None = None
    top_temps: list[float] = field(default_factory=list)
    plateau_c: float | None = None

    @property
    def heat_up_ms(self) -> int | None:
        if self.partial or self.reached_ms is None:
            return None
        return self.reached_ms - self.start_ms


@dataclass(slots=True)
class CycleTrackerState:
    current: Cycle | None = None
    armed: bool | None = None  # below the end temperature since the last cycle
    finished: list[Cycle] = field(default_factory=list)


class CycleTracker:
    def __init__(
        self,
        threshold_c: float,
        start_c: float,
        end_c: float,
        dip_ms: int,
        max_step_ms: int,
    ) -> None:
        self.threshold_c = threshold_c
        self._start_c = start_c
        self._end_c = end_c
        self._dip_ms = dip_ms
        self._max_step_ms = max_step_ms  # longest step counted when integrating power
        self.state = CycleTrackerState()

    def observe(self, ts: int, temp: float, power_w: float | None) -> Cycle | None:
        """Take a reading; returns the cycle that this reading ended, if any."""
        st = self.state
        cycle = st.current
        if cycle is None:
            self._maybe_start(ts, temp)
            return None
        self._accumulate(cycle, ts, temp, power_w)
        if temp < self._end_c:
            return self._finish(cycle, ts)
        return None

    def forget_before(self, ts: int) -> None:
        self.state.finished = [c for c in self.state.finished if (c.end_ms or 0) >= ts]

    def cycles_starting(self, start: int, end: int) -> list[Cycle]:
        """Finished and running cycles that started in [start, end)."""
        found = [c for c in self.state.finished if start <= c.start_ms < end]
        current = self.state.current
        if current is not None and start <= current.start_ms < end:
            found.append(current)
        return found

    def _maybe_start(self, ts: int, temp: float) -> None:
        st = self.state
        if st.armed is None:
            # The first reading ever: a hot chamber is a cycle seen from its middle.
            st.armed = True
            if temp >= self._start_c:
                st.current = Cycle(ts, ts, temp, partial=True)
                self._accumulate(st.current, ts, temp, None)
            return
        if temp < self._end_c:
            st.armed = True
        elif st.armed and temp >= self._start_c:
            st.armed = False
            st.current = Cycle(ts, ts, temp)
            self._accumulate(st.current, ts, temp, None)

    def _accumulate(self, cycle: Cycle, ts: int, temp: float, power_w: float | None) -> None:
        step = ts - cycle.last_ms
        if cycle.last_power_w is not None and 0 < step <= self._max_step_ms:
            cycle.energy_wh += cycle.last_power_w * step / 3_600_000
        cycle.last_power_w = power_w
        cycle.last_ms = ts
        cycle.max_c = max(cycle.max_c, temp)
        if temp >= self.threshold_c - _PLATEAU_BAND_C:
            cycle.top_temps.append(round(temp, 2))
        if temp < self.threshold_c:
            return
        if cycle.reached_ms is None:
            cycle.reached_ms = ts
        last = cycle.last_above_ms
        if cycle.hold_start_ms is None or last is None or ts - last > self._dip_ms:
            cycle.hold_start_ms = ts
        cycle.last_above_ms = ts
        cycle.longest_hold_ms = max(cycle.longest_hold_ms, ts - cycle.hold_start_ms)

    def _finish(self, cycle: Cycle, ts: int) -> Cycle:
        st = self.state
        cycle.end_ms = ts
        if cycle.top_temps:
            cycle.plateau_c = statistics.median(cycle.top_temps)
        cycle.top_temps = []
        st.current, st.armed = None, True
        st.finished.append(cycle)
        return cycle
