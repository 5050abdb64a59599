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

__all__ = ["PairState", "ProbePair"]

_MIN_READINGS_PER_HOUR = 6


@dataclass(slots=True)
class PairState:
    # Open hours: [hour start (ms), sum mine, count mine, sum theirs, count theirs].
    hours: list[list[float]] = field(default_factory=list)
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
        if mine:
            state.mine_hour = max(hour, state.mine_hour or hour)
        else:
            state.theirs_hour = max(hour, state.theirs_hour or hour)
        bucket = next((b for b in state.hours if b[0] == hour), None)
        if bucket is None:
            if state.hours and hour < min(b[0] for b in state.hours):
                return  # an hour already judged
            bucket = [float(hour), 0.0, 0.0, 0.0, 0.0]
            state.hours.append(bucket)
        offset = 1 if mine else 3
        bucket[offset] += temp
        bucket[offset + 1] += 1
        self._close(state)

    def verdict(self, state: PairState) -> Message | None:
        """The drift message while the difference has moved beyond `drift_c`, else None."""
        if state.usual_c is None or len(state.recent) < self._window:
            return None
        now = statistics.median(state.recent)
        if abs(now - state.usual_c) <= self._drift_c:
            return None
        return text.neighbour_drift(self._label, self._neighbour, state.usual_c, now)

    def _close(self, state: PairState) -> None:
        if state.mine_hour is None or state.theirs_hour is None:
            return
        done = min(state.mine_hour, state.theirs_hour)
        for bucket in [b for b in state.hours if b[0] < done]:
            state.hours.remove(bucket)
            _, sum_mine, n_mine, sum_theirs, n_theirs = bucket
            if min(n_mine, n_theirs) < _MIN_READINGS_PER_HOUR:
                continue
            difference = sum_mine / n_mine - sum_theirs / n_theirs
            if state.usual_c is None:
                state.learning.append(difference)
                if len(state.learning) >= self._learn:
                    state.usual_c, state.learning = statistics.median(state.learning), []
            else:
                state.recent = [*state.recent, difference][-self._window :]
