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
    def __init__(self, meals: Sequence[Meal], zone: ZoneInfo) -> None:
        self.meals = tuple(meals)
        self.zone = zone

    def service(self, meal: Meal, day: date) -> MealService:
        start = _instant(day, meal.start, self.zone)
        end_day = day if meal.end > meal.start else day + timedelta(days=1)
        end = _instant(end_day, meal.end, self.zone)
        return MealService(meal.name, day, start, end)

    def services_ending(self, after_ms: int, until_ms: int) -> list[MealService]:
        """Services whose end lies in (after_ms, until_ms], oldest first."""
        if until_ms <= after_ms or not self.meals:
            return []
        first = local_date(after_ms, self.zone) - timedelta(days=1)
        last = local_date(until_ms, self.zone)
        found: list[MealService] = []
        day = first
        while day <= last:
            for meal in self.meals:
                service = self.service(meal, day)
                if after_ms < service.end_ms <= until_ms:
                    found.append(service)
            day += timedelta(days=1)
        found.sort(key=lambda s: (s.end_ms, s.meal))
        return found


def local_date(epoch_ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, zone).date()


def _instant(day: date, clock_time: time, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, clock_time, tzinfo=zone).timestamp() * 1000)
