"""Readings that reach the alerts service for devices whose rules are still catching up after a
start (DESIGN.md, time: a restart loses no reading for the rules), held in the order they came
and released device by device as each device's replay ends (`alerts.catch_up`).

The hold is bounded by readings (`limit`): past it, the held readings are dropped and only the
span of their timestamps is kept, to be read back from the store, where they already are (the
writer hands a batch over once it is stored); every later reading of a waiting device only
widens the span. Memory stays at `limit` readings (about 40 bytes each) however long the
catch-up takes, and nothing is lost: a device released after an overflow replays the span from
the store first, then what is still held for it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Collection

import numpy as np

from core.readings import ReadingBatch

__all__ = ["HeldArrivals", "part_of"]

log = logging.getLogger(__name__)


def part_of(batch: ReadingBatch, devices: Collection[str], *, inside: bool) -> ReadingBatch:
    """The readings of `batch` whose device is (`inside`) or is not in `devices`, in order."""
    keep = np.fromiter((d in devices for d in batch.device), bool, len(batch))
    if not inside:
        keep = ~keep
    if keep.all():
        return batch
    rows = np.flatnonzero(keep).tolist()
    return ReadingBatch(
        [batch.site[i] for i in rows],
        [batch.device[i] for i in rows],
        [batch.metric[i] for i in rows],
        batch.ts_ms[keep],
        batch.value[keep],
    )


class HeldArrivals:
    def __init__(self, limit_readings: int) -> None:
        self._items: deque[ReadingBatch] = deque()
        self._readings = 0
        self._limit = limit_readings
        # The span (epoch ms, oldest and newest) of dropped readings to read back from the store.
        self._overflow: tuple[int, int] | None = None

    def __bool__(self) -> bool:
        return bool(self._items) or self._overflow is not None

    @property
    def readings(self) -> int:
        """Readings held in memory now."""
        return self._readings

    @property
    def overflow(self) -> tuple[int, int] | None:
        """The span of readings dropped past the bound, to be read back from the store."""
        return self._overflow

    def batches(self) -> list[ReadingBatch]:
        """What is held in memory now, oldest first (it stays held)."""
        return list(self._items)

    def batch(self, batch: ReadingBatch) -> None:
        """Keep the batch in order; past the bound, keep only the span of readings."""
        if not len(batch):
            return
        if self._overflow is None and self._readings + len(batch) <= self._limit:
            self._items.append(batch)
            self._readings += len(batch)
            return
        if self._overflow is None:
            log.warning(
                "alerts: more than %d readings arrived for devices still catching up; reading "
                "them back from the store instead",
                self._limit,
            )
        spans = [(int(b.ts_ms.min()), int(b.ts_ms.max())) for b in [*self._items, batch]]
        if self._overflow is not None:
            spans.append(self._overflow)
        self._overflow = (min(lo for lo, _ in spans), max(hi for _, hi in spans))
        self._items.clear()
        self._readings = 0

    def release(self, devices: Collection[str], *, last: bool) -> list[ReadingBatch]:
        """What is held for `devices`, in the order it came; the rest stays held. `last`: no
        device waits any more, so the overflow span is forgotten (each released device has
        read its part back)."""
        released: list[ReadingBatch] = []
        kept: deque[ReadingBatch] = deque()
        for held in self._items:
            mine = part_of(held, devices, inside=True)
            if len(mine):
                released.append(mine)
            if len(mine) < len(held):
                kept.append(part_of(held, devices, inside=False))
        self._items = kept
        self._readings = sum(len(b) for b in kept)
        if last:
            self._overflow = None
        return released
