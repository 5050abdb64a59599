"""Fixtures shared by every test package: a real Mosquitto, site configs, a per-test topic
prefix so tests never see each other's messages."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.config import SiteConfig
from demo_broker.mosquitto import MosquittoProcess

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoProcess]:
    with MosquittoProcess() as broker:
        yield broker


@pytest.fixture
def topic_prefix() -> str:
    return f"test/{uuid.uuid4().hex[:10]}"


async def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll `condition` until true; fail naming `what` after `timeout_s` (never a timed pass)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def site_config(prefix: str, devices: int = 3, **extra: Any) -> SiteConfig:
    """A small site: one canteen building with `devices` fridges named fridge-1..N."""
    data: dict[str, Any] = {
        "site": {"id": "test-school", "name": "Test School"},
        "mqtt": {"topic_prefix": prefix, "client_id": f"gw-{uuid.uuid4().hex[:8]}"},
        "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
        "devices": [
            {"id": f"fridge-{i}", "kind": "fridge", "building": "canteen", "interval_s": 30}
            for i in range(1, devices + 1)
        ],
        **extra,
    }
    return SiteConfig.model_validate(data)


class Publisher:
    """A paho client that publishes and waits until the broker has acknowledged everything."""

    _ids = itertools.count()

    def __init__(self, broker: MosquittoProcess) -> None:
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-pub-{next(self._ids)}-{uuid.uuid4().hex[:6]}",
        )
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        connected = threading.Event()
        self._client.on_connect = lambda *_: connected.set()
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        if not connected.wait(10):
            raise RuntimeError("test publisher could not connect")
        self._pending: list[paho.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes | str | dict[str, Any] | list[Any]) -> None:
        if isinstance(payload, dict | list):
            payload = json.dumps(payload)
        self._pending.append(self._client.publish(topic, payload, qos=1))

    def flush(self, timeout_s: float = 30.0) -> None:
        for info in self._pending:
            info.wait_for_publish(timeout_s)
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def publisher(mosquitto: MosquittoProcess) -> Iterator[Publisher]:
    pub = Publisher(mosquitto)
    yield pub
    pub.close()
