"""Fixtures for the simulator tests: the demo school, a day of readings from one device model,
and a recorder that subscribes to a broker with a plain paho client."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.config import SiteConfig, load_config
from firmware_sim import Metrics, SimEvent, build_model
from firmware_sim.faults import Fault
from firmware_sim.scenario import Scenario, load_scenario

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-school.yaml"
# Monday 25 November 2024, 00:00 in Shanghai (UTC+8): a school day.
MONDAY = datetime(2024, 11, 24, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo() -> SiteConfig:
    return load_config(DEMO)


# Two days of a few devices of the demo school with a fault of most kinds: small enough for a
# batch run in a test, broad enough to exercise every writer and every ground-truth measure.
SMALL_SCENARIO = """
name: small
site: {site}
start: 2024-11-25
duration: 2d
seed: 11
devices: [fridge-1, fridge-2, freezer-1, steam-cabinet-1, disinfect-1, disinfect-2, water-dormitory,
          elec-teaching, elec-canteen, elec-dormitory, gas-canteen]
holidays:
  - {{name: staff day, start: 2024-11-26}}
faults:
  - {{device: fridge-1, type: seal_leak, onset: +2h, severity: 0.5, ramp: 6h}}
  - {{device: fridge-2, type: door_left_open, onset: 2024-11-25T14:00, lasting: 1h}}
  - {{device: freezer-1, type: compressor_failure, onset: 2024-11-26T09:00, end: 2024-11-26T13:00}}
  - {{device: fridge-2, type: sensor_drift, onset: +1d, rate_per_day: 2.0}}
  - {{device: disinfect-1, type: disinfection_missed, onset: 2024-11-25, meal: lunch}}
  - {{device: disinfect-2, type: disinfection_aborted, onset: 2024-11-25, meal: dinner, severity: 0.5}}
  - {{device: disinfect-1, type: disinfection_under_temp, onset: 2024-11-25T16:00, end: +1d}}
  - {{device: water-dormitory, type: water_leak, onset: +6h, load: 0.25}}
  - {{device: elec-teaching, type: equipment_left_on, onset: 2024-11-26, lasting: 1d, load: 5000}}
  - {{device: gas-canteen, type: meter_reset, onset: 2024-11-25T22:00}}
  - {{device: water-dormitory, type: device_offline, onset: 2024-11-25T10:00, lasting: 90m}}
  - {{device: gas-canteen, type: battery_drain, onset: +1d, rate_per_day: 200}}
  - {{device: steam-cabinet-1, type: seal_leak, onset: +2h, severity: 0.6}}
  - {{device: freezer-1, type: sensor_spikes, onset: +1d, severity: 0.5}}
  - {{device: elec-teaching, type: sensor_stuck, onset: +3h, lasting: 2h}}
  - {{device: elec-canteen, type: counter_rollover, onset: 2024-11-26T10:00, modulus: 100000}}
  - {{device: elec-dormitory, type: meter_replacement, onset: 2024-11-25T09:30, value: 5}}
"""


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path = tmp_path_factory.mktemp("scenario") / "small.yaml"
    path.write_text(SMALL_SCENARIO.format(site=DEMO), encoding="utf-8")
    return load_scenario(path)


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
    present: list[bool] = field(default_factory=list)  # False: the device could not report

    def series(self, metric: str) -> list[float]:
        return [float(r[metric]) for r in self.readings]

    def between(self, start: datetime, end: datetime) -> list[Metrics]:
        return [r for t, r in zip(self.times, self.readings, strict=True) if start <= t < end]

    def reported(self) -> list[tuple[datetime, Metrics]]:
        """The readings the device could send (not offline, battery not flat)."""
        return [
            (t, r) for t, r, p in zip(self.times, self.readings, self.present, strict=True) if p
        ]


def drive(
    config: SiteConfig,
    device_id: str,
    *,
    seed: int = 0,
    start: datetime = MONDAY,
    hours: float = 24.0,
    step_s: float | None = None,
    faults: Sequence[Fault] = (),
    holidays: Sequence[date] = (),
) -> Trace:
    """Read one device's model directly (no broker) over `hours` from `start`, in one batch
    read (the values are those `step_to` gives one by one: test_determinism checks it)."""
    device = config.device(device_id)
    assert device is not None, device_id
    model = build_model(config, device, seed, faults, holidays=holidays, block_steps=8640)
    step = step_s or device.interval_s
    count = int(hours * 3600 / step)
    times = [start + timedelta(seconds=step * i) for i in range(count)]
    epochs = start.timestamp() + np.arange(count) * step
    reading = model.read(epochs)
    names = list(reading.values)
    columns = [reading.values[n].tolist() for n in names]
    readings: list[Metrics] = [
        dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)
    ]
    present = reading.present.tolist()
    return Trace(times, readings, model.take_events(), present)


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
