"""Fridges, freezers and food-sample fridges: a two-node thermal model with a thermostat.

The cabinet air (small heat capacity, what the probe reads) exchanges heat with the kitchen
through the walls and, while the door is open, through the opening; it exchanges heat with the
stored food (large heat capacity) and is cooled by the evaporator while the compressor runs::

    C_air  dT_air/dt  = UA_wall (T_amb - T_air) + UA_food (T_food - T_air)
                        + f_door UA_door (T_amb - T_air) + P_fan + k P_heater - Q_cool [on]
    C_food dT_food/dt = UA_food (T_air - T_food)

Two nodes rather than one because that is what gives the pull-down after a disturbance the time
constant that seal-failure detection (DESIGN.md) learns. A leaking door seal adds infiltration
(`seal_leak_ua_w_per_k` at severity 1) to UA_wall; a failing compressor loses cooling capacity;
a door left open adds f_door UA_door for as long as it stays open.
Parameter values are assumptions for a kitchen reach-in cabinet chosen to give a compressor duty
of roughly 30-45 % and a few compressor cycles an hour; they are not from a data sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from core.model import Device, DeviceKind
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models.base import DEFAULT_BLOCK_STEPS, Block, BlockModel, Hysteresis, Values
from firmware_sim.models.battery import Battery, BatteryParams
from firmware_sim.models.calendar import KITCHEN_AMBIENT_C, KitchenPhase, SiteDay, phase_table
from firmware_sim.models.display import quantise
from firmware_sim.models.random import normals_from

__all__ = [
    "COLD_PRESETS",
    "PROBE_BATTERY",
    "ColdBlock",
    "ColdParams",
    "ColdStorageModel",
    "DoorHabits",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# A wireless probe on two AA cells lasts about two years (assumed, typical vendor claims).
PROBE_BATTERY = BatteryParams(life_days=730.0, start_pct=(40.0, 100.0))


@dataclass(frozen=True, slots=True)
class DoorHabits:
    """How often staff open the door (per hour, by kitchen phase) and for how long."""

    per_hour: MappingProxyType[KitchenPhase, float]
    median_s: float
    weekend_factor: float = 0.5  # fewer boarders eat at school at weekends (assumed)


def _habits(median_s: float, **per_hour: float) -> DoorHabits:
    return DoorHabits(
        MappingProxyType({KitchenPhase(k): v for k, v in per_hour.items()}), median_s=median_s
    )


# Assumed kitchen routine: about 60 openings a day for a working fridge, most while cooking.
KITCHEN_DOORS = _habits(12.0, night=0.1, staffed=2.0, prep=8.0, service=5.0, clean_up=3.0)
FREEZER_DOORS = _habits(12.0, night=0.05, staffed=1.0, prep=4.0, service=2.0, clean_up=1.5)
# Food samples go in after each service (学校食品安全与营养健康管理规定: every dish sampled).
SAMPLE_DOORS = _habits(20.0, night=0.0, staffed=0.2, prep=0.2, service=1.0, clean_up=2.0)


@dataclass(frozen=True, slots=True)
class ColdParams:
    thermostat: Hysteresis  # on the controller's air probe
    air_j_per_k: float
    food_j_per_k: float
    wall_ua_w_per_k: float
    food_ua_w_per_k: float
    door_ua_w_per_k: float  # infiltration while the door is open
    seal_leak_ua_w_per_k: float  # extra infiltration through a torn gasket (severity 1)
    cooling_w: float  # heat removed while the compressor runs
    compressor_w: float  # electrical draw while it runs
    fan_w: float  # evaporator fan: runs always (except heater defrost), heats the cabinet
    doors: DoorHabits
    defrost_heater_w: float = 0.0  # 0: off-cycle defrost (compressor stopped, fan on)
    heater_to_air: float = 0.15  # most heater energy melts frost on the coil, not the air
    defrosts_per_day: tuple[int, int] = (4, 6)  # vendor guidance: 4-6 a day (DESIGN.md)
    defrost_s: float = 20 * 60
    # Anti-short-cycle delay; controllers typically enforce a few minutes off (assumed 3 min).
    min_off_s: float = 180.0
    sensor_sigma_c: float = 0.05
    probe_resolution_c: float = 0.1  # the probe's display step


COLD_PRESETS: MappingProxyType[DeviceKind, ColdParams] = MappingProxyType(
    {
        # Setpoint about 3.5 °C with a 2-5 °C band, inside the 0-8 °C cold-holding range.
        DeviceKind.FRIDGE: ColdParams(
            thermostat=Hysteresis(2.0, 5.0),
            air_j_per_k=40e3,
            food_j_per_k=350e3,  # ~100 kg of food at ~3.5 kJ/(kg K)
            wall_ua_w_per_k=5.0,
            food_ua_w_per_k=10.0,
            door_ua_w_per_k=100.0,
            # A gasket torn along one side (assumed): +1.4x the wall leak, about doubling the
            # compressor's work; severity 0.5 adds ~75 W of load to a ~150 W one.
            seal_leak_ua_w_per_k=7.0,
            cooling_w=400.0,
            compressor_w=250.0,
            fan_w=15.0,
            doors=KITCHEN_DOORS,
        ),
        # -18 °C is common practice for frozen storage (DESIGN.md, domain defaults).
        DeviceKind.FREEZER: ColdParams(
            thermostat=Hysteresis(-20.0, -16.0),
            air_j_per_k=40e3,
            food_j_per_k=300e3,  # ~150 kg frozen at ~2 kJ/(kg K)
            wall_ua_w_per_k=4.0,
            food_ua_w_per_k=8.0,
            door_ua_w_per_k=100.0,
            seal_leak_ua_w_per_k=6.0,  # assumed, as for the fridge
            cooling_w=600.0,
            compressor_w=450.0,
            fan_w=20.0,
            doors=FREEZER_DOORS,
            defrost_heater_w=600.0,
        ),
        # A small sample cabinet kept around 3 °C.
        DeviceKind.SAMPLE_FRIDGE: ColdParams(
            thermostat=Hysteresis(2.0, 4.0),
            air_j_per_k=15e3,
            food_j_per_k=40e3,
            wall_ua_w_per_k=2.5,
            food_ua_w_per_k=4.0,
            door_ua_w_per_k=50.0,
            seal_leak_ua_w_per_k=3.5,  # assumed, as for the fridge
            cooling_w=200.0,
            compressor_w=120.0,
            fan_w=8.0,
            doors=SAMPLE_DOORS,
        ),
    }
)


# Door openings last a log-normal time around the habit's median (spread assumed), 3 s-2 min.
DOOR_SPREAD = 0.6
DOOR_MIN_S, DOOR_MAX_S = 3.0, 120.0
# Defrost timers drift a little (assumed 2 % of the interval), which keeps devices apart.
DEFROST_JITTER = 0.02


@dataclass(slots=True)
class ColdBlock(Block):
    air: FloatArray
    running: BoolArray  # the compressor is running (not merely called for)
    defrost: BoolArray
    opens: FloatArray  # door openings that overlap the block, ascending
    closes: FloatArray


class ColdStorageModel(BlockModel[ColdBlock]):
    """Reports temp_c, door_open, compressor_on, defrost_on, power_w and battery_pct."""

    warmup_s = 2 * 3600.0
    noise_channels = 2
    main_metric = "temp_c"
    resolutions = MappingProxyType({"temp_c": 0.1, "power_w": 0.1})

    def __init__(
        self,
        device: Device,
        params: ColdParams,
        site_day: SiteDay,
        seed: int,
        faults: Sequence[Fault] = (),
        *,
        block_steps: int = DEFAULT_BLOCK_STEPS,
    ) -> None:
        self.resolutions = MappingProxyType({"temp_c": params.probe_resolution_c, "power_w": 0.1})
        super().__init__(device, seed, faults, block_steps=block_steps)
        self.params = params
        self._day = site_day
        # Where the cabinet stands: near the range or by the back door (assumed ±1 K).
        self._ambient = phase_table(KITCHEN_AMBIENT_C) + self.random.constant_normal("ambient")
        self._door_rate = phase_table(params.doors.per_hour)
        low, high = params.defrosts_per_day
        count = low + int(self.random.constant("defrosts") * (high - low + 1))
        self._defrost_every = 86_400.0 / count
        self._defrost_phase = self.random.constant("defrost_phase") * self._defrost_every
        self._air = self._food = self._off_since = self._door_close = 0.0
        self._calling = False  # the thermostat calls for cooling
        self._carried: list[tuple[float, float]] = []  # door openings running into the next block

    def _begin(self, k: int) -> None:
        p, t = self.params, k * self.dt_s
        band = p.thermostat
        self._air = band.low + (band.high - band.low) * self.random.constant("start_air")
        self._food = (band.low + band.high) / 2
        self._calling = self.random.constant("start_compressor") < 0.4
        self._off_since = t - p.min_off_s
        self._door_close = t
        low, high = PROBE_BATTERY.start_pct
        start = low + (high - low) * self.random.constant("battery")
        self.battery = Battery(PROBE_BATTERY, start, t, self.faults)

    def _simulate(self, k0: int, n: int) -> ColdBlock:
        p = self.params
        block = Block(k0, n)
        t = block.times(self.dt_s)
        phase = self._day.phase_of(t)
        u = self.random.uniforms("plant", k0 + np.arange(n, dtype=np.int64), 4)
        opens, closes, door = self._doors(t, phase, u)
        door = np.maximum(door, self._forced_door(t))
        defrost = self._defrost_of(t)
        leak = sum((f.level(t) for f in self.faults_of(FaultType.SEAL_LEAK)), np.zeros(n))
        ua = p.wall_ua_w_per_k + door * p.door_ua_w_per_k + leak * p.seal_leak_ua_w_per_k
        heater = defrost & (p.defrost_heater_w > 0)
        heat = np.where(heater, p.heater_to_air * p.defrost_heater_w, p.fan_w)  # fan stops
        capacity = self._capacity(t)
        air, calling = self._integrate(t, self._ambient[phase], ua, heat, defrost, capacity)
        running = calling & (capacity > 0)
        return ColdBlock(k0, n, air, running, defrost, opens, closes)

    def _integrate(
        self,
        t: FloatArray,
        ambient: FloatArray,
        ua: FloatArray,
        heat: FloatArray,
        defrost: BoolArray,
        capacity: FloatArray,
    ) -> tuple[FloatArray, BoolArray]:
        """The thermostat and the two nodes, step by step: the only part that depends on the
        state, so the only loop. Returns the air temperature at each instant and the
        thermostat's call made on it."""
        p, dt, n = self.params, self.dt_s, len(t)
        low, high, min_off = p.thermostat.low, p.thermostat.high, p.min_off_s
        ca, cf, uf, cool = dt / p.air_j_per_k, dt / p.food_j_per_k, p.food_ua_w_per_k, p.cooling_w
        air, food, on, off_since = self._air, self._food, self._calling, self._off_since
        airs, calls = [0.0] * n, [False] * n
        inputs = zip(
            t.tolist(), ambient.tolist(), ua.tolist(), heat.tolist(), defrost.tolist(),
            capacity.tolist(), strict=True,
        )  # fmt: skip
        for i, (ti, amb, ua_i, heat_i, dfr, cap) in enumerate(inputs):
            if dfr:
                on = False
                off_since = ti + dt  # the anti-short-cycle delay counts from the defrost's end
            elif on and air <= low:
                on, off_since = False, ti
            elif not on and air >= high and ti - off_since >= min_off:
                on = True
            airs[i], calls[i] = air, on
            q_air = ua_i * (amb - air) + uf * (food - air) + heat_i - (cool * cap if on else 0.0)
            food += uf * (air - food) * cf
            air += q_air * ca
        self._air, self._food, self._calling, self._off_since = air, food, on, off_since
        return np.array(airs), np.array(calls, dtype=np.bool_)

    def _doors(
        self, t: FloatArray, phase: npt.NDArray[np.int64], u: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Door openings (a Poisson process by kitchen phase, never while already open) and the
        fraction of each step the door stands open."""
        habits, dt = self.params.doors, self.dt_s
        rate = self._door_rate[phase] * np.where(self._day.weekend_of(t), habits.weekend_factor, 1)
        chosen = np.flatnonzero(u[:, 0] < rate * dt / 3600.0)
        spread = np.exp(DOOR_SPREAD * normals_from(u[chosen, 2], u[chosen, 3]))
        length = np.clip(spread * habits.median_s, DOOR_MIN_S, DOOR_MAX_S)
        starts = t[chosen] + u[chosen, 1] * dt
        intervals = list(self._carried)
        for step_t, start, seconds in zip(
            t[chosen].tolist(), starts.tolist(), length.tolist(), strict=True
        ):
            if step_t >= self._door_close:
                intervals.append((start, start + seconds))
                self._door_close = start + seconds
        end = float(t[-1]) + dt
        self._carried = [(a, b) for a, b in intervals if b > end]
        opens = np.array([a for a, _ in intervals])
        closes = np.array([b for _, b in intervals])
        return opens, closes, _open_fraction(opens, closes, t, dt)

    def _forced_door(self, t: FloatArray) -> FloatArray:
        forced = np.zeros(len(t))
        for fault in self.faults_of(FaultType.DOOR_LEFT_OPEN):
            forced = np.maximum(forced, fault.level(t))
        return forced

    def _defrost_of(self, t: FloatArray) -> BoolArray:
        """Timed defrosts: the m-th starts on the first step after phase + m * interval (with a
        little jitter) and lasts `defrost_s`, whatever the cabinet's temperature."""
        every, dt, length = self._defrost_every, self.dt_s, self.params.defrost_s
        first = int((t[0] - self._defrost_phase - length) // every) - 1
        last = int((t[-1] - self._defrost_phase) // every) + 1
        ms = np.arange(first, last + 1, dtype=np.int64)
        jitter = self.random.normals("defrost", ms)[:, 0] * DEFROST_JITTER * every
        starts = np.ceil((self._defrost_phase + ms * every + jitter) / dt) * dt
        ends = np.ceil((starts + length) / dt) * dt
        active = np.zeros(len(t), dtype=np.bool_)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            active |= (t >= start) & (t < end)
        return active

    def _capacity(self, t: FloatArray) -> FloatArray:
        """Share of the rated cooling the refrigeration circuit delivers; 0: it does not run."""
        capacity = np.ones(len(t))
        for fault in self.faults_of(FaultType.COMPRESSOR_FAILURE):
            capacity *= 1.0 - np.minimum(fault.level(t), 1.0)
        return capacity

    def _observe(self, block: ColdBlock, index: npt.NDArray[np.int64], t: FloatArray) -> Values:
        defrost, running = block.defrost[index], block.running[index]
        return {
            "temp_c": block.air[index],
            "door_open": _inside(block.opens, block.closes, t) | (self._forced_door(t) > 0),
            "compressor_on": running,
            "defrost_on": defrost,
            "power_w": self._base_power(defrost) + np.where(running, self.params.compressor_w, 0),
        }

    def _measure(self, true: Values, noise: FloatArray) -> Values:
        p = self.params
        running = true["compressor_on"]
        compressor = np.where(running, p.compressor_w * (1 + 0.02 * noise[:, 1]), 0.0)
        return {
            "temp_c": quantise(
                true["temp_c"] + p.sensor_sigma_c * noise[:, 0], p.probe_resolution_c
            ),
            "door_open": true["door_open"],
            "compressor_on": running,
            "defrost_on": true["defrost_on"],
            "power_w": quantise(self._base_power(true["defrost_on"]) + compressor, 0.1),
        }

    def _base_power(self, defrost: BoolArray) -> FloatArray:
        """The evaporator fan, or the defrost heater while it runs (the fan stops then)."""
        p = self.params
        heater = defrost & (p.defrost_heater_w > 0)
        return np.where(heater, p.defrost_heater_w, p.fan_w)


def _inside(opens: FloatArray, closes: FloatArray, t: FloatArray) -> BoolArray:
    """Whether each instant falls in one of the ascending, disjoint intervals [opens, closes)."""
    if not len(opens):
        return np.zeros(len(t), dtype=np.bool_)
    last = np.searchsorted(opens, t, side="right") - 1
    return (last >= 0) & (t < closes[np.maximum(last, 0)])


def _open_fraction(opens: FloatArray, closes: FloatArray, t: FloatArray, dt: float) -> FloatArray:
    """Share of each step [t, t + dt) covered by the intervals [opens, closes)."""
    fraction = np.zeros(len(t))
    k0 = round(float(t[0]) / dt)
    for a, b in zip(opens.tolist(), closes.tolist(), strict=True):
        first, last = max(int(a // dt) - k0, 0), min(int(b // dt) - k0, len(t) - 1)
        for j in range(first, last + 1):
            lo, hi = (k0 + j) * dt, (k0 + j + 1) * dt
            fraction[j] += max(0.0, min(b, hi) - max(a, lo)) / dt
    return fraction
