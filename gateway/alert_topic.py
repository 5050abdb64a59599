"""`AlertTopicPublisher`: the service's own MQTT connection for the alert topic
(`{prefix}/{site}/alerts/{alert_id}`, retained while the alert is open), paho kept behind it.

A connection of its own, not the gateway's: the gateway's session is a persistent QoS 1
subscriber that acknowledges by hand after each stored batch, and a publish must never wait
behind (or hold up) that. paho runs its network loop in its own thread; `publish` hands the
message to it and awaits the broker's PUBACK (QoS 1) on the event loop, so the outbox records
"sent" only when the broker has the message. Whatever goes wrong is a `BrokerError` the
channel turns into a failed, retried delivery.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from gateway.errors import BrokerError

__all__ = ["AlertTopicPublisher"]

log = logging.getLogger(__name__)

_PUBACK_TIMEOUT_S = 10.0


class AlertTopicPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
    ) -> None:
        self._host, self._port, self._keepalive = host, port, keepalive_s
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"canteen-alerts-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv311,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._connected = threading.Event()
        self._started = False
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        if self._started:
            raise RuntimeError("AlertTopicPublisher.start() called twice")
        self._started = True
        try:
            self._client.connect_async(self._host, self._port, keepalive=self._keepalive)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to mqtt://{self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()

    async def stop(self) -> None:
        if not self._started:
            return
        self._stopping = True  # our own goodbye is not an outage worth a warning
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._connected.clear()

    async def publish(self, topic: str, payload: bytes, retain: bool, qos: int) -> None:
        """Publish and return once the broker has it (QoS 1/2) or it is written (QoS 0)."""
        if not self._connected.is_set():
            raise BrokerError(f"not connected to mqtt://{self._host}:{self._port}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BrokerError(f"publish on {topic} refused: {paho.error_string(info.rc)}")
        # wait_for_publish blocks its thread until paho's own thread sees the PUBACK.
        try:
            await asyncio.to_thread(info.wait_for_publish, _PUBACK_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            raise BrokerError(f"publish on {topic} was not completed: {exc}") from exc
        if not info.is_published():
            raise BrokerError(f"no PUBACK for {topic} within {_PUBACK_TIMEOUT_S:g} s")

    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("alert topic: the broker refused the connection: %s", reason)
            return
        self._connected.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning("alert topic: disconnected from the broker (%s); reconnecting", reason)
        self._connected.clear()
