"""Simulator to store through a real Mosquitto: a bridged demo school where some devices speak
Zigbee2MQTT, Tasmota and Shelly Gen2, read by the real gateway. What the store holds is what the
models produced, under our device ids, and a dead bridge's devices go offline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import ManualClock
from core.config import SiteConfig
from core.model import Device
from demo_broker.mosquitto import MosquittoProcess
from firmware_sim import DeviceModel, Fleet, Metrics, SimEvent, build_model
from gateway import Gateway
from ingest import DuckDBStore, StoreWriter
from tests.conftest import wait_for

START = datetime(2024, 11, 25, 3, 30, tzinfo=UTC)  # 11:30 in Shanghai, before lunch
STEP_S = 15.0
SOURCES = {  # device -> (format, foreign id); a friendly name with "/" as Zigbee2MQTT allows
    "fridge-2": ("zigbee2mqtt", "kitchen/fridge-2"),
    "fridge-3": ("zigbee2mqtt", "fridge-3-door"),
    "elec-canteen": ("tasmota", "canteen-main-meter"),
    "steam-cabinet-1": ("shelly_gen2", "shellyplus1pm-c4dd57000001"),
}
CARRIED = {
    "zigbee2mqtt": {"temp_c", "door_open", "power_w", "energy_kwh", "battery_pct", "humidity_pct"},
    "tasmota": {"temp_c", "power_w", "energy_kwh", "voltage_v"},
    "shelly_gen2": {"temp_c", "power_w", "energy_kwh", "voltage_v", "battery_pct", "humidity_pct"},
}


@pytest.fixture(scope="module")
def broker() -> Iterator[MosquittoProcess]:
    """Foreign topics have no per-test prefix: this module keeps them on a broker of its own."""
    with MosquittoProcess() as started:
        yield started


LAST: dict[str, Metrics] = {}  # each device's last reading (what the store should hold)


class Recording:
    """A device's model that remembers its last reading in LAST."""

    def __init__(self, model: DeviceModel) -> None:
        self._model = model

    @property
    def device(self) -> Device:
        return self._model.device

    def step_to(self, t: datetime) -> Metrics:
        metrics = LAST[self.device.id] = self._model.step_to(t)
        return metrics

    def take_events(self) -> list[SimEvent]:
        return self._model.take_events()

    def reachable(self, t: datetime) -> bool:
        return self._model.reachable(t)


def recording(config: SiteConfig, device: Device, seed: int) -> DeviceModel:
    return Recording(build_model(config, device, seed))


def with_sources(demo: SiteConfig, prefix: str) -> SiteConfig:
    data: dict[str, Any] = demo.model_dump(mode="json", exclude_none=True)
    data["mqtt"] = {**data["mqtt"], "topic_prefix": prefix, "client_id": f"gw-{prefix[-10:]}"}
    for device in data["devices"]:
        if device["id"] in SOURCES:
            fmt, foreign_id = SOURCES[device["id"]]
            device["source"] = {"format": fmt, "id": foreign_id}
    return SiteConfig.model_validate(data)


@contextlib.asynccontextmanager
async def task_of(name: str, coroutine: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(coroutine, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_bridged_school_with_foreign_devices_reaches_the_store(
    broker: MosquittoProcess, demo: SiteConfig, topic_prefix: str, tmp_path: Path
) -> None:
    config = with_sources(demo, topic_prefix)
    site = config.site.id
    clock = ManualClock(START)
    store = DuckDBStore(tmp_path / "school.duckdb")
    gateway = Gateway(config, StoreWriter(store), clock, broker_url=broker.url)
    # Tasmota and Shelly are Wi-Fi devices: a connection of their own, with their own will.
    own = {"fridge-1", "elec-canteen", "steam-cabinet-1"}
    fleet = Fleet(
        config, clock, broker.url, devices_per_bridge=5, own_connection=own, model_factory=recording
    )
    last = START + timedelta(seconds=120)

    def latest(device: str) -> dict[str, tuple[float, datetime]]:
        return {v.metric: (v.value, v.ts) for v in store.latest(site, device)}

    def presence() -> dict[str, bool]:
        return {p.device: p.online for p in store.presence(site)}

    async with task_of("gateway", gateway.run()):
        await wait_for(lambda: gateway.subscribed, "gateway subscribed")
        async with task_of("fleet", fleet.run()):
            await asyncio.wait_for(fleet.wait_online(), 10)
            for _ in range(8):
                await clock.advance(STEP_S)
                await asyncio.sleep(0.02)
            await wait_for(
                lambda: all(
                    {ts for _, ts in latest(d).values()} == {last} for d in fleet.device_ids()
                ),
                "every device's reading at +120 s stored",
            )
            for device in config.devices:
                carried = CARRIED.get(device.source.format.value)
                expected = {
                    metric: (float(value), last)
                    for metric, value in LAST[device.id].items()
                    if carried is None or metric in carried
                }
                assert latest(device.id) == expected, device.id
            await wait_for(lambda: len(presence()) == len(config.devices), "presence of all")
            assert all(presence().values())

            bridge = fleet.bridge_of("fridge-2")
            assert bridge is not None
            members = {d for d in fleet.device_ids() if fleet.bridge_of(d) == bridge}
            await fleet.drop_bridge(bridge)  # the broker publishes its will; nothing else
            await fleet.drop("elec-canteen")  # Tasmota's will: tele/.../LWT Offline
            gone = members | {"elec-canteen"}
            await wait_for(
                lambda: {d for d, online in presence().items() if not online} == gone,
                "the bridge's devices and the Tasmota meter offline",
            )
    assert gateway.stats.dead_letters == {}
    store.close()
