"""`BrokerLink`: the gateway's MQTT session, paho kept behind it.

paho runs its network loop in its own thread; received messages are appended to an inbox and the
asyncio side is woken once per burst, not once per message (a thread-safe call per message costs
more than decoding it). QoS 1 messages are acknowledged only when the gateway says so, after
their batch is stored: with a persistent session (fixed client id, clean session off) anything
not acknowledged is redelivered after a reconnect or a restart.

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
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from gateway.errors import BrokerError

__all__ = ["BrokerLink", "Inbound"]

log = logging.getLogger(__name__)

_REPEAT_LOG_S = 60.0  # an outage that lasts is logged again once a minute
# Takeover: this many disconnects by the broker within the window, each after it had accepted
# us. A broker restart gives one; a client fighting over our id gives one per its reconnect.
_TAKEOVER_DISCONNECTS = 3
_TAKEOVER_WINDOW_S = 120.0
# Only short-lived connections count: a keepalive timeout on a bad network comes after 1.5 x
# keepalive, while a client fighting over our id kicks us within its reconnect delay.
_TAKEOVER_SHORT_S = 20.0
# The stop's round trip: an UNSUBSCRIBE of a filter we never subscribed to changes nothing and is
# still answered (MQTT 3.1.1, 3.10.4: an UNSUBACK even when nothing was removed).
_ACK_BARRIER_FILTER = "canteen-gateway/no-such-subscription"
_ACK_BARRIER_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """One received message. `session` tells which connection it came on: a packet id is only
    meaningful to the connection that delivered it. `received` is `time.monotonic()` when
    paho handed it over (the latency stamps of `core.stages`), not part of its identity."""

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
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._client_id = client_id
        self._state = _LinkState()
        self._inbox: deque[Inbound] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._signalled = False
        self._session = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._subscribe_mid: int | None = None
        self._acks_read = threading.Event()
        self._started = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def subscribed(self) -> bool:
        """True once the broker has answered this connection's subscription (SUBACK): from then
        on, what is published to our topics reaches us. A refused filter is logged."""
        return self._subscribed.is_set()

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
        self._loop = asyncio.get_running_loop()
        try:
            self._client.connect_async(self._host, self._port, keepalive=self._keepalive)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to mqtt://{self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()

    async def stop(self) -> None:
        if self.connected:
            await self._confirm_acks()
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._connected.clear()
        self._subscribed.clear()

    async def _confirm_acks(self) -> None:
        """Wait until the broker has read every PUBACK sent so far (module docstring)."""
        self._acks_read.clear()
        result, _mid = self._client.unsubscribe(_ACK_BARRIER_FILTER)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return
        if not await asyncio.to_thread(self._acks_read.wait, _ACK_BARRIER_TIMEOUT_S):
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
        """Wait until paho signals that messages arrived (return at once if some are waiting
        unsignalled). Safe to cancel: the next wait sees the same signal."""
        if self._inbox and not self._signalled:
            return
        await self._wake.wait()
        self._wake.clear()
        self._signalled = False

    def take(self, max_messages: int) -> list[Inbound]:
        """What has arrived, up to `max_messages`, without waiting (possibly nothing)."""
        count = min(max_messages, len(self._inbox))
        popleft = self._inbox.popleft
        return [popleft() for _ in range(count)]

    def pending(self) -> int:
        return len(self._inbox)

    def ack(self, messages: Sequence[Inbound]) -> int:
        """Acknowledge stored QoS 1 messages, in the order received (MQTT 3.1.1, 4.6)."""
        acked = 0
        for message in messages:
            if message.qos and message.session == self._session:
                self._client.ack(message.mid, message.qos)
                acked += 1
        return acked

    # -- paho callbacks: these run on paho's network thread ----------------------------------

    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._state.refused(str(reason))
            log.error(
                "broker mqtt://%s:%s refused the connection: %s", self._host, self._port, reason
            )
            return
        self._state.connected()
        # Messages of the previous connection that were not acked will be redelivered; their old
        # packet ids must never be acked on this one.
        self._session += 1
        log.info(
            "connected to mqtt://%s:%s (session present: %s)",
            self._host,
            self._port,
            flags.session_present,
        )
        self._subscribed.clear()
        result, self._subscribe_mid = client.subscribe([(t, 1) for t in self._subscriptions])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.error("subscribe failed: %s", paho.error_string(result))
        self._connected.set()

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        if mid != self._subscribe_mid:
            return
        pairs = zip(self._subscriptions, codes, strict=False)
        refused = [topic for topic, code in pairs if code.is_failure]
        if refused:
            log.error(
                "the broker %s refused the subscription to %s (its ACL?): nothing published "
                "there reaches the gateway",
                self._url,
                ", ".join(refused),
            )
        self._subscribed.set()

    def _on_unsubscribe(self, _c: paho.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        self._acks_read.set()  # the only UNSUBSCRIBE we send is the stop's

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        if self._state.unreachable():
            log.error(
                "cannot reach the broker %s; retrying with backoff (logged once a minute while "
                "this lasts)",
                self._url,
            )

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        if not reason.is_failure:
            return
        if was_connected and self._state.dropped():
            log.error(
                "the broker %s closed our connection %d times in %.0f s right after accepting it: "
                "another client is using client id %r and takes over the gateway's session and "
                "the messages queued for it; give that client another id, and the gateway a "
                "broker account of its own (README, operations)",
                self._url,
                _TAKEOVER_DISCONNECTS,
                _TAKEOVER_WINDOW_S,
                self._client_id,
            )
        log.warning("lost the broker %s (%s); reconnecting with backoff", self._url, reason)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        topic = message._topic.decode("utf-8", "replace")
        payload = bytes(message.payload)
        self._inbox.append(
            Inbound(topic, payload, message.qos, message.mid, self._session, time.monotonic())
        )
        if not self._signalled and self._loop is not None:
            self._signalled = True
            self._loop.call_soon_threadsafe(self._wake.set)


class _LinkState:
    """The connection's troubles over time, shared by paho's thread and the health endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0
        self._refusal: str | None = None
        self._drops: deque[float] = deque(maxlen=_TAKEOVER_DISCONNECTS)
        self._takeover_logged = 0.0
        self._connected_at = 0.0

    def connected(self) -> None:
        with self._lock:
            self._unreachable_since = None
            self._refusal = None
            self._connected_at = time.monotonic()

    def refused(self, reason: str) -> None:
        with self._lock:
            self._refusal = reason

    def unreachable(self) -> bool:
        """Record a failed attempt; True when it is time to log it (first, then each minute)."""
        now = time.monotonic()
        with self._lock:
            if self._unreachable_since is None:
                self._unreachable_since = now
            if now - self._unreachable_logged < _REPEAT_LOG_S:
                return False
            self._unreachable_logged = now
            return True

    def dropped(self) -> bool:
        """Record a disconnect by the broker; True when it is time to log a takeover."""
        now = time.monotonic()
        with self._lock:
            if now - self._connected_at > _TAKEOVER_SHORT_S:
                return False
            self._drops.append(now)
            if not self._takeover(now) or now - self._takeover_logged < _REPEAT_LOG_S:
                return False
            self._takeover_logged = now
            return True

    def _takeover(self, now: float) -> bool:
        return (
            len(self._drops) == _TAKEOVER_DISCONNECTS and now - self._drops[0] <= _TAKEOVER_WINDOW_S
        )

    def faults(self, connected: bool, url: str, client_id: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            found = []
            if self._refusal is not None:
                found.append(f"broker {url} refuses the connection: {self._refusal}")
            elif self._unreachable_since is not None and not connected:
                lasted = now - self._unreachable_since
                found.append(f"broker {url} unreachable for {lasted:.0f} s")
            elif not connected:
                found.append(f"not connected to broker {url}")
            # Reported for as long as the last disconnects stay within the window.
            if (
                self._drops
                and self._takeover(self._drops[-1])
                and (now - self._drops[-1] <= _TAKEOVER_WINDOW_S)
            ):
                found.append(
                    f"another client is using client id {client_id!r}: the broker dropped us "
                    f"{_TAKEOVER_DISCONNECTS} times within {_TAKEOVER_WINDOW_S:.0f} s"
                )
            return found
