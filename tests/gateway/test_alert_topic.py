"""The alert topic's own connection on a real Mosquitto: a retained message published through
it is there for a display that subscribes later, an empty one clears it, and a publish while
not connected is a `BrokerError` (which the MQTT channel turns into a retried delivery)."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from demo_broker.mosquitto import MosquittoProcess
from gateway.alert_topic import AlertTopicPublisher
from gateway.errors import BrokerError
from tests.conftest import wait_for


def retained(broker: MosquittoProcess, topic: str) -> list[bytes]:
    """What a display that connects now is given on `topic` (within a second)."""
    got: list[bytes] = []
    done = threading.Event()
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_message = lambda _c, _u, message: got.append(message.payload)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    done.wait(1.0)
    client.disconnect()
    client.loop_stop()
    return got


async def test_a_retained_alert_is_kept_and_cleared(
    mosquitto: MosquittoProcess, topic_prefix: str
) -> None:
    publisher = AlertTopicPublisher("127.0.0.1", mosquitto.port, client_id=f"{topic_prefix}-a")
    publisher.start()
    topic = f"{topic_prefix}/school/alerts/7"
    try:
        await wait_for(lambda: publisher.connected, "the alert topic's connection")
        await publisher.publish(topic, b'{"alert": 7}', True, 1)
        assert await asyncio.to_thread(retained, mosquitto, topic) == [b'{"alert": 7}']
        await publisher.publish(topic, b"", True, 1)
        assert await asyncio.to_thread(retained, mosquitto, topic) == []
    finally:
        await publisher.stop()


async def test_publishing_without_a_connection_is_a_broker_error() -> None:
    publisher = AlertTopicPublisher("127.0.0.1", 1)  # nothing listens on port 1
    publisher.start()
    try:
        with pytest.raises(BrokerError, match="not connected"):
            await publisher.publish("x/alerts/1", b"{}", True, 1)
    finally:
        await publisher.stop()
