"""`Fleet`: every device of a site config simulated and publishing, each over its own MQTT
connection, on one clock.

Each device runs as a named task in one `asyncio.TaskGroup`. A device whose broker goes away
retries with backoff; a device whose code fails is logged and restarted; neither stops the rest.
Cancelling `run` stops every device cleanly: each publishes its retained `offline` and sends
DISCONNECT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.clock import Clock
from core.config import SiteConfig, parse_broker_url
from firmware_sim.device import DeviceCounters, SimulatedDevice
from firmware_sim.errors import SimulatorError
from firmware_sim.link import BrokerAddress
from firmware_sim.models import DeviceModel, build_model
from gateway.topics import TopicScheme

__all__ = ["Fleet", "FleetStats"]

log = logging.getLogger(__name__)

# A device whose own code failed waits this long before it starts again.
RESTART_DELAY_S = 5.0


@dataclass(slots=True)
class FleetStats:
    """Counters per device id; `published` counts telemetry and event messages acknowledged by
    the broker (not presence)."""

    devices: dict[str, DeviceCounters] = field(default_factory=dict)

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
    ) -> None:
        host, port = parse_broker_url(broker_url)
        address = BrokerAddress(host, port, username, password)
        topics = TopicScheme(config.mqtt.topic_prefix)
        self.config = config
        self.stats = FleetStats()
        self._devices: dict[str, SimulatedDevice] = {}
        for device in config.devices:
            counters = self.stats.devices[device.id] = DeviceCounters()
            model = build_model(config, device, seed)
            self._devices[device.id] = SimulatedDevice(
                device, model, clock, topics, config.site.id, address, counters
            )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False

    def device_ids(self) -> list[str]:
        return list(self._devices)

    def model(self, device_id: str) -> DeviceModel:
        """The simulated plant behind a device (the ground truth its readings come from)."""
        return self._device(device_id).model

    async def run(self) -> None:
        """Run every device until cancelled."""
        if self._running:
            raise RuntimeError("this fleet is already running")
        self._running = True
        try:
            async with asyncio.TaskGroup() as tasks:
                for device_id, device in self._devices.items():
                    self._tasks[device_id] = tasks.create_task(
                        self._supervise(device), name=f"sim:{device_id}"
                    )
        finally:
            self._running = False

    async def wait_online(self, device_ids: Iterable[str] | None = None) -> None:
        """Until each device (default: all) has connected and announced itself at least once."""
        ids = list(self._devices) if device_ids is None else list(device_ids)
        await asyncio.gather(*(self._device(i).online.wait() for i in ids))

    async def drop(self, device_id: str) -> None:
        """Stop one device as a power cut would: its connection ends without DISCONNECT, so the
        broker publishes its Last Will (`offline`). The rest of the fleet keeps running."""
        device = self._device(device_id)
        device.drop()
        task = self._tasks.get(device_id)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _device(self, device_id: str) -> SimulatedDevice:
        try:
            return self._devices[device_id]
        except KeyError:
            known = ", ".join(self._devices)
            raise SimulatorError(f"not a device of this fleet; known: {known}") from None

    async def _supervise(self, device: SimulatedDevice) -> None:
        while True:
            try:
                await device.run()
                return
            except Exception:
                log.exception(
                    "%s: simulated device failed; restarting in %.0f s",
                    device.device.id,
                    RESTART_DELAY_S,
                )
                await asyncio.sleep(RESTART_DELAY_S)
