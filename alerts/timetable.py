"""The canteen timetable as instants: each service of a meal on a local date, in UTC.

Meals are wall-clock times in the site's zone (Asia/Shanghai by default, no daylight saving,
UTC+8); the store and the rules use UTC. A meal whose end is not after its start runs past
midnight: dinner 23:30-00:20 on the 24th ends at 00:20 on the 25th, and its service date
stays the 24th. Zones with daylight saving are handled by building each local instant with the
zone, never by adding a fixed offset.

Meals are served only on the school calendar's `meal_days` (`calendar.meal_days`, school days by
default): a weekend, a public holiday or a vacation day of a day school has no service, so no
disinfection verdict and no sample retention is due on it. A cabinet left idle over a holiday
is not "missed". The next service after a long vacation may lie weeks ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.energy_model import SchoolCalendar
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

    def __init__(
        self, meals: Sequence[Meal], zone: ZoneInfo, calendar: SchoolCalendar | None = None
    ) -> None:
        self.meals = tuple(meals)
        self.zone = zone
        # None: meals every day (a timetable without a school, as in a bare test)
        self.calendar = calendar
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

    def next_ending(self, after_ms: int) -> MealService | None:
        """The first service ending after `after_ms` (weeks ahead after a vacation), or None
        when none is served within a year."""
        end = self._next_end(after_ms) if self.meals else None
        if end is None:
            return None
        return self._ending(after_ms, end)[0]

    def serves(self, day: date) -> bool:
        """Whether meals are served on local date `day` (the calendar's `meal_days`)."""
        calendar = self.calendar
        return calendar is None or calendar.day_type(day) in calendar.meal_days

    def served_ms(self, start_ms: int, end_ms: int) -> int:
        """How much of [start_ms, end_ms) lies on local days with meals (all of it without a
        calendar). A learning that must see school days counts its time so: a weekend or a
        vacation does not count towards it."""
        if self.calendar is None:
            return max(0, end_ms - start_ms)
        total, day = 0, local_date(start_ms, self.zone)
        while True:
            begins = _instant(day, time(), self.zone)
            ends = _instant(day + timedelta(days=1), time(), self.zone)
            if self.serves(day):
                total += max(0, min(end_ms, ends) - max(start_ms, begins))
            if ends >= end_ms:
                return total
            day += timedelta(days=1)

    def _next_end(self, after_ms: int) -> int | None:
        """The first service end after `after_ms`, remembered per `after_ms` (each device asks
        from its last verdict). Served days are searched up to a year ahead (a winter vacation
        has none for weeks); None: no service in that year."""
        if after_ms not in self._next:
            if len(self._next) > _DAYS_KEPT:
                self._next.clear()
            self._next[after_ms] = self._first_end_after(after_ms)
        return self._next[after_ms]

    def _first_end_after(self, after_ms: int) -> int | None:
        # A service ends within a day of its date's start, so the first end after `after_ms`
        # belongs to the first served day found from the day before, or the day after that.
        day = local_date(after_ms, self.zone) - timedelta(days=1)
        for _ in range(_LOOK_AHEAD_DAYS):
            ends = [s.end_ms for s in self._day(day) if s.end_ms > after_ms]
            if ends:
                following = self._day(day + timedelta(days=1))
                return min(ends + [s.end_ms for s in following if s.end_ms > after_ms])
            day += timedelta(days=1)
        return None

    def _day(self, day: date) -> tuple[MealService, ...]:
        services = self._days.get(day)
        if services is None:
            if len(self._days) > _DAYS_KEPT:
                self._days.clear()
            served = self.meals if self.serves(day) else ()
            services = self._days[day] = tuple(self.service(meal, day) for meal in served)
        return services


_LOOK_AHEAD_DAYS = 370  # a year and a few days: past the longest vacation
_DAYS_KEPT = 800  # two years of days (or of verdict instants) kept; cleared beyond that


def local_date(epoch_ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, zone).date()


def _instant(day: date, clock_time: time, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, clock_time, tzinfo=zone).timestamp() * 1000)
