"""The canteen timetable as instants: each service of a meal on a local date, in UTC.

Meals are wall-clock times in the site's zone (Asia/Shanghai by default, no daylight saving,
UTC+8); the store and the rules use UTC. A meal whose end is not after its start runs past
midnight: dinner 23:30-00:20 on the 24th ends at 00:20 on the 25th, and its service date
stays the 24th. Zones with daylight saving are handled by building each local instant with the
zone, never by adding a fixed offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.model import Meal

__all__ = ["MealService", "Timetable", "local_date"]


@dataclass(frozen=True, slots=True)
class MealService:
    meal: str
    service_date: date
    start_ms: int
    end_ms: int


class Timetable:
    """The services of each local day are built once and kept (a rule asks on every reading
    which meals ended since its last verdict; building zone-aware instants each time was most
    of a cabinet replay's CPU)."""

    def __init__(self, meals: Sequence[Meal], zone: ZoneInfo) -> None:
        self.meals = tuple(meals)
        self.zone = zone
        self._days: dict[date, tuple[MealService, ...]] = {}
        self._next: dict[int, int | None] = {}  # after_ms: the first service end after it

    def service(self, meal: Meal, day: date) -> MealService:
        start = _instant(day, meal.start, self.zone)
        end_day = day if meal.end > meal.start else day + timedelta(days=1)
        end = _instant(end_day, meal.end, self.zone)
        return MealService(meal.name, day, start, end)

    def services_ending(self, after_ms: int, until_ms: int) -> list[MealService]:
        """Services whose end lies in (after_ms, until_ms], oldest first."""
        if until_ms <= after_ms or not self.meals:
            return []
        following = self._next_end(after_ms)
        if following is None or following > until_ms:
            return []
        return self._ending(after_ms, until_ms)

    def _ending(self, after_ms: int, until_ms: int) -> list[MealService]:
        first = local_date(after_ms, self.zone) - timedelta(days=1)
        last = local_date(until_ms, self.zone)
        found: list[MealService] = []
        day = first
        while day <= last:
            found += [s for s in self._day(day) if after_ms < s.end_ms <= until_ms]
            day += timedelta(days=1)
        found.sort(key=lambda s: (s.end_ms, s.meal))
        return found

    def _next_end(self, after_ms: int) -> int | None:
        """The first service end after `after_ms` (every day has its meals, so it lies within
        two local days), remembered per `after_ms` (each device asks from its last verdict)."""
        if after_ms not in self._next:
            if len(self._next) > _DAYS_KEPT:
                self._next.clear()
            ahead = self._ending(after_ms, after_ms + _TWO_DAYS_MS)
            self._next[after_ms] = ahead[0].end_ms if ahead else None
        return self._next[after_ms]

    def _day(self, day: date) -> tuple[MealService, ...]:
        services = self._days.get(day)
        if services is None:
            if len(self._days) > _DAYS_KEPT:
                self._days.clear()
            services = self._days[day] = tuple(self.service(meal, day) for meal in self.meals)
        return services


_TWO_DAYS_MS = 2 * 86_400_000
_DAYS_KEPT = 400  # about a year of days (or of verdict instants) kept; cleared beyond that


def local_date(epoch_ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, zone).date()


def _instant(day: date, clock_time: time, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, clock_time, tzinfo=zone).timestamp() * 1000)
