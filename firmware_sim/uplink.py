"""`Uplink`: one MQTT connection and the devices it carries, and `DirectUplink`, a device with
a connection of its own (see `firmware_sim/bridge.py` for one carrying many).

An uplink runs two tasks joined by an outbox: a sampler that sleeps until the earliest reading
due in its schedule and reads every device due by then, and a link loop that connects, delivers
the outbox in order and reconnects with backoff when the broker goes away. A message leaves the
outbox only once the broker has acknowledged it. The outbox is bounded: beyond its limit the
oldest message is dropped and counted as `lost` on its device.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from zlib import crc32

from core.clock import Clock, to_epoch_ms
from firmware_sim.device import SimulatedDevice
from firmware_sim.errors import LinkDownError
from firmware_sim.link import BrokerAddress, DeviceLink
from firmware_sim.schedule import LagStats, Schedule, instant_of
from firmware_sim.wire import Message, Presence

__all__ = ["DirectUplink", "Uplink"]

log = logging.getLogger(__name__)

# Messages a device keeps while it cannot reach the broker; beyond this the oldest are lost.
# About 3 days of 30 s readings (assumed buffer of a logger-class device).
OUTBOX_LIMIT = 10_000
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
# Readings taken in one go before the sampler lets the link deliver: a bridge's first round
# (each model's warm-up) would otherwise hold the event loop for seconds.
YIELD_EVERY = 64
# While connected, a sampler this far ahead of its link waits for the link to catch up. A link
# sends one message per turn of the event loop (it awaits each acknowledgement) while a sampler
# takes up to YIELD_EVERY readings per turn, so without this an overloaded process fills its
# outboxes instead of publishing (measured: 5 k msg/s fell to 0.3 k); with it, it publishes at
# its full rate, late. While the broker is away the sampler never waits: the outbox is the
# device's buffer.
HIGH_WATER = 2 * YIELD_EVERY


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    payload: bytes
    retain: bool
    index: int  # the device it concerns
    due_ms: int  # the reading's due instant; -1 for presence, which is not a reading


@dataclass(slots=True)
class _Backoff:
    """Exponential backoff with jitter, so a fleet does not reconnect in one burst."""

    rng: random.Random
    delay: float = RETRY_FIRST_S
    failures: int = 0

    def next(self) -> float:
        self.failures += 1
        delay = self.delay * self.rng.uniform(0.8, 1.2)
        self.delay = min(self.delay * 2, RETRY_MAX_S)
        return delay

    def reset(self) -> None:
        self.delay, self.failures = RETRY_FIRST_S, 0


class Uplink(ABC):
    """Base of a connection; subclasses say what it announces and how it reports a device
    that is cut off (`_announce`, `_last_words`, `_reachability_changed`)."""

    def __init__(
        self,
        name: str,
        client_id: str,
        devices: Sequence[SimulatedDevice],
        clock: Clock,
        address: BrokerAddress,
        presence: Presence,
        *,
        lag: LagStats,
        outbox_limit: int = OUTBOX_LIMIT,
        stagger: bool = False,
    ) -> None:
        self.name = name
        self.client_id = client_id
        self.devices = list(devices)
        self.presence = presence
        self.online = asyncio.Event()  # set once connected and announced the first time
        self._clock = clock
        self._address = address
        self._lag = lag
        self._outbox_limit = outbox_limit
        self._stagger = stagger
        self._schedule = Schedule()
        self._scheduled = False
        self._outbox: deque[_Outgoing] = deque()
        self._queued = asyncio.Event()
        self._progress = asyncio.Event()  # set as the link delivers, or when it goes down
        self._connectable = asyncio.Event()  # cleared while this connection is cut off
        self._connectable.set()
        self._link: DeviceLink | None = None
        self._dropped = False
        self._backoff = _Backoff(random.Random(client_id))

    @property
    def backlog(self) -> int:
        """Messages sampled and not yet acknowledged by the broker."""
        return len(self._outbox)

    async def run(self) -> None:
        """Sample and publish until cancelled (a clean stop) or dropped."""
        if not self._scheduled:
            self._begin(to_epoch_ms(self._clock.now()))
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._sample_loop(), name=f"{self.client_id}:sample")
            tasks.create_task(self._link_loop(), name=f"{self.client_id}:link")

    def drop(self) -> None:
        """Cut the connection as a power cut would (no DISCONNECT); the caller cancels `run`."""
        self._dropped = True
        if self._link is not None:
            self._link.drop()

    @abstractmethod
    def drop_device(self, index: int) -> None:
        """Stop one device for good."""

    # hooks

    async def _announce(self, link: DeviceLink) -> None:
        """Publish what a fresh connection must say beyond its own `online` (a device of its
        own: nothing)."""
        return

    def _last_words(self) -> list[Message]:
        """Retained messages a clean stop publishes before the connection's `offline`."""
        return []

    @abstractmethod
    def _reachability_changed(self, index: int, reachable: bool) -> None:
        """An offline fault began (False) or ended (True) for a device."""

    # sampling

    async def _sample_loop(self) -> None:
        while True:
            await self._sample_due()
            await self._sleep_until_next()

    def _begin(self, start_ms: int) -> None:
        """Schedule every device from `start_ms`, and take the presence it starts with, so a
        device whose offline fault is under way at the start is never announced online."""
        self._scheduled = True
        at = instant_of(start_ms)
        for index, sim in enumerate(self.devices):
            interval_ms = max(1, round(sim.device.interval_s * 1000))
            self._schedule.add(index, start_ms + self._phase_ms(sim, interval_ms), interval_ms)
            if not sim.is_reachable(at):
                sim.reachable = False
                self._reachability_changed(index, False)

    def _phase_ms(self, sim: SimulatedDevice, interval_ms: int) -> int:
        """Staggered: whole seconds into the interval, fixed per device id, as a real fleet is
        not synchronised; otherwise every device reads at the start."""
        if not self._stagger:
            return 0
        seconds = max(1, interval_ms // 1000)
        return (crc32(sim.device.id.encode()) % seconds) * 1000

    async def _sample_due(self) -> None:
        now_ms = to_epoch_ms(self._clock.now())
        for taken, (due_ms, index) in enumerate(self._schedule.pop_due(now_ms), 1):
            self._sample(index, due_ms)
            if len(self._outbox) >= HIGH_WATER:
                await self._let_link_catch_up()
            elif taken % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def _let_link_catch_up(self) -> None:
        while self._link is not None and len(self._outbox) >= HIGH_WATER // 2:
            self._progress.clear()
            await self._progress.wait()

    async def _sleep_until_next(self) -> None:
        next_ms = self._schedule.next_due()
        if next_ms is None:  # every device dropped: nothing more to read
            await asyncio.Event().wait()
            return
        # Read the clock again: it may have moved while the batch above yielded.
        delay_ms = next_ms - to_epoch_ms(self._clock.now())
        if delay_ms > 0:
            await self._clock.sleep(delay_ms / 1000)

    def _sample(self, index: int, due_ms: int) -> None:
        sim = self.devices[index]
        at = instant_of(due_ms)
        reachable = sim.is_reachable(at)
        if reachable is not sim.reachable:
            sim.reachable = reachable
            self._reachability_changed(index, reachable)
        messages = sim.sample(at, due_ms)
        if messages is None:
            return
        if not reachable:
            sim.counters.offline_readings += 1
            return
        for topic, payload in messages:
            self._queue(_Outgoing(topic, payload, False, index, due_ms))

    def _queue(self, message: _Outgoing) -> None:
        if len(self._outbox) >= self._outbox_limit:
            oldest = self._outbox.popleft()
            if oldest.due_ms >= 0:
                self.devices[oldest.index].counters.lost += 1
        self._outbox.append(message)
        self._queued.set()

    def _queue_presence(self, index: int, online: bool) -> None:
        presence = self.devices[index].wire.presence
        payload = presence.online if online else presence.offline
        self._queue(_Outgoing(presence.topic, payload, True, index, -1))

    # delivery

    async def _link_loop(self) -> None:
        while not self._dropped:
            await self._connectable.wait()
            try:
                async with DeviceLink(
                    self._address, self.client_id, self.presence, last_words=self._last_words
                ) as link:
                    await self._on_connected(link)
                    await self._deliver(link)
            except LinkDownError as exc:
                if self._dropped:
                    return
                if self._connectable.is_set():
                    await self._wait_to_retry(exc)
            finally:
                self._link = None
                self._progress.set()

    async def _on_connected(self, link: DeviceLink) -> None:
        self._link = link
        if not self._connectable.is_set():  # cut off while connecting
            link.drop()
            raise LinkDownError("cut off while connecting")
        for sim in self.devices:
            sim.counters.connects += 1
        if self._backoff.failures:
            log.info("%s: connected again after %d attempts", self.name, self._backoff.failures)
        self._backoff.reset()
        await self._announce(link)
        self.online.set()

    async def _wait_to_retry(self, exc: LinkDownError) -> None:
        delay = self._backoff.next()
        # The first failure of an outage is news; every retry after it is not.
        level = logging.WARNING if self._backoff.failures == 1 else logging.DEBUG
        log.log(level, "%s: broker link down (%s); retrying in %.1f s", self.name, exc, delay)
        await asyncio.sleep(delay)  # network time, not simulated time

    async def _deliver(self, link: DeviceLink) -> None:
        outbox = self._outbox
        while True:
            while outbox:
                # Taken out while in flight, so a full outbox never drops the message being
                # sent; put back first in line if the broker did not take it.
                message = outbox.popleft()
                try:
                    await link.publish(message.topic, message.payload, retain=message.retain)
                except BaseException:
                    outbox.appendleft(message)
                    raise
                self._progress.set()
                if message.due_ms >= 0:
                    self.devices[message.index].counters.published += 1
                    self._lag.observe(to_epoch_ms(self._clock.now()) - message.due_ms)
            self._queued.clear()
            await link.idle_until(self._queued)


class DirectUplink(Uplink):
    """A device with its own connection: its presence is the connection's, so when an offline
    fault cuts it off it drops the connection without DISCONNECT and the broker publishes its
    Last Will; it reconnects (announcing `online`) when the fault ends."""

    def __init__(
        self,
        sim: SimulatedDevice,
        site: str,
        clock: Clock,
        address: BrokerAddress,
        *,
        lag: LagStats,
        stagger: bool = False,
    ) -> None:
        device_id = sim.device.id
        super().__init__(
            device_id,
            f"sim-{site}-{device_id}",
            [sim],
            clock,
            address,
            sim.wire.presence,
            lag=lag,
            stagger=stagger,
        )

    def drop_device(self, index: int) -> None:
        self.devices[index].dropped = True
        self.drop()

    def _reachability_changed(self, index: int, reachable: bool) -> None:
        if reachable:
            self._connectable.set()
            return
        self._connectable.clear()
        if self._link is not None:
            self._link.drop()
