"""Electricity, water and gas meters: a load that follows the building's day, integrated into a
cumulative counter.

The rate is `base + (peak - base) * activity`, scaled by the building's floor area (electricity)
or occupants (water, gas), times slowly varying noise (an AR(1) process with a 10 min memory:
loads drift, they do not jump every second). The counter only ever increases and is shown, like
a real register, truncated to the meter's resolution.

Intensities are assumptions for a Chinese primary school with boarders, not survey data. For the
demo school on a weekday they give: teaching building ~650 kWh (~0.1 kWh/m²), ~14 m³ of water
(15 L a pupil); canteen ~570 kWh, ~30 m³ of water, ~160 m³ of gas; dormitory ~40 m³ of water
(95 L a boarder) and ~90 m³ of gas for hot water.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from core.model import Building, BuildingKind, Device, DeviceKind
from firmware_sim.models.base import GridModel, Metrics, quantise
from firmware_sim.models.calendar import SiteDay
from firmware_sim.models.profiles import BuildingActivity

__all__ = ["METER_KINDS", "Load", "MeterKind", "MeterModel"]

# Used when the site config leaves a building's size out.
DEFAULT_FLOOR_AREA_M2 = 2000.0
DEFAULT_OCCUPANTS = 300


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


class MeterModel(GridModel):
    """Reports the meter kind's cumulative counter and, where it has one, its rate."""

    noise_memory_s = 600.0

    def __init__(
        self, device: Device, kind: MeterKind, building: Building, site_day: SiteDay, seed: int
    ) -> None:
        super().__init__(device, seed)
        self.kind = kind
        self._activity = BuildingActivity(building.kind, site_day)
        if kind.per_occupant:
            size = float(building.occupants or DEFAULT_OCCUPANTS)
        else:
            size = building.floor_area_m2 or DEFAULT_FLOOR_AREA_M2
        load = kind.loads[building.kind]
        self._base, self._peak = load.base * size, load.peak * size
        self._counter = 0.0
        self._rate = 0.0
        self._drift = 0.0  # AR(1) state, relative

    @property
    def counter(self) -> float:
        """The true register value (the reading truncates it)."""
        return self._counter

    def _begin(self, t: float) -> None:
        self._counter = float(self._plant.uniform(*self.kind.start))
        self._rate = self._rate_at(t)

    def _advance(self, t: float, dt: float) -> None:
        memory = math.exp(-dt / self.noise_memory_s)
        shock = float(self._plant.normal(0.0, self.kind.noise_sigma))
        self._drift = memory * self._drift + math.sqrt(1.0 - memory**2) * shock
        self._rate = self._rate_at(t)
        self._counter += self._rate * dt * self.kind.counter_per_rate_second

    def _rate_at(self, t: float) -> float:
        profile = self._base + (self._peak - self._base) * self._activity.level(t)
        return max(0.0, profile * (1.0 + self._drift))

    def _observe(self, t: float) -> Metrics:
        k = self.kind
        register = math.floor(self._counter / k.resolution) * k.resolution
        metrics: Metrics = {k.counter: quantise(register, k.resolution)}
        if k.rate is not None:
            metrics[k.rate] = quantise(self._rate, k.rate_resolution)
        return metrics
