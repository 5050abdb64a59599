"""Fixtures for the simulator tests: the demo school, a day of readings from one device model,
and a recorder that subscribes to a broker with a plain paho client."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.config import SiteConfig, load_config
from firmware_sim import Metrics, SimEvent, build_model

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-school.yaml"
# Monday 25 November 2024, 00:00 in Shanghai (UTC+8): a school day.
MONDAY = datetime(2024, 11, 24, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo() -> SiteConfig:
    return load_config(DEMO)


@pytest.fixture
def demo_with_prefix(demo: SiteConfig, topic_prefix: str) -> SiteConfig:
    """The demo school publishing under this test's own topic prefix."""
    mqtt = demo.mqtt.model_copy(update={"topic_prefix": topic_prefix})
    return demo.model_copy(update={"mqtt": mqtt})


@dataclass
class Trace:
    """Readings of one device at a fixed cadence, with the events it reported."""

    times: list[datetime]
    readings: list[Metrics]
    events: list[SimEvent]

    def series(self, metric: str) -> list[float]:
        return [float(r[metric]) for r in self.readings]

    def between(self, start: datetime, end: datetime) -> list[Metrics]:
        return [r for t, r in zip(self.times, self.readings, strict=True) if start <= t < end]


def drive(
    config: SiteConfig,
    device_id: str,
    *,
    seed: int = 0,
    start: datetime = MONDAY,
    hours: float = 24.0,
    step_s: float | None = None,
) -> Trace:
    """Read one device's model directly (no broker) over `hours` from `start`."""
    device = config.device(device_id)
    assert device is not None, device_id
    model = build_model(config, device, seed)
    step = step_s or device.interval_s
    times = [start + timedelta(seconds=step * i) for i in range(int(hours * 3600 / step))]
    readings, events = [], []
    for t in times:
        readings.append(model.step_to(t))
        events.extend(model.take_events())
    return Trace(times, readings, events)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float = field(default_factory=time.monotonic)


class Recorder:
    """Everything published under a topic filter, as the broker delivers it."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-rec-{uuid.uuid4().hex[:8]}",
        )
        self._client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("recorder could not subscribe")

    def _on_message(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Received(message.topic, bytes(message.payload), bool(message.retain))
            )

    def on(self, suffix: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout_s} s")
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def recorder_factory() -> Iterator[Callable[[int, str], Recorder]]:
    made: list[Recorder] = []

    def make(port: int, topic_filter: str) -> Recorder:
        made.append(Recorder(port, topic_filter))
        return made[-1]

    yield make
    for recorder in made:
        recorder.close()
