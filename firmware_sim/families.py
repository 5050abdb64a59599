"""Plant families: named kinds of cold cabinet with a distribution for each physical parameter,
so detection rules are tuned on some families and judged on others (DESIGN.md, testing:
generalisation).

A `Family` gives ranges; `draw_units(family, count, seed)` draws concrete `PlantUnit`s, each
reproducible from (seed, family, index) alone, so unit 7 of a family is the same unit whether 8
or 80 are drawn. A unit describes the cabinet, not a model's equations: `cold_params` turns it
into the simulator's `ColdParams`, and the bench's independent plant (`bench.independent_plant`)
reads the same unit with equations of its own.

`TUNING` and `HELD_OUT` split the families once, for good: thresholds may be chosen looking at
tuning families only; held-out families are for reporting. The glass-door merchandiser and the
under-counter freezer joined the held-out set after the rules had long been read against the
other three: fresh cabinets to score on. Every range is an assumption (no
survey of school kitchens exists to draw from); each says what it stands for.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from core.model import DeviceKind
from firmware_sim.models.base import Hysteresis
from firmware_sim.models.cold import KITCHEN_DOORS, ColdParams, DoorHabits

__all__ = [
    "FAMILIES",
    "HELD_OUT",
    "TUNING",
    "Family",
    "PlantUnit",
    "Span",
    "cold_params",
    "draw_units",
    "families_named",
]

DESIGN_AMBIENT_C = 25.0  # the kitchen temperature a cabinet's compressor is sized at (assumed)
KITCHEN_DOORS_PER_DAY = 60.0  # KITCHEN_DOORS is about 60 openings a day (firmware_sim.models.cold)


@dataclass(frozen=True, slots=True)
class Span:
    """A uniform range [low, high]; low == high is a fixed value."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise ValueError(f"span {self.low}..{self.high} is empty")

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high)) if self.high > self.low else self.low

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: DeviceKind
    cut_out_c: Span  # the thermostat stops the compressor here (air probe)
    differential_k: Span  # cut-in = cut-out + differential; controllers ship 1-4 K
    air_kj_per_k: Span  # air, shelves and evaporator metal
    product_kj_per_k: Span  # stored food
    wall_ua_w_per_k: Span  # insulation
    product_ua_w_per_k: Span  # air to food
    door_ua_w_per_k: Span  # infiltration while the door is open
    capacity_margin: Span  # rated cooling / steady wall load at the design ambient
    compressor_w_per_w: Span  # electrical draw per watt of cooling (1 / COP)
    fan_w: Span
    defrosts_per_day: tuple[int, int]  # vendor guidance is 4-6; cheap timers run 2-3
    defrost_min: Span
    defrost_heater_w: Span  # 0: off-cycle defrost (fan on, compressor stopped)
    drifting_defrost_share: float  # share of units whose defrost timer drifts
    defrost_drift_min_per_day: Span  # how far a drifting timer moves each day
    doors_per_day: Span  # school days; weekends see fewer
    door_median_s: Span
    night_ambient_c: Span  # the kitchen at night where the cabinet stands
    cooking_rise_k: Span  # how much warmer the kitchen gets while cooking
    probe_sigma_c: Span  # probe noise
    probe_resolutions_c: tuple[float, ...]  # 0.1-0.5 K: the probe's display step
    intervals_s: tuple[float, ...]  # reporting intervals of the probes sold for it
    leak_ua_ratio: Span  # a fully torn gasket's extra infiltration / wall UA
    probe_lag_s: Span  # the probe's own time constant (a bare bead is fast, a buffered one slow)


@dataclass(frozen=True, slots=True)
class PlantUnit:
    """One cabinet drawn from a family: every value concrete."""

    family: str
    kind: DeviceKind
    index: int
    seed: int
    cut_out_c: float
    differential_k: float
    air_kj_per_k: float
    product_kj_per_k: float
    wall_ua_w_per_k: float
    product_ua_w_per_k: float
    door_ua_w_per_k: float
    cooling_w: float
    compressor_w: float
    fan_w: float
    defrosts_per_day: int
    defrost_min: float
    defrost_heater_w: float
    defrost_drift_min_per_day: float  # 0: the defrosts start at fixed clock times
    defrost_phase_h: float  # the first defrost of the day, hours after local midnight
    doors_per_day: float
    door_median_s: float
    night_ambient_c: float
    cooking_rise_k: float
    probe_sigma_c: float
    probe_resolution_c: float
    interval_s: float
    leak_ua_w_per_k: float  # extra infiltration of a seal leak of severity 1
    probe_lag_s: float

    @property
    def cut_in_c(self) -> float:
        return self.cut_out_c + self.differential_k

    @property
    def design_duty(self) -> float:
        """Compressor duty at the design ambient with the door shut: load / capacity."""
        return _steady_load_w(self, self.wall_ua_w_per_k) / self.cooling_w


def _steady_load_w(unit: PlantUnit, ua: float) -> float:
    middle = unit.cut_out_c + unit.differential_k / 2
    return ua * (DESIGN_AMBIENT_C - middle) + unit.fan_w


def _family(name: str, kind: DeviceKind, **ranges: object) -> Family:
    return Family(name=name, kind=kind, **ranges)  # type: ignore[arg-type]


_COMMON: dict[str, object] = {
    "differential_k": Span(1.0, 4.0),
    "compressor_w_per_w": Span(0.5, 0.8),  # COP 1.25-2 at fridge temperatures (assumed)
    "drifting_defrost_share": 0.5,
    "defrost_drift_min_per_day": Span(5.0, 40.0),
    "probe_sigma_c": Span(0.02, 0.15),
    "probe_resolutions_c": (0.1, 0.2, 0.25, 0.5),
    "night_ambient_c": Span(18.0, 26.0),
    "cooking_rise_k": Span(2.0, 8.0),
    "probe_lag_s": Span(20.0, 120.0),
}


def _with(**overrides: object) -> dict[str, object]:
    return {**_COMMON, **overrides}


FAMILIES: MappingProxyType[str, Family] = MappingProxyType(
    {
        f.name: f
        for f in (
            # A single- or double-door upright kitchen fridge, fan-cooled, off-cycle defrost.
            _family("small reach-in", DeviceKind.FRIDGE, **_with(
                cut_out_c=Span(1.0, 3.0), air_kj_per_k=Span(20, 60),
                product_kj_per_k=Span(100, 500), wall_ua_w_per_k=Span(3.0, 7.0),
                product_ua_w_per_k=Span(6, 15), door_ua_w_per_k=Span(60, 130),
                capacity_margin=Span(3.0, 5.0), fan_w=Span(8, 20), defrosts_per_day=(4, 6),
                defrost_min=Span(15, 25), defrost_heater_w=Span(0, 0),
                doors_per_day=Span(30, 90), door_median_s=Span(8, 20),
                intervals_s=(30.0, 60.0, 120.0),
                leak_ua_ratio=Span(1.0, 2.0),
            )),
            # Under-counter prep fridge at the cooking line: many short openings, hot air.
            _family("prep counter", DeviceKind.FRIDGE, **_with(
                cut_out_c=Span(1.0, 3.0), air_kj_per_k=Span(10, 30),
                product_kj_per_k=Span(50, 200), wall_ua_w_per_k=Span(2.0, 4.0),
                product_ua_w_per_k=Span(4, 10), door_ua_w_per_k=Span(50, 100),
                capacity_margin=Span(3.0, 5.0), fan_w=Span(6, 12), defrosts_per_day=(4, 6),
                defrost_min=Span(15, 25), defrost_heater_w=Span(0, 0),
                doors_per_day=Span(80, 160), door_median_s=Span(5, 12),
                night_ambient_c=Span(20.0, 26.0), cooking_rise_k=Span(4.0, 10.0),
                intervals_s=(30.0, 60.0), leak_ua_ratio=Span(1.0, 2.0),
            )),
            # A walk-in cold room: tonnes of product, long quiet cycles, heater defrost.
            _family("walk-in cold room", DeviceKind.FRIDGE, **_with(
                cut_out_c=Span(0.5, 2.5), air_kj_per_k=Span(150, 400),
                product_kj_per_k=Span(2000, 6000), wall_ua_w_per_k=Span(15, 35),
                product_ua_w_per_k=Span(40, 100), door_ua_w_per_k=Span(250, 500),
                capacity_margin=Span(2.5, 4.0), fan_w=Span(40, 120), defrosts_per_day=(2, 4),
                defrost_min=Span(20, 35), defrost_heater_w=Span(800, 2000),
                doors_per_day=Span(20, 50), door_median_s=Span(20, 60),
                night_ambient_c=Span(16.0, 24.0), cooking_rise_k=Span(1.0, 4.0),
                intervals_s=(60.0, 120.0, 300.0), leak_ua_ratio=Span(0.6, 1.2),
            )),
            # An upright freezer with heater defrost, kept at about -18 °C (common practice).
            _family("upright freezer", DeviceKind.FREEZER, **_with(
                cut_out_c=Span(-22.0, -19.0), air_kj_per_k=Span(20, 60),
                product_kj_per_k=Span(150, 400), wall_ua_w_per_k=Span(2.5, 5.0),
                product_ua_w_per_k=Span(5, 12), door_ua_w_per_k=Span(60, 120),
                capacity_margin=Span(2.5, 4.0), compressor_w_per_w=Span(0.8, 1.2),
                fan_w=Span(10, 25), defrosts_per_day=(3, 5), defrost_min=Span(15, 30),
                defrost_heater_w=Span(400, 900),
                doors_per_day=Span(15, 40), door_median_s=Span(8, 20),
                intervals_s=(30.0, 60.0, 120.0), leak_ua_ratio=Span(1.0, 2.0),
            )),
            # A chest freezer: lid on top (cold air stays in), static cooling, no fan, manual
            # defrost a few times a year (the timer here only pauses the compressor briefly).
            _family("chest freezer", DeviceKind.FREEZER, **_with(
                cut_out_c=Span(-24.0, -19.0), air_kj_per_k=Span(15, 40),
                product_kj_per_k=Span(200, 600), wall_ua_w_per_k=Span(1.5, 3.5),
                product_ua_w_per_k=Span(8, 20), door_ua_w_per_k=Span(15, 40),
                capacity_margin=Span(2.5, 4.5), compressor_w_per_w=Span(0.8, 1.2),
                fan_w=Span(0, 0), defrosts_per_day=(2, 3), defrost_min=Span(10, 20),
                defrost_heater_w=Span(0, 0),
                doors_per_day=Span(5, 25), door_median_s=Span(10, 40),
                intervals_s=(60.0, 120.0, 300.0), leak_ua_ratio=Span(1.5, 3.0),
            )),
            # A worn fridge: thin insulation, tired compressor, long heater defrosts.
            _family("old unit with long defrost", DeviceKind.FRIDGE, **_with(
                cut_out_c=Span(1.5, 3.5), air_kj_per_k=Span(25, 60),
                product_kj_per_k=Span(150, 500), wall_ua_w_per_k=Span(6.0, 10.0),
                product_ua_w_per_k=Span(6, 15), door_ua_w_per_k=Span(80, 150),
                capacity_margin=Span(1.8, 2.6), fan_w=Span(15, 30), defrosts_per_day=(4, 6),
                defrost_min=Span(30, 45), defrost_heater_w=Span(250, 500),
                doors_per_day=Span(30, 80), door_median_s=Span(10, 25),
                intervals_s=(60.0, 120.0, 300.0), leak_ua_ratio=Span(0.8, 1.5),
            )),
            # A glass-door display fridge in the dining hall (drinks, yoghurt, fruit): the glass
            # loses far more than a solid door, fans and lighting add heat, pupils open it
            # briefly and often at meals, off-cycle defrost. Added to the held-out set after
            # the rules were written: no threshold was chosen on it.
            _family("glass-door merchandiser", DeviceKind.FRIDGE, **_with(
                cut_out_c=Span(1.5, 4.0), air_kj_per_k=Span(15, 45),
                product_kj_per_k=Span(60, 300), wall_ua_w_per_k=Span(5.0, 12.0),
                product_ua_w_per_k=Span(4, 12), door_ua_w_per_k=Span(40, 100),
                capacity_margin=Span(2.5, 4.0), fan_w=Span(15, 40), defrosts_per_day=(3, 5),
                defrost_min=Span(15, 30), defrost_heater_w=Span(0, 0),
                doors_per_day=Span(80, 250), door_median_s=Span(3, 8),
                cooking_rise_k=Span(1.0, 4.0),
                intervals_s=(60.0, 120.0, 300.0), leak_ua_ratio=Span(0.5, 1.0),
            )),
            # An under-counter freezer at the cooking line: little air, a hot kitchen, many
            # openings, heater defrost. Held out from the start, as the merchandiser.
            _family("under-counter freezer", DeviceKind.FREEZER, **_with(
                cut_out_c=Span(-22.0, -18.0), air_kj_per_k=Span(8, 25),
                product_kj_per_k=Span(60, 250), wall_ua_w_per_k=Span(1.5, 3.5),
                product_ua_w_per_k=Span(3, 10), door_ua_w_per_k=Span(30, 80),
                capacity_margin=Span(2.0, 3.5), compressor_w_per_w=Span(0.8, 1.2),
                fan_w=Span(5, 15), defrosts_per_day=(2, 4), defrost_min=Span(15, 25),
                defrost_heater_w=Span(200, 500),
                doors_per_day=Span(40, 120), door_median_s=Span(5, 12),
                night_ambient_c=Span(20.0, 26.0), cooking_rise_k=Span(4.0, 10.0),
                intervals_s=(30.0, 60.0, 120.0, 300.0), leak_ua_ratio=Span(1.0, 2.5),
            )),
            # The food-sample fridge: small, opened after each service (留样).
            _family("sample fridge", DeviceKind.SAMPLE_FRIDGE, **_with(
                cut_out_c=Span(1.5, 3.0), differential_k=Span(1.0, 2.5),
                air_kj_per_k=Span(8, 20), product_kj_per_k=Span(20, 80),
                wall_ua_w_per_k=Span(1.5, 3.5), product_ua_w_per_k=Span(2, 6),
                door_ua_w_per_k=Span(30, 70), capacity_margin=Span(3.0, 5.0),
                fan_w=Span(4, 10), defrosts_per_day=(4, 6), defrost_min=Span(15, 20),
                defrost_heater_w=Span(0, 0),
                doors_per_day=Span(4, 12), door_median_s=Span(15, 40),
                intervals_s=(30.0, 60.0, 300.0), leak_ua_ratio=Span(1.0, 2.0),
            )),
        )
    }
)  # fmt: skip

# Fixed once: thresholds are chosen on TUNING only; HELD_OUT is for reporting.
TUNING: tuple[str, ...] = ("small reach-in", "prep counter", "upright freezer", "sample fridge")
HELD_OUT: tuple[str, ...] = (
    "walk-in cold room",
    "chest freezer",
    "old unit with long defrost",
    "glass-door merchandiser",
    "under-counter freezer",
)


def families_named(which: str) -> tuple[Family, ...]:
    """`tuning`, `held-out`, `all`, or a comma-separated list of family names."""
    groups = {"tuning": TUNING, "held-out": HELD_OUT, "all": tuple(FAMILIES)}
    names = groups.get(which) or tuple(n.strip() for n in which.split(",") if n.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    return tuple(FAMILIES[n] for n in names)


def draw_units(family: Family, count: int, seed: int, first: int = 0) -> list[PlantUnit]:
    """Units `first` .. `first + count - 1` of the family under `seed`."""
    return [_draw(family, seed, index) for index in range(first, first + count)]


def _draw(family: Family, seed: int, index: int) -> PlantUnit:
    rng = np.random.default_rng([seed, zlib.crc32(family.name.encode()), index])
    wall = family.wall_ua_w_per_k.draw(rng)
    cut_out = family.cut_out_c.draw(rng)
    differential = family.differential_k.draw(rng)
    fan = family.fan_w.draw(rng)
    load = wall * (DESIGN_AMBIENT_C - cut_out - differential / 2) + fan
    cooling = family.capacity_margin.draw(rng) * load
    per_day = int(rng.integers(family.defrosts_per_day[0], family.defrosts_per_day[1] + 1))
    drifts = rng.uniform() < family.drifting_defrost_share
    drift = family.defrost_drift_min_per_day.draw(rng) * float(rng.choice([-1.0, 1.0]))
    return PlantUnit(
        family=family.name,
        kind=family.kind,
        index=index,
        seed=seed,
        cut_out_c=cut_out,
        differential_k=differential,
        air_kj_per_k=family.air_kj_per_k.draw(rng),
        product_kj_per_k=family.product_kj_per_k.draw(rng),
        wall_ua_w_per_k=wall,
        product_ua_w_per_k=family.product_ua_w_per_k.draw(rng),
        door_ua_w_per_k=family.door_ua_w_per_k.draw(rng),
        cooling_w=cooling,
        compressor_w=cooling * family.compressor_w_per_w.draw(rng),
        fan_w=fan,
        defrosts_per_day=per_day,
        defrost_min=family.defrost_min.draw(rng),
        defrost_heater_w=family.defrost_heater_w.draw(rng),
        defrost_drift_min_per_day=drift if drifts else 0.0,
        defrost_phase_h=float(rng.uniform(0.0, 24.0 / per_day)),
        doors_per_day=family.doors_per_day.draw(rng),
        door_median_s=family.door_median_s.draw(rng),
        night_ambient_c=family.night_ambient_c.draw(rng),
        cooking_rise_k=family.cooking_rise_k.draw(rng),
        probe_sigma_c=family.probe_sigma_c.draw(rng),
        probe_resolution_c=float(rng.choice(family.probe_resolutions_c)),
        interval_s=float(rng.choice(family.intervals_s)),
        leak_ua_w_per_k=wall * family.leak_ua_ratio.draw(rng),
        probe_lag_s=family.probe_lag_s.draw(rng),
    )


def cold_params(unit: PlantUnit) -> ColdParams:
    """The simulator's parameters for the unit (`firmware_sim.models.cold`). Its model has no
    drifting defrost timer, probe lag or kitchen-specific ambient: those stay with the
    independent plant; the rest maps one to one."""
    scale = unit.doors_per_day / KITCHEN_DOORS_PER_DAY
    doors = DoorHabits(
        MappingProxyType({p: r * scale for p, r in KITCHEN_DOORS.per_hour.items()}),
        median_s=unit.door_median_s,
    )
    return ColdParams(
        thermostat=Hysteresis(unit.cut_out_c, unit.cut_in_c),
        air_j_per_k=unit.air_kj_per_k * 1e3,
        food_j_per_k=unit.product_kj_per_k * 1e3,
        wall_ua_w_per_k=unit.wall_ua_w_per_k,
        food_ua_w_per_k=unit.product_ua_w_per_k,
        door_ua_w_per_k=unit.door_ua_w_per_k,
        seal_leak_ua_w_per_k=unit.leak_ua_w_per_k,
        cooling_w=unit.cooling_w,
        compressor_w=unit.compressor_w,
        fan_w=unit.fan_w,
        doors=doors,
        defrost_heater_w=unit.defrost_heater_w,
        defrosts_per_day=(unit.defrosts_per_day, unit.defrosts_per_day),
        defrost_s=unit.defrost_min * 60.0,
        sensor_sigma_c=unit.probe_sigma_c,
        probe_resolution_c=unit.probe_resolution_c,
    )
