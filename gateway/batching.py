"""The gateway's batches: a decoded batch as the store stage takes it, and the open batch the
decode stage fills while the store writes the one before (`gateway/service.py`, module docstring).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch, ReadingBatchBuilder
from gateway.codec import TimeWindow
from gateway.isolation import Owned, ReadingSpan
from gateway.link import Inbound

__all__ = ["DecodedBatch", "Handover", "OpenBatch", "merged"]


@dataclass(slots=True)
class DecodedBatch:
    """One batch of messages, decoded, each piece remembering its message. `done` names the
    parts already stored, so a retry after an outage resumes instead of writing them twice.

    The readings' rows are owned by messages in order: `owners[i]` gave the rows up to
    `ends[i]` (from the end before it). Two plain lists, not a span object per message (that
    was a hot spot of the decode and the merge); `spans` builds the objects when a refused
    write has to be searched for its message."""

    messages: list[Inbound]
    readings: ReadingBatch
    owners: list[Inbound]
    ends: list[int]
    events: list[Owned[DeviceEvent]]
    presence: list[Owned[PresenceChange]]
    letters: list[DeadLetter]
    done: set[str] = field(default_factory=set)
    closed_at: float = 0.0  # time.monotonic() when the decoder closed it (core.stages)
    # The rules have its readings (`gateway/service.py`, the rules' feed). A merged batch
    # keeps its parts, each told in its own order.
    told: bool = False
    parts: list[DecodedBatch] = field(default_factory=list)

    @property
    def spans(self) -> list[ReadingSpan]:
        """The rows each message with readings gave, as spans (`gateway/isolation.py`)."""
        starts = [0, *self.ends[:-1]]
        return [
            ReadingSpan(start, end, owner)
            for start, end, owner in zip(starts, self.ends, self.owners, strict=True)
        ]

    def add_rows(self, owner: Inbound, end: int) -> None:
        """`owner` gave the rows from the last end to `end`."""
        self.owners.append(owner)
        self.ends.append(end)

    @property
    def oldest_received(self) -> float | None:
        """When its first message was received (time.monotonic()), None without messages."""
        return self.messages[0].received if self.messages else None


@dataclass(slots=True)
class OpenBatch:
    """A batch still taking messages: its readings are rows until it is closed."""

    decoded: DecodedBatch
    builder: ReadingBatchBuilder
    window: TimeWindow

    @staticmethod
    def empty(window: TimeWindow) -> OpenBatch:
        decoded = DecodedBatch([], ReadingBatch.empty(), [], [], [], [], [])
        return OpenBatch(decoded, ReadingBatchBuilder(), window)

    def close(self) -> DecodedBatch:
        """The batch as the store stage takes it, its readings as columns."""
        self.decoded.readings = self.builder.build()
        self.decoded.closed_at = time.monotonic()
        return self.decoded


class Handover:
    """Decoded batches on their way from the decode stage to the store stage, bounded by their
    messages, not by their count: the decoder hands over batches of a few hundred messages
    while the store writes thousands at once. Past `bound` messages the decoder waits, the
    broker's in-flight window fills and it stops sending: the back-pressure of a slow store.
    One batch is always let in, however large, so a batch never waits for an empty hand-over
    that its own size keeps full."""

    def __init__(self, bound: int) -> None:
        self._bound = bound
        self._batches: deque[DecodedBatch] = deque()
        self._messages = 0
        self._added = asyncio.Event()
        self._taken = asyncio.Event()

    @property
    def messages(self) -> int:
        return self._messages

    async def put(self, batch: DecodedBatch) -> None:
        while self._batches and self._messages + len(batch.messages) > self._bound:
            self._taken.clear()
            await self._taken.wait()
        self._batches.append(batch)
        self._messages += len(batch.messages)
        self._added.set()

    async def first(self) -> DecodedBatch:
        """The oldest batch waiting (left in place), once there is one."""
        while not self._batches:
            self._added.clear()
            await self._added.wait()
        return self._batches[0]

    def take_all(self) -> list[DecodedBatch]:
        """Every batch waiting, oldest first; the decoder may go on."""
        taken = list(self._batches)
        self._batches.clear()
        self._messages = 0
        self._taken.set()
        return taken


def merged(batches: Sequence[DecodedBatch]) -> DecodedBatch:
    """Batches that waited for the store together, as one in their order: one transaction
    stores them all, so the newest does not wait for a write of each before it. Each
    message's readings keep their span (shifted), so a refused one is still found alone."""
    if len(batches) == 1:
        return batches[0]
    out = DecodedBatch([], ReadingBatch.empty(), [], [], [], [], [])
    site: list[str] = []
    device: list[str] = []
    metric: list[str] = []
    offset = 0
    for batch in batches:
        out.messages.extend(batch.messages)
        out.owners += batch.owners
        out.ends += [end + offset for end in batch.ends] if offset else batch.ends
        out.events.extend(batch.events)
        out.presence.extend(batch.presence)
        out.letters.extend(batch.letters)
        site += batch.readings.site
        device += batch.readings.device
        metric += batch.readings.metric
        offset += len(batch.readings)
    out.readings = ReadingBatch(
        site,
        device,
        metric,
        np.concatenate([b.readings.ts_ms for b in batches]),
        np.concatenate([b.readings.value for b in batches]),
    )
    out.closed_at = batches[0].closed_at
    out.parts = [part for batch in batches for part in batch.parts or [batch]]
    out.told = all(part.told for part in out.parts)
    return out
