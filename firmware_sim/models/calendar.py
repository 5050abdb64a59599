"""The site's local day as the simulated plant lives it: the canteen timetable, the kitchen's
phases around each meal, weekends, school holidays, and when meals start or end.

Everything here takes epoch seconds and reads them in the site's time zone, because kitchens
and classrooms follow the local clock while the simulator runs on UTC instants. The `*_of`
methods take arrays, so a model prepares a day of inputs in one call.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from core.config import SiteConfig
from core.model import Meal

__all__ = ["KITCHEN_AMBIENT_C", "PHASES", "KitchenPhase", "SiteDay", "phase_table"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

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


PHASES: tuple[KitchenPhase, ...] = tuple(KitchenPhase)


def phase_table(values: Mapping[KitchenPhase, float]) -> FloatArray:
    """A per-phase quantity as an array indexed like `SiteDay.phase_of`."""
    return np.array([values[p] for p in PHASES], dtype=np.float64)


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
    """The site's local calendar: meals, kitchen phases, weekends and school holidays.

    On a holiday the canteen is closed: no meals, the kitchen stays in its night phase. Scalar
    methods take one epoch second; the vectorised ones (`*_of`) take an array of them.
    """

    def __init__(
        self, zone: ZoneInfo, meals: Sequence[Meal], holidays: Iterable[date] = ()
    ) -> None:
        self.zone = zone
        self.meals = tuple(meals)
        self.holidays = frozenset(holidays)
        self._windows = tuple(
            _Window(m, _minute(m.start), (_minute(m.end) - _minute(m.start)) % _DAY_MIN)
            for m in meals
        )
        self._night = _night_gap(self._windows)
        self._holiday_days = np.array(sorted(_day_number(d) for d in self.holidays), np.int64)
        self._phase_by_minute = _phase_table(self._windows, self._night)

    @classmethod
    def of(cls, config: SiteConfig, holidays: Iterable[date] = ()) -> SiteDay:
        return cls(config.site.zone, config.meals, holidays)

    def local(self, epoch_s: float) -> datetime:
        return datetime.fromtimestamp(epoch_s, self.zone)

    def is_weekend(self, epoch_s: float) -> bool:
        return self.local(epoch_s).weekday() >= 5

    def is_holiday(self, epoch_s: float) -> bool:
        return self.local(epoch_s).date() in self.holidays

    def phase(self, epoch_s: float) -> KitchenPhase:
        return PHASES[int(self.phase_of(np.array([epoch_s]))[0])]

    # vectorised

    def local_seconds_of(self, t: FloatArray) -> FloatArray:
        """Seconds since the Unix epoch on the local wall clock."""
        return t + self._utc_offsets(t)

    def hour_of(self, t: FloatArray) -> FloatArray:
        return np.mod(self.local_seconds_of(t), 86_400.0) / 3600.0

    def day_number_of(self, t: FloatArray) -> IntArray:
        """Local calendar day, counted from 1970-01-01."""
        return np.floor(self.local_seconds_of(t) / 86_400.0).astype(np.int64)

    def weekend_of(self, t: FloatArray) -> BoolArray:
        return np.mod(self.day_number_of(t) + 3, 7) >= 5  # 1970-01-01 was a Thursday (3)

    def holiday_of(self, t: FloatArray) -> BoolArray:
        return np.isin(self.day_number_of(t), self._holiday_days)

    def phase_of(self, t: FloatArray) -> IntArray:
        """Index into `PHASES` of the kitchen phase at each instant."""
        local = self.local_seconds_of(t)
        minute = np.mod(np.floor(local / 60.0).astype(np.int64), _DAY_MIN)
        codes = self._phase_by_minute[minute]
        if len(self._holiday_days):
            closed = np.isin(np.floor(local / 86_400.0).astype(np.int64), self._holiday_days)
            codes = np.where(closed, PHASES.index(KitchenPhase.NIGHT), codes)
        return codes

    def meal_edges(
        self, after_s: float, until_s: float, edge: Literal["start", "end"]
    ) -> list[tuple[float, Meal]]:
        """Every meal start (or end) in (after_s, until_s], oldest first, holidays skipped."""
        first = self.local(after_s).date() - timedelta(days=1)
        last = self.local(until_s).date() + timedelta(days=1)
        found: list[tuple[float, Meal]] = []
        day = first
        while day <= last:
            for window in self._windows:
                served_on = day
                if edge == "end" and window.start + window.length >= _DAY_MIN:
                    served_on = day - timedelta(days=1)  # the meal began the evening before
                if served_on in self.holidays:
                    continue
                instant = self._at(day, getattr(window.meal, edge))
                if after_s < instant <= until_s:
                    found.append((instant, window.meal))
            day += timedelta(days=1)
        return sorted(found, key=lambda pair: pair[0])

    def _utc_offsets(self, t: FloatArray) -> FloatArray:
        if not len(t):
            return np.zeros(0)
        low, high = self._offset(float(t.min())), self._offset(float(t.max()))
        if low == high:
            return np.full(len(t), low)
        # A daylight-saving change inside the span: look the offset up per quarter hour.
        quarters, where = np.unique(np.floor(t / 900.0), return_inverse=True)
        return np.array([self._offset(q * 900.0) for q in quarters])[where]

    def _offset(self, epoch_s: float) -> float:
        offset = self.local(epoch_s).utcoffset()
        return 0.0 if offset is None else offset.total_seconds()

    def _at(self, day: date, clock_time: time) -> float:
        return datetime.combine(day, clock_time, tzinfo=self.zone).timestamp()


@functools.cache
def _phase_table(
    windows: tuple[_Window, ...], night: tuple[int, int] | None
) -> npt.NDArray[np.int64]:
    """The kitchen phase (index into PHASES) of every minute of the day; shared by every device
    of a site (a fleet of thousands builds it once)."""
    codes = [PHASES.index(_phase_of_minute(windows, night, m)) for m in range(_DAY_MIN)]
    table = np.array(codes, np.int64)
    table.flags.writeable = False
    return table


def _phase_of_minute(
    windows: tuple[_Window, ...], night: tuple[int, int] | None, now: int
) -> KitchenPhase:
    if any((now - w.start) % _DAY_MIN < w.length for w in windows):
        return KitchenPhase.SERVICE
    if any(0 < (w.start - now) % _DAY_MIN <= PREP_MIN for w in windows):
        return KitchenPhase.PREP
    if any((now - w.end) % _DAY_MIN < CLEAN_UP_MIN for w in windows):
        return KitchenPhase.CLEAN_UP
    if night is None:
        return KitchenPhase.NIGHT
    night_start, night_length = night
    if (now - night_start) % _DAY_MIN < night_length:
        return KitchenPhase.NIGHT
    return KitchenPhase.STAFFED


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


def _day_number(day: date) -> int:
    return day.toordinal() - date(1970, 1, 1).toordinal()
