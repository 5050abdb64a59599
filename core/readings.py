"""What flows from the gateway to ingest, alerts and the live dashboard.

Readings travel as columnar batches (one array per field) because every consumer works on
columns: the store inserts them in one statement, rules scan them per device. Boolean metrics
travel as 0.0 / 1.0 so one float column carries every metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEAD_LETTER_CODES",
    "DeadLetter",
    "DeviceEvent",
    "PresenceChange",
    "Reading",
    "ReadingBatch",
    "ReadingBatchBuilder",
]


@dataclass(frozen=True, slots=True)
class Reading:
    site: str
    device: str
    metric: str
    ts_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    site: list[str]
    device: list[str]
    metric: list[str]
    ts_ms: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.device)

    def __iter__(self) -> Iterator[Reading]:
        for i in range(len(self.device)):
            yield Reading(
                self.site[i],
                self.device[i],
                self.metric[i],
                int(self.ts_ms[i]),
                float(self.value[i]),
            )

    @staticmethod
    def empty() -> ReadingBatch:
        return ReadingBatchBuilder().build()


@dataclass(slots=True)
class ReadingBatchBuilder:
    """Collects readings row by row on the decode path and hands them over as columns."""

    site: list[str] = field(default_factory=list)
    device: list[str] = field(default_factory=list)
    metric: list[str] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def append(self, site: str, device: str, metric: str, ts_ms: int, value: float) -> None:
        self.site.append(site)
        self.device.append(device)
        self.metric.append(metric)
        self.ts_ms.append(ts_ms)
        self.value.append(value)

    def mark(self) -> int:
        """A position to roll back to if a message turns out bad half-way through."""
        return len(self.device)

    def rollback(self, mark: int) -> None:
        for column in (self.site, self.device, self.metric, self.ts_ms, self.value):
            del column[mark:]

    def __len__(self) -> int:
        return len(self.device)

    def build(self) -> ReadingBatch:
        return ReadingBatch(
            site=self.site,
            device=self.device,
            metric=self.metric,
            ts_ms=np.asarray(self.ts_ms, dtype=np.int64),
            value=np.asarray(self.value, dtype=np.float64),
        )


# Why the gateway refuses a message, as the gateway's counters (GET /api/health) and the
# dead-letter table name it; the gateway's PayloadError codes are these.
DEAD_LETTER_CODES = (
    "bad_time",
    "bad_topic",
    "decoder_error",
    "dropped_field",
    "invalid",
    "not_json",
    "store_refused",
    "too_deep",
    "too_large",
    "unknown_device",
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the gateway could not accept, kept with the reason so nothing is lost."""

    received_at: datetime
    topic: str
    reason: str
    payload: bytes  # capped; payload_size is the original length
    payload_size: int
    site: str | None = None
    device: str | None = None
    code: str | None = None  # one of DEAD_LETTER_CODES; None: kept before codes were stored


@dataclass(frozen=True, slots=True)
class PresenceChange:
    site: str
    device: str
    online: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A discrete event a device's controller reports, e.g. a disinfection cycle's start."""

    site: str
    device: str
    ts_ms: int
    kind: str
    data: dict[str, object]
