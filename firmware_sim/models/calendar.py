"""The site's local day as the simulated plant lives it: the canteen timetable, the kitchen's
phases around each meal, weekends, and when the next meal starts or ends.

Everything here takes epoch seconds and reads them in the site's time zone, because kitchens
and classrooms follow the local clock while the simulator runs on UTC instants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from core.config import SiteConfig
from core.model import Meal

__all__ = ["KITCHEN_AMBIENT_C", "KitchenPhase", "SiteDay"]

_DAY_MIN = 24 * 60
# Assumed kitchen routine (no published source; to calibrate against real sites): cooking starts
# about 90 min before a service, washing up takes about an hour after it, and staff are in the
# kitchen from two hours before the first service to two hours after the last.
PREP_MIN = 90
CLEAN_UP_MIN = 60
STAFFED_MARGIN_MIN = 120


class KitchenPhase(StrEnum):
    NIGHT = "night"  # kitchen closed
    STAFFED = "staffed"  # staff present between services
    PREP = "prep"  # cooking for the next service
    SERVICE = "service"  # a meal is being served
    CLEAN_UP = "clean_up"  # washing up after a service


# Kitchen air by phase (assumed): cooking warms the room; nights are cooler. No season yet.
KITCHEN_AMBIENT_C = MappingProxyType(
    {
        KitchenPhase.NIGHT: 22.0,
        KitchenPhase.STAFFED: 25.0,
        KitchenPhase.PREP: 28.0,
        KitchenPhase.SERVICE: 27.0,
        KitchenPhase.CLEAN_UP: 26.0,
    }
)


@dataclass(frozen=True, slots=True)
class _Window:
    """A meal as minutes of the local day; it may run past midnight."""

    meal: Meal
    start: int
    length: int

    @property
    def end(self) -> int:
        return (self.start + self.length) % _DAY_MIN


class SiteDay:
    def __init__(self, zone: ZoneInfo, meals: Sequence[Meal]) -> None:
        self.zone = zone
        self.meals = tuple(meals)
        self._windows = tuple(
            _Window(m, _minute(m.start), (_minute(m.end) - _minute(m.start)) % _DAY_MIN)
            for m in meals
        )
        self._night = _night_gap(self._windows)

    @classmethod
    def of(cls, config: SiteConfig) -> SiteDay:
        return cls(config.site.zone, config.meals)

    def local(self, epoch_s: float) -> datetime:
        return datetime.fromtimestamp(epoch_s, self.zone)

    def hour(self, epoch_s: float) -> float:
        """Local hour of day as a fraction, 0 <= h < 24."""
        local = self.local(epoch_s)
        return local.hour + local.minute / 60 + local.second / 3600

    def is_weekend(self, epoch_s: float) -> bool:
        return self.local(epoch_s).weekday() >= 5

    def phase(self, epoch_s: float) -> KitchenPhase:
        local = self.local(epoch_s)
        now = local.hour * 60 + local.minute
        windows = self._windows
        if any((now - w.start) % _DAY_MIN < w.length for w in windows):
            return KitchenPhase.SERVICE
        if any(0 < (w.start - now) % _DAY_MIN <= PREP_MIN for w in windows):
            return KitchenPhase.PREP
        if any((now - w.end) % _DAY_MIN < CLEAN_UP_MIN for w in windows):
            return KitchenPhase.CLEAN_UP
        if self._night is None:
            return KitchenPhase.NIGHT
        night_start, night_length = self._night
        if (now - night_start) % _DAY_MIN < night_length:
            return KitchenPhase.NIGHT
        return KitchenPhase.STAFFED

    def next_meal_edge(
        self, after_s: float, edge: Literal["start", "end"]
    ) -> tuple[float, Meal] | None:
        """The first meal start (or end) strictly after `after_s`, in epoch seconds."""
        today = self.local(after_s).date()
        best: tuple[float, Meal] | None = None
        for meal in self.meals:
            for offset in (-1, 0, 1):
                instant = self._at(today + timedelta(days=offset), getattr(meal, edge))
                if instant > after_s and (best is None or instant < best[0]):
                    best = (instant, meal)
        return best

    def _at(self, day: date, clock_time: time) -> float:
        return datetime.combine(day, clock_time, tzinfo=self.zone).timestamp()


def _minute(clock_time: time) -> int:
    return clock_time.hour * 60 + clock_time.minute


def _night_gap(windows: Sequence[_Window]) -> tuple[int, int] | None:
    """(start minute, length) of the night: the longest gap between services, less the margins
    when staff arrive and leave. None when there are no meals (the kitchen never opens)."""
    if not windows:
        return None
    ordered = sorted(windows, key=lambda w: w.start)
    best_start, best_gap = 0, -1
    for index, window in enumerate(ordered):
        following = ordered[(index + 1) % len(ordered)]
        gap = (following.start - window.end) % _DAY_MIN
        if gap > best_gap:
            best_start, best_gap = window.end, gap
    length = best_gap - 2 * STAFFED_MARGIN_MIN
    if length <= 0:
        return (0, 0)
    return ((best_start + STAFFED_MARGIN_MIN) % _DAY_MIN, length)
