"""The gateway on a real Mosquitto with foreign devices and bridges: foreign readings and
presence are stored under our device ids, bad or unmapped foreign messages are dead-lettered
with their reason, and a bridge's death takes exactly its devices offline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.clock import SystemClock
from core.config import SiteConfig
from demo_broker.mosquitto import MosquittoProcess
from gateway import Gateway
from ingest import DuckDBStore, StoreWriter
from tests.conftest import Publisher, wait_for

SITE = "test-school"


@pytest.fixture(scope="module")
def broker() -> Iterator[MosquittoProcess]:
    """A broker of this module's own: foreign topics have no per-test prefix, and retained
    presence must not leak into other tests' gateways."""
    with MosquittoProcess() as started:
        yield started


class Running:
    def __init__(self, config: SiteConfig, broker: MosquittoProcess, db: Path) -> None:
        self.store = DuckDBStore(db)
        self.gateway = Gateway(
            config, StoreWriter(self.store), SystemClock(), broker_url=broker.url
        )
        self.task = asyncio.create_task(self.gateway.run(), name="gateway-under-test")

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        self.store.close()

    def latest(self, device: str) -> dict[str, tuple[float, datetime]]:
        return {v.metric: (v.value, v.ts) for v in self.store.latest(SITE, device)}

    def letters(self) -> dict[str, tuple[str, str | None, str | None]]:
        """topic -> (reason, site, device) of each dead letter."""
        return {
            r.letter.topic: (r.letter.reason, r.letter.site, r.letter.device)
            for r in self.store.dead_letters(SITE, 100)
        }


def config_with(prefix: str, devices: list[dict[str, Any]]) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "Test School", "timezone": "Asia/Shanghai"},
            "mqtt": {"topic_prefix": prefix, "client_id": f"gw-{uuid.uuid4().hex[:8]}"},
            "buildings": [{"id": "canteen", "name": "Canteen"}],
            "devices": [{"building": "canteen", "kind": "fridge", **d} for d in devices],
        }
    )


@pytest.fixture
async def pub(broker: MosquittoProcess) -> AsyncIterator[Publisher]:
    publisher = Publisher(broker)
    yield publisher
    publisher.close()


async def start(config: SiteConfig, broker: MosquittoProcess, tmp_path: Path) -> Running:
    running = Running(config, broker, tmp_path / "gw.duckdb")
    await wait_for(lambda: running.gateway.subscribed, "gateway subscribed")
    return running


async def test_foreign_devices_end_to_end(
    broker: MosquittoProcess, pub: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]  # foreign ids of this test only
    z2m, plug, shelly = f"fridge-door-{tag}", f"plug-{tag}", f"shellyplus1pm-{tag}"
    config = config_with(
        topic_prefix,
        [
            {"id": "fridge-1", "source": {"format": "zigbee2mqtt", "id": z2m}},
            {
                "id": "plug-1",
                "kind": "electricity_meter",
                "source": {"format": "tasmota", "id": plug},
            },
            {
                "id": "meter-1",
                "kind": "electricity_meter",
                "source": {"format": "shelly_gen2", "id": shelly},
            },
        ],
    )
    running = await start(config, broker, tmp_path)
    now_s = int(time.time()) - 60
    at = datetime.fromtimestamp(now_s, UTC)
    local = at.astimezone(config.site.zone).replace(tzinfo=None).isoformat()
    messages: list[tuple[str, bytes | dict[str, Any]]] = [
        (
            f"zigbee2mqtt/{z2m}",
            {
                "temperature": 3.4,
                "contact": False,
                "battery": 97,
                "linkquality": 120,
                "last_seen": at.isoformat(),
            },
        ),
        (f"zigbee2mqtt/{z2m}/availability", b'{"state":"online"}'),
        (
            f"tele/{plug}/SENSOR",
            {"Time": local, "ENERGY": {"Total": 812.345, "Power": 1520, "Voltage": 229}},
        ),
        (f"tele/{plug}/LWT", b"Offline"),
        (
            f"{shelly}/events/rpc",
            {
                "src": shelly,
                "method": "NotifyStatus",
                "params": {
                    "ts": now_s,
                    "switch:0": {"id": 0, "apower": 85.5, "aenergy": {"total": 12345.0}},
                },
            },
        ),
        (f"{shelly}/online", b"true"),
        (
            f"{shelly}/events/rpc",
            {"src": shelly, "method": "NotifyEvent", "params": {"ts": now_s, "events": []}},
        ),
        # refused: an id nobody mapped, a wrong type, a wrong unit word
        (f"zigbee2mqtt/stranger-{tag}", {"temperature": 20.0}),
        (f"tele/{plug}/SENSOR", {"Time": local, "ENERGY": {"Total": "812"}}),
        (f"{shelly}/online", b"maybe"),
    ]
    for topic, payload in messages:
        pub.publish(topic, payload)
    await asyncio.to_thread(pub.flush)
    await wait_for(lambda: running.gateway.stats.acked >= len(messages), "all acknowledged")

    assert running.latest("fridge-1") == {
        "temp_c": (3.4, at),
        "door_open": (1.0, at),  # contact false: the door is open
        "battery_pct": (97.0, at),
    }
    assert running.latest("plug-1") == {
        "energy_kwh": (812.345, at),
        "power_w": (1520.0, at),
        "voltage_v": (229.0, at),
    }
    assert running.latest("meter-1") == {"power_w": (85.5, at), "energy_kwh": (12.345, at)}
    presence = {p.device: p.online for p in running.store.presence(SITE)}
    assert presence == {"fridge-1": True, "plug-1": False, "meter-1": True}
    assert running.gateway.stats.ignored == 1  # the NotifyEvent

    letters = running.letters()
    assert set(letters) == {
        f"zigbee2mqtt/stranger-{tag}",
        f"tele/{plug}/SENSOR",
        f"{shelly}/online",
    }
    reason, site, device = letters[f"zigbee2mqtt/stranger-{tag}"]
    assert f"zigbee2mqtt device 'stranger-{tag}' is not the source" in reason
    assert (site, device) == (SITE, None)
    reason, site, device = letters[f"tele/{plug}/SENSOR"]
    assert reason.startswith("tasmota message for plug-1: ENERGY.Total must be a number")
    assert (site, device) == (SITE, "plug-1")
    assert "online must be true or false" in letters[f"{shelly}/online"][0]
    await running.stop()


async def test_a_site_without_foreign_devices_hears_no_foreign_topics(
    broker: MosquittoProcess, pub: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    running = await start(config_with(topic_prefix, [{"id": "fridge-1"}]), broker, tmp_path)
    # The broker forwards one publisher's messages in the order it received them: had the
    # foreign one been routed to the gateway, it would have arrived before the status.
    pub.publish("tele/somebody-else/SENSOR", {"ENERGY": {"Total": 1.0}})
    pub.publish(f"{topic_prefix}/{SITE}/fridge-1/status", b"online")
    await asyncio.to_thread(pub.flush)
    await wait_for(lambda: running.gateway.stats.acked >= 1, "the status acknowledged")
    assert running.gateway.stats.messages == 1
    assert running.letters() == {}
    await running.stop()


async def test_a_dead_bridge_takes_exactly_its_devices_offline(
    broker: MosquittoProcess, pub: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    config = config_with(topic_prefix, [{"id": f"fridge-{i}"} for i in (1, 2, 3)])
    running = await start(config, broker, tmp_path)
    base = f"{topic_prefix}/{SITE}"

    async def send(*messages: tuple[str, bytes | list[str]]) -> None:
        before = running.gateway.stats.acked
        for topic, payload in messages:
            pub.publish(f"{base}/{topic}", payload)
        await asyncio.to_thread(pub.flush)
        await wait_for(lambda: running.gateway.stats.acked >= before + len(messages), "acked")

    def presence() -> dict[str, bool]:
        return {p.device: p.online for p in running.store.presence(SITE)}

    await send(
        ("bridges/kitchen-1/devices", ["fridge-1", "fridge-2"]),
        ("bridges/kitchen-1/status", b"online"),
        ("fridge-1/status", b"online"),
        ("fridge-2/status", b"online"),
        ("fridge-3/status", b"online"),
    )
    assert presence() == {"fridge-1": True, "fridge-2": True, "fridge-3": True}
    await send(("bridges/kitchen-1/status", b"offline"))  # its Last Will
    assert presence() == {"fridge-1": False, "fridge-2": False, "fridge-3": True}
    # What the broker kept from before the bridge died is stale.
    await send(("fridge-1/status", b"online"))
    assert presence()["fridge-1"] is False
    await send(("bridges/kitchen-1/status", b"online"), ("fridge-1/status", b"online"))
    assert presence() == {"fridge-1": True, "fridge-2": False, "fridge-3": True}

    await send(("bridges/kitchen-2/devices", ["fridge-3", "fridge-99"]))
    reason, site, device = running.letters()[f"{base}/bridges/kitchen-2/devices"]
    assert "lists 1 device(s) not in the config of site 'test-school': 'fridge-99'" in reason
    assert (site, device) == (SITE, None)
    assert running.gateway.stats.dead_letters["unknown_device"] == 1
    await running.stop()


async def test_a_bad_secondary_field_costs_only_itself(
    broker: MosquittoProcess, pub: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    """A Zigbee converter's battery as a string ("100.00") is read; one that is not a number
    ("full") is dropped with a dead-letter note, and the temperature beside it is stored."""
    name = f"fridge-{uuid.uuid4().hex[:6]}"
    config = config_with(
        topic_prefix, [{"id": "fridge-1", "source": {"format": "zigbee2mqtt", "id": name}}]
    )
    running = await start(config, broker, tmp_path)
    at = datetime.fromtimestamp(int(time.time()) - 60, UTC)
    later = datetime.fromtimestamp(int(time.time()) - 30, UTC)
    pub.publish(
        f"zigbee2mqtt/{name}",
        {"temperature": 3.4, "battery": "100.00", "last_seen": at.isoformat()},
    )
    pub.publish(
        f"zigbee2mqtt/{name}",
        {"temperature": 4.1, "battery": "full", "last_seen": later.isoformat()},
    )
    await asyncio.to_thread(pub.flush)
    await wait_for(lambda: running.gateway.stats.acked >= 2, "both acknowledged")
    latest = running.latest("fridge-1")
    assert latest["temp_c"] == (4.1, later)
    assert latest["battery_pct"] == (100.0, at)
    assert running.gateway.stats.dead_letters == {"dropped_field": 1}
    reason, site, device = running.letters()[f"zigbee2mqtt/{name}"]
    assert (site, device) == (SITE, "fridge-1")
    assert reason == (
        "zigbee2mqtt message for fridge-1: stored 1 reading(s), dropped battery must be a "
        "number or a decimal string, got str 'full'"
    )
    await running.stop()


async def test_a_two_probe_sensor_reports_the_cabinet_and_its_kitchen(
    broker: MosquittoProcess, pub: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    """A Tasmota with two DS18B20 probes, the second mapped to the kitchen's air
    (`source.fields`): both are stored under the fridge; a message without the kitchen probe
    stores the cabinet's reading and leaves a dead-letter note naming the missing field."""
    name = f"two-probe-{uuid.uuid4().hex[:6]}"
    source = {
        "format": "tasmota",
        "id": name,
        "fields": {"DS18B20-2.Temperature": "ambient_temp_c"},
    }
    config = config_with(topic_prefix, [{"id": "fridge-1", "source": source}])
    running = await start(config, broker, tmp_path)
    zone = config.site.zone
    at = datetime.fromtimestamp(int(time.time()) - 60, UTC)
    later = datetime.fromtimestamp(int(time.time()) - 30, UTC)

    def local(instant: datetime) -> str:
        return instant.astimezone(zone).replace(tzinfo=None).isoformat()

    both = {"DS18B20-1": {"Temperature": 3.4}, "DS18B20-2": {"Temperature": 24.5}}
    pub.publish(f"tele/{name}/SENSOR", {"Time": local(at), **both, "TempUnit": "C"})
    pub.publish(f"tele/{name}/SENSOR", {"Time": local(later), "DS18B20-1": {"Temperature": 3.6}})
    await asyncio.to_thread(pub.flush)
    await wait_for(lambda: running.gateway.stats.acked >= 2, "both acknowledged")
    assert running.latest("fridge-1") == {"temp_c": (3.6, later), "ambient_temp_c": (24.5, at)}
    assert running.gateway.stats.dead_letters == {"dropped_field": 1}
    reason, _, device = running.letters()[f"tele/{name}/SENSOR"]
    assert device == "fridge-1"
    assert reason == (
        "tasmota message for fridge-1: stored 1 reading(s), dropped DS18B20-2 is not in the "
        "message (source.fields maps DS18B20-2.Temperature to ambient_temp_c)"
    )
    await running.stop()
