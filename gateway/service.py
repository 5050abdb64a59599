"""The gateway: receive, decode and validate, hand batches to the sink, then acknowledge.

Two stages run as tasks: decoding (CPU, on the loop) and storing (the sink, which runs blocking
work in a thread). A hand-over between them (`batching.Handover`, bounded by messages) lets the
next batches decode while one is written, and pushes back on the broker when the store is slow:
unacknowledged messages fill the broker's in-flight window and it stops sending. The batches
that waited are stored together in the next write (`merged`), so the newest waits for one
write, not one per batch before it. The lingers are adaptive: after a short batch (quiet
traffic) the next message is decoded, judged and stored at once, for latency. After a long one
(a flood, a backlog) the decoder waits `_DECODE_LINGER_S` (20 ms) for more when the link is
empty, and the store waits until `batch_linger_ms` (50 ms) after the first batch waiting was
decoded, so a store transaction's fixed cost is shared by many readings while the rules have
each part as soon as it is decoded.

Decoding a message (topics, formats, presence, dead letters) is `gateway/decoding.py`.

The rules' feed (`feed_rules`): each decoded batch's readings go to the rules once, in the order
they came. While the rules take them early (live, after their start-up replay) that is right
after decoding, beside the store's write, so an alert does not wait for a transaction or the
store's linger; otherwise it is once stored. At the switch, the batches still waiting for the
store are told first, in order. A reading the rules judged and the store then refused for its
data (a store's defect, not bad input: that is a dead letter at decode) stays judged.

No single message can stop or wedge ingest: whatever goes wrong while decoding a message (a
`PayloadError`, or a bug that raises anything else) makes that message a dead letter, and a
store that refuses a batch for its data is searched for the message at fault
(`gateway/isolation.py`). Only the store's unavailability holds messages back: the batch is
retried with backoff, nothing is acknowledged meanwhile, and `faults()` says so for the health
endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.clock import Clock
from core.config import SiteConfig, parse_broker_url
from core.errors import StorageUnavailable
from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch
from core.stages import OLDEST_RECEIVED, StageTimes
from gateway.batching import DecodedBatch, Handover, merged
from gateway.decoding import GatewayStats, MessageDecoder
from gateway.errors import PayloadError
from gateway.isolation import isolate, readings_of
from gateway.link import BrokerLink, Inbound

__all__ = ["DecodedBatch", "Gateway", "GatewaySink", "GatewayStats", "RulesFeed"]

log = logging.getLogger(__name__)


class GatewaySink(Protocol):
    """Where decoded data goes. Each call returns once the data is durable."""

    async def readings(self, batch: ReadingBatch) -> None: ...

    async def events(self, events: Sequence[DeviceEvent]) -> None: ...

    async def presence(self, changes: Sequence[PresenceChange]) -> None: ...

    async def dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...


class RulesFeed(Protocol):
    """Who judges the readings (the alerts service), told by `Gateway.feed_rules`."""

    def takes_early(self) -> bool:
        """True: readings as soon as they are decoded; False: once they are stored."""
        ...

    def on_batch(self, batch: ReadingBatch) -> None: ...


_STORE_FAILING = "store"
# A batch of at least this many messages means busy traffic: the next one lingers to grow. At
# 1 k msg/s a store write of ~20 ms gathers ~20 messages, so quiet and district-sized traffic
# goes out at once; a flood or a backlog is written in batches of hundreds to thousands.
_BUSY_BATCH = 64
# After a busy batch the decoder waits this long for more: the rules get each reading within
# about this much of its arrival, while the store's write waits `batch_linger_ms` (50 ms by
# default) to gather the decoded batches into one transaction.
_DECODE_LINGER_S = 0.02
# Decoded messages that may wait for the store, in batches of the largest size.
_HANDOVER_BATCHES = 2


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
        self._settings = config.gateway
        self.stats = GatewayStats()
        self._decoder = MessageDecoder(config, clock, self.stats)
        host, port = parse_broker_url(broker_url or config.mqtt.broker)
        self._link = BrokerLink(
            host,
            port,
            config.mqtt.client_id,
            self._decoder.filters(),
            keepalive_s=config.mqtt.keepalive_s,
            username=config.mqtt.username,
            password=config.mqtt.password_text(),
        )
        self._store_failing: tuple[datetime, str] | None = None
        self._feed: RulesFeed | None = None
        self._untold: deque[DecodedBatch] = deque()  # decoded, waiting for the store to tell

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
        decoded = Handover(_HANDOVER_BATCHES * self._settings.batch_max_messages)
        await self._link.start()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._decode_loop(decoded), name="gateway-decode")
                tasks.create_task(self._store_loop(decoded), name="gateway-store")
        finally:
            await self._link.stop()

    async def _decode_loop(self, out: Handover) -> None:
        limit = self._settings.batch_max_messages
        stages = self.stages
        while True:
            messages = await self._link.receive(limit)
            taken = time.monotonic()
            stages.observe("inbox", taken - messages[0].received)
            if len(messages) >= _BUSY_BATCH and len(messages) < limit and self._link.pending() == 0:
                # Busy traffic: a short wait, so a batch is worth decoding and judging apart.
                await asyncio.sleep(_DECODE_LINGER_S)
                messages += self._link.take(limit - len(messages))
                stages.observe("linger", time.monotonic() - taken)
            decoding = time.monotonic()
            batch = self.decode(messages)
            stages.observe("decode", batch.closed_at - decoding)
            self._tell_decoded(batch)
            await out.put(batch)

    async def _store_loop(self, handover: Handover) -> None:
        linger = self._settings.batch_linger_ms / 1000
        stages = self.stages
        busy = False
        while True:
            first = await handover.first()
            if busy and linger > 0:
                # Busy traffic: the write waits for more so a transaction's fixed cost is shared
                # by many readings (the rules have each decoded part already).
                await asyncio.sleep(first.closed_at + linger - time.monotonic())
            # What waited (while the last write ran, or lingered) goes out as one transaction.
            batch = merged(handover.take_all())
            busy = len(batch.messages) >= _BUSY_BATCH
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
            await self._store_readings(batch)
            batch.done.add("readings")
            self._tell_stored(batch)
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

    async def _store_readings(self, batch: DecodedBatch) -> None:
        """The batch's readings in one write; only when the store refuses them for their data
        are they searched for the messages at fault (the spans are built only then)."""
        sink, readings = self._sink, batch.readings
        if not len(readings):
            return
        try:
            await sink.readings(readings)
        except StorageUnavailable:
            raise
        except Exception:
            spans = batch.spans
            refused = await isolate(spans, lambda part: sink.readings(readings_of(readings, part)))
            self._refused(batch, [(span.message, exc) for span, exc in refused])
            lost = sum(span.end - span.start for span, _ in refused)
            self.stats.stored += len(readings) - lost
            return
        self.stats.stored += len(readings)

    def _refused(self, batch: DecodedBatch, refused: list[tuple[Inbound, Exception]]) -> None:
        for message, exc in refused:
            log.error("the store refused a message from %s: %s", message.topic, exc)
            problem = PayloadError(f"the store refused this message: {exc}", code="store_refused")
            batch.letters.append(self._decoder.dead_letter(message, problem))

    # -- the rules' feed ----------------------------------------------------------------------

    def feed_rules(self, feed: RulesFeed) -> None:
        """Tell `feed` every decoded batch's readings once, in the order they came: as soon as
        they are decoded while it `takes_early()`, else once they are stored."""
        self._feed = feed

    def _tell_decoded(self, batch: DecodedBatch) -> None:
        feed = self._feed
        if feed is None:
            return
        if not feed.takes_early():
            self._untold.append(batch)
            return
        # The switch to early: what still waits for the store goes first, in its order, so
        # no reading reaches the rules after a newer one of the same device.
        while self._untold:
            self._tell(self._untold.popleft())
        self._tell(batch)

    def _tell_stored(self, batch: DecodedBatch) -> None:
        for part in batch.parts or [batch]:
            if not part.told:
                if self._untold and self._untold[0] is part:
                    self._untold.popleft()
                self._tell(part)

    def _tell(self, batch: DecodedBatch) -> None:
        batch.told = True
        feed = self._feed
        if feed is None or not len(batch.readings):
            return
        try:
            feed.on_batch(batch.readings)
        except Exception:
            # The rules' bug must not stop ingest; it is logged with its traceback.
            log.exception("the rules failed on a batch")
        received = batch.oldest_received
        if received is not None:
            self.stages.observe("received_to_rules", time.monotonic() - received)

    def decode(self, messages: list[Inbound]) -> DecodedBatch:
        """Decode a batch of messages: readings, events, presence and dead letters."""
        return self._decoder.decode(messages)
