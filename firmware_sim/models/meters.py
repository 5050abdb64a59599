"""Electricity, water and gas meters: a load that follows the building's day, integrated into a
cumulative counter.

The rate is `base + (peak - base) * activity`, scaled by the building's floor area (electricity)
or occupants (water, gas), times slowly varying noise (an AR(1) process with a 10 min memory:
loads drift, they do not jump every second). The register only increases and is shown, like a
real one, truncated to the meter's resolution, unless a fault says otherwise: a reset (back to
0), a replacement (a new meter with its own reading, after the supply was isolated for a while),
a rollover (a register with a modulus, wrapping at the fault's onset). A leak or an appliance
left on adds a constant load. Water and gas meters are NB-IoT devices on a battery.

A sub-meter (分项) measures one end use below its parent, so its load is a share of the parent's
(`SUB_METER_SHARES`, the building's same day profile, its own noise); the shares of one parent's
sub-meters are scaled down to leave at least `MIN_UNACCOUNTED` of the parent unmetered, as real
buildings always have circuits no sub-meter sees.

Intensities are assumptions for a Chinese primary school with boarders, not survey data. For the
demo school on a weekday they give: teaching building ~650 kWh (~0.1 kWh/m²), ~14 m³ of water
(15 L a pupil); canteen ~570 kWh, ~30 m³ of water, ~160 m³ of gas; dormitory ~40 m³ of water
(95 L a boarder) and ~90 m³ of gas for hot water.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from core.config import SiteConfig
from core.model import Building, BuildingKind, Device, DeviceKind, MeterCategory
from firmware_sim.faults import BATTERY_KINDS, Fault, FaultType, default_load
from firmware_sim.models.base import DEFAULT_BLOCK_STEPS, Block, BlockModel, Values
from firmware_sim.models.battery import Battery, BatteryParams
from firmware_sim.models.calendar import SiteDay
from firmware_sim.models.display import quantise, truncate
from firmware_sim.models.profiles import BuildingActivity

__all__ = [
    "METER_BATTERY",
    "METER_KINDS",
    "SUB_METER_SHARES",
    "Load",
    "MeterBlock",
    "MeterKind",
    "MeterModel",
    "sub_meter_share",
]

FloatArray = npt.NDArray[np.float64]
# NB-IoT water and gas meters are sold with a 6-year battery life (assumed, vendor claims).
METER_BATTERY = BatteryParams(life_days=6 * 365.0, start_pct=(30.0, 100.0))

# Used when the site config leaves a building's size out.
DEFAULT_FLOOR_AREA_M2 = 2000.0
DEFAULT_OCCUPANTS = 300


# Share of the parent's load each end use takes (assumed, of the order that sub-metering
# surveys of Chinese school buildings report: lighting and sockets a third, air conditioning a
# third in a hot-summer region, kitchen equipment about half of a canteen's electricity).
SUB_METER_SHARES: MappingProxyType[MeterCategory, float] = MappingProxyType(
    {
        MeterCategory.LIGHTING_SOCKETS: 0.35,
        MeterCategory.HVAC: 0.30,
        MeterCategory.POWER: 0.15,
        MeterCategory.SPECIAL: 0.50,
        MeterCategory.KITCHEN: 0.50,
        MeterCategory.HOT_WATER: 0.50,
        MeterCategory.OTHER: 0.10,
    }
)
MIN_UNACCOUNTED = 0.1


def sub_meter_share(config: SiteConfig, device: Device) -> float:
    """The share of its parent's load a sub-meter measures; 1 for a main meter."""
    if device.parent is None:
        return 1.0
    siblings = [d for d in config.devices if d.parent == device.parent]
    shares = {
        d.id: SUB_METER_SHARES.get(d.meter_category or MeterCategory.OTHER, 0.1) for d in siblings
    }
    scale = min(1.0, (1.0 - MIN_UNACCOUNTED) / sum(shares.values()))
    return shares[device.id] * scale


@dataclass(frozen=True, slots=True)
class Load:
    """Rate per unit of building size (m² for electricity, occupant for water and gas)."""

    base: float
    peak: float


@dataclass(frozen=True, slots=True)
class MeterKind:
    counter: str  # cumulative metric
    counter_per_rate_second: float  # counter units added by one rate unit for one second
    resolution: float  # the register's last digit
    rate: str | None  # instantaneous metric, if the meter reports one
    rate_resolution: float
    per_occupant: bool  # scale by occupants (else by floor area)
    loads: MappingProxyType[BuildingKind, Load]
    noise_sigma: float  # relative spread of the rate around the profile
    start: tuple[float, float]  # the register is not new: drawn in this range


def _loads(**by_kind: tuple[float, float]) -> MappingProxyType[BuildingKind, Load]:
    return MappingProxyType({BuildingKind(k): Load(*v) for k, v in by_kind.items()})


METER_KINDS: MappingProxyType[DeviceKind, MeterKind] = MappingProxyType(
    {
        # W per m²: night base load (servers, emergency lighting, refrigeration) and peak.
        DeviceKind.ELECTRICITY_METER: MeterKind(
            counter="energy_kwh",
            counter_per_rate_second=1 / 3.6e6,  # W·s -> kWh
            resolution=0.01,
            rate="power_w",
            rate_resolution=1.0,
            per_occupant=False,
            loads=_loads(
                teaching=(1.0, 10.0),
                canteen=(5.0, 35.0),
                dormitory=(1.0, 8.0),
                office=(1.5, 12.0),
                sports=(0.5, 8.0),
                other=(1.0, 8.0),
            ),
            noise_sigma=0.05,
            start=(5e4, 5e5),
        ),
        # m³/h per occupant at peak; healthy pipes carry no flow when nobody draws water.
        DeviceKind.WATER_METER: MeterKind(
            counter="water_m3",
            counter_per_rate_second=1 / 3600,  # m³/h · s -> m³
            resolution=0.001,
            rate="flow_m3_h",
            rate_resolution=0.001,
            per_occupant=True,
            loads=_loads(
                teaching=(0.0, 0.0015),
                canteen=(0.0, 0.003),
                dormitory=(0.0, 0.015),
                office=(0.0, 0.003),
                sports=(0.0, 0.005),
                other=(0.0, 0.003),
            ),
            noise_sigma=0.3,
            start=(1e3, 5e4),
        ),
        # m³/h per occupant at peak: kitchen burners, the dormitory's hot-water boiler, lab
        # burners in the teaching building.
        DeviceKind.GAS_METER: MeterKind(
            counter="gas_m3",
            counter_per_rate_second=1 / 3600,
            resolution=0.001,
            rate=None,
            rate_resolution=0.001,
            per_occupant=True,
            loads=_loads(
                teaching=(0.0, 0.0005),
                canteen=(0.0, 0.015),
                dormitory=(0.0, 0.035),
                office=(0.0, 0.0),
                sports=(0.0, 0.0),
                other=(0.0, 0.0),
            ),
            noise_sigma=0.2,
            start=(1e3, 5e4),
        ),
    }
)


@dataclass(slots=True)
class MeterBlock(Block):
    register: FloatArray  # at each instant, before any modulus
    rate: FloatArray  # over the step from each instant


class MeterModel(BlockModel[MeterBlock]):
    """Reports the meter kind's cumulative counter, its rate where it has one, and battery_pct
    for battery meters."""

    noise_memory_s = 600.0

    def __init__(
        self,
        device: Device,
        kind: MeterKind,
        building: Building,
        site_day: SiteDay,
        seed: int,
        faults: Sequence[Fault] = (),
        *,
        block_steps: int = DEFAULT_BLOCK_STEPS,
        share: float = 1.0,
    ) -> None:
        """`share`: the part of the building's load the meter sees (a sub-meter's end use)."""
        self.main_metric = kind.counter
        self.resolutions = {kind.counter: kind.resolution}
        if kind.rate is not None:
            self.resolutions = {**self.resolutions, kind.rate: kind.rate_resolution}
        super().__init__(device, seed, faults, block_steps=block_steps)
        self.kind = kind
        self._building = building
        self._share = share
        self._day = site_day
        self._activity = BuildingActivity(building.kind, site_day)
        if kind.per_occupant:
            size = float(building.occupants or DEFAULT_OCCUPANTS)
        else:
            size = building.floor_area_m2 or DEFAULT_FLOOR_AREA_M2
        load = kind.loads[building.kind]
        self._base, self._peak = load.base * size * share, load.peak * size * share
        self._consumed = self._drift = 0.0
        # The register is `base + consumed - consumed_at_base` since the last reset/replacement.
        self._register_base = self._consumed_at_base = 0.0
        self._wrap: tuple[float, float] | None = None  # (modulus, register at the wrap)

    def _begin(self, k: int) -> None:
        t = k * self.dt_s
        low, high = self.kind.start
        self._register_base = low + (high - low) * self.random.constant("register")
        if self._device.kind in BATTERY_KINDS:
            low, high = METER_BATTERY.start_pct
            level = low + (high - low) * self.random.constant("battery")
            self.battery = Battery(METER_BATTERY, level, t, self.faults)
        rollover = self.faults_of(FaultType.COUNTER_ROLLOVER)
        if rollover:
            self._wrap = (rollover[0].modulus or 1e5, self._twin_register_at(rollover[0].onset_s))

    def _twin_register_at(self, onset_s: float) -> float:
        """The register at the rollover's onset, from a twin without the rollover: choosing the
        modulus offset so the wrap lands there needs the future, which the twin provides."""
        twin = MeterModel(
            self._device, self.kind, self._building, self._day, self.seed,
            [f for f in self.faults if f.type is not FaultType.COUNTER_ROLLOVER],
            block_steps=self.block_steps, share=self._share,
        )  # fmt: skip
        assert self._first_read is not None
        at = max(math.ceil(onset_s / self.dt_s) * self.dt_s, self._first_read)
        reading = twin.read(np.array([self._first_read, at]), truth=True)
        assert reading.true is not None
        return float(reading.true[self.kind.counter][-1])

    def _profile(self, t: FloatArray) -> FloatArray:
        return self._base + (self._peak - self._base) * self._activity.level(t)

    def _simulate(self, k0: int, n: int) -> MeterBlock:
        dt = self.dt_s
        t = Block(k0, n).times(dt)
        rate = np.maximum(0.0, self._profile(t) * (1.0 + self._drifts(k0, n)))
        for fault in self.faults_of(FaultType.WATER_LEAK, FaultType.EQUIPMENT_LEFT_ON):
            rate = rate + np.where(fault.active(t), default_load(fault, self._device.kind), 0.0)
        rate = np.where(self._isolated(t), 0.0, rate)
        # Sequential sums, carried across blocks, so the block length cannot change a digit.
        increments = rate * dt * self.kind.counter_per_rate_second
        consumed = np.cumsum(np.concatenate(([self._consumed], increments)))
        self._consumed = float(consumed[-1])
        return MeterBlock(k0, n, self._registers(k0, consumed[:-1]), rate)

    def _drifts(self, k0: int, n: int) -> FloatArray:
        """AR(1) relative noise of the load with a memory of `noise_memory_s`."""
        memory = math.exp(-self.dt_s / self.noise_memory_s)
        gain = math.sqrt(1.0 - memory**2) * self.kind.noise_sigma
        shocks = self.random.normals("plant", k0 + np.arange(n, dtype=np.int64))[:, 0].tolist()
        out, drift = [0.0] * n, self._drift
        for i, shock in enumerate(shocks):
            drift = memory * drift + gain * shock
            out[i] = drift
        self._drift = drift
        return np.array(out)

    def _registers(self, k0: int, consumed: FloatArray) -> FloatArray:
        register = self._register_base + (consumed - self._consumed_at_base)
        for fault in self.faults_of(FaultType.METER_RESET, FaultType.METER_REPLACEMENT):
            j = math.ceil(fault.onset_s / self.dt_s) - k0
            if 0 <= j < len(consumed):
                new = 0.0 if fault.type is FaultType.METER_RESET else (fault.value or 0.0)
                self._register_base, self._consumed_at_base = new, float(consumed[j])
                register[j:] = new + (consumed[j:] - consumed[j])
        return register

    def _isolated(self, t: FloatArray) -> npt.NDArray[np.bool_]:
        """While a meter is being replaced the supply is shut off and nothing is metered."""
        out = np.zeros(len(t), dtype=np.bool_)
        for fault in self.faults_of(FaultType.METER_REPLACEMENT):
            out |= (t >= fault.onset_s) & (t < fault.onset_s + fault.downtime_s)
        return out

    def _silent(self, times: FloatArray) -> npt.NDArray[np.bool_]:
        return self._isolated(times)

    def _observe(self, block: MeterBlock, index: npt.NDArray[np.int64], t: FloatArray) -> Values:
        register = block.register[index]
        if self._wrap is not None:
            modulus, at_wrap = self._wrap
            register = np.mod(register - at_wrap, modulus)
        values: Values = {self.kind.counter: register}
        if self.kind.rate is not None:
            values[self.kind.rate] = block.rate[index]
        return values

    def _measure(self, true: Values, noise: FloatArray) -> Values:
        k = self.kind
        values: Values = {k.counter: truncate(true[k.counter], k.resolution)}
        if k.rate is not None:
            values[k.rate] = quantise(true[k.rate], k.rate_resolution)
        return values
