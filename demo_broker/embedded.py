"""In-process MQTT 3.1.1 broker on asyncio, used by ``canteen demo`` when ``mosquitto`` is absent.

It speaks enough of MQTT 3.1.1 (and 3.1, "MQIsdp") for paho-mqtt and aiomqtt clients:

* CONNECT/CONNACK, PINGREQ, DISCONNECT; username/password are accepted and ignored;
* PUBLISH at QoS 0, 1 and 2 inbound (QoS 2 gets the full PUBREC/PUBREL/PUBCOMP exchange and is
  delivered once); outbound delivery is at most QoS 1 because granted QoS is capped at 1;
* SUBSCRIBE/UNSUBSCRIBE with ``+``/``#`` wildcards; ``$`` topics are not matched by a leading
  wildcard;
* retained messages, Last Will, persistent sessions (clean_session=0) that queue QoS 1 messages
  while offline and re-send unacknowledged ones with DUP on reconnect, take-over of a session by
  a second connection with the same client id (the old connection's will is published).

It listens on a loopback address only: it has no authentication, so it must not be reachable
from the school's network (another host is refused when the broker is created).

Memory stays bounded (limits in :mod:`demo_broker.routing`): at most ``MAX_SESSIONS`` sessions
(a new client id beyond that gets CONNACK 3, server unavailable); per client at most
``INFLIGHT_WINDOW`` unacknowledged QoS 1 messages and ``MAX_QUEUED_MESSAGES`` queued behind them,
within ``MAX_SESSION_BYTES`` for both together (oldest queued dropped); at most ``MAX_RETAINED``
retained topics; socket writes stop while the transport's buffer is above its high-water mark.

Not supported: TLS, WebSockets, authentication/ACLs, MQTT 5, outbound QoS 2, ``$SYS`` topics,
state surviving a broker restart.

Usage::

    async with EmbeddedBroker() as broker:
        print(broker.url)  # mqtt://127.0.0.1:54321
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import uuid
from collections.abc import Callable
from typing import cast

from demo_broker import packets as mp
from demo_broker.packets import MalformedPacketError, PacketTooLargeError, UnsupportedProtocolError
from demo_broker.routing import (
    Message,
    Router,
    Session,
    TooManySessionsError,
    topic_matches,
    valid_topic_filter,
)

__all__ = ["EmbeddedBroker", "topic_matches", "valid_topic_filter"]

log = logging.getLogger(__name__)

# Unacknowledged outbound QoS 1 messages per client. As in the mosquitto config of
# demo_broker.mosquitto: the gateway acks a whole batch (up to 5000) once it is stored.
INFLIGHT_WINDOW = 10_000
CONNECT_TIMEOUT_S = 10.0  # a socket that never sends CONNECT is dropped after this
_WRITE_HIGH_WATER = 256 * 1024  # transport buffer size at which we stop writing PUBLISHes
_WRITE_CHUNK = 64 * 1024  # PUBLISHes are joined into writes of about this size
# Fixed-header flags each packet type must carry (section 2.2.2); PUBLISH flags are variable.
_REQUIRED_FLAGS = {mp.PUBREL: 0x02, mp.SUBSCRIBE: 0x02, mp.UNSUBSCRIBE: 0x02}


class _Connection(asyncio.Protocol):
    """One client socket: decodes packets, applies them to the router, writes replies."""

    def __init__(self, router: Router, loop: asyncio.AbstractEventLoop, max_bytes: int) -> None:
        self._router = router
        self._loop = loop
        self._decoder = mp.FrameDecoder(max_bytes)
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self.session: Session | None = None
        self._will: tuple[Message, bool] | None = None
        self._keepalive_s = 0.0
        self._last_rx = loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._paused = False
        self._flush_pending = False
        self.lost: asyncio.Future[None] = loop.create_future()
        self._handlers: dict[int, Callable[[int, bytes], None]] = {
            mp.CONNECT: self._on_connect,
            mp.PUBLISH: self._on_publish,
            mp.PUBACK: self._on_puback,
            mp.PUBREC: self._on_ignored_ack,  # we never send QoS 2, so these have nothing to do
            mp.PUBREL: self._on_pubrel,
            mp.PUBCOMP: self._on_ignored_ack,
            mp.SUBSCRIBE: self._on_subscribe,
            mp.UNSUBSCRIBE: self._on_unsubscribe,
            mp.PINGREQ: self._on_pingreq,
            mp.DISCONNECT: self._on_disconnect,
        }

    def __repr__(self) -> str:
        client_id = self.session.client_id if self.session else "-"
        return f"<client {client_id} at {self._peer}>"

    # --- asyncio.Protocol callbacks -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._router.connections.add(self)
        self._timer = self._loop.call_later(CONNECT_TIMEOUT_S, self._on_timer)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._last_rx = self._loop.time()
        frames, error = self._decoder.feed(data)
        try:
            for header, body in frames:
                self._dispatch(header, body)
                if self._closed:
                    return
        except MalformedPacketError as exc:
            error = exc
        except Exception:  # a broker bug must cost only this connection, never the broker
            log.exception("internal error handling a packet from %r", self)
            self.close("internal error", abort=True)
            return
        if isinstance(error, PacketTooLargeError):
            log.warning("closing %r: %s", self, error)
            self.close("packet too large", abort=True)
        elif error is not None:
            log.warning("closing %r: malformed packet: %s", self, error)
            self.close("malformed packet", abort=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(f"connection lost ({exc})" if exc else "connection closed by client")
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.schedule_flush()

    # --- lifecycle ------------------------------------------------------------------------

    def close(self, reason: str, *, publish_will: bool = True, abort: bool = False) -> None:
        """End the connection; publish the will unless the client sent DISCONNECT."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            # abort() drops unsent data: used when the peer may not be reading at all.
            if abort:
                self._transport.abort()
            else:
                self._transport.close()
        self._router.connections.discard(self)
        will, self._will = (self._will if publish_will else None), None
        if self.session is not None:
            self._router.detach(self, self.session)
        log.debug("closed %r: %s", self, reason)
        if will is not None:
            self._router.publish(*will)

    def _on_timer(self) -> None:
        self._timer = None
        if self.session is None:
            log.info("closing %r: no CONNECT within %.0f s", self, CONNECT_TIMEOUT_S)
            self.close("connect timeout", abort=True)
            return
        idle = self._loop.time() - self._last_rx
        if idle >= self._keepalive_s:
            log.info("closing %r: keepalive expired (%.1f s silent)", self, idle)
            self.close("keepalive expired", abort=True)
        else:
            # Re-armed from the last receive time instead of being reset on every packet.
            self._timer = self._loop.call_later(self._keepalive_s - idle, self._on_timer)

    # --- writing --------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if not self._closed and self._transport is not None:
            self._transport.write(data)

    def schedule_flush(self) -> None:
        # Deferred to the next loop iteration so that a burst of publishes becomes few writes.
        if not self._flush_pending and not self._closed:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Move queued messages to the socket, within the in-flight window and buffer limit."""
        self._flush_pending = False
        session = self.session
        if session is None or self._closed:
            return
        inflight = session.inflight
        chunk: list[bytes] = []
        size = 0
        while session.queue and not self._paused:
            if session.queue[0][1] and len(inflight) >= INFLIGHT_WINDOW:
                break  # resumed by the next PUBACK
            msg, qos, retain = session.next_to_send()
            packet_id = 0
            if qos:
                packet_id = session.allocate_packet_id()
                inflight[packet_id] = (msg, retain)
            packet = mp.encode_publish(msg.topic_field, msg.payload, qos, retain, False, packet_id)
            chunk.append(packet)
            size += len(packet)
            if size >= _WRITE_CHUNK:
                self._write(b"".join(chunk))  # may call pause_writing() synchronously
                chunk.clear()
                size = 0
        if chunk:
            self._write(b"".join(chunk))

    # --- packet handlers ------------------------------------------------------------------

    def _dispatch(self, header: int, body: bytes) -> None:
        packet_type, flags = header >> 4, header & 0x0F
        if (self.session is None) != (packet_type == mp.CONNECT):
            raise MalformedPacketError("first packet must be CONNECT, and only the first")
        handler = self._handlers.get(packet_type)
        if handler is None:
            raise MalformedPacketError(f"unexpected packet type {packet_type}")
        if packet_type != mp.PUBLISH and flags != _REQUIRED_FLAGS.get(packet_type, 0):
            raise MalformedPacketError(f"invalid flags {flags:#x} for packet type {packet_type}")
        handler(flags, body)

    def _current_session(self) -> Session:
        if self.session is None:  # unreachable: _dispatch only lets CONNECT through before
            raise MalformedPacketError("no session")
        return self.session

    def _on_connect(self, _flags: int, body: bytes) -> None:
        try:
            request = mp.decode_connect(body)
        except UnsupportedProtocolError as exc:
            log.info("rejecting %r: %s", self, exc)
            self._write(mp.encode_connack(False, 1))
            self.close("unacceptable protocol version", publish_will=False)
            return
        client_id = request.client_id
        if not client_id:
            if not request.clean_session:  # a persistent session needs a stable identity
                self._write(mp.encode_connack(False, 2))
                self.close("empty client id with clean_session=0", publish_will=False)
                return
            client_id = f"auto-{uuid.uuid4().hex}"
        if request.will_topic is not None:
            if not request.will_topic or "+" in request.will_topic or "#" in request.will_topic:
                raise MalformedPacketError(f"invalid will topic {request.will_topic!r}")
            will = Message(
                request.will_topic,
                mp.encode_topic(request.will_topic),
                request.will_payload,
                request.will_qos,
            )
            self._will = (will, request.will_retain)
        try:
            session, present = self._router.attach(self, client_id, request.clean_session)
        except TooManySessionsError as exc:
            log.warning("refusing %r (client id %s): %s", self, client_id, exc)
            self._write(mp.encode_connack(False, 3))  # server unavailable
            self.close("too many sessions", publish_will=False)
            return
        self.session = session
        self._write(mp.encode_connack(present, 0))
        for packet_id, (msg, retain) in session.inflight.items():  # section 4.4: re-send
            self._write(mp.encode_publish(msg.topic_field, msg.payload, 1, retain, True, packet_id))
        self._keepalive_s = request.keepalive * 1.5
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._keepalive_s:
            self._timer = self._loop.call_later(self._keepalive_s, self._on_timer)
        self.schedule_flush()
        log.debug("connected %r (clean=%s, present=%s)", self, request.clean_session, present)

    def _on_publish(self, flags: int, body: bytes) -> None:
        topic, topic_field, qos, packet_id, payload = mp.decode_publish(flags, body)
        if not topic or "+" in topic or "#" in topic:
            raise MalformedPacketError(f"invalid topic name {topic!r}")
        msg = Message(topic, topic_field, payload, qos)
        retain = bool(flags & 0x01)
        if qos == 0:
            self._router.publish(msg, retain)
        elif qos == 1:
            self._router.publish(msg, retain)
            self._write(mp.encode_ack(mp.PUBACK, packet_id))
        else:
            awaiting = self._current_session().awaiting_rel
            if packet_id not in awaiting:  # a re-sent (DUP) QoS 2 publish is delivered once
                awaiting.add(packet_id)
                self._router.publish(msg, retain)
            self._write(mp.encode_ack(mp.PUBREC, packet_id))

    def _on_puback(self, _flags: int, body: bytes) -> None:
        session = self._current_session()
        if session.acknowledged(mp.decode_packet_id(body)) and session.queue:
            self.schedule_flush()  # a slot in the in-flight window opened up

    def _on_pubrel(self, _flags: int, body: bytes) -> None:
        packet_id = mp.decode_packet_id(body)
        self._current_session().awaiting_rel.discard(packet_id)
        self._write(mp.encode_ack(mp.PUBCOMP, packet_id))

    def _on_ignored_ack(self, _flags: int, body: bytes) -> None:
        mp.decode_packet_id(body)

    def _on_subscribe(self, _flags: int, body: bytes) -> None:
        session = self._current_session()
        packet_id, requests = mp.decode_subscribe(body)
        granted = [
            min(qos, 1) if valid_topic_filter(f) else mp.SUBACK_FAILURE for f, qos in requests
        ]
        self._write(mp.encode_suback(packet_id, granted))
        # Retained messages are queued and flushed on the next loop turn, so they follow SUBACK.
        for (topic_filter, _), qos in zip(requests, granted, strict=True):
            if qos != mp.SUBACK_FAILURE:
                self._router.subscribe(session, topic_filter, qos)

    def _on_unsubscribe(self, _flags: int, body: bytes) -> None:
        session = self._current_session()
        packet_id, filters = mp.decode_unsubscribe(body)
        for topic_filter in filters:
            self._router.unsubscribe(session, topic_filter)
        self._write(mp.encode_ack(mp.UNSUBACK, packet_id))

    def _on_pingreq(self, _flags: int, _body: bytes) -> None:
        self._write(mp.PINGRESP_PACKET)

    def _on_disconnect(self, _flags: int, _body: bytes) -> None:
        self._will = None  # section 3.14.4: a clean DISCONNECT discards the will
        self.close("client sent DISCONNECT", publish_will=False)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmbeddedBroker:
    """A minimal MQTT 3.1.1 broker listening on loopback ``host:port`` inside the running event
    loop."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, max_packet_bytes: int = 2 * 1024 * 1024
    ) -> None:
        if max_packet_bytes < 64:
            raise ValueError(f"max_packet_bytes must be at least 64, got {max_packet_bytes}")
        if not is_loopback(host):
            raise ValueError(
                f"the embedded broker listens on loopback only (it has no authentication); "
                f"{host!r} is not a loopback address: use 127.0.0.1, ::1 or localhost, or run "
                "mosquitto for a broker other hosts reach"
            )
        self._host = host
        self._requested_port = port
        self._max_packet_bytes = max_packet_bytes
        self._bound_port: int | None = None
        self._server: asyncio.Server | None = None
        self._state = "new"  # -> "running" -> "stopped"; a broker is started at most once
        self._router = Router()

    @property
    def port(self) -> int:
        """The listening port; with ``port=0`` only known after :meth:`start`."""
        if self._bound_port is not None:
            return self._bound_port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("EmbeddedBroker was created with port=0 and has not been started")

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"mqtt://{host}:{self.port}"

    async def start(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"EmbeddedBroker can only be started once (it is {self._state})")
        self._state = "starting"
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _Connection(self._router, loop, self._max_packet_bytes),
                self._host,
                self._requested_port,
                reuse_address=True,
            )
        except BaseException:
            self._state = "new"  # nothing was bound, so a retry is allowed
            raise
        # A host resolving to several addresses gets several sockets; all share the port
        # unless port=0 was asked for, so report the first one.
        self._bound_port = int(self._server.sockets[0].getsockname()[1])
        self._state = "running"
        log.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        """Close the listener and every client connection (no wills are published)."""
        if self._state != "running" or self._server is None:
            return
        self._state = "stopped"
        self._server.close()
        connections = list(self._router.connections)
        for conn in connections:
            conn.close("broker stopping", publish_will=False, abort=True)
        if connections:
            # Let the transports finish closing their sockets before the loop may go away.
            await asyncio.wait([conn.lost for conn in connections], timeout=2.0)
        await self._server.wait_closed()
        log.info("embedded MQTT broker on %s stopped", self.url)

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
