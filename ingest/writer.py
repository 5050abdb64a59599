"""`StoreWriter`: the async face of a store for the gateway.

Each call returns only once the data is durable in the store, because the gateway acknowledges
messages to the broker after that (DESIGN.md, delivery guarantees). Blocking store calls run in a
worker thread, never on the event loop. After a reading batch is stored, listeners (rules, the
live dashboard) are told in the order batches were stored, as soon as the batch is stored:
before the gateway acknowledges it and before its events, presence and dead letters are
written. Each batch's steps are stamped into `stages` (`core.stages`): the hop to the worker
thread, the write, the hop back, the listeners, and from its oldest message's arrival (set by
the gateway) to stored and to handed over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch
from core.stages import OLDEST_RECEIVED, StageTimes
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
    def __init__(self, store: SiteStore, stages: StageTimes | None = None) -> None:
        self._store = store
        self.stages = stages if stages is not None else StageTimes()
        self._listeners: list[BatchListener] = []
        self._presence_listeners: list[PresenceListener] = []
        self.stats = WriterStats()

    def add_listener(self, listener: BatchListener) -> None:
        self._listeners.append(listener)

    def add_presence_listener(self, listener: PresenceListener) -> None:
        self._presence_listeners.append(listener)

    async def readings(self, batch: ReadingBatch) -> None:
        called = time.monotonic()
        began, stored, written = await asyncio.to_thread(self._timed_write, batch)
        back = time.monotonic()
        self.stats.readings += written
        self.stats.batches += 1
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:
                # A listener's bug must not stop storage; it is logged with its traceback.
                log.exception("batch listener %r failed", listener)
        self._stamp(called, began, stored, back)

    def _timed_write(self, batch: ReadingBatch) -> tuple[float, float, int]:
        began = time.monotonic()
        written = self._store.write(batch)
        return began, time.monotonic(), written

    def _stamp(self, called: float, began: float, stored: float, back: float) -> None:
        stages = self.stages
        stages.observe("write_hop", began - called)
        stages.observe("write", stored - began)
        stages.observe("handover", back - stored)
        stages.observe("listeners", time.monotonic() - back)
        received = OLDEST_RECEIVED.get()
        if received:
            stages.observe("received_to_stored", stored - received)
            stages.observe("received_to_handed", back - received)

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
