"""The live hub: stored readings, presence and alert changes fanned out to dashboard clients.

The store writer tells the hub of each batch after it is stored (a tile never shows what is not
in the store); the hub keeps the latest value per (device, metric) for the snapshot a client
gets on connect (and for the overview and device answers, with a version per device), and
gathers the updates for `flush_s` (0.1 s): one compact event per device with its latest values,
however many batches came in the window. At 1 k readings/s the writer stores a batch every few
ms; waking 200 clients per batch is 200 writes each time, and the loop would fall behind.

A slow client must never slow ingest or the other clients, so publishing never waits: the
fan-out (`live_fanout`) gives each subscriber a bounded queue, coalesces what does not fit and
drops a client that stays behind with a final `reload` event; it reconnects and starts from a
fresh snapshot. Event ids rise monotonically; a reconnecting EventSource sends the last one it
saw and gets a fresh snapshot, which is all a tile needs.

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
from dashboard_api.live_fanout import FanOut
from dashboard_api.live_stream import Key, LiveEvent, Subscriber, Update
from ingest.store import SiteStore

__all__ = ["AlertListener", "LiveEvent", "LiveHub", "Subscriber"]

log = logging.getLogger(__name__)

AlertListener = Callable[[AlertChange], None]


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
        self._fan = FanOut(
            queue_size=queue_size, max_backlog=max_backlog, behind_s=behind_s, flush_s=flush_s
        )
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
        self._seeded = False
        self._seeding = asyncio.Lock()
        self._loop_thread: int | None = None

    @property
    def dropped(self) -> int:
        """Clients told to reload because they fell behind."""
        return self._fan.dropped

    # -- the service's side -----------------------------------------------------------------

    def on_batch(self, batch: ReadingBatch) -> None:
        """The store writer's listener: `batch` is stored. Never waits."""
        self._bind_loop()
        # Per device, the metrics whose tile changed: shown once per batch, and only when a
        # client follows (formatting a value for each reading cost the loop ~1 us a reading
        # at 10 k msg/s, for nobody when no dashboard is open).
        fresh: dict[str, set[str]] = {}
        stored: set[str] = set()  # late readings included: they change a chart, not a tile
        site, latest = self.site, self._latest
        rows = zip(
            batch.site,
            batch.device,
            batch.metric,
            batch.ts_ms.tolist(),
            batch.value.tolist(),
            strict=True,
        )
        for reading_site, device, metric, ts, value in rows:
            if reading_site != site:
                continue
            stored.add(device)
            metrics = latest.get(device)
            if metrics is None:
                metrics = latest[device] = {}
            known = metrics.get(metric)
            if known is not None and known[0] > ts:
                continue  # a late reading: the tile keeps the newer value
            metrics[metric] = (int(ts), float(value))
            fresh.setdefault(device, set()).add(metric)
        self._changed(stored)
        if self._fan.subscribers:
            self._fan.stage(
                [self._reading_update(device, names) for device, names in fresh.items()]
            )

    def _reading_update(self, device: str, metrics: set[str]) -> Update:
        latest = self._latest[device]
        fields: dict[Key, dict[str, Any]] = {
            ("reading", device, metric): self._value(metric, *latest[metric]) for metric in metrics
        }
        return Update(device, "reading", fields)

    def on_presence(self, changes: Sequence[PresenceChange]) -> None:
        self._bind_loop()
        for change in changes:
            if change.site != self.site:
                continue
            self._presence[change.device] = (change.online, change.at)
            self.presence_version += 1
            self._changed((change.device,))
            fields = {("presence", change.device, ""): self._presence_fields(change.device)}
            self._fan.stage([Update(change.device, "presence", fields)])

    def on_alert_change(self, change: AlertChange) -> None:
        """The alerts service's change listener; it may call from its worker thread."""
        loop = self._fan.loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._alert, change)
        else:
            self._alert(change)

    # -- the clients' side ------------------------------------------------------------------

    async def subscribe(self, devices: Iterable[str] | None = None) -> Subscriber:
        self._bind_loop()
        await self._seed()
        return self._fan.subscriber(None if devices is None else frozenset(devices))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._fan.subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._fan.subscribers)

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
        return LiveEvent(self._fan.seq, "snapshot", {"site": self.site, "devices": devices})

    def snapshot_text(self, subscriber: Subscriber) -> str:
        """`snapshot(subscriber)` as stream text; for clients that follow every device it is
        built once per state and shared (200 browsers reconnecting at once cost one)."""
        if subscriber.devices is not None:
            return self.snapshot(subscriber).text()
        key = (self.version, self._fan.seq)
        if self._snapshot_text is None or self._snapshot_text[0] != key:
            self._snapshot_text = (key, self.snapshot(subscriber).text())
        return self._snapshot_text[1]

    def text_of(self, events: Sequence[LiveEvent]) -> str:
        """The events as one piece of the stream, shared by every client sent the same ones."""
        return self.chunk_of(events).decode()

    def chunk_of(self, events: Sequence[LiveEvent]) -> bytes:
        """`text_of` encoded once for every client sent the same events."""
        return self._fan.chunk_of(events)

    def drain_backlog(self, subscriber: Subscriber) -> list[LiveEvent]:
        """The coalesced backlog as events (one per device and kind); caught up again."""
        return self._fan.drain_backlog(subscriber)

    # -- inside -----------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        if self._fan.loop is None:
            self._fan.loop = asyncio.get_running_loop()
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
        self._fan.stage([Update(alert.device, "alert", fields)])
        for listener in self._alert_listeners:
            try:
                listener(change)
            except Exception:
                log.exception("live: alert listener %r failed", listener)

    def _changed(self, devices: Iterable[str]) -> None:
        self.version += 1
        for device in devices:
            self._versions[device] = self.version

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
