"""Decoding a batch of received messages into readings, events, presence changes and dead
letters (the gateway's decode stage, `gateway/service.py`).

A topic is resolved once and remembered (for configured devices only): a canonical device topic,
a bridge topic (`gateway/bridges.py`), or a foreign format's topic, which its adapter decodes into
the same canonical readings (`gateway/adapters/`). The canonical path stays one dictionary look-up.
Whatever goes wrong while decoding a message (a `PayloadError`, or a bug that raises anything
else) makes that message a dead letter: no single message can stop or wedge ingest.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import Clock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig
from core.readings import DeadLetter, PresenceChange, ReadingBatchBuilder
from core.topics import BridgeChannel, BridgeTopic, Channel, DeviceTopic, TopicScheme
from gateway.adapters import ForeignRoute, ForeignRouter, MessageKind
from gateway.batching import DecodedBatch, OpenBatch
from gateway.bridges import BridgeRoster
from gateway.codec import TimeWindow, decode_event, decode_status, decode_telemetry
from gateway.errors import PayloadError
from gateway.isolation import Owned
from gateway.link import Inbound

__all__ = ["GatewayStats", "MessageDecoder"]

log = logging.getLogger("gateway.service")


@dataclass(slots=True)
class GatewayStats:
    messages: int = 0
    readings: int = 0  # decoded
    stored: int = 0  # readings in the store, each counted once however often it was retried
    acked: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    store_retries: int = 0
    ignored: int = 0  # well-formed foreign messages with nothing we map (a Shelly's Wi-Fi news)


class MessageDecoder:
    """The decode stage's state: the site's topics and devices, the routes resolved so far, the
    bridges' rosters; counts into the gateway's `stats`."""

    def __init__(self, config: SiteConfig, clock: Clock, stats: GatewayStats) -> None:
        self._clock = clock
        self.stats = stats
        self._site = config.site.id
        self._devices = {d.id for d in config.devices}
        self._topics = TopicScheme(config.mqtt.topic_prefix)
        self._settings = config.gateway
        self._roster = BridgeRoster(self._site, self._devices)
        self._router = ForeignRouter(config)
        # Topics of configured devices, canonical or foreign, resolved once: bounded by the site.
        self._routes: dict[str, DeviceTopic | ForeignRoute] = {}

    def filters(self) -> list[str]:
        """The topic filters to subscribe to: this site's, and the foreign formats' it maps."""
        return self._topics.site_filters(self._site) + self._router.filters()

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
        # The builder's length is its columns' (`ReadingBatchBuilder.mark`), read from one
        # column directly: `len(builder)` is a Python call, made several times per message.
        rows = builder.device
        first = len(rows)
        for message in messages:
            start = len(rows)
            try:
                self._route(message, window, builder, out)
            except PayloadError as exc:
                builder.rollback(start)
                out.letters.append(self.dead_letter(message, exc))
            except Exception as exc:  # a decoder bug must cost one message, not the loop
                builder.rollback(start)
                log.exception("decoding a message from %s failed", message.topic)
                problem = PayloadError(
                    f"the gateway could not decode this message ({type(exc).__name__}: "
                    f"{exc}); kept for a bug report",
                    code="decoder_error",
                )
                out.letters.append(self.dead_letter(message, problem))
            end = len(rows)
            if end > start:
                out.add_rows(message, end)
        self.stats.readings += len(rows) - first
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
            out.letters.append(self.dead_letter(message, problem))

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

    def dead_letter(self, message: Inbound, exc: PayloadError) -> DeadLetter:
        """A dead letter of `message` for `exc`, counted by its reason's code."""
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
