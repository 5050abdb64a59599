"""`StoreWriter`: the async face of a store for the gateway.

Each call returns only once the data is durable in the store, because the gateway acknowledges
messages to the broker after that (DESIGN.md, delivery guarantees). Blocking store calls run in a
worker thread, never on the event loop. After a reading batch is stored, listeners (rules, the
live dashboard) are told in the order batches were stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch
from ingest.store import SiteStore

__all__ = ["StoreWriter", "WriterStats"]

log = logging.getLogger(__name__)

BatchListener = Callable[[ReadingBatch], None]
PresenceListener = Callable[[Sequence[PresenceChange]], None]


@dataclass(slots=True)
class WriterStats:
    readings: int = 0
    batches: int = 0
    dead_letters: int = 0
    events: int = 0
    presence: int = 0


class StoreWriter:
    def __init__(self, store: SiteStore) -> None:
        self._store = store
        self._listeners: list[BatchListener] = []
        self._presence_listeners: list[PresenceListener] = []
        self.stats = WriterStats()

    def add_listener(self, listener: BatchListener) -> None:
        self._listeners.append(listener)

    def add_presence_listener(self, listener: PresenceListener) -> None:
        self._presence_listeners.append(listener)

    async def readings(self, batch: ReadingBatch) -> None:
        written = await asyncio.to_thread(self._store.write, batch)
        self.stats.readings += written
        self.stats.batches += 1
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:
                # A listener's bug must not stop storage; it is logged with its traceback.
                log.exception("batch listener %r failed", listener)

    async def dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await asyncio.to_thread(self._store.write_dead_letters, letters)
        self.stats.dead_letters += len(letters)

    async def events(self, events: Sequence[DeviceEvent]) -> None:
        await asyncio.to_thread(self._store.write_events, events)
        self.stats.events += len(events)

    async def presence(self, changes: Sequence[PresenceChange]) -> None:
        await asyncio.to_thread(self._store.write_presence, changes)
        self.stats.presence += len(changes)
        for listener in self._presence_listeners:
            try:
                listener(changes)
            except Exception:
                log.exception("presence listener %r failed", listener)
