"""The live hub's fan-out: updates gathered for `flush_s`, then sent to every subscriber
without ever waiting (`live.LiveHub` keeps the state they describe).

Each subscriber has a bounded queue. A caught-up client that follows every device gets the
shared list of events of a flush (one append, not one per device); when its queue is full,
new updates are coalesced into the latest value per (device, metric) (per device for
presence, per alert for alerts), and a client whose coalesced backlog keeps growing past a
bound, or that stays behind longer than `behind_s`, is dropped with a final `reload` event.
Event ids rise monotonically. The text of recent wake-ups is kept by their event ids: clients
sent the same events share one encoded piece of stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from dashboard_api.live_stream import LiveEvent, Subscriber, Update

__all__ = ["FanOut"]

log = logging.getLogger(__name__)

_CHUNKS_KEPT = 64


class FanOut:
    """One hub's subscribers and what is on its way to them; runs on the event loop."""

    def __init__(
        self, *, queue_size: int, max_backlog: int, behind_s: float, flush_s: float
    ) -> None:
        self._queue_size = queue_size
        self._max_backlog = max_backlog
        self._behind_s = behind_s
        self._flush_s = flush_s
        # Updates gathered since the last flush, one per (device, kind) (per alert for alerts).
        self._staged: dict[tuple[str, ...], Update] = {}
        self._flush_at: asyncio.TimerHandle | None = None
        self.subscribers: set[Subscriber] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.seq = 0
        self._chunks: dict[tuple[int, ...], bytes] = {}
        self.dropped = 0

    def subscriber(self, devices: frozenset[str] | None) -> Subscriber:
        """A new subscriber, after what is gathered went to the others: the newcomer's
        snapshot holds it already, and its id is then newer than every event sent before."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush()
        subscriber = Subscriber(devices, self._queue_size, self._max_backlog, self._behind_s)
        self.subscribers.add(subscriber)
        return subscriber

    def stage(self, updates: list[Update]) -> None:
        """Gather updates for the next flush, `flush_s` after the first: a device that reports
        several times in the window is sent once with its latest values, and each client is
        woken once per window however many batches arrived (each wake-up is a write to every
        browser). With `flush_s` 0 each batch goes out at once."""
        if self._flush_s <= 0 or self.loop is None:
            self._publish(updates)
            return
        for update in updates:
            key: tuple[str, ...] = (update.device, update.kind)
            if update.kind == "alert":
                key += tuple(k[2] for k in update.fields)
            staged = self._staged.get(key)
            if staged is None:
                self._staged[key] = Update(update.device, update.kind, dict(update.fields))
            else:
                staged.fields.update(update.fields)
        if self._flush_at is None:
            self._flush_at = self.loop.call_later(self._flush_s, self._flush)

    def event(self, kind: str, data: dict[str, Any]) -> LiveEvent:
        self.seq += 1
        return LiveEvent(self.seq, kind, data)

    def chunk_of(self, events: Sequence[LiveEvent]) -> bytes:
        """The events as one encoded piece of the stream, built once for every client sent
        the same ones (the server writes bytes; a str would be encoded again per client)."""
        key = tuple(event.id for event in events)
        chunk = self._chunks.get(key)
        if chunk is None:
            chunk = "".join(event.text() for event in events).encode()
            self._chunks[key] = chunk
            if len(self._chunks) > _CHUNKS_KEPT:
                del self._chunks[next(iter(self._chunks))]  # the oldest
        return chunk

    def drain_backlog(self, subscriber: Subscriber) -> list[LiveEvent]:
        """The coalesced backlog as events (one per device and kind); caught up again."""
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        for key, (device, kind, data) in subscriber.backlog.items():
            entry = grouped.setdefault((device, kind), {"device": device})
            if kind == "reading":
                entry.setdefault("values", {})[key[2]] = data
            else:
                entry.update(data)
        subscriber.backlog.clear()
        subscriber.behind_since = None
        return [self.event(kind, data) for (_, kind), data in grouped.items()]

    def _flush(self) -> None:
        self._flush_at = None
        updates = list(self._staged.values())
        self._staged.clear()
        self._publish(updates)

    def _publish(self, updates: list[Update]) -> None:
        """One flush's updates to every subscriber: a caught-up client that follows every
        device gets the flush's shared list of events (one append, not one per device)."""
        if not updates or not self.subscribers or self.loop is None:
            return
        events: list[LiveEvent] = []
        now = self.loop.time()
        every = range(len(updates))
        for subscriber in list(self.subscribers):
            follows = subscriber.devices
            # A client that follows every device takes the whole list without looking.
            wanted = (
                every if follows is None else [i for i in every if updates[i].device in follows]
            )
            if not wanted:
                continue
            fits = subscriber.queued + len(wanted) <= subscriber.queue_size
            if fits and not subscriber.backlog:
                if not events:
                    events = [self.event(u.kind, _data(u)) for u in updates]
                group = events if len(wanted) == len(updates) else [events[i] for i in wanted]
                subscriber.queue.append(group)
                subscriber.queued += len(group)
            else:
                for i in wanted:
                    self._coalesce(subscriber, updates[i], now)
            subscriber.wake.set()

    def _coalesce(self, subscriber: Subscriber, update: Update, now: float) -> None:
        if subscriber.dropped:
            return
        if subscriber.behind_since is None:
            subscriber.behind_since = now
        for key, data in update.fields.items():
            subscriber.backlog[key] = (update.device, update.kind, data)
        subscriber.coalesced += len(update.fields)
        too_many = len(subscriber.backlog) > subscriber.max_backlog
        if too_many or now - subscriber.behind_since > subscriber.behind_s:
            self._drop(subscriber, "backlog" if too_many else "behind")

    def _drop(self, subscriber: Subscriber, why: str) -> None:
        subscriber.dropped = True
        subscriber.backlog.clear()
        subscriber.queue.clear()
        subscriber.queue.append([self.event("reload", {"reason": why})])
        subscriber.queued = 1
        self.subscribers.discard(subscriber)
        self.dropped += 1
        log.info("live: a client fell behind (%s) and was told to reload", why)


def _data(update: Update) -> dict[str, Any]:
    data: dict[str, Any] = {"device": update.device}
    if update.kind == "reading":
        data["values"] = {key[2]: fields for key, fields in update.fields.items()}
    else:
        for fields in update.fields.values():
            data.update(fields)
    return data
