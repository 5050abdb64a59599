"""Report periods: a local day, an ISO week or a calendar month, with the periods they are
compared with (the one before, and the same one a year earlier).

A year earlier is the same calendar month for a month, and 52 weeks (364 days) earlier for a
day or a week, so that a Monday is compared with a Monday: school energy follows the weekday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from energy.errors import EnergyError

__all__ = ["PeriodKind", "ReportPeriod", "local_midnight"]


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_FORMS = {
    PeriodKind.DAY: ("YYYY-MM-DD", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    PeriodKind.WEEK: ("YYYY-Www", re.compile(r"^(\d{4})-W(\d{2})$")),
    PeriodKind.MONTH: ("YYYY-MM", re.compile(r"^(\d{4})-(\d{2})$")),
}


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Whole local days from `first` to `last`, both included."""

    kind: PeriodKind
    first: date
    last: date

    @classmethod
    def parse(cls, kind: PeriodKind, text: str) -> ReportPeriod:
        form, pattern = _FORMS[kind]
        match = pattern.match(text.strip())
        try:
            if match is None:
                raise ValueError
            numbers = [int(g) for g in match.groups()]
            if kind is PeriodKind.DAY:
                return cls.day(date(*numbers))
            if kind is PeriodKind.WEEK:
                return cls.week(date.fromisocalendar(numbers[0], numbers[1], 1))
            return cls.month(numbers[0], numbers[1])
        except ValueError:
            raise EnergyError(f"{text!r} is not a {kind.value}; use {form}") from None

    @classmethod
    def day(cls, day: date) -> ReportPeriod:
        return cls(PeriodKind.DAY, day, day)

    @classmethod
    def week(cls, day: date) -> ReportPeriod:
        monday = day - timedelta(days=day.weekday())
        return cls(PeriodKind.WEEK, monday, monday + timedelta(days=6))

    @classmethod
    def month(cls, year: int, month: int) -> ReportPeriod:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(PeriodKind.MONTH, first, following - timedelta(days=1))

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.DAY:
            return self.first.isoformat()
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first.year}-{self.first.month:02d}"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> ReportPeriod:
        if self.kind is PeriodKind.MONTH:
            before = self.first - timedelta(days=1)
            return ReportPeriod.month(before.year, before.month)
        return self.shifted(-self.days)

    def year_before(self) -> ReportPeriod:
        if self.kind is PeriodKind.MONTH:
            return ReportPeriod.month(self.first.year - 1, self.first.month)
        return self.shifted(-364)

    def shifted(self, days: int) -> ReportPeriod:
        step = timedelta(days=days)
        return ReportPeriod(self.kind, self.first + step, self.last + step)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of the first day to that after the last."""
        return local_midnight(self.first, zone), local_midnight(self.last + timedelta(days=1), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
