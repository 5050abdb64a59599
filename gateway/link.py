"""`BrokerLink`: the gateway's MQTT 3.1.1 session, on the service's event loop.

The link speaks the few packets a subscriber needs itself (`gateway/mqtt_wire.py`) over an
asyncio stream: each read takes whatever the socket holds (a burst of PUBLISH packets in one
read), cuts it into packets and appends the messages to an inbox, then wakes the decoder once.
It replaced paho, whose network thread read each packet with several `recv` calls and a
`select`, built a message object with a topic matcher per message and woke the loop across
threads: at 1 k msg/s that thread cost ~53 us of CPU per message, a third of the service's
(bench/README.md, `bench.publisher`). QoS 1 messages are acknowledged only when the gateway says
so, after their batch is stored: with a persistent session (fixed client id, clean session off)
anything not acknowledged is redelivered after a reconnect or a restart.

The link also says what is wrong with the connection (`faults`), for the health endpoint, and
logs it so an outage is never silent: a broker that cannot be reached is logged at the first
failed attempt and once a minute while it lasts; a broker that keeps closing a connection it had
just accepted is, with MQTT 3.1.1, the sign of another client using our client id (the broker
hands the session, and the messages queued for it, to the newest connection).

A stop confirms the last acknowledgements before it disconnects. Closing a socket that still has
unread messages in it makes the kernel reset the connection (TCP RST), and a reset discards what
the broker had not read yet: the PUBACKs of the last batch, which it would redeliver after the
restart. The broker answers packets in order, so a reply to one more request sent after them
says they were read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.link_state import TAKEOVER_DISCONNECTS, TAKEOVER_WINDOW_S, LinkState
from gateway.mqtt_wire import (
    CONNACK,
    CONNACK_REASONS,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBLISH,
    SUBACK,
    UNSUBACK,
    PacketReader,
    ProtocolError,
    connect_packet,
    parse_publish,
    puback,
    subscribe_packet,
    unsubscribe_packet,
)

__all__ = ["BrokerLink", "Inbound"]

log = logging.getLogger(__name__)

_MIN_DELAY_S, _MAX_DELAY_S = 1.0, 30.0  # reconnect backoff
_READ_SIZE = 1 << 18
# The stop's round trip: an UNSUBSCRIBE of a filter we never subscribed to changes nothing and is
# still answered (MQTT 3.1.1, 3.10.4: an UNSUBACK even when nothing was removed).
_ACK_BARRIER_FILTER = "canteen-gateway/no-such-subscription"
_ACK_BARRIER_TIMEOUT_S = 5.0


@dataclass(slots=True)
class Inbound:
    """One received message. `session` tells which connection it came on: a packet id is only
    meaningful to the connection that delivered it. `received` is `time.monotonic()` when the
    link read it (the latency stamps of `core.stages`), not part of its identity. Not frozen:
    one is made per message, and a frozen dataclass's `__init__` costs several times more."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    session: int
    received: float = field(default=0.0, compare=False)


class BrokerLink:
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        subscriptions: Sequence[str],
        *,
        keepalive_s: int = 30,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._keepalive = keepalive_s
        self._subscriptions = list(subscriptions)
        self._client_id = client_id
        self._connect = connect_packet(client_id, keepalive_s, username=username, password=password)
        self._state = LinkState()
        self._inbox: deque[Inbound] = deque()
        self._wake = asyncio.Event()
        self._acks_read = asyncio.Event()
        self._session = 0
        self._connected = self._subscribed = False
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_mid = 0
        self._subscribe_mid: int | None = None
        self._barrier_mid: int | None = None
        self._last_read = 0.0
        self._started = self._stopping = False

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def subscribed(self) -> bool:
        """True once the broker has answered this connection's subscription (SUBACK): from then
        on, what is published to our topics reaches us. A refused filter is logged."""
        return self._subscribed

    @property
    def session(self) -> int:
        return self._session

    def faults(self) -> list[str]:
        """What is wrong with the broker connection now, in words; empty when all is well."""
        return self._state.faults(self.connected, self._url, self._client_id)

    @property
    def _url(self) -> str:
        return f"mqtt://{self._host}:{self._port}"

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("BrokerLink.start() called twice; create a new link instead")
        self._started = True
        self._task = asyncio.create_task(self._run(), name="gateway-link")

    async def stop(self) -> None:
        self._stopping = True
        writer = self._writer
        if self.connected and writer is not None:
            await self._confirm_acks(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(DISCONNECT)
                await writer.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._connected = self._subscribed = False

    async def _confirm_acks(self, writer: asyncio.StreamWriter) -> None:
        """Wait until the broker has read every PUBACK sent so far (module docstring)."""
        self._acks_read.clear()
        self._barrier_mid = self._mid()
        try:
            writer.write(unsubscribe_packet(self._barrier_mid, [_ACK_BARRIER_FILTER]))
            await asyncio.wait_for(self._acks_read.wait(), _ACK_BARRIER_TIMEOUT_S)
        except (TimeoutError, OSError, RuntimeError):
            log.warning(
                "the broker %s did not answer within %.0f s while stopping: the last "
                "acknowledgements may be lost, and those messages redelivered (not stored twice)",
                self._url,
                _ACK_BARRIER_TIMEOUT_S,
            )

    async def receive(self, max_messages: int) -> list[Inbound]:
        """Wait for at least one message; return what has arrived, up to `max_messages`."""
        while not self._inbox:
            await self.arrival()
        return self.take(max_messages)

    async def arrival(self) -> None:
        """Wait until messages arrive (return at once if some are waiting). Safe to cancel:
        the next wait sees the same signal."""
        if self._inbox:
            return
        await self._wake.wait()
        self._wake.clear()

    def take(self, max_messages: int) -> list[Inbound]:
        """What has arrived, up to `max_messages`, without waiting (possibly nothing)."""
        inbox = self._inbox
        if len(inbox) <= max_messages:
            taken = list(inbox)
            inbox.clear()
            return taken
        popleft = inbox.popleft
        return [popleft() for _ in range(max_messages)]

    def pending(self) -> int:
        return len(self._inbox)

    def ack(self, messages: Sequence[Inbound]) -> int:
        """Acknowledge stored QoS 1 messages, in the order received (MQTT 3.1.1, 4.6), in one
        write. A message of an earlier connection is not acknowledged: the broker redelivers
        it on this one under a packet id of its own."""
        session = self._session
        packets = [puback(m.mid) for m in messages if m.qos and m.session == session]
        writer = self._writer
        if packets and writer is not None and self._connected:
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(b"".join(packets))
        return len(packets)

    def _mid(self) -> int:
        self._next_mid = self._next_mid % 65_535 + 1
        return self._next_mid

    # -- the connection ----------------------------------------------------------------------

    async def _run(self) -> None:
        """Connect, serve the connection until it ends, reconnect with backoff; forever."""
        delay = _MIN_DELAY_S
        while True:
            try:
                reader, writer = await asyncio.open_connection(self._host, self._port)
            except OSError as exc:
                if self._state.unreachable():
                    log.error(
                        "cannot reach the broker %s (%s); retrying with backoff (logged once a "
                        "minute while this lasts)",
                        self._url,
                        exc,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY_S)
                continue
            accepted = await self._serve(reader, writer)
            delay = _MIN_DELAY_S if accepted else min(delay * 2, _MAX_DELAY_S)
            await asyncio.sleep(delay)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One connection, from CONNECT to its end; True when the broker had accepted it."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writer = writer
        self._last_read = time.monotonic()
        writer.write(self._connect)
        keeper = asyncio.create_task(self._keep_alive(writer), name="gateway-link-ping")
        accepted, reason = False, "closed by the broker"
        try:
            accepted = await self._read(reader, writer)
        except (OSError, ProtocolError) as exc:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, ProtocolError):
                log.error("the broker %s broke the protocol: %s", self._url, reason)
        finally:
            keeper.cancel()
            was_connected = self._connected
            self._connected = self._subscribed = False
            self._writer = None
            writer.close()
        if not self._stopping:
            self._lost(was_connected, reason)
        return accepted

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        packets = PacketReader()
        inbox, wake = self._inbox, self._wake
        accepted = False
        while True:
            data = await reader.read(_READ_SIZE)
            if not data:
                return accepted
            now = self._last_read = time.monotonic()
            before = len(inbox)
            for kind, flags, body in packets.feed(data):
                if kind == PUBLISH:
                    topic, payload, qos, mid = parse_publish(flags, body)
                    inbox.append(Inbound(topic, payload, qos, mid, self._session, now))
                elif kind == CONNACK:
                    if not self._connack(body, writer):
                        return False
                    accepted = True
                elif kind == SUBACK:
                    self._suback(body)
                elif kind == UNSUBACK:
                    if len(body) >= 2 and (body[0] << 8 | body[1]) == self._barrier_mid:
                        self._acks_read.set()
                elif kind != PINGRESP:
                    raise ProtocolError(f"unexpected packet of type {kind} from the broker")
            if len(inbox) > before:
                wake.set()

    def _connack(self, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if len(body) != 2:
            raise ProtocolError("a CONNACK of the wrong length")
        code = body[1]
        if code:
            reason = CONNACK_REASONS.get(code, f"return code {code}")
            self._state.refused(reason)
            log.error("broker %s refused the connection: %s", self._url, reason)
            return False
        self._state.connected()
        # Messages of the previous connection that were not acked will be redelivered; their old
        # packet ids must never be acked on this one.
        self._session += 1
        log.info("connected to %s (session present: %s)", self._url, bool(body[0] & 1))
        self._subscribe_mid = self._mid()
        writer.write(subscribe_packet(self._subscribe_mid, [(t, 1) for t in self._subscriptions]))
        self._connected = True
        return True

    def _suback(self, body: bytes) -> None:
        if len(body) < 2 or (body[0] << 8 | body[1]) != self._subscribe_mid:
            return
        pairs = zip(self._subscriptions, body[2:], strict=False)
        refused = [topic for topic, code in pairs if code & 0x80]
        if refused:
            log.error(
                "the broker %s refused the subscription to %s (its ACL?): nothing published "
                "there reaches the gateway",
                self._url,
                ", ".join(refused),
            )
        self._subscribed = True

    async def _keep_alive(self, writer: asyncio.StreamWriter) -> None:
        """PINGREQ every half keepalive; a broker silent for 1.5 keepalives is gone (3.1.2.10)."""
        if self._keepalive <= 0:
            return
        while True:
            await asyncio.sleep(self._keepalive / 2)
            if time.monotonic() - self._last_read > 1.5 * self._keepalive:
                log.warning("the broker %s has been silent past the keepalive", self._url)
                writer.transport.abort()
                return
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(PINGREQ)

    def _lost(self, was_connected: bool, reason: str) -> None:
        if was_connected and self._state.dropped():
            log.error(
                "the broker %s closed our connection %d times in %.0f s right after accepting it: "
                "another client is using client id %r and takes over the gateway's session and "
                "the messages queued for it; give that client another id, and the gateway a "
                "broker account of its own (README, operations)",
                self._url,
                TAKEOVER_DISCONNECTS,
                TAKEOVER_WINDOW_S,
                self._client_id,
            )
        if was_connected:
            log.warning("lost the broker %s (%s); reconnecting with backoff", self._url, reason)
