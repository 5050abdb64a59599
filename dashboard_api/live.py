"""The live hub: stored readings, presence and alert changes fanned out to dashboard clients.

The store writer tells the hub of each batch after it is stored (a tile never shows what is not
in the store); the hub keeps the latest value per (device, metric) for the snapshot a client
gets on connect (and for the overview and device answers, with a version per device), and
gathers the updates for `flush_s` (0.1 s): one compact event per device with its latest values,
however many batches came in the window. At 1 k readings/s the writer stores a batch every few
ms; waking 200 clients per batch is 200 writes each time, and the loop would fall behind.
Each event's text is built and encoded once and the piece of stream sent after a wake-up is
joined once for every client sent the same events.

A slow client must never slow ingest or the other clients, so publishing never waits: each
subscriber has a bounded queue. When it is full, new updates are coalesced into the latest value
per (device, metric) (and per device for presence, per alert for alerts); a client that catches
up gets the coalesced state next. A client whose coalesced backlog keeps growing past a bound, or
that stays behind longer than `behind_s`, is dropped with a final `reload` event: it reconnects
and starts from a fresh snapshot. Event ids rise monotonically; a reconnecting EventSource sends
the last one it saw and gets a fresh snapshot, which is all a tile needs.

Publishing runs on the event loop; alert changes may come from the alerts service's worker
thread and are handed to the loop first.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.lifecycle import AlertChange
from core.config import SiteConfig
from core.metrics import METRICS, ValueType
from core.readings import PresenceChange, ReadingBatch
from dashboard_api.live_stream import Key, LiveEvent, Subscriber, Update
from ingest.store import SiteStore

__all__ = ["AlertListener", "LiveEvent", "LiveHub", "Subscriber"]

log = logging.getLogger(__name__)

AlertListener = Callable[[AlertChange], None]
_CHUNKS_KEPT = 64


class LiveHub:
    def __init__(
        self,
        config: SiteConfig,
        store: SiteStore,
        *,
        queue_size: int = 1024,
        max_backlog: int = 4096,
        behind_s: float = 30.0,
        heartbeat_s: float = 15.0,
        flush_s: float = 0.1,
    ) -> None:
        self.site = config.site.id
        self.zone: ZoneInfo = config.site.zone
        self.devices = frozenset(d.id for d in config.devices)
        self.heartbeat_s = heartbeat_s
        self._store = store
        self._queue_size = queue_size
        self._max_backlog = max_backlog
        self._behind_s = behind_s
        self._flush_s = flush_s
        # Updates gathered since the last flush, one per (device, kind) (per alert for alerts).
        self._staged: dict[tuple[str, ...], Update] = {}
        self._flush_at: asyncio.TimerHandle | None = None
        self._subscribers: set[Subscriber] = set()
        # Per device: its latest (epoch ms, value) per metric.
        self._latest: dict[str, dict[str, tuple[int, float]]] = {}
        self._presence: dict[str, tuple[bool, datetime]] = {}
        # Raised by every change a page shows (reading, presence, alert), overall and per
        # device: what the overview's caches compare to know what to render again.
        self.version = 0
        self.presence_version = 0  # raised by presence changes only (the device list)
        self._versions: dict[str, int] = {}
        self._alert_versions: dict[str, int] = {}  # raised by the device's alert changes only
        self._alert_listeners: list[AlertListener] = []
        self._snapshot_text: tuple[tuple[int, int], str] | None = None
        self._seq = 0
        self._seeded = False
        self._seeding = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # The text of recent wake-ups by their event ids: clients that are caught up and follow
        # the same devices get the same events, and one join serves them all.
        self._chunks: dict[tuple[int, ...], bytes] = {}
        self.dropped = 0

    # -- the service's side -----------------------------------------------------------------

    def on_batch(self, batch: ReadingBatch) -> None:
        """The store writer's listener: `batch` is stored. Never waits."""
        self._bind_loop()
        per_device: dict[str, dict[Key, dict[str, Any]]] = {}
        stored: set[str] = set()  # late readings included: they change a chart, not a tile
        ts_list = batch.ts_ms.tolist()
        values = batch.value.tolist()
        for i, device in enumerate(batch.device):
            if batch.site[i] != self.site:
                continue
            stored.add(device)
            metric, ts, value = batch.metric[i], int(ts_list[i]), float(values[i])
            metrics = self._latest.setdefault(device, {})
            known = metrics.get(metric)
            if known is not None and known[0] > ts:
                continue  # a late reading: the tile keeps the newer value
            metrics[metric] = (ts, value)
            per_device.setdefault(device, {})[("reading", device, metric)] = self._value(
                metric, ts, value
            )
        self._changed(stored)
        self._stage([Update(device, "reading", f) for device, f in per_device.items()])

    def on_presence(self, changes: Sequence[PresenceChange]) -> None:
        self._bind_loop()
        for change in changes:
            if change.site != self.site:
                continue
            self._presence[change.device] = (change.online, change.at)
            self.presence_version += 1
            self._changed((change.device,))
            fields = {("presence", change.device, ""): self._presence_fields(change.device)}
            self._stage([Update(change.device, "presence", fields)])

    def on_alert_change(self, change: AlertChange) -> None:
        """The alerts service's change listener; it may call from its worker thread."""
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._alert, change)
        else:
            self._alert(change)

    # -- the clients' side ------------------------------------------------------------------

    async def subscribe(self, devices: Iterable[str] | None = None) -> Subscriber:
        self._bind_loop()
        await self._seed()
        # What is gathered goes to the others first: the newcomer's snapshot holds it already,
        # and its id is then newer than every event sent before it.
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush()
        subscriber = Subscriber(
            None if devices is None else frozenset(devices),
            self._queue_size,
            self._max_backlog,
            self._behind_s,
        )
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def ready(self) -> None:
        """Seed the latest values and presence from the store, once (call on the event loop);
        after it, `values_of` and `presence_of` answer from memory."""
        self._bind_loop()
        await self._seed()

    def values_of(self, device: str) -> Mapping[str, tuple[int, float]]:
        """The device's latest (epoch ms, value) per metric, as the snapshots give them."""
        return self._latest.get(device, {})

    def presence_of(self, device: str) -> tuple[bool, datetime] | None:
        """The device's (online, since), or None when it never said."""
        return self._presence.get(device)

    def version_of(self, device: str) -> int:
        """Raised by each change of the device's values, presence or alerts."""
        return self._versions.get(device, 0)

    def alerts_version_of(self, device: str) -> int:
        """Raised by each change of the device's alerts the hub is told of (the rules', and a
        person's acknowledge, resolve or close): what a page's open-alert list compares."""
        return self._alert_versions.get(device, 0)

    @property
    def seeded(self) -> bool:
        """`values_of` and `presence_of` answer from memory (`ready` has run)."""
        return self._seeded

    def add_alert_listener(self, listener: AlertListener) -> None:
        """Told of each alert change on the event loop, after the subscribers."""
        self._alert_listeners.append(listener)

    def snapshot(self, subscriber: Subscriber) -> LiveEvent:
        """The latest value of every metric and the presence of each device it follows."""
        devices: dict[str, dict[str, Any]] = {}
        for device in sorted(self._latest):
            if subscriber.wants(device):
                values = self._latest[device]
                devices[device] = {
                    "values": {m: self._value(m, *values[m]) for m in sorted(values)}
                }
        for device in sorted(self._presence):
            if subscriber.wants(device):
                devices.setdefault(device, {"values": {}}).update(self._presence_fields(device))
        return LiveEvent(self._seq, "snapshot", {"site": self.site, "devices": devices})

    def snapshot_text(self, subscriber: Subscriber) -> str:
        """`snapshot(subscriber)` as stream text; for clients that follow every device it is
        built once per state and shared (200 browsers reconnecting at once cost one)."""
        if subscriber.devices is not None:
            return self.snapshot(subscriber).text()
        key = (self.version, self._seq)
        if self._snapshot_text is None or self._snapshot_text[0] != key:
            self._snapshot_text = (key, self.snapshot(subscriber).text())
        return self._snapshot_text[1]

    def text_of(self, events: Sequence[LiveEvent]) -> str:
        """The events as one piece of the stream, shared by every client sent the same ones."""
        return self.chunk_of(events).decode()

    def chunk_of(self, events: Sequence[LiveEvent]) -> bytes:
        """`text_of` encoded once for every client sent the same events (the server writes
        bytes; a str would be encoded again per client)."""
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
        return [self._event(kind, data) for (_, kind), data in grouped.items()]

    # -- inside -----------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()

    async def _seed(self) -> None:
        """Latest values and presence from the store, once; newer values seen since win."""
        async with self._seeding:
            if self._seeded:
                return
            latest, presence = await asyncio.to_thread(self._read_store)
            for (device, metric), (ts, value) in latest.items():
                metrics = self._latest.setdefault(device, {})
                known = metrics.get(metric)
                if known is None or known[0] < ts:
                    metrics[metric] = (ts, value)
            for device, seen in presence.items():
                self._presence.setdefault(device, seen)
            self.presence_version += 1
            self._changed(self.devices)
            self._seeded = True

    def _read_store(
        self,
    ) -> tuple[dict[tuple[str, str], tuple[int, float]], dict[str, tuple[bool, datetime]]]:
        latest: dict[tuple[str, str], tuple[int, float]] = {}
        for device in sorted(self.devices):
            for v in self._store.latest(self.site, device):
                latest[(device, v.metric)] = (int(v.ts.timestamp() * 1000), v.value)
        presence = {p.device: (p.online, p.since) for p in self._store.presence(self.site)}
        return latest, presence

    def _alert(self, change: AlertChange) -> None:
        alert = change.alert
        if alert.site != self.site:
            return
        fields = {
            ("alert", alert.device, str(alert.id)): {
                "alert": {
                    "id": alert.id,
                    "rule": str(alert.rule),
                    "severity": str(alert.severity),
                    "state": str(alert.state),
                    "action": str(change.action),
                    "condition_active": alert.condition_active,
                    "updated_at": self._local(alert.updated_at),
                }
            }
        }
        self._alert_versions[alert.device] = self._alert_versions.get(alert.device, 0) + 1
        self._changed((alert.device,))
        self._stage([Update(alert.device, "alert", fields)])
        for listener in self._alert_listeners:
            try:
                listener(change)
            except Exception:
                log.exception("live: alert listener %r failed", listener)

    def _changed(self, devices: Iterable[str]) -> None:
        self.version += 1
        for device in devices:
            self._versions[device] = self.version

    def _stage(self, updates: list[Update]) -> None:
        """Gather updates for the next flush, `flush_s` after the first: a device that reports
        several times in the window is sent once with its latest values, and each client is
        woken once per window however many batches arrived (each wake-up is a write to every
        browser). With `flush_s` 0 each batch goes out at once."""
        if self._flush_s <= 0 or self._loop is None:
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
            self._flush_at = self._loop.call_later(self._flush_s, self._flush)

    def _flush(self) -> None:
        self._flush_at = None
        updates = list(self._staged.values())
        self._staged.clear()
        self._publish(updates)

    def _publish(self, updates: list[Update]) -> None:
        """One batch's updates to every subscriber: a caught-up client that follows every
        device gets the batch's shared list of events (one append, not one per device)."""
        if not updates or not self._subscribers or self._loop is None:
            return
        events: list[LiveEvent] = []
        now = self._loop.time()
        every = range(len(updates))
        for subscriber in list(self._subscribers):
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
                    events = [self._event(u.kind, self._data(u)) for u in updates]
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
        subscriber.queue.append([self._event("reload", {"reason": why})])
        subscriber.queued = 1
        self._subscribers.discard(subscriber)
        self.dropped += 1
        log.info("live: a client fell behind (%s) and was told to reload", why)

    def _event(self, kind: str, data: dict[str, Any]) -> LiveEvent:
        self._seq += 1
        return LiveEvent(self._seq, kind, data)

    @staticmethod
    def _data(update: Update) -> dict[str, Any]:
        data: dict[str, Any] = {"device": update.device}
        if update.kind == "reading":
            data["values"] = {key[2]: fields for key, fields in update.fields.items()}
        else:
            for fields in update.fields.values():
                data.update(fields)
        return data

    def _value(self, metric: str, ts_ms: int, value: float) -> dict[str, Any]:
        spec = METRICS.get(metric)
        shown: float | bool = value
        if spec is not None and spec.value_type is ValueType.BOOLEAN:
            shown = value >= 0.5
        at = datetime.fromtimestamp(ts_ms / 1000, UTC)
        return {"value": shown, "unit": spec.unit if spec else "", "ts": self._local(at)}

    def _presence_fields(self, device: str) -> dict[str, Any]:
        online, since = self._presence[device]
        return {"online": online, "presence_since": self._local(since)}

    def _local(self, instant: datetime) -> str:
        return instant.astimezone(self.zone).isoformat()
