"""Drift against a neighbouring probe: two probes in the same cabinet (the controller's own and
an independent logger, say) read differently - one sits nearer the evaporator - but the
difference between them stays put. When it moves, one of them has drifted.

Both probes are compared hour by hour, by their hourly means, so the order in which their
readings arrive does not matter and a door opening that warms one a little sooner than the
other averages out. The usual difference is the median of the first `drift_pair_learn_h`
hours both probes covered; after that, the median of the last `drift_pair_window_h` hours
moving more than `drift_c` from it is a drift. An hour counts once both probes have moved past
it, with at least a few readings each.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from alerts import text
from alerts.model import Message
from alerts.rules.base import HOUR_MS
from core.rule_settings import RuleSettings

__all__ = ["HourSums", "PairState", "ProbePair"]

_MIN_READINGS_PER_HOUR = 6


@dataclass(slots=True)
class HourSums:
    start_ms: int
    mine_c: float = 0.0
    mine_n: int = 0
    theirs_c: float = 0.0
    theirs_n: int = 0


@dataclass(slots=True)
class PairState:
    hours: list[HourSums] = field(default_factory=list)  # hours not yet compared
    mine_hour: int | None = None  # the latest hour each probe has reached
    theirs_hour: int | None = None
    learning: list[float] = field(default_factory=list)
    usual_c: float | None = None
    recent: list[float] = field(default_factory=list)


class ProbePair:
    def __init__(self, settings: RuleSettings, label: str, neighbour: str) -> None:
        self._learn = settings.drift_pair_learn_h
        self._window = settings.drift_pair_window_h
        self._drift_c = settings.drift_c
        self._label = label
        self._neighbour = neighbour

    def add(self, state: PairState, mine: bool, ts: int, temp: float) -> None:
        """A reading of this device's probe (`mine`) or of its neighbour's."""
        hour = ts - ts % HOUR_MS
        done = _compared_until(state)
        if done is not None and hour < done:
            return  # an hour already compared
        sums = next((h for h in state.hours if h.start_ms == hour), None)
        if sums is None:
            sums = HourSums(hour)
            state.hours.append(sums)
        if mine:
            sums.mine_c, sums.mine_n = sums.mine_c + temp, sums.mine_n + 1
            moved = state.mine_hour is None or hour > state.mine_hour
            state.mine_hour = hour if moved else state.mine_hour
        else:
            sums.theirs_c, sums.theirs_n = sums.theirs_c + temp, sums.theirs_n + 1
            moved = state.theirs_hour is None or hour > state.theirs_hour
            state.theirs_hour = hour if moved else state.theirs_hour
        if moved:
            self._compare_finished_hours(state)

    def verdict(self, state: PairState) -> Message | None:
        """The drift message while the difference has moved beyond `drift_c`, else None."""
        if state.usual_c is None or len(state.recent) < self._window:
            return None
        now = statistics.median(state.recent)
        if abs(now - state.usual_c) <= self._drift_c:
            return None
        return text.neighbour_drift(self._label, self._neighbour, state.usual_c, now)

    def _compare_finished_hours(self, state: PairState) -> None:
        done = _compared_until(state)
        if done is None:
            return
        finished = [h for h in state.hours if h.start_ms < done]
        state.hours = [h for h in state.hours if h.start_ms >= done]
        for sums in finished:
            if min(sums.mine_n, sums.theirs_n) < _MIN_READINGS_PER_HOUR:
                continue
            difference = sums.mine_c / sums.mine_n - sums.theirs_c / sums.theirs_n
            if state.usual_c is None:
                state.learning.append(difference)
                if len(state.learning) >= self._learn:
                    state.usual_c, state.learning = statistics.median(state.learning), []
            else:
                state.recent = [*state.recent, difference][-self._window :]


def _compared_until(state: PairState) -> int | None:
    """Hours before this one have been reached by both probes: they are compared."""
    if state.mine_hour is None or state.theirs_hour is None:
        return None
    return min(state.mine_hour, state.theirs_hour)
