"""The `Store` protocol every backend implements, and the value types its queries return.

Methods are synchronous and may block (file or network I/O): async callers run them in a thread.
A reading's identity is (site, device, metric, ts): writing it again replaces it, never duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch

__all__ = [
    "Aggregate",
    "DeadLetterRecord",
    "LatestValue",
    "PresenceRecord",
    "RecordStore",
    "SeriesPoint",
    "SiteStore",
    "Store",
]


class Aggregate(StrEnum):
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    LAST = "last"


@dataclass(frozen=True, slots=True)
class LatestValue:
    metric: str
    ts: datetime
    value: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One step of a series: the aggregate over [start, start + step) and how many readings."""

    start: datetime
    value: float
    count: int


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    device: str
    online: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    letter: DeadLetter


class Store(Protocol):
    """Time-series readings."""

    def write(self, batch: ReadingBatch) -> int:
        """Store a batch (idempotent); returns the number of readings written."""
        ...

    def latest(self, site: str, device: str) -> list[LatestValue]: ...

    def series(
        self,
        site: str,
        device: str,
        metric: str,
        start: datetime,
        end: datetime,
        step_s: int,
        agg: Aggregate,
    ) -> list[SeriesPoint]: ...

    def close(self) -> None: ...


class RecordStore(Protocol):
    """Relational records beside the readings: dead letters, presence, device events."""

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...

    def dead_letters(
        self, site: str | None, limit: int, reason: str | None = None
    ) -> list[DeadLetterRecord]: ...

    def dead_letter_count(self) -> int: ...

    def write_presence(self, changes: Sequence[PresenceChange]) -> None: ...

    def presence(self, site: str) -> list[PresenceRecord]: ...

    def write_events(self, events: Sequence[DeviceEvent]) -> None: ...


class SiteStore(Store, RecordStore, Protocol):
    """A store holding a site's readings and the records beside them (the embedded default)."""
