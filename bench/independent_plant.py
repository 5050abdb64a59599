"""A second cold-cabinet plant, written apart from `firmware_sim.models.cold` and used only to
score the rules (DESIGN.md, testing: "a second, independently written plant model is used only
for scoring"). It lives in bench/ so no rule test can import it and no threshold can be fitted
to it.

It reads the same `PlantUnit` descriptions (thermal masses, insulation, capacity...) but is
built differently:

- two nodes, air (with shelves and evaporator metal) and product, integrated with an implicit
  (backward Euler) step solved exactly for the 2x2 system, for a whole batch of units at once;
- the cooling capacity is not constant: it rises with the air (evaporating) temperature and
  falls with the kitchen (condensing) temperature, as a real condensing unit's does;
- the thermostat acts on the true air with a minimum run and a minimum off time; the probe
  that reports is a separate bead with its own time constant, noise and display step;
- defrosts start on a timer that may drift by minutes a day; a heater defrost stops the fan and
  puts part of the heater's power into the air until the coil reaches its end temperature;
  after every defrost the coil drips for 2 min;
- doors open on a kitchen timetable (prep, service and clean-up blocks around the meals) as a
  Bernoulli draw per step with gamma-distributed durations;
- the kitchen warms with cooking through a 40 min room lag and wanders day to day, each
  cabinet's on its own; asked for, a warm spell lifts the whole kitchen at once for days;
- a seal leak adds infiltration that ramps in over 12 h; a compressor failure stops cooling.

Every coefficient marked "assumed" is a plausible engineering figure, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_sim.families import PlantUnit

__all__ = [
    "DT_S",
    "LEAK_RAMP_S",
    "CompressorFailure",
    "KitchenBlock",
    "PlantRun",
    "SealLeak",
    "WarmSpell",
    "run_plant",
]

F64 = npt.NDArray[np.float64]
DT_S = 10.0
LEAK_RAMP_S = 12 * 3600.0  # a gasket tears or hardens over half a day (assumed)
DAY_S = 86_400.0
DESIGN_AMBIENT_C = 25.0
# A condensing unit loses about 1.5 % of its capacity per kelvin of hotter condenser air and
# gains about 2 % per kelvin of warmer evaporator (typical compressor maps, assumed).
CAPACITY_PER_K_AMBIENT = -0.015
CAPACITY_PER_K_AIR = 0.02
POWER_PER_K_AMBIENT = 0.01  # electrical draw rises with condensing pressure (assumed)
HEATER_TO_AIR = 0.2  # most heater energy melts ice on the coil (assumed)
# Controllers end a heater defrost on temperature (the coil's end-of-defrost setting); the air
# by the coil is taken to reach it 6 K above the cut-in (assumed). The timer runs on, off-cycle.
TERMINATION_K = 6.0
DRIP_S = 120.0  # the coil drains before the compressor may restart (typical controller)
MIN_RUN_S, MIN_OFF_S = 60.0, 240.0  # compressor protection (typical controller)
ROOM_LAG_S = 40 * 60.0  # a kitchen warms and cools over tens of minutes (assumed)
WEEKEND_ACTIVITY = 0.3  # boarders go home; a skeleton crew opens the doors (assumed)
DAILY_WANDER_C = 0.7  # weather and ventilation move the kitchen day to day (assumed)
SPELL_RAMP_S = 12 * 3600.0  # a warm spell sets in and passes over half a day (assumed)
DOOR_GAMMA_SHAPE = 2.0  # door durations: gamma, most short, a few long (assumed)
GAMMA2_MEDIAN = 1.678  # median of a gamma(shape 2, scale 1)
DOOR_MIN_S, DOOR_MAX_S = 3.0, 240.0


@dataclass(frozen=True, slots=True)
class KitchenBlock:
    """A block of the kitchen's day (local minutes): how busy the doors are, how hot the air."""

    start_min: int
    end_min: int
    doors: float  # relative opening rate
    heat: float  # share of the cooking rise


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


# The timetable of a canteen serving breakfast 07:00, lunch 11:40 and dinner 17:30 (the demo
# school's meals); everything else is night.
KITCHEN_DAY: tuple[KitchenBlock, ...] = tuple(
    KitchenBlock(_clock(a), _clock(b), doors, heat)
    for a, b, doors, heat in (
        ("05:30", "07:00", 3.0, 0.7),  # breakfast prep
        ("07:00", "07:40", 2.0, 0.6),  # breakfast
        ("07:40", "09:30", 1.5, 0.4),  # clean-up, deliveries
        ("09:30", "11:40", 4.0, 1.0),  # lunch prep
        ("11:40", "12:40", 3.0, 0.9),  # lunch
        ("12:40", "14:00", 1.5, 0.5),  # clean-up
        ("14:00", "16:00", 0.7, 0.3),  # staff between services
        ("16:00", "17:30", 3.5, 1.0),  # dinner prep
        ("17:30", "18:20", 2.5, 0.8),  # dinner
        ("18:20", "20:00", 1.2, 0.4),  # clean-up
    )
)
NIGHT_DOORS = 0.05


@dataclass(frozen=True, slots=True)
class SealLeak:
    unit: int  # index into the run's units
    onset_s: float
    severity: float  # share of the unit's fully torn gasket


@dataclass(frozen=True, slots=True)
class WarmSpell:
    """The whole kitchen (every cabinet's air around it) `rise_k` warmer from `start_s` to
    `end_s`, ramping in over its first `SPELL_RAMP_S` and out over its last: a heat wave
    through the kitchen's windows, a broken extractor hood. Unlike the day-to-day wander,
    every cabinet of the kitchen feels it at once."""

    start_s: float
    end_s: float
    rise_k: float


@dataclass(frozen=True, slots=True)
class CompressorFailure:
    unit: int
    onset_s: float
    duration_s: float


@dataclass(slots=True)
class PlantRun:
    """Every unit's state at every step (rows: steps, columns: units)."""

    units: list[PlantUnit]
    times: F64  # epoch seconds, UTC
    air: F64
    product: F64
    probe: F64  # the reporting probe, before noise and display step
    compressor: npt.NDArray[np.bool_]
    defrost: npt.NDArray[np.bool_]
    power_w: F64
    doors: list[list[tuple[float, float]]] = field(default_factory=list)  # per unit
    ambient: F64 | None = None  # the kitchen's air at each cabinet (what its own probe reads)

    def duty(self, unit: int, start_s: float, end_s: float) -> float:
        inside = (self.times >= start_s) & (self.times < end_s)
        return float(self.compressor[inside, unit].mean())


def run_plant(
    units: list[PlantUnit],
    start_s: float,
    days: float,
    seed: int,
    *,
    leaks: list[SealLeak] | None = None,
    failures: list[CompressorFailure] | None = None,
    utc_offset_h: float = 8.0,
    doors: bool = True,
    defrosts: bool = True,
    kitchen: bool = True,
    spell: WarmSpell | None = None,
) -> PlantRun:
    """Simulate `units` side by side from `start_s` (a local midnight) for `days`.
    `doors`, `defrosts`, `kitchen` off give a quiet plant at the design ambient (tests);
    `spell` warms the whole kitchen for a while (it draws nothing: the units, doors and
    wander are the same with it as without)."""
    rng = np.random.default_rng([seed, 0x1CE])
    times = start_s + np.arange(round(days * DAY_S / DT_S), dtype=np.float64) * DT_S
    local_min = ((times + utc_offset_h * 3600.0) % DAY_S) / 60.0
    weekday = (np.floor((times + utc_offset_h * 3600.0) / DAY_S).astype(np.int64) + 3) % 7
    weekend = weekday >= 5  # day 0 of the epoch was a Thursday (3)
    ambient = _ambient(units, times, local_min, weekend, rng, kitchen)
    if spell is not None:
        ambient = ambient + spell.rise_k * _spell_share(spell, times)[:, None]
    door_list = (
        [_door_openings(u, times, local_min, weekend, rng) for u in units]
        if doors
        else [[] for _ in units]
    )
    door_share = np.column_stack([_open_share(d, times) for d in door_list])
    defrost, drip = _defrosts(units, times, start_s, local_min) if defrosts else _none(times, units)
    extra_ua = _leak_ua(units, times, leaks or [])
    capacity = _capacity(units, times, failures or [])
    return _integrate(
        units, times, ambient, door_share, extra_ua, defrost, drip, capacity, door_list
    )


def _spell_share(spell: WarmSpell, times: F64) -> F64:
    """How much of its rise the spell has at each step: 0 outside, ramping to 1 and back."""
    rising = np.clip((times - spell.start_s) / SPELL_RAMP_S, 0.0, 1.0)
    passing = np.clip((spell.end_s - times) / SPELL_RAMP_S, 0.0, 1.0)
    share: F64 = rising * passing
    return share


def _none(times: F64, units: list[PlantUnit]) -> tuple[npt.NDArray[np.bool_], ...]:
    off = np.zeros((len(times), len(units)), dtype=np.bool_)
    return off, off.copy()


def _activity(local_min: F64, weekend: npt.NDArray[np.bool_]) -> tuple[F64, F64]:
    doors = np.full(len(local_min), NIGHT_DOORS)
    heat = np.zeros(len(local_min))
    for block in KITCHEN_DAY:
        inside = (local_min >= block.start_min) & (local_min < block.end_min)
        doors[inside], heat[inside] = block.doors, block.heat
    scale = np.where(weekend, WEEKEND_ACTIVITY, 1.0)
    return doors * scale, heat * scale


def _ambient(
    units: list[PlantUnit],
    times: F64,
    local_min: F64,
    weekend: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    kitchen: bool,
) -> F64:
    if not kitchen:
        return np.full((len(times), len(units)), DESIGN_AMBIENT_C)
    _, heat = _activity(local_min, weekend)
    room = np.empty(len(times))  # the room follows the cooking through its lag
    level, keep = 0.0, math.exp(-DT_S / ROOM_LAG_S)
    for i, target in enumerate(heat.tolist()):
        level = target + (level - target) * keep
        room[i] = level
    day = (times - times[0]) / DAY_S
    knots = np.arange(int(day[-1]) + 2)
    wander = rng.normal(0.0, DAILY_WANDER_C, (len(knots), len(units)))
    drift = np.column_stack([np.interp(day, knots, wander[:, j]) for j in range(len(units))])
    night = np.array([u.night_ambient_c for u in units])
    rise = np.array([u.cooking_rise_k for u in units])
    ambient: F64 = night[None, :] + rise[None, :] * room[:, None] + drift
    return ambient


def _door_openings(
    unit: PlantUnit,
    times: F64,
    local_min: F64,
    weekend: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> list[tuple[float, float]]:
    """Openings as (open, close) instants: a Bernoulli draw per step at the timetable's rate,
    never while the door is already open."""
    rate, _ = _activity(local_min, weekend)
    minute = np.arange(24 * 60, dtype=np.float64)
    school_day, _ = _activity(minute, np.zeros(24 * 60, dtype=np.bool_))
    per_step = unit.doors_per_day * rate / float(school_day.sum()) * DT_S / 60.0
    chosen = np.flatnonzero(rng.uniform(size=len(times)) < per_step)
    scale = unit.door_median_s / GAMMA2_MEDIAN
    lengths = np.clip(rng.gamma(DOOR_GAMMA_SHAPE, scale, len(chosen)), DOOR_MIN_S, DOOR_MAX_S)
    offsets = rng.uniform(0.0, DT_S, len(chosen))
    out: list[tuple[float, float]] = []
    for k, length, offset in zip(chosen.tolist(), lengths.tolist(), offsets.tolist(), strict=True):
        opened = float(times[k]) + offset
        if not out or opened >= out[-1][1]:
            out.append((opened, opened + length))
    return out


def _open_share(openings: list[tuple[float, float]], times: F64) -> F64:
    """The share of each step [t, t + DT_S) the door stands open."""
    share = np.zeros(len(times))
    t0 = float(times[0])
    for opened, closed in openings:
        first = int((opened - t0) // DT_S)
        last = min(int((closed - t0) // DT_S), len(times) - 1)
        for k in range(max(first, 0), last + 1):
            lo = t0 + k * DT_S
            share[k] += max(0.0, min(closed, lo + DT_S) - max(opened, lo)) / DT_S
    return share


def _defrosts(
    units: list[PlantUnit], times: F64, start_s: float, local_min: F64
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Timer defrosts: n a day from the unit's phase; a drifting timer slides each day."""
    steps = len(times)
    defrost = np.zeros((steps, len(units)), dtype=np.bool_)
    drip = np.zeros_like(defrost)
    midnight = float(times[0]) - float(local_min[0]) * 60.0  # the local midnight of day 0
    days = math.ceil((float(times[-1]) - midnight) / DAY_S) + 1
    for j, unit in enumerate(units):
        every_s = DAY_S / unit.defrosts_per_day
        drift_s = unit.defrost_drift_min_per_day * 60.0
        for day in range(-1, days):
            for m in range(unit.defrosts_per_day):
                begin = midnight + day * DAY_S + unit.defrost_phase_h * 3600 + m * every_s
                begin += drift_s * day
                end = begin + unit.defrost_min * 60.0
                defrost[:, j] |= (times >= begin) & (times < end)
                drip[:, j] |= (times >= end) & (times < end + DRIP_S)
    return defrost, drip


def _leak_ua(units: list[PlantUnit], times: F64, leaks: list[SealLeak]) -> F64:
    extra = np.zeros((len(times), len(units)))
    for leak in leaks:
        grown = np.clip((times - leak.onset_s) / LEAK_RAMP_S, 0.0, 1.0)
        extra[:, leak.unit] += grown * leak.severity * units[leak.unit].leak_ua_w_per_k
    return extra


def _capacity(units: list[PlantUnit], times: F64, failures: list[CompressorFailure]) -> F64:
    share = np.ones((len(times), len(units)))
    for failure in failures:
        inside = (times >= failure.onset_s) & (times < failure.onset_s + failure.duration_s)
        share[inside, failure.unit] = 0.0
    return share


def _column(units: list[PlantUnit], name: str) -> F64:
    return np.array([float(getattr(u, name)) for u in units])


def _integrate(
    units: list[PlantUnit],
    times: F64,
    ambient: F64,
    door_share: F64,
    extra_ua: F64,
    defrost: npt.NDArray[np.bool_],
    drip: npt.NDArray[np.bool_],
    capacity: F64,
    door_list: list[list[tuple[float, float]]],
) -> PlantRun:
    """Step all units together: thermostat, then the implicit 2x2 solve of air and product."""
    steps, n = len(times), len(units)
    c_air = _column(units, "air_kj_per_k") * 1e3 / DT_S
    c_product = _column(units, "product_kj_per_k") * 1e3 / DT_S
    g_product = _column(units, "product_ua_w_per_k")
    g_wall = _column(units, "wall_ua_w_per_k")
    g_door = _column(units, "door_ua_w_per_k")
    cooling = _column(units, "cooling_w")
    compressor_w, fan_w = _column(units, "compressor_w"), _column(units, "fan_w")
    heater_w = _column(units, "defrost_heater_w")
    cut_out, cut_in = _column(units, "cut_out_c"), _column(units, "cut_in_c")
    lag = 1.0 - np.exp(-DT_S / _column(units, "probe_lag_s"))
    air = (cut_out + cut_in) / 2
    product, probe = air.copy(), air.copy()
    on = np.zeros(n, dtype=np.bool_)
    ended = np.zeros(n, dtype=np.bool_)  # the heater stopped on temperature in this defrost
    since = np.full(n, MIN_OFF_S)  # time in the current compressor state
    out = {k: np.empty((steps, n)) for k in ("air", "product", "probe", "power")}
    ran = np.empty((steps, n), dtype=np.bool_)
    for i in range(steps):
        blocked = defrost[i] | drip[i]
        stop = on & (blocked | ((air <= cut_out) & (since >= MIN_RUN_S)))
        start = ~on & ~blocked & (air >= cut_in) & (since >= MIN_OFF_S)
        on = (on & ~stop) | start
        since = np.where(stop | start, 0.0, since + DT_S)
        amb = ambient[i]
        ended = defrost[i] & (ended | (air >= cut_in + TERMINATION_K))
        heater = defrost[i] & (heater_w > 0) & ~ended
        running = on & (capacity[i] > 0)
        q_cool = np.where(
            running,
            cooling
            * (1 + CAPACITY_PER_K_AMBIENT * (amb - DESIGN_AMBIENT_C))
            * (1 + CAPACITY_PER_K_AIR * (air - cut_out)),
            0.0,
        )
        q_in = np.where(heater, HEATER_TO_AIR * heater_w, fan_w)
        g_out = g_wall + door_share[i] * g_door + extra_ua[i]
        a11 = c_air + g_out + g_product
        a22 = c_product + g_product
        b1 = c_air * air + g_out * amb + q_in - q_cool
        b2 = c_product * product
        det = a11 * a22 - g_product * g_product
        air = (b1 * a22 + g_product * b2) / det
        product = (a11 * b2 + g_product * b1) / det
        probe = probe + (air - probe) * lag
        power = np.where(heater, heater_w, fan_w) + np.where(
            running, compressor_w * (1 + POWER_PER_K_AMBIENT * (amb - DESIGN_AMBIENT_C)), 0.0
        )
        out["air"][i], out["product"][i], out["probe"][i], out["power"][i] = (
            air, product, probe, power,
        )  # fmt: skip
        ran[i] = running
    return PlantRun(
        units, times, out["air"], out["product"], out["probe"], ran, defrost, out["power"],
        door_list, ambient,
    )  # fmt: skip
