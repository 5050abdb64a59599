"""What reaches the alerts service before its rules' state is restored (DESIGN.md, time: a
restart loses no reading for the rules): reading batches and presence changes, held in the
order they came, to be judged after the restore.

The queue is bounded by readings: past the bound, the held batches are dropped and only the
span of their timestamps is kept, to be read back from the store, where they already are
(the writer hands a batch over once it is stored). Presence changes stay in the queue.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from core.readings import PresenceChange, ReadingBatch

__all__ = ["Held", "HeldArrivals"]

log = logging.getLogger(__name__)

Held = ReadingBatch | tuple[PresenceChange, ...]


class HeldArrivals:
    def __init__(self, limit_readings: int) -> None:
        self._items: deque[Held] = deque()
        self._readings = 0
        self._limit = limit_readings
        # The span (epoch ms, oldest and newest) of the readings to read back from the store.
        self._overflow: tuple[int, int] | None = None

    def __bool__(self) -> bool:
        return bool(self._items) or self._overflow is not None

    def presence(self, changes: Sequence[PresenceChange]) -> None:
        self._items.append(tuple(changes))

    def batch(self, batch: ReadingBatch) -> None:
        """Keep the batch in order; past the bound, keep only the span of readings."""
        if not len(batch):
            return
        if self._overflow is None and self._readings + len(batch) <= self._limit:
            self._items.append(batch)
            self._readings += len(batch)
            return
        batches = [b for b in self._items if isinstance(b, ReadingBatch)]
        if self._overflow is None:
            log.warning(
                "alerts: more than %d readings arrived while restoring; reading them back "
                "from the store instead",
                self._limit,
            )
        spans = [(int(b.ts_ms.min()), int(b.ts_ms.max())) for b in [*batches, batch]]
        if self._overflow is not None:
            spans.append(self._overflow)
        self._overflow = (min(lo for lo, _ in spans), max(hi for _, hi in spans))
        self._items = deque(item for item in self._items if not isinstance(item, ReadingBatch))
        self._readings = 0

    def take_overflow(self) -> tuple[int, int] | None:
        """The span to read back from the store, if any, taken first: the batches it stands
        for came before everything still held."""
        span, self._overflow = self._overflow, None
        return span

    def take(self) -> Held:
        """The oldest held item (IndexError: none)."""
        item = self._items.popleft()
        if isinstance(item, ReadingBatch):
            self._readings -= len(item)
        return item
