"""What every simulated device has in common: physics advanced on a fixed time grid, two random
streams (plant and sensor), events, and a thermostat with hysteresis.

The grid is anchored at the Unix epoch (every `dt_s` seconds), not at the first reading, and the
plant draws its randomness from its own stream. So the plant's trajectory does not depend on how
often it is read: a fridge read every 30 s and the same fridge read every 60 s open their doors
and run their compressors at the same instants; only the sensor noise differs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from zlib import crc32

import numpy as np

from core.model import Device

__all__ = [
    "DeviceModel",
    "GridModel",
    "Hysteresis",
    "Metrics",
    "SimEvent",
    "device_streams",
    "quantise",
]

Metrics = dict[str, float | bool]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """A discrete event a device's controller reports (`type` is e.g. "cycle_start")."""

    ts: datetime
    type: str
    data: Mapping[str, object] = field(default_factory=dict)


class DeviceModel(Protocol):
    """A simulated device: ask it for its reading at an instant, then for the events since."""

    @property
    def device(self) -> Device: ...

    def step_to(self, t: datetime) -> Metrics:
        """Advance the plant to `t` (UTC-aware, never earlier than the last call) and read it."""
        ...

    def take_events(self) -> list[SimEvent]:
        """Events that happened up to the last `step_to`, oldest first; each is returned once."""
        ...

    def reachable(self, t: datetime) -> bool:
        """False while the device is cut off (an injected offline fault): in live mode it then
        drops its connection so the broker publishes its Last Will."""
        ...


def device_streams(seed: int, device_id: str) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent (plant, sensor) random streams for one device.

    Keyed by a stable hash of the id (Python's `hash` is salted per process), so adding a device
    to a site does not change what the others do.
    """
    plant, sensor = np.random.SeedSequence([seed, crc32(device_id.encode())]).spawn(2)
    return np.random.default_rng(plant), np.random.default_rng(sensor)


class GridModel(ABC):
    """A device whose physics advances in steps of `dt_s` on the epoch-anchored grid.

    Subclasses implement `_begin` (initial state at the first grid instant), `_advance` (one step
    from `t` to `t + dt_s`) and `_observe` (the reading at an instant at or after the last grid
    instant reached). `warmup_s` runs the plant that long before the first reading so it does
    not start from an artificial state.
    """

    dt_s: float = 10.0
    warmup_s: float = 0.0

    def __init__(self, device: Device, seed: int) -> None:
        self._device = device
        self._plant, self._sensor = device_streams(seed, device.id)
        self._step: int | None = None  # index of the last grid instant reached
        self._last_read: float | None = None
        self._events: list[SimEvent] = []

    @property
    def device(self) -> Device:
        return self._device

    def step_to(self, t: datetime) -> Metrics:
        if t.tzinfo is None:
            raise ValueError(f"naive datetime {t!r}: pass a timezone-aware instant (UTC)")
        epoch = t.timestamp()
        if self._last_read is not None and epoch < self._last_read:
            raise ValueError(f"{self._device.id}: time goes back from {self._last_read} to {epoch}")
        if self._step is None:
            self._step = math.floor((epoch - self.warmup_s) / self.dt_s)
            self._begin(self._step * self.dt_s)
        target = math.floor(epoch / self.dt_s)
        while self._step < target:
            self._advance(self._step * self.dt_s, self.dt_s)
            self._step += 1
        first_read = self._last_read is None
        self._last_read = epoch
        if first_read:
            # What happened during the warm-up is not part of the device's reported history.
            self._events = [e for e in self._events if e.ts.timestamp() >= epoch]
        return self._observe(epoch)

    def take_events(self) -> list[SimEvent]:
        events, self._events = self._events, []
        return events

    def reachable(self, t: datetime) -> bool:
        return True

    def _emit(self, epoch: float, kind: str, **data: object) -> None:
        self._events.append(SimEvent(datetime.fromtimestamp(epoch, UTC), kind, data))

    def _noise(self, sigma: float) -> float:
        """Sensor noise: drawn from the sensor stream so reading does not disturb the plant."""
        return float(self._sensor.normal(0.0, sigma))

    @abstractmethod
    def _begin(self, t: float) -> None: ...

    @abstractmethod
    def _advance(self, t: float, dt: float) -> None: ...

    @abstractmethod
    def _observe(self, t: float) -> Metrics: ...


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """A two-point controller: switch at `low` and `high`, keep the state in between."""

    low: float
    high: float

    def cooling(self, temp: float, on: bool) -> bool:
        """A compressor: starts at or above `high`, stops at or below `low`."""
        if temp >= self.high:
            return True
        if temp <= self.low:
            return False
        return on

    def heating(self, temp: float, on: bool) -> bool:
        """A heater: starts at or below `low`, stops at or above `high`."""
        if temp <= self.low:
            return True
        if temp >= self.high:
            return False
        return on


def quantise(value: float, resolution: float) -> float:
    """A sensor's displayed value: rounded to its resolution (0.1 °C for a typical probe)."""
    digits = max(0, -math.floor(math.log10(resolution)))
    return round(round(value / resolution) * resolution, digits)
