"""`Fleet`: every device of a site config simulated and publishing on one clock.

By default each device has its own MQTT connection and Last Will. With `devices_per_bridge=N`
the devices of each building share bridges of up to N devices (one connection each, their own
Last Will; `firmware_sim/bridge.py`), except those named in `own_connection`, which keep theirs
so the per-device Last Will path stays exercised. One process sustains tens of thousands of
devices this way: each connection is two tasks and one timer whatever the devices it carries.

Each connection runs as a named task in one `asyncio.TaskGroup`. A connection whose broker goes
away retries with backoff; one whose code fails is logged and restarted; neither stops the rest.
Cancelling `run` stops everything cleanly: each connection publishes the retained `offline` of
the devices it carries and its own, and sends DISCONNECT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from core.clock import Clock
from core.config import SiteConfig, parse_broker_url
from core.model import Device
from core.topics import TopicScheme
from firmware_sim.bridge import Bridge
from firmware_sim.device import DeviceCounters, SimulatedDevice
from firmware_sim.errors import SimulatorError
from firmware_sim.link import BrokerAddress
from firmware_sim.models import DeviceModel, build_model
from firmware_sim.schedule import LagStats
from firmware_sim.uplink import DirectUplink, Uplink
from firmware_sim.wire import wire_for

__all__ = ["Fleet", "FleetStats", "ModelFactory"]

ModelFactory = Callable[[SiteConfig, Device, int], DeviceModel]

log = logging.getLogger(__name__)

# A connection whose own code failed waits this long before it starts again.
RESTART_DELAY_S = 5.0


@dataclass(slots=True)
class FleetStats:
    """Counters per device id; `published` counts telemetry and event messages acknowledged by
    the broker (not presence). `lag` is how late they were acknowledged, on the fleet's clock."""

    devices: dict[str, DeviceCounters] = field(default_factory=dict)
    lag: LagStats = field(default_factory=LagStats)

    @property
    def published(self) -> dict[str, int]:
        return {device: c.published for device, c in self.devices.items()}

    @property
    def total(self) -> int:
        return sum(c.published for c in self.devices.values())

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.devices.values())


class Fleet:
    def __init__(
        self,
        config: SiteConfig,
        clock: Clock,
        broker_url: str,
        *,
        seed: int = 0,
        username: str | None = None,
        password: str | None = None,
        devices_per_bridge: int | None = None,
        own_connection: Collection[str] = (),
        stagger: bool = False,
        model_factory: ModelFactory = build_model,
    ) -> None:
        """`devices_per_bridge`: share connections (None: one per device). `stagger`: spread
        each device's first reading over its interval instead of all reading at the start.
        `model_factory(config, device, seed)` builds each device's model (e.g. `build_model`
        with injected faults)."""
        host, port = parse_broker_url(broker_url)
        self._address = BrokerAddress(host, port, username, password)
        self._topics = TopicScheme(config.mqtt.topic_prefix)
        self._clock = clock
        self._stagger = stagger
        self.config = config
        self.stats = FleetStats()
        self._devices: dict[str, SimulatedDevice] = {}
        for device in config.devices:
            counters = self.stats.devices[device.id] = DeviceCounters()
            model = model_factory(config, device, seed)
            wire = wire_for(device, self._topics, config.site.id, config.site.zone)
            self._devices[device.id] = SimulatedDevice(device, model, wire, counters)
        self._uplinks = self._plan(devices_per_bridge, set(own_connection))
        self._bridges = {u.name: u for u in self._uplinks if isinstance(u, Bridge)}
        self._uplink_of = {sim.device.id: u for u in self._uplinks for sim in u.devices}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False

    def device_ids(self) -> list[str]:
        return list(self._devices)

    def bridge_ids(self) -> list[str]:
        return list(self._bridges)

    def bridge_of(self, device_id: str) -> str | None:
        """The bridge carrying a device; None if it has its own connection."""
        uplink = self._uplink(device_id)
        return uplink.name if isinstance(uplink, Bridge) else None

    def backlog(self) -> int:
        """Messages sampled and not yet acknowledged by the broker, over all connections: it
        stays near zero while the fleet keeps up with its schedule."""
        return sum(uplink.backlog for uplink in self._uplinks)

    def model(self, device_id: str) -> DeviceModel:
        """The simulated plant behind a device (the ground truth its readings come from)."""
        return self._device(device_id).model

    async def run(self) -> None:
        """Run every connection until cancelled."""
        if self._running:
            raise RuntimeError("this fleet is already running")
        self._running = True
        try:
            async with asyncio.TaskGroup() as tasks:
                for uplink in self._uplinks:
                    self._tasks[uplink.client_id] = tasks.create_task(
                        self._supervise(uplink), name=f"sim:{uplink.client_id}"
                    )
        finally:
            self._running = False

    async def wait_online(self, device_ids: Iterable[str] | None = None) -> None:
        """Until each device (default: all) has been announced online at least once."""
        ids = list(self._devices) if device_ids is None else list(device_ids)
        uplinks = {id(u): u for u in map(self._uplink, ids)}
        await asyncio.gather(*(u.online.wait() for u in uplinks.values()))

    async def drop(self, device_id: str) -> None:
        """Stop one device as a power cut would. With its own connection, the connection ends
        without DISCONNECT, so the broker publishes its Last Will; on a bridge, the bridge
        publishes its `offline`. The rest of the fleet keeps running."""
        uplink = self._uplink(device_id)
        index = next(i for i, sim in enumerate(uplink.devices) if sim.device.id == device_id)
        uplink.drop_device(index)
        if isinstance(uplink, DirectUplink):
            await self._stop(uplink)

    async def drop_bridge(self, bridge_id: str) -> None:
        """Cut a bridge's connection as a power cut would: the broker publishes the bridge's
        Last Will, and none of its devices is heard of again."""
        bridge = self._bridges.get(bridge_id)
        if bridge is None:
            raise SimulatorError(f"not a bridge of this fleet; known: {self.bridge_ids()}")
        bridge.drop()
        await self._stop(bridge)

    async def _stop(self, uplink: Uplink) -> None:
        task = self._tasks.get(uplink.client_id)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _uplink(self, device_id: str) -> Uplink:
        self._device(device_id)  # a clear error for an unknown id
        return self._uplink_of[device_id]

    def _device(self, device_id: str) -> SimulatedDevice:
        try:
            return self._devices[device_id]
        except KeyError:
            known = ", ".join(list(self._devices)[:20])
            raise SimulatorError(f"not a device of this fleet; known: {known}") from None

    def _plan(self, per_bridge: int | None, own: set[str]) -> list[Uplink]:
        """Connections: one per device in `own` (or every device when not bridging), and
        bridges of up to `per_bridge` devices of one building for the rest, in config order."""
        if per_bridge is not None and per_bridge < 1:
            raise SimulatorError(f"devices_per_bridge must be at least 1, got {per_bridge}")
        for device_id in own:
            self._device(device_id)
        site, lag = self.config.site.id, self.stats.lag
        uplinks: list[Uplink] = []
        by_building: dict[str, list[SimulatedDevice]] = {}
        for device_id, sim in self._devices.items():
            if per_bridge is None or device_id in own:
                uplinks.append(self._direct(sim, site, lag))
            else:
                by_building.setdefault(sim.device.building, []).append(sim)
        for building, sims in by_building.items():
            size = per_bridge or len(sims)
            for number, first in enumerate(range(0, len(sims), size), 1):
                members = sims[first : first + size]
                uplinks.append(self._bridge(f"{building}-{number}", members, site, lag))
        return uplinks

    def _direct(self, sim: SimulatedDevice, site: str, lag: LagStats) -> DirectUplink:
        clock, address = self._clock, self._address
        return DirectUplink(sim, site, clock, address, lag=lag, stagger=self._stagger)

    def _bridge(
        self, name: str, members: list[SimulatedDevice], site: str, lag: LagStats
    ) -> Bridge:
        topics, clock, address = self._topics, self._clock, self._address
        return Bridge(name, members, topics, site, clock, address, lag=lag, stagger=self._stagger)

    async def _supervise(self, uplink: Uplink) -> None:
        while True:
            try:
                await uplink.run()
                return
            except Exception:
                log.exception(
                    "%s: simulated connection failed; restarting in %.0f s",
                    uplink.name,
                    RESTART_DELAY_S,
                )
                await asyncio.sleep(RESTART_DELAY_S)
