"""One simulated device: a sampler that reads the model on the device's clock and a link that
delivers what was sampled, joined by an outbox.

The two are separate because real firmware is: the sensor keeps sampling while the network is
down and the device sends its buffer when the broker is back. So a broker outage leaves no gap in
the readings (up to `OUTBOX_LIMIT` messages), only late delivery; `seq` counts readings taken, so
a gap in `seq` at the gateway means readings were lost, not that the broker was away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import Clock, to_epoch_ms
from core.model import Device
from firmware_sim.errors import LinkDownError
from firmware_sim.link import BrokerAddress, DeviceLink
from firmware_sim.models import DeviceModel, Metrics, SimEvent
from gateway.topics import Channel, TopicScheme

__all__ = ["DeviceCounters", "SimulatedDevice"]

log = logging.getLogger(__name__)

# Messages a device keeps while it cannot reach the broker; beyond this the oldest are lost.
# About 3 days of 30 s readings (assumed buffer of a logger-class device).
OUTBOX_LIMIT = 10_000
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


@dataclass(slots=True)
class DeviceCounters:
    published: int = 0  # telemetry and event messages the broker acknowledged
    connects: int = 0
    lost: int = 0  # readings dropped from a full outbox
    sample_errors: int = 0


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    payload: bytes


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


class SimulatedDevice:
    def __init__(
        self,
        device: Device,
        model: DeviceModel,
        clock: Clock,
        topics: TopicScheme,
        site: str,
        address: BrokerAddress,
        counters: DeviceCounters,
    ) -> None:
        self.device = device
        self.model = model
        self.client_id = f"sim-{site}-{device.id}"
        self.online = asyncio.Event()  # set once the first connection is up
        self._clock = clock
        self._address = address
        self._counters = counters
        self._telemetry = topics.device_topic(site, device.id, Channel.TELEMETRY)
        self._event_topic = topics.device_topic(site, device.id, Channel.EVENT)
        self._status = topics.device_topic(site, device.id, Channel.STATUS)
        self._seq = 0
        self._outbox: deque[_Outgoing] = deque()
        self._queued = asyncio.Event()
        self._link: DeviceLink | None = None
        self._dropped = False
        self._backoff = _Backoff(random.Random(self.client_id))

    async def run(self) -> None:
        """Sample and publish until cancelled (a clean stop) or dropped."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._sample_loop(), name=f"{self.client_id}:sample")
            tasks.create_task(self._link_loop(), name=f"{self.client_id}:link")

    def drop(self) -> None:
        """Cut the connection abruptly; the caller cancels `run` next."""
        self._dropped = True
        if self._link is not None:
            self._link.drop()

    # sampling

    async def _sample_loop(self) -> None:
        while True:
            self.sample(self._clock.now())
            await self._clock.sleep(self.device.interval_s)

    def sample(self, now: datetime) -> None:
        """Read the model at `now` and queue its events and telemetry."""
        try:
            metrics = self.model.step_to(now)
            events = self.model.take_events()
        except Exception:
            # A model bug must not stop the device or the fleet: log it once, count every one.
            if self._counters.sample_errors == 0:
                log.exception("%s: the model failed to produce a reading", self.device.id)
            self._counters.sample_errors += 1
            return
        for event in events:
            self._queue(self._event_topic, _event_payload(event))
        self._queue(self._telemetry, _telemetry_payload(now, self._seq, metrics))
        self._seq += 1

    def _queue(self, topic: str, payload: bytes) -> None:
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._outbox.popleft()
            self._counters.lost += 1
        self._outbox.append(_Outgoing(topic, payload))
        self._queued.set()

    # delivery

    async def _link_loop(self) -> None:
        while not self._dropped:
            try:
                async with DeviceLink(self._address, self.client_id, self._status) as link:
                    self._on_connected(link)
                    await self._deliver(link)
            except LinkDownError as exc:
                if self._dropped:
                    return
                await self._wait_to_retry(exc)
            finally:
                self._link = None

    def _on_connected(self, link: DeviceLink) -> None:
        self._link = link
        self._counters.connects += 1
        if self._backoff.failures:
            log.info(
                "%s: connected again after %d attempts", self.device.id, self._backoff.failures
            )
        self._backoff.reset()
        self.online.set()

    async def _wait_to_retry(self, exc: LinkDownError) -> None:
        delay = self._backoff.next()
        # The first failure of an outage is news; every retry after it is not.
        level = logging.WARNING if self._backoff.failures == 1 else logging.DEBUG
        log.log(level, "%s: broker link down (%s); retrying in %.1f s", self.device.id, exc, delay)
        await asyncio.sleep(delay)  # network time, not simulated time

    async def _deliver(self, link: DeviceLink) -> None:
        while True:
            while self._outbox:
                message = self._outbox[0]
                await link.publish(message.topic, message.payload)
                # Only now is it the broker's; a failure above leaves it first in line.
                self._outbox.popleft()
                self._counters.published += 1
            self._queued.clear()
            await link.idle_until(self._queued)


def _telemetry_payload(now: datetime, seq: int, metrics: Metrics) -> bytes:
    return _json({"ts": to_epoch_ms(now), "seq": seq, "m": metrics})


def _event_payload(event: SimEvent) -> bytes:
    return _json({"ts": to_epoch_ms(event.ts), "type": event.type, **event.data})


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
