"""What every simulated device has in common: a plant computed in blocks of steps on a fixed time
grid, readings taken from it at any instants, events, and a thermostat with hysteresis.

The grid is anchored at the Unix epoch (every `dt_s` seconds). A subclass computes `n` steps at
once (`_simulate`), which lets it prepare its inputs (calendar, doors, faults) as arrays and keep
only the state-dependent part in a tight loop; the result does not depend on the block length,
on how often the device is read, or on when the simulation started (randomness is counter-based,
see `random.py`). The same code serves a live device read once per interval (`step_to`) and a
batch run that reads a month of instants at once (`read`): both give identical values.

A reading goes through four stages: the plant's true values (`_observe`), the sensor's noise and
resolution (`_measure`), the sensor's faults, and whether the device could report at all
(offline, flat battery).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from core.model import Device
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models.battery import Battery
from firmware_sim.models.display import quantise, truncate
from firmware_sim.models.random import DeviceRandom
from firmware_sim.models.sensor import SensorFaults

__all__ = [
    "DEFAULT_BLOCK_STEPS",
    "Block",
    "BlockModel",
    "DeviceModel",
    "Hysteresis",
    "Metrics",
    "Reading",
    "SimEvent",
    "quantise",
    "truncate",
]

Metrics = dict[str, float | bool]
FloatArray = npt.NDArray[np.float64]
Values = dict[str, npt.NDArray[Any]]

# One hour of 10 s steps: small enough that a live fleet of 10 k devices holds ~40 MB of plant
# state, large enough that the per-block work is noise. Batch runs use a day.
DEFAULT_BLOCK_STEPS = 360
MAX_BLOCK_STEPS = 8640


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
        """False while the device is cut off (an injected offline fault, a flat battery): in
        live mode it then drops its connection so the broker publishes its Last Will."""
        ...


@dataclass(slots=True)
class Block:
    """Plant state at the grid instants k0 .. k0 + n - 1 (subclasses add the arrays)."""

    k0: int
    n: int

    def times(self, dt: float) -> FloatArray:
        return (self.k0 + np.arange(self.n, dtype=np.float64)) * dt


@dataclass(frozen=True, slots=True)
class Reading:
    """Readings at many instants: what the device reports, whether it could (`present`), and,
    when asked for, the plant's true values behind them."""

    times: FloatArray
    values: Values
    present: npt.NDArray[np.bool_]
    true: Values | None = None


B = TypeVar("B", bound=Block)


class BlockModel(ABC, Generic[B]):
    dt_s: ClassVar[float] = 10.0
    warmup_s: ClassVar[float] = 0.0
    noise_channels: ClassVar[int] = 0  # standard normals the sensor draws per reading
    # Set per instance where they depend on the device (a meter's counter).
    main_metric: str = "temp_c"  # what a sensor fault hits unless it names a metric
    resolutions: Mapping[str, float] = MappingProxyType({})

    def __init__(
        self,
        device: Device,
        seed: int,
        faults: Sequence[Fault] = (),
        *,
        block_steps: int = DEFAULT_BLOCK_STEPS,
    ) -> None:
        if not 1 <= block_steps <= MAX_BLOCK_STEPS:
            raise ValueError(f"block_steps must be 1-{MAX_BLOCK_STEPS}, got {block_steps}")
        self._device = device
        self.seed = seed
        self.random = DeviceRandom(seed, device.id)
        self.faults = tuple(f for f in faults if f.device == device.id)
        self.block_steps = block_steps
        self.battery: Battery | None = None
        self._sensor = SensorFaults(self.faults, self.random, self.resolutions, self.main_metric)
        self._block: B | None = None
        self._next_k: int | None = None  # first instant of the block after the current one
        self._first_read: float | None = None
        self._last_read: float | None = None
        self._pending: deque[SimEvent] = deque()

    @property
    def device(self) -> Device:
        return self._device

    def faults_of(self, *types: FaultType) -> list[Fault]:
        return [f for f in self.faults if f.type in types]

    # the live interface (DeviceModel)

    def step_to(self, t: datetime) -> Metrics:
        values, _ = self._values(np.array([_epoch(t)]), truth=False)
        return {name: _scalar(v[0]) for name, v in values.items()}

    def take_events(self) -> list[SimEvent]:
        out: list[SimEvent] = []
        last = self._last_read
        while last is not None and self._pending and self._pending[0].ts.timestamp() <= last:
            out.append(self._pending.popleft())
        return out

    def reachable(self, t: datetime) -> bool:
        return bool(self.reachable_at(np.array([_epoch(t)]))[0])

    # the batch interface

    def read(self, times: FloatArray, *, truth: bool = False) -> Reading:
        """Readings at `times` (epoch s, ascending, never before an earlier call's)."""
        times = np.asarray(times, dtype=np.float64)
        values, true = self._values(times, truth=truth)
        return Reading(times, values, self.present_at(times), true)

    def reachable_at(self, times: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether the device can talk to the broker at each instant."""
        if self._next_k is None and len(times):
            self._start(float(times[0]))  # asked before the first reading: it starts here
        ok = np.ones(len(times), dtype=np.bool_)
        for fault in self.faults_of(FaultType.DEVICE_OFFLINE):
            ok &= ~fault.active(times)
        if self.battery is not None:
            ok &= self.battery.alive(times)
        return ok & ~self._silent(times)

    def present_at(self, times: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether a reading exists at each instant: reachable, or offline but buffering."""
        ok = self.reachable_at(times)
        for fault in self.faults_of(FaultType.DEVICE_OFFLINE):
            if fault.buffered:
                ok |= fault.active(times) & ~self._silent(times) & self._powered(times)
        return ok

    def _values(self, times: FloatArray, *, truth: bool) -> tuple[Values, Values | None]:
        """Reported values at `times` and, with `truth`, the plant's true ones."""
        self._check_order(times)
        if not len(times):
            return {}, ({} if truth else None)
        true = self._true_values(times)
        t_ms = np.round(times * 1000.0).astype(np.int64)
        values = self._measure(true, self.random.normals("sensor", t_ms, self.noise_channels))
        if self.battery is not None:
            level = self.battery.level(times)
            true["battery_pct"] = level
            values["battery_pct"] = np.ceil(level)  # gauges show the started percent
        self._sensor.apply(times, t_ms, values)
        return values, (true if truth else None)

    # for subclasses

    def _emit(self, epoch: float, kind: str, **data: object) -> None:
        if self._first_read is not None and epoch < self._first_read:
            return  # what happened during the warm-up is not part of the reported history
        self._pending.append(SimEvent(datetime.fromtimestamp(epoch, UTC), kind, data))

    def _silent(self, times: FloatArray) -> npt.NDArray[np.bool_]:
        """Instants the plant itself keeps the device quiet (a meter being replaced)."""
        return np.zeros(len(times), dtype=np.bool_)

    def _powered(self, times: FloatArray) -> npt.NDArray[np.bool_]:
        return (
            np.ones(len(times), dtype=np.bool_)
            if self.battery is None
            else self.battery.alive(times)
        )

    @abstractmethod
    def _begin(self, k: int) -> None:
        """Set the state at grid instant `k`, the first one simulated."""

    @abstractmethod
    def _simulate(self, k0: int, n: int) -> B:
        """The state at instants k0 .. k0 + n - 1; leave the state at k0 + n for the next."""

    @abstractmethod
    def _observe(self, block: B, index: npt.NDArray[np.int64], t: FloatArray) -> Values:
        """The plant's true values at instants `t`; `index` is each one's step in `block`."""

    @abstractmethod
    def _measure(self, true: Values, noise: FloatArray) -> Values:
        """What the sensors report, given standard normals of shape (len, noise_channels)."""

    # internals

    def _check_order(self, times: FloatArray) -> None:
        if len(times) > 1 and np.any(np.diff(times) < 0):
            raise ValueError(f"{self._device.id}: reading times must ascend")
        last = self._last_read if self._last_read is not None else self._first_read
        if len(times) and last is not None and times[0] < last:
            raise ValueError(f"{self._device.id}: time goes back from {last} to {times[0]}")

    def _true_values(self, times: FloatArray) -> Values:
        if self._next_k is None:
            self._start(float(times[0]))
        steps = np.floor(times / self.dt_s).astype(np.int64)
        parts: list[Values] = []
        i = 0
        while i < len(times):
            block = self._block_for(int(steps[i]))
            j = int(np.searchsorted(steps, block.k0 + block.n, side="left"))
            parts.append(self._observe(block, steps[i:j] - block.k0, times[i:j]))
            i = j
        self._last_read = float(times[-1])
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def _start(self, first_read: float) -> None:
        self._first_read = first_read
        self._next_k = math.floor((first_read - self.warmup_s) / self.dt_s)
        self._begin(self._next_k)

    def _block_for(self, k: int) -> B:
        while self._block is None or k >= self._block.k0 + self._block.n:
            assert self._next_k is not None
            self._block = self._simulate(self._next_k, self.block_steps)
            self._next_k += self.block_steps
        return self._block


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


def _epoch(t: datetime) -> float:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: pass a timezone-aware instant (UTC)")
    return t.timestamp()


def _scalar(value: Any) -> float | bool:
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    return float(value)
