"""The gateway's batches: a decoded batch as the store stage takes it, and the open batch the
decode stage fills while the store writes the one before (`gateway/service.py`, module docstring).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch, ReadingBatchBuilder
from gateway.codec import TimeWindow
from gateway.isolation import Owned, ReadingSpan
from gateway.link import Inbound

__all__ = ["DecodedBatch", "OpenBatch", "first_of"]


@dataclass(slots=True)
class DecodedBatch:
    """One batch of messages, decoded, each piece remembering its message. `done` names the
    parts already stored, so a retry after an outage resumes instead of writing them twice."""

    messages: list[Inbound]
    readings: ReadingBatch
    spans: list[ReadingSpan]
    events: list[Owned[DeviceEvent]]
    presence: list[Owned[PresenceChange]]
    letters: list[DeadLetter]
    done: set[str] = field(default_factory=set)


@dataclass(slots=True)
class OpenBatch:
    """A batch still taking messages: its readings are rows until it is closed."""

    decoded: DecodedBatch
    builder: ReadingBatchBuilder
    window: TimeWindow

    @staticmethod
    def empty(window: TimeWindow) -> OpenBatch:
        decoded = DecodedBatch([], ReadingBatch.empty(), [], [], [], [])
        return OpenBatch(decoded, ReadingBatchBuilder(), window)

    def close(self) -> DecodedBatch:
        """The batch as the store stage takes it, its readings as columns."""
        self.decoded.readings = self.builder.build()
        return self.decoded


async def first_of(*waits: Coroutine[Any, Any, Any], within_s: float) -> None:
    """Return when the first of `waits` is done or `within_s` seconds passed; the rest are
    cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
