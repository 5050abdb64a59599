"""The demo school's fleet on bridges, on a real Mosquitto and a manual clock: devices share
connections, each still has its retained presence, a bridge's death is announced by its own
Last Will, and an offline fault takes a device off the air the way its connection allows."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.clock import ManualClock, to_epoch_ms
from core.config import SiteConfig
from core.model import Device
from demo_broker.mosquitto import MosquittoProcess
from firmware_sim import DeviceModel, Fleet, Metrics, SimEvent, SimulatorError, build_model
from tests.firmware_sim.conftest import Recorder

START = datetime(2024, 11, 25, 7, 40, tzinfo=UTC)
STEP_S = 15.0
OWN = {"fridge-1", "water-teaching"}

RecorderFactory = Callable[[int, str], Recorder]


@contextlib.asynccontextmanager
async def running(fleet: Fleet) -> AsyncIterator[None]:
    task = asyncio.create_task(fleet.run(), name="fleet")
    try:
        await asyncio.wait_for(fleet.wait_online(), 10)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def advance(clock: ManualClock, seconds: float) -> None:
    for _ in range(round(seconds / STEP_S)):
        await clock.advance(STEP_S)
        await asyncio.sleep(0.01)


def bridged(config: SiteConfig, clock: ManualClock, url: str, **options: Any) -> Fleet:
    return Fleet(config, clock, url, devices_per_bridge=4, own_connection=OWN, **options)


def telemetry(recorder: Recorder, device_id: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in recorder.on(f"/{device_id}/telemetry")]


def statuses(recorder: Recorder, device_id: str) -> list[bytes]:
    return [m.payload for m in recorder.on(f"/{device_id}/status")]


async def test_bridged_devices_publish_in_order_with_their_own_presence(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    prefix, site = config.mqtt.topic_prefix, config.site.id
    recorder = recorder_factory(mosquitto.port, f"{prefix}/#")
    clock = ManualClock(START)
    fleet = bridged(config, clock, mosquitto.url)
    # canteen: 13 bridged devices in bridges of 4; teaching and dormitory: 2 and 3.
    assert fleet.bridge_ids() == [
        "canteen-1",
        "canteen-2",
        "canteen-3",
        "canteen-4",
        "teaching-1",
        "dormitory-1",
    ]
    assert fleet.bridge_of("fridge-1") is None and fleet.bridge_of("fridge-2") == "canteen-1"
    expected = {d.id: 1 + int(120 // d.interval_s) for d in config.devices}
    async with running(fleet):
        await advance(clock, 120)
        await recorder.wait_for(lambda: fleet.stats.published == expected)
        await recorder.wait_for(
            lambda: all(len(telemetry(recorder, d)) == n for d, n in expected.items())
        )
        late = recorder_factory(mosquitto.port, f"{prefix}/{site}/#")
        await late.wait_for(lambda: len([m for m in late.messages if m.retain]) >= 20 + 2 * 6)
    for device_id, count in expected.items():
        messages = telemetry(recorder, device_id)
        assert [m["seq"] for m in messages] == list(range(count)), device_id
        assert all(a["ts"] < b["ts"] for a, b in itertools.pairwise(messages)), device_id
    retained = {
        m.topic.removeprefix(f"{prefix}/{site}/"): m.payload for m in late.messages if m.retain
    }
    assert all(retained[f"{d}/status"] == b"online" for d in fleet.device_ids())
    assert all(retained[f"bridges/{b}/status"] == b"online" for b in fleet.bridge_ids())
    assert json.loads(retained["bridges/canteen-1/devices"]) == [
        "fridge-2",
        "fridge-3",
        "fridge-4",
        "freezer-1",
    ]
    assert fleet.stats.lag.count == sum(expected.values())
    assert all(c.connects == 1 for c in fleet.stats.devices.values())


async def test_a_dead_bridge_is_announced_by_its_will_and_a_dropped_member_by_the_bridge(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    prefix, site = config.mqtt.topic_prefix, config.site.id
    recorder = recorder_factory(mosquitto.port, f"{prefix}/#")
    clock = ManualClock(START)
    fleet = bridged(config, clock, mosquitto.url)
    async with running(fleet):
        await fleet.drop("fridge-3")  # a member: its bridge says so
        await recorder.wait_for(lambda: statuses(recorder, "fridge-3") == [b"online", b"offline"])
        await fleet.drop_bridge("canteen-2")  # freezer-2, sample-fridge-1, steam-cabinet-1, -2
        bridge_status = f"{prefix}/{site}/bridges/canteen-2/status"
        await recorder.wait_for(
            lambda: [m.payload for m in recorder.on(bridge_status)] == [b"online", b"offline"]
        )
        await fleet.drop("fridge-1")  # its own connection: its own will
        await recorder.wait_for(lambda: statuses(recorder, "fridge-1") == [b"online", b"offline"])
        before = {d: len(telemetry(recorder, d)) for d in fleet.device_ids()}
        await advance(clock, 60)
        await recorder.wait_for(
            lambda: len(telemetry(recorder, "fridge-2")) == before["fridge-2"] + 2
        )
        silent = {
            "fridge-1",
            "fridge-3",
            "freezer-2",
            "sample-fridge-1",
            "steam-cabinet-1",
            "steam-cabinet-2",
        }
        assert all(len(telemetry(recorder, d)) == before[d] for d in silent)
        # MQTT gives a connection one will: the dead bridge's members keep their last word.
        assert statuses(recorder, "freezer-2") == [b"online"]
        with pytest.raises(SimulatorError, match="not a bridge"):
            await fleet.drop_bridge("fridge-2")


async def test_stopping_says_offline_for_every_device_and_bridge(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    prefix = config.mqtt.topic_prefix
    recorder = recorder_factory(mosquitto.port, f"{prefix}/#")
    fleet = bridged(config, ManualClock(START), mosquitto.url)
    async with running(fleet):
        pass

    def last(suffix: str) -> dict[str, bytes]:
        return {m.topic.split("/")[-2]: m.payload for m in recorder.on(suffix)}

    await recorder.wait_for(lambda: set(last("/status").values()) == {b"offline"})
    assert set(last("/status")) == set(fleet.device_ids()) | set(fleet.bridge_ids())


def back_online(recorder: Recorder, device_id: str) -> Callable[[], bool]:
    """Offline and online again, with its readings before and after the cut."""

    def check() -> bool:
        cut = statuses(recorder, device_id) == [b"online", b"offline", b"online"]
        return cut and len(telemetry(recorder, device_id)) == 4

    return check


class CutOff:
    """A device's model with an offline fault from `start` to `end`: what the fault injection
    of `build_model` gives, without depending on its parameters."""

    def __init__(self, model: DeviceModel, start: datetime, end: datetime) -> None:
        self._model, self._start, self._end = model, start, end

    @property
    def device(self) -> Device:
        return self._model.device

    def step_to(self, t: datetime) -> Metrics:
        return self._model.step_to(t)

    def take_events(self) -> list[SimEvent]:
        return self._model.take_events()

    def reachable(self, t: datetime) -> bool:
        return not self._start <= t < self._end


async def test_an_offline_fault_drops_an_own_connection_and_the_bridge_reports_a_member(
    mosquitto: MosquittoProcess, demo_with_prefix: SiteConfig, recorder_factory: RecorderFactory
) -> None:
    config = demo_with_prefix
    recorder = recorder_factory(mosquitto.port, f"{config.mqtt.topic_prefix}/#")
    cut_from, cut_to = START + timedelta(seconds=30), START + timedelta(seconds=90)

    def with_faults(cfg: SiteConfig, device: Device, seed: int) -> DeviceModel:
        model = build_model(cfg, device, seed)
        return CutOff(model, cut_from, cut_to) if device.id in ("fridge-1", "fridge-2") else model

    clock = ManualClock(START)
    fleet = bridged(config, clock, mosquitto.url, model_factory=with_faults)
    async with running(fleet):
        await advance(clock, 150)
        for device_id in ("fridge-1", "fridge-2"):
            await recorder.wait_for(back_online(recorder, device_id))
        assert statuses(recorder, "fridge-3") == [b"online"]  # its bridge-mate was not touched
    for device_id in ("fridge-1", "fridge-2"):
        messages = telemetry(recorder, device_id)
        # Readings at 30, 60 s were taken while cut off and lost: a gap in seq says so.
        assert [m["seq"] for m in messages] == [0, 3, 4, 5], device_id
        assert messages[1]["ts"] == to_epoch_ms(cut_to)
        assert fleet.stats.devices[device_id].offline_readings == 2
    assert fleet.stats.devices["fridge-1"].connects == 2  # its own connection came back
    assert fleet.stats.devices["fridge-2"].connects == 1  # its bridge never went away
