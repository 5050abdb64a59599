"""What the live hub sends and to whom: an event (its text built once for every subscriber),
an update before it is an event (per key, so it can be coalesced), and one connected client
with its bounded queue and coalesced backlog (`live.LiveHub` explains the policy)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Backlogs", "Key", "LiveEvent", "Subscriber", "Update"]

Key = tuple[str, str, str]  # (kind of update, device, metric or alert id)


@dataclass(slots=True)
class LiveEvent:
    """One server-sent event; its text is built once and shared by every subscriber."""

    id: int
    kind: str
    data: dict[str, Any]
    _text: str | None = None

    def text(self) -> str:
        if self._text is None:
            body = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
            self._text = f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n"
        return self._text


@dataclass(slots=True)
class Update:
    """What changed, before it is an event: per key, so a backlog can coalesce it."""

    device: str
    kind: str
    fields: dict[Key, dict[str, Any]]


@dataclass(eq=False, slots=True)
class Subscriber:
    """One connected client: its filter, its bounded queue and its coalesced backlog."""

    devices: frozenset[str] | None
    queue_size: int
    max_backlog: int
    behind_s: float
    # Whole batches' events, shared with the other subscribers; `queued` counts the events.
    queue: deque[Sequence[LiveEvent]] = field(default_factory=deque)
    queued: int = 0
    backlog: dict[Key, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    behind_since: float | None = None
    dropped: bool = False
    coalesced: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, device: str) -> bool:
        return self.devices is None or device in self.devices

    async def next_events(self, hub: Backlogs, timeout_s: float) -> list[LiveEvent] | None:
        """Everything waiting (queue first, then the coalesced backlog), or None after
        `timeout_s` with nothing (time for a heartbeat). A dropped subscriber gets its final
        `reload` event and then an empty list."""
        if not self.queue and not self.backlog and not self.dropped:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout_s)
            except TimeoutError:
                return None
        events = [event for group in self.queue for event in group]
        self.queue.clear()
        self.queued = 0
        if self.backlog and not self.dropped:
            events.extend(hub.drain_backlog(self))
        return events


class Backlogs(Protocol):
    def drain_backlog(self, subscriber: Subscriber) -> list[LiveEvent]:
        """The subscriber's coalesced backlog as events; it is caught up again."""
        ...
