"""The demo school's fleet on a real Mosquitto, on a manual clock: what a gateway subscribed to
the site receives."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.clock import ManualClock, to_epoch_ms
from core.config import SiteConfig
from core.readings import ReadingBatchBuilder
from demo_broker.mosquitto import MosquittoProcess
from firmware_sim import Fleet, SimulatorError
from gateway.codec import TimeWindow, decode_event, decode_telemetry
from tests.firmware_sim.conftest import Recorder

# 15:40 in Shanghai: the dinner cooking starts, and lunch's disinfection is over.
START = datetime(2024, 11, 25, 7, 40, tzinfo=UTC)
STEP_S = 15.0  # the shortest reporting interval in the demo config

RecorderFactory = Callable[[int, str], Recorder]


@contextlib.asynccontextmanager
async def running(fleet: Fleet) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(fleet.run(), name="fleet")
    try:
        await asyncio.wait_for(fleet.wait_online(), 10)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def advance(clock: ManualClock, seconds: float) -> None:
    """Move simulated time in steps no longer than any device's interval, letting each device
    take its reading at every step."""
    for _ in range(round(seconds / STEP_S)):
        await clock.advance(STEP_S)
        await asyncio.sleep(0.01)


def telemetry_of(recorder: Recorder, device_id: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in recorder.on(f"/{device_id}/telemetry")]


def expected_readings(config: SiteConfig, seconds: float) -> dict[str, int]:
    return {d.id: 1 + int(seconds // d.interval_s) for d in config.devices}


async def test_every_device_publishes_in_order(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    recorder = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/#")
    clock = ManualClock(START)
    fleet = Fleet(config, clock, mosquitto.url, seed=3)
    assert fleet.device_ids() == [d.id for d in config.devices]
    expected = expected_readings(config, 240)
    async with running(fleet):
        await advance(clock, 240)
        await recorder.wait_for(
            lambda: all(len(telemetry_of(recorder, d)) >= n for d, n in expected.items())
        )
        await recorder.wait_for(lambda: fleet.stats.published == expected)
    for device_id, count in expected.items():
        messages = telemetry_of(recorder, device_id)
        assert [m["seq"] for m in messages] == list(range(count)), device_id
        stamps = [m["ts"] for m in messages]
        assert stamps[0] == to_epoch_ms(START), device_id
        assert all(a < b for a, b in itertools.pairwise(stamps)), device_id
    assert fleet.stats.total == sum(expected.values())


async def test_payloads_are_what_the_gateway_accepts(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    recorder = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/#")
    # 13:00 in Shanghai: lunch is over and the disinfection cabinets start their cycles.
    clock = ManualClock(datetime(2024, 11, 25, 5, 0, tzinfo=UTC))
    fleet = Fleet(config, clock, mosquitto.url, seed=0)
    async with running(fleet):
        await advance(clock, 45 * 60)
        await recorder.wait_for(lambda: len(recorder.on("/event")) >= 2)
    window = TimeWindow(to_epoch_ms(clock.now()), 300_000, 86_400_000)
    site = config.site.id
    batch = ReadingBatchBuilder()
    for message in recorder.on("/telemetry"):
        device = message.topic.split("/")[-2]
        assert decode_telemetry(message.payload, site, device, window, batch) >= 1
    metrics = set(batch.metric)
    assert {"temp_c", "door_open", "compressor_on", "power_w", "energy_kwh", "gas_m3"} <= metrics
    events = [
        decode_event(m.payload, site, m.topic.split("/")[-2], window) for m in recorder.on("/event")
    ]
    assert {e.device for e in events} == {"disinfect-1", "disinfect-2"}
    assert {e.kind for e in events} <= {"cycle_start", "cycle_end"}


async def test_presence_is_retained_online(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    fleet = Fleet(config, ManualClock(START), mosquitto.url)
    async with running(fleet):
        # A subscriber arriving later still learns that every device is online.
        late = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/+/+/status")
        await late.wait_for(lambda: len(late.messages) >= len(config.devices))
        assert {m.topic.split("/")[-2] for m in late.messages} == set(fleet.device_ids())
        assert all(m.payload == b"online" and m.retain for m in late.messages)


async def test_a_dropped_device_goes_offline_by_its_last_will(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    recorder = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/#")
    clock = ManualClock(START)
    fleet = Fleet(config, clock, mosquitto.url)
    async with running(fleet):
        await fleet.drop("fridge-1")
        # Only the broker can say so now: the device itself sent nothing, not even DISCONNECT.
        await recorder.wait_for(
            lambda: [m.payload for m in recorder.on("/fridge-1/status")] == [b"online", b"offline"]
        )
        before = len(telemetry_of(recorder, "fridge-2"))
        await advance(clock, 60)
        await recorder.wait_for(lambda: len(telemetry_of(recorder, "fridge-2")) >= before + 2)
        assert len(telemetry_of(recorder, "fridge-1")) == 1
        late = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/+/fridge-1/status")
        await late.wait_for(lambda: bool(late.messages))
        assert late.messages[0].payload == b"offline" and late.messages[0].retain
    with pytest.raises(SimulatorError, match="not a device"):
        await fleet.drop("fridge-99")


async def test_stopping_the_fleet_says_offline_for_every_device(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    recorder = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/+/+/status")
    fleet = Fleet(config, ManualClock(START), mosquitto.url)
    async with running(fleet):
        pass

    def last_status() -> dict[str, bytes]:
        return {m.topic.split("/")[-2]: m.payload for m in recorder.messages}

    await recorder.wait_for(lambda: set(last_status().values()) == {b"offline"})
    assert set(last_status()) == set(fleet.device_ids())


async def test_devices_reconnect_after_a_broker_restart(
    demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    clock = ManualClock(START)
    broker = MosquittoProcess().start()
    try:
        fleet = Fleet(config, clock, broker.url)
        async with running(fleet):
            await asyncio.to_thread(broker.stop)
            # Readings go on while the broker is away; the devices keep them.
            await advance(clock, 60)
            broker = MosquittoProcess(port=broker.port).start()
            presence = recorder_factory(broker.port, f"{config.mqtt.topic_prefix}/+/+/status")
            await presence.wait_for(lambda: len(presence.messages) >= len(config.devices))
            assert all(m.payload == b"online" for m in presence.messages)
            # Every reading taken, before, during and after the outage, reaches a broker.
            recorder = recorder_factory(broker.port, f"{config.mqtt.topic_prefix}/#")
            await advance(clock, 15)
            taken = expected_readings(config, 75)
            await recorder.wait_for(lambda: fleet.stats.published == taken)
            await recorder.wait_for(lambda: bool(telemetry_of(recorder, "steam-cabinet-1")))
        assert telemetry_of(recorder, "steam-cabinet-1")[-1]["seq"] == taken["steam-cabinet-1"] - 1
        assert all(c.connects == 2 and c.lost == 0 for c in fleet.stats.devices.values())
    finally:
        broker.stop()
