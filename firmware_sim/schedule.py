"""When each device of a connection reads next, and how late its readings go out.

A connection carrying hundreds of devices keeps their due instants in one heap and sleeps until
the earliest, instead of one sleeping task per device: at 10 k devices that is a few dozen tasks
and timers rather than ten thousand. Instants are integer epoch milliseconds, so a device's
readings stay exactly on its grid (start + phase + k * interval) however long the run.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["LagStats", "Schedule", "instant_of"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant_of(epoch_ms: int) -> datetime:
    """The UTC instant of an epoch-millisecond time, exactly (no float rounding)."""
    return _EPOCH + timedelta(milliseconds=epoch_ms)


class Schedule:
    """Devices (by index) and their next due instants; each has its own interval."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int]] = []
        self._interval_ms: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._interval_ms)

    def add(self, index: int, first_ms: int, interval_ms: int) -> None:
        if interval_ms <= 0:
            raise ValueError(f"interval must be positive, got {interval_ms} ms")
        self._interval_ms[index] = interval_ms
        heapq.heappush(self._heap, (first_ms, index))

    def remove(self, index: int) -> None:
        """Stop scheduling a device (a dropped one); its heap entry is discarded when it
        reaches the top, so removing during `pop_due` is safe."""
        self._interval_ms.pop(index, None)

    def next_due(self) -> int | None:
        self._discard_removed()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> Iterator[tuple[int, int]]:
        """(due_ms, index) of every reading due at or before `now_ms`, earliest first. Each is
        rescheduled one interval later as it is yielded, so a device that fell behind yields
        every instant it missed: readings are late, never skipped."""
        heap = self._heap
        while True:
            self._discard_removed()
            if not heap or heap[0][0] > now_ms:
                return
            due, index = heap[0]
            heapq.heapreplace(heap, (due + self._interval_ms[index], index))
            yield due, index

    def _discard_removed(self) -> None:
        heap = self._heap
        while heap and heap[0][1] not in self._interval_ms:
            heapq.heappop(heap)


# Upper bounds (ms) of the lag histogram; the last bucket is open.
_BOUNDS_MS = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000)


@dataclass(slots=True)
class LagStats:
    """How late readings reached the broker, on the fleet's clock: time of the broker's
    acknowledgement minus the reading's due instant. A fixed histogram, so memory stays
    bounded however long the run."""

    count: int = 0
    max_ms: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(_BOUNDS_MS) + 1))

    def observe(self, lag_ms: int) -> None:
        self.count += 1
        self.max_ms = max(self.max_ms, lag_ms)
        self.buckets[bisect.bisect_left(_BOUNDS_MS, lag_ms)] += 1

    def quantile_ms(self, q: float) -> float:
        """An upper bound of the q-quantile (the bucket's bound; `max_ms` for the last)."""
        if self.count == 0:
            return 0.0
        rank = q * self.count
        seen = 0
        for bound, n in zip(_BOUNDS_MS, self.buckets, strict=False):
            seen += n
            if seen >= rank:
                return float(min(bound, self.max_ms))
        return float(self.max_ms)

    def reset(self) -> None:
        self.count, self.max_ms = 0, 0
        self.buckets = [0] * (len(_BOUNDS_MS) + 1)
