"""`BrokerLink`: the gateway's MQTT session, paho kept behind it.

paho runs its network loop in its own thread; received messages are appended to an inbox and the
asyncio side is woken once per burst, not once per message (a thread-safe call per message costs
more than decoding it). QoS 1 messages are acknowledged only when the gateway says so, after
their batch is stored: with a persistent session (fixed client id, clean session off) anything
not acknowledged is redelivered after a reconnect or a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from gateway.errors import BrokerError

__all__ = ["BrokerLink", "Inbound"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One received message. `session` tells which connection it came on: a packet id is only
    meaningful to the connection that delivered it."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    session: int


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
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._inbox: deque[Inbound] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._signalled = False
        self._session = 0
        self._connected = threading.Event()
        self._started = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def session(self) -> int:
        return self._session

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
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._connected.clear()

    async def receive(self, max_messages: int) -> list[Inbound]:
        """Wait for at least one message; return what has arrived, up to `max_messages`."""
        while not self._inbox:
            await self._wake.wait()
            self._wake.clear()
            self._signalled = False
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
            log.error(
                "broker mqtt://%s:%s refused the connection: %s", self._host, self._port, reason
            )
            return
        # Messages of the previous connection that were not acked will be redelivered; their old
        # packet ids must never be acked on this one.
        self._session += 1
        log.info(
            "connected to mqtt://%s:%s (session present: %s)",
            self._host,
            self._port,
            flags.session_present,
        )
        result, _mid = client.subscribe([(topic, 1) for topic in self._subscriptions])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.error("subscribe failed: %s", paho.error_string(result))
        self._connected.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            log.warning(
                "lost the broker mqtt://%s:%s (%s); reconnecting with backoff",
                self._host,
                self._port,
                reason,
            )

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        topic = message._topic.decode("utf-8", "replace")
        payload = bytes(message.payload)
        self._inbox.append(Inbound(topic, payload, message.qos, message.mid, self._session))
        if not self._signalled and self._loop is not None:
            self._signalled = True
            self._loop.call_soon_threadsafe(self._wake.set)
