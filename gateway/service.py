"""The gateway: receive, decode and validate, hand batches to the sink, then acknowledge.

Two stages run as tasks: decoding (CPU, on the loop) and storing (the sink, which runs blocking
work in a thread). A bounded queue between them lets the next batch decode while the previous
one is written, and pushes back on the broker when the store is slow: unacknowledged messages
fill the broker's in-flight window and it stops sending; the batches that waited while a write
ran are stored together in the next one (`merged`), so the newest waits for one write, not
one per batch before it. The linger is adaptive: after a short
batch (quiet traffic) the next message is decoded and handed over at once, for latency; after
a long one (a flood, a backlog) the decoder waits `batch_linger_ms` for more when the link is
empty, so a store transaction's fixed cost is shared by many readings.

A topic is resolved once and remembered (for configured devices only): a canonical device topic,
a bridge topic (`gateway/bridges.py`), or a foreign format's topic, which its adapter decodes into
the same canonical readings (`gateway/adapters/`). The canonical path stays one dictionary look-up.

No single message can stop or wedge ingest: whatever goes wrong while decoding a message (a
`PayloadError`, or a bug that raises anything else) makes that message a dead letter, and a store
that refuses a batch for its data is searched for the message at fault (`gateway/isolation.py`).
Only the store's unavailability holds messages back: the batch is retried with backoff, nothing
is acknowledged meanwhile, and `faults()` says so for the health endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.clock import Clock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig, parse_broker_url
from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch, ReadingBatchBuilder
from core.stages import OLDEST_RECEIVED, StageTimes
from core.topics import BridgeChannel, BridgeTopic, Channel, DeviceTopic, TopicScheme
from gateway.adapters import ForeignRoute, ForeignRouter, MessageKind
from gateway.batching import DecodedBatch, OpenBatch, merged
from gateway.bridges import BridgeRoster
from gateway.codec import TimeWindow, decode_event, decode_status, decode_telemetry
from gateway.errors import PayloadError
from gateway.isolation import Owned, ReadingSpan, isolate, readings_of
from gateway.link import BrokerLink, Inbound

__all__ = ["DecodedBatch", "Gateway", "GatewaySink", "GatewayStats"]

log = logging.getLogger(__name__)


class GatewaySink(Protocol):
    """Where decoded data goes. Each call returns once the data is durable."""

    async def readings(self, batch: ReadingBatch) -> None: ...

    async def events(self, events: Sequence[DeviceEvent]) -> None: ...

    async def presence(self, changes: Sequence[PresenceChange]) -> None: ...

    async def dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...


@dataclass(slots=True)
class GatewayStats:
    messages: int = 0
    readings: int = 0  # decoded
    stored: int = 0  # readings in the store, each counted once however often it was retried
    acked: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    store_retries: int = 0
    ignored: int = 0  # well-formed foreign messages with nothing we map (a Shelly's Wi-Fi news)


_STORE_FAILING = "store"
# A batch of at least this many messages means busy traffic: the next one lingers to grow. At
# 1 k msg/s a store write of ~20 ms gathers ~20 messages, so quiet and district-sized traffic
# goes out at once; a flood or a backlog is written in batches of hundreds to thousands.
_BUSY_BATCH = 64


class Gateway:
    def __init__(
        self,
        config: SiteConfig,
        sink: GatewaySink,
        clock: Clock,
        *,
        broker_url: str | None = None,
        stages: StageTimes | None = None,
    ) -> None:
        self._config = config
        # Shared with the store writer, which stamps the steps after the hand-over.
        self.stages = stages if stages is not None else StageTimes()
        self._sink = sink
        self._clock = clock
        self._site = config.site.id
        self._devices = {d.id for d in config.devices}
        self._topics = TopicScheme(config.mqtt.topic_prefix)
        self._settings = config.gateway
        self._roster = BridgeRoster(self._site, self._devices)
        self._router = ForeignRouter(config)
        host, port = parse_broker_url(broker_url or config.mqtt.broker)
        self._link = BrokerLink(
            host,
            port,
            config.mqtt.client_id,
            self._topics.site_filters(self._site) + self._router.filters(),
            keepalive_s=config.mqtt.keepalive_s,
            username=config.mqtt.username,
            password=config.mqtt.password_text(),
        )
        # Topics of configured devices, canonical or foreign, resolved once: bounded by the site.
        self._routes: dict[str, DeviceTopic | ForeignRoute] = {}
        self._store_failing: tuple[datetime, str] | None = None
        self.stats = GatewayStats()

    @property
    def connected(self) -> bool:
        return self._link.connected

    def pending(self) -> int:
        """Messages received from the broker and not decoded yet."""
        return self._link.pending()

    @property
    def subscribed(self) -> bool:
        """Connected, and the broker has confirmed the subscription to this site's topics."""
        return self._link.subscribed

    def faults(self) -> list[str]:
        """What stops data flowing now (broker, session, store), in words; empty when none."""
        found = self._link.faults()
        if self._store_failing is not None:
            since, error = self._store_failing
            found.append(f"the store has failed since {since.isoformat()}: {error}")
        return found

    async def run(self) -> None:
        """Consume until cancelled. Unacknowledged messages are redelivered on the next start."""
        decoded: asyncio.Queue[DecodedBatch] = asyncio.Queue(maxsize=2)
        await self._link.start()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._decode_loop(decoded), name="gateway-decode")
                tasks.create_task(self._store_loop(decoded), name="gateway-store")
        finally:
            await self._link.stop()

    async def _decode_loop(self, out: asyncio.Queue[DecodedBatch]) -> None:
        linger = self._settings.batch_linger_ms / 1000
        limit = self._settings.batch_max_messages
        busy = False
        stages = self.stages
        while True:
            messages = await self._link.receive(limit)
            taken = time.monotonic()
            stages.observe("inbox", taken - messages[0].received)
            if busy and len(messages) < limit and linger > 0 and self._link.pending() == 0:
                # Busy traffic: wait a moment so the batch is worth a store transaction.
                await asyncio.sleep(linger)
                messages += self._link.take(limit - len(messages))
                stages.observe("linger", time.monotonic() - taken)
            # A short batch means quiet traffic: the next message goes out at once (latency).
            busy = len(messages) >= _BUSY_BATCH
            decoding = time.monotonic()
            batch = self.decode(messages)
            stages.observe("decode", batch.closed_at - decoding)
            await out.put(batch)

    async def _store_loop(self, queue: asyncio.Queue[DecodedBatch]) -> None:
        stages = self.stages
        while True:
            waiting = [await queue.get()]
            while not queue.empty():
                waiting.append(queue.get_nowait())
            # What waited while the last write ran goes out as one transaction.
            batch = merged(waiting)
            stages.observe("queued", time.monotonic() - batch.closed_at)
            token = OLDEST_RECEIVED.set(batch.oldest_received)
            try:
                await self.store(batch)
            finally:
                OLDEST_RECEIVED.reset(token)
            stored = time.monotonic()
            self.stats.acked += self._link.ack(batch.messages)
            stages.observe("ack", time.monotonic() - stored)

    async def store(self, batch: DecodedBatch) -> None:
        """Store a decoded batch; returns once every message is stored or dead-lettered.
        An unavailable store is retried with backoff for as long as it lasts."""
        delay = 0.5
        while True:
            try:
                await self._store_parts(batch)
            # StorageUnavailable (isolate passes nothing else up), or a bug of ours in between:
            # either way retried with backoff, logged with the error and shown in faults().
            except Exception as exc:
                self.stats.store_retries += 1
                if self._store_failing is None:
                    self._store_failing = (self._clock.now(), str(exc))
                log.error("the store failed: %s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if self._store_failing is not None:
                log.warning("the store works again (failed since %s)", self._store_failing[0])
                self._store_failing = None
            return

    async def _store_parts(self, batch: DecodedBatch) -> None:
        """Each part once, in order; a refused piece becomes a dead letter, written last."""
        sink = self._sink
        if "readings" not in batch.done:
            refused = await isolate(
                batch.spans, lambda spans: sink.readings(readings_of(batch.readings, spans))
            )
            self._refused(batch, [(span.message, exc) for span, exc in refused])
            lost = {id(span) for span, _ in refused}
            self.stats.stored += sum(s.end - s.start for s in batch.spans if id(s) not in lost)
            batch.done.add("readings")
        if "events" not in batch.done:
            refused_events = await isolate(
                batch.events, lambda owned: sink.events([o.item for o in owned])
            )
            self._refused(batch, [(o.message, exc) for o, exc in refused_events])
            batch.done.add("events")
        if "presence" not in batch.done:
            refused_presence = await isolate(
                batch.presence, lambda owned: sink.presence([o.item for o in owned])
            )
            self._refused(batch, [(o.message, exc) for o, exc in refused_presence])
            batch.done.add("presence")
        for letter, exc in await isolate(batch.letters, sink.dead_letters):
            # Reasons and topics are made storable already; this is a store's bug: say so once.
            log.error("a dead letter from %s could not be stored: %s", letter.topic, exc)

    def _refused(self, batch: DecodedBatch, refused: list[tuple[Inbound, Exception]]) -> None:
        for message, exc in refused:
            log.error("the store refused a message from %s: %s", message.topic, exc)
            problem = PayloadError(f"the store refused this message: {exc}", code="store_refused")
            batch.letters.append(self._dead_letter(message, problem))

    def decode(self, messages: list[Inbound]) -> DecodedBatch:
        """Decode a batch of messages: readings, events, presence and dead letters."""
        batch = self._open_batch()
        self._decode_into(batch, messages)
        return batch.close()

    def _open_batch(self) -> OpenBatch:
        window = TimeWindow(
            to_epoch_ms(self._clock.now()),
            int(self._settings.max_future_skew_s * 1000),
            int(self._settings.max_age_days * 86_400_000),
        )
        return OpenBatch.empty(window)

    def _decode_into(self, batch: OpenBatch, messages: list[Inbound]) -> None:
        """Decode messages into an open batch, each message whole or as a dead letter."""
        builder, window, out = batch.builder, batch.window, batch.decoded
        out.messages.extend(messages)
        for message in messages:
            start = len(builder)
            try:
                self._route(message, window, builder, out)
            except PayloadError as exc:
                builder.rollback(start)
                out.letters.append(self._dead_letter(message, exc))
            except Exception as exc:  # a decoder bug must cost one message, not the loop
                builder.rollback(start)
                log.exception("decoding a message from %s failed", message.topic)
                problem = PayloadError(
                    f"the gateway could not decode this message ({type(exc).__name__}: "
                    f"{exc}); kept for a bug report",
                    code="decoder_error",
                )
                out.letters.append(self._dead_letter(message, problem))
            if len(builder) > start:
                out.spans.append(ReadingSpan(start, len(builder), message))
                self.stats.readings += len(builder) - start
        self.stats.messages += len(messages)

    def _route(
        self, message: Inbound, window: TimeWindow, builder: ReadingBatchBuilder, out: DecodedBatch
    ) -> None:
        size = len(message.payload)
        if size > self._settings.max_payload_bytes:
            raise PayloadError(
                f"payload of {size} bytes exceeds the limit of "
                f"{self._settings.max_payload_bytes} bytes (gateway.max_payload_bytes)",
                code="too_large",
            )
        where = self._routes.get(message.topic) or self._resolve(message.topic)
        if type(where) is DeviceTopic:
            if where.channel is Channel.TELEMETRY:
                decode_telemetry(message.payload, where.site, where.device, window, builder)
            elif where.channel is Channel.EVENT:
                event = decode_event(message.payload, where.site, where.device, window)
                out.events.append(Owned(event, message))
            else:
                self._presence(out, message, where.device, decode_status(message.payload), window)
        elif type(where) is ForeignRoute:
            self._foreign(where, message, window, builder, out)
        elif type(where) is BridgeTopic:
            self._bridge(where, message, window, out)

    def _resolve(self, topic: str) -> DeviceTopic | ForeignRoute | BridgeTopic:
        """What a topic not seen before is: a device's, a bridge's or a foreign format's."""
        where = self._topics.parse(topic)
        if where is not None:
            return self._device_topic(where, topic)
        bridge = self._topics.parse_bridge(topic)
        if bridge is not None and bridge.site == self._site:
            return bridge
        route = self._router.route(topic)
        if route is None:
            raise PayloadError(f"topic {topic!r} is not a device topic", code="bad_topic")
        self._routes[topic] = route
        return route

    def _device_topic(self, where: DeviceTopic, topic: str) -> DeviceTopic:
        if where.site != self._site:
            raise PayloadError(f"topic {topic!r} is not a device topic", code="bad_topic")
        if where.device not in self._devices:
            raise PayloadError(
                f"unknown device {where.device!r}: not in the config of site {self._site!r}",
                code="unknown_device",
            )
        # Only topics of configured devices are remembered, so the cache is bounded by the site.
        self._routes[topic] = where
        return where

    def _foreign(
        self,
        route: ForeignRoute,
        message: Inbound,
        window: TimeWindow,
        builder: ReadingBatchBuilder,
        out: DecodedBatch,
    ) -> None:
        adapter = route.adapter
        what = f"{adapter.format.value} message for {route.device}"
        try:
            if route.kind is MessageKind.PRESENCE:
                online = adapter.decode_presence(message.payload)
                self._presence(out, message, route.device, online, window)
                return
            decoded = adapter.decode_telemetry(message.payload, route.device, window, builder)
        except PayloadError as exc:
            raise PayloadError(f"{what}: {exc.reason}", code=exc.code) from None
        if decoded.count == 0 and not decoded.dropped:
            self.stats.ignored += 1
        if decoded.dropped:
            # The readings beside a bad secondary field are stored; the field is kept here.
            note = f"{what}: stored {decoded.count} reading(s), dropped " + "; ".join(
                decoded.dropped
            )
            problem = PayloadError(note, code="dropped_field")
            out.letters.append(self._dead_letter(message, problem))

    def _bridge(
        self, where: BridgeTopic, message: Inbound, window: TimeWindow, out: DecodedBatch
    ) -> None:
        at = _window_now(window)
        if where.channel is BridgeChannel.STATUS:
            online = decode_status(message.payload)
            changes = self._roster.status(where.bridge, online, at)
        else:
            changes = self._roster.members(where.bridge, message.payload, at)
        out.presence.extend(Owned(change, message) for change in changes)

    def _presence(
        self, out: DecodedBatch, message: Inbound, device: str, online: bool, window: TimeWindow
    ) -> None:
        if online and self._roster.blocks(device):
            return  # kept by the broker from before its bridge died: stale
        change = PresenceChange(self._site, device, online, _window_now(window))
        out.presence.append(Owned(change, message))

    def _dead_letter(self, message: Inbound, exc: PayloadError) -> DeadLetter:
        self.stats.dead_letters[exc.code] += 1
        site, device = self._site_and_device(message.topic)
        log.debug("dead letter on %s: %s", message.topic, exc.reason)
        keep = self._settings.deadletter_keep_bytes
        return DeadLetter(
            received_at=self._clock.now(),
            topic=_storable(message.topic),
            reason=_storable(exc.reason[:_REASON_LIMIT]),
            payload=bytes(message.payload[:keep]),
            payload_size=len(message.payload),
            site=site,
            device=device,
            code=exc.code,
        )

    def _site_and_device(self, topic: str) -> tuple[str | None, str | None]:
        where = self._topics.parse(topic)
        if where is not None:
            return where.site, where.device
        # Bridge and foreign topics reach us only through this site's subscriptions.
        route = self._routes.get(topic)
        return self._site, route.device if isinstance(route, ForeignRoute) else None


def _window_now(window: TimeWindow) -> datetime:
    return utc_from_ms(window.now_ms)


_REASON_LIMIT = 2000  # characters of a dead letter's reason


def _storable(text: str) -> str:
    """Text any UTF-8 store takes: lone surrogates and NULs written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\x00")
