"""The local calendar of a run of fixed UTC slots: which local day and minute each slot starts
in, and what kind of day that is (school day, weekend, holiday, vacation).

The store hands back use per 15-minute UTC slot; every time zone's offset is a multiple of
15 minutes, so each slot lies in one local day and one tariff band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from core.energy_model import ClockWindow, DayType, SchoolCalendar
from energy.periods import local_midnight

__all__ = ["SLOT_S", "SlotCalendar"]

SLOT_S = 15 * 60

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class SlotCalendar:
    """Slots of `slot_s` seconds from local midnight of `days[0]` to that after `days[-1]`."""

    zone: ZoneInfo
    slot_s: int
    start: datetime
    days: tuple[date, ...]
    day_types: tuple[DayType, ...]
    day_start: IntArray  # first slot of each day, then the slot count
    day_of_slot: IntArray
    minute: IntArray  # local minute of the day at each slot's start

    @classmethod
    def build(
        cls, calendar: SchoolCalendar, zone: ZoneInfo, first: date, last: date, slot_s: int = SLOT_S
    ) -> SlotCalendar:
        days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
        edges = [local_midnight(day, zone) for day in (*days, last + timedelta(days=1))]
        counts = [int((b - a).total_seconds()) // slot_s for a, b in pairwise(edges)]
        minutes = [_minutes(edge, n, slot_s, zone) for edge, n in zip(edges, counts, strict=False)]
        return cls(
            zone=zone,
            slot_s=slot_s,
            start=edges[0],
            days=days,
            day_types=tuple(calendar.day_type(day) for day in days),
            day_start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            day_of_slot=np.repeat(np.arange(len(days)), counts).astype(np.int64),
            minute=np.concatenate(minutes).astype(np.int64),
        )

    @property
    def slots(self) -> int:
        return int(self.day_start[-1])

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.slots * self.slot_s)

    def day_index(self, day: date) -> int:
        return (day - self.days[0]).days

    def slot_range(self, first: date, last: date) -> slice:
        """The slots of the local days `first` to `last`, both included."""
        lo, hi = self.day_index(first), self.day_index(last) + 1
        return slice(int(self.day_start[lo]), int(self.day_start[hi]))

    def slot_instant(self, slot: int) -> datetime:
        return self.start + timedelta(seconds=slot * self.slot_s)

    def in_window(self, window: ClockWindow) -> BoolArray:
        m = self.minute
        if window.start < window.end:
            return (m >= window.start) & (m < window.end)
        return (m >= window.start) | (m < window.end)

    def owner_day(self, window: ClockWindow) -> IntArray:
        """For each slot in a daily window, the day the window began on (a night from 23:00
        belongs to the evening's date); -1 outside the window."""
        inside = self.in_window(window)
        owner = self.day_of_slot.copy()
        if window.end <= window.start:
            owner[inside & (self.minute < window.end)] -= 1
        owner[~inside] = -1
        return owner


def _minutes(midnight: datetime, count: int, slot_s: int, zone: ZoneInfo) -> IntArray:
    """Local wall-clock minute at each slot start; a day of 23 or 25 hours (daylight saving)
    is walked slot by slot, every other day is a plain ramp."""
    ramp = np.arange(count, dtype=np.int64) * (slot_s // 60)
    if count * slot_s == 86_400:
        return ramp
    local = [(midnight + timedelta(seconds=int(i) * slot_s)).astimezone(zone) for i in range(count)]
    return np.array([t.hour * 60 + t.minute for t in local], dtype=np.int64)
