"""The axes' ticks of the device charts: instants and local labels for the time axis (minutes
to months, local midnights across DST), round values for the value axis."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["time_ticks", "value_ticks"]

# Tick steps below a day, in seconds; at a day and above ticks fall on local midnights.
_SUB_DAY_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_DAY_STEPS = (1, 2, 7, 14)
_MONTH_STEPS = (1, 2, 3, 6)


def time_ticks(
    start: datetime, end: datetime, zone: ZoneInfo, max_ticks: int
) -> list[tuple[datetime, str]]:
    """Instants and local labels for the time axis: the finest step giving <= `max_ticks`."""
    span = (end - start).total_seconds()
    for step in _SUB_DAY_STEPS:
        if span / step <= max_ticks:
            return _sub_day_ticks(start, end, zone, step)
    for days in _DAY_STEPS:
        if span / (days * 86_400) <= max_ticks:
            return _day_ticks(start, end, zone, days)
    for months in _MONTH_STEPS:
        if span / (months * 30 * 86_400) <= max_ticks:
            return _month_ticks(start, end, zone, months)
    return _month_ticks(start, end, zone, 12)


def value_ticks(low: float, high: float, count: int) -> list[float]:
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _sub_day_ticks(
    start: datetime, end: datetime, zone: ZoneInfo, step: int
) -> list[tuple[datetime, str]]:
    local = start.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    since = (local - midnight).total_seconds()
    at = midnight + timedelta(seconds=math.ceil(since / step) * step)
    ticks = []
    while at <= end:
        stamp = at.astimezone(zone)
        fmt = "%m-%d" if (stamp.hour, stamp.minute) == (0, 0) else "%H:%M"
        ticks.append((at, stamp.strftime(fmt)))
        at = at + timedelta(seconds=step)
    return ticks


def _day_ticks(
    start: datetime, end: datetime, zone: ZoneInfo, days: int
) -> list[tuple[datetime, str]]:
    day = start.astimezone(zone).date()
    at = datetime(day.year, day.month, day.day, tzinfo=zone)
    if at < start:
        at = datetime.combine(day + timedelta(days=1), at.timetz())
    ticks = []
    while at <= end:
        ticks.append((at, at.strftime("%m-%d")))
        day = at.date() + timedelta(days=days)
        at = datetime(day.year, day.month, day.day, tzinfo=zone)  # a local midnight across DST
    return ticks


def _month_ticks(
    start: datetime, end: datetime, zone: ZoneInfo, months: int
) -> list[tuple[datetime, str]]:
    local = start.astimezone(zone)
    # Steps of months fall on the calendar: every 2 months is Jan, Mar, May...
    year, month = local.year, local.month - (local.month - 1) % months
    ticks: list[tuple[datetime, str]] = []
    while True:
        at = datetime(year, month, 1, tzinfo=zone)
        if at > end:
            return ticks
        if at >= start:
            ticks.append((at, at.strftime("%Y-%m")))
        month += months
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
