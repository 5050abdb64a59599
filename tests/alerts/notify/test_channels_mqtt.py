"""The MQTT alert topic on a real Mosquitto: a display that subscribes later finds a retained
message for each open alert, and nothing once the alert is resolved. The test binds the
channel's `publish` to a paho client, as the composition root binds it to the gateway's."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.notify.channels import CHANNEL_CONFIG, MqttAlertChannel, build_channel
from alerts.notify.channels.config import MqttConfig
from alerts.notify.model import NoticeKind
from core.clock import StepClock
from demo_broker.mosquitto import MosquittoProcess
from tests.alerts.notify.conftest import fridge_facts, make_notice


class PahoPublish:
    """An async `publish(topic, payload, retain, qos)` on a paho connection."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"n-{uuid.uuid4().hex[:8]}"
        )
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert connected.wait(10), "publisher could not connect"

    async def __call__(self, topic: str, payload: bytes, retain: bool, qos: int) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        await asyncio.to_thread(info.wait_for_publish, 10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: MosquittoProcess, topic_filter: str, wait_s: float = 1.0) -> dict[str, bytes]:
    """What a display connecting now receives: the retained messages under `topic_filter`."""
    seen: dict[str, bytes] = {}
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"d-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, msg: (
        seen.__setitem__(msg.topic, bytes(msg.payload)) if msg.retain else None
    )
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert subscribed.wait(10), "display could not subscribe"
        threading.Event().wait(wait_s)  # retained messages follow the SUBACK at once
    finally:
        client.disconnect()
        client.loop_stop()
    return seen


@pytest.fixture
def publish(mosquitto: MosquittoProcess) -> Iterator[PahoPublish]:
    pub = PahoPublish(mosquitto)
    yield pub
    pub.close()


def channel_for(prefix: str, publish: PahoPublish) -> MqttAlertChannel:
    config = CHANNEL_CONFIG.validate_python({"type": "mqtt", "topic_prefix": prefix})
    assert isinstance(config, MqttConfig)
    return MqttAlertChannel("wall", config, publish)


async def test_open_alert_is_retained_and_resolved_clears_it(
    mosquitto: MosquittoProcess, publish: PahoPublish, topic_prefix: str, clock: StepClock
) -> None:
    channel = channel_for(topic_prefix, publish)
    other = fridge_facts(alert_id=43, device="fridge-2", device_name="2号冷藏柜")
    assert (await channel.send(make_notice())).ok
    assert (await channel.send(make_notice(other))).ok

    shown = retained(mosquitto, f"{topic_prefix}/test-school/alerts/+")
    assert set(shown) == {
        f"{topic_prefix}/test-school/alerts/42",
        f"{topic_prefix}/test-school/alerts/43",
    }
    data = json.loads(shown[f"{topic_prefix}/test-school/alerts/42"])
    assert data["alert"]["device_name"] == "1号冷藏柜" and data["alert"]["location"] == "食堂后厨"
    assert data["alert"]["since_local"] == "2026-11-23 09:05 (UTC+08:00)"
    assert data["title"] == "【严重】告警：1号冷藏柜" and data["kind"] == "fired"

    resolved = make_notice(
        fridge_facts(resolved_at=clock.now() + timedelta(minutes=5)), kind=NoticeKind.RESOLVED
    )
    assert (await channel.send(resolved)).ok
    shown = retained(mosquitto, f"{topic_prefix}/test-school/alerts/+")
    assert set(shown) == {f"{topic_prefix}/test-school/alerts/43"}

    assert (await channel.clear("test-school", 43)).ok  # closed without a resolved notice
    assert retained(mosquitto, f"{topic_prefix}/test-school/alerts/+") == {}


async def test_digest_keeps_one_message_per_alert(
    mosquitto: MosquittoProcess, publish: PahoPublish, topic_prefix: str
) -> None:
    alerts = [fridge_facts(alert_id=i) for i in (7, 8, 9)]
    channel = channel_for(topic_prefix, publish)
    assert (await channel.send(make_notice(*alerts, kind=NoticeKind.DIGEST))).ok
    shown = retained(mosquitto, f"{topic_prefix}/test-school/alerts/#")
    assert sorted(json.loads(p)["alert"]["alert_id"] for p in shown.values()) == [7, 8, 9]


async def test_publish_failure_is_a_failed_delivery(
    clock: StepClock, http_client: httpx.AsyncClient
) -> None:
    async def broken(topic: str, payload: bytes, retain: bool, qos: int) -> None:
        raise ConnectionError("not connected to the broker")

    config = CHANNEL_CONFIG.validate_python({"type": "mqtt"})
    channel = build_channel("wall", config, client=http_client, clock=clock, publish=broken)
    delivery = await channel.send(make_notice())
    assert (delivery.ok, delivery.permanent) == (False, False)
    assert "canteen/v1/test-school/alerts/42" in delivery.reason
    assert "not connected" in delivery.reason
