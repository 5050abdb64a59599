"""Fridges, freezers and food-sample fridges: a two-node thermal model with a thermostat.

The cabinet air (small heat capacity, what the probe reads) exchanges heat with the kitchen
through the walls and, while the door is open, through the opening; it exchanges heat with the
stored food (large heat capacity) and is cooled by the evaporator while the compressor runs::

    C_air  dT_air/dt  = UA_wall (T_amb - T_air) + UA_food (T_food - T_air)
                        + f_door UA_door (T_amb - T_air) + P_fan + k P_heater - Q_cool [on]
    C_food dT_food/dt = UA_food (T_air - T_food)

Two nodes rather than one because that is what gives the pull-down after a disturbance the time
constant that seal-failure detection (DESIGN.md) learns; a later fault model raises UA_wall.
Parameter values are assumptions for a kitchen reach-in cabinet chosen to give a compressor duty
of roughly 30-45 % and a few compressor cycles an hour; they are not from a data sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from core.model import Device, DeviceKind
from firmware_sim.models.base import GridModel, Hysteresis, Metrics, quantise
from firmware_sim.models.calendar import KITCHEN_AMBIENT_C, KitchenPhase, SiteDay

__all__ = ["COLD_PRESETS", "ColdParams", "ColdStorageModel", "DoorHabits"]


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
            cooling_w=200.0,
            compressor_w=120.0,
            fan_w=8.0,
            doors=SAMPLE_DOORS,
        ),
    }
)


class ColdStorageModel(GridModel):
    """Reports temp_c, door_open, compressor_on, defrost_on and power_w."""

    warmup_s = 2 * 3600.0

    def __init__(self, device: Device, params: ColdParams, site_day: SiteDay, seed: int) -> None:
        super().__init__(device, seed)
        self.params = params
        self._day = site_day
        self._ambient_offset = 0.0
        self._air = self._food = 0.0
        self._compressor = False
        self._off_since = 0.0
        self._door_open_at = self._door_close_at = 0.0
        self._defrost_every_s = 0.0
        self._next_defrost = self._defrost_end = 0.0

    @property
    def defrosting(self) -> bool:
        return self._defrost_end > 0.0

    def _begin(self, t: float) -> None:
        p, rng = self.params, self._plant
        self._ambient_offset = float(rng.normal(0.0, 1.0))
        self._air = float(rng.uniform(p.thermostat.low, p.thermostat.high))
        self._food = (p.thermostat.low + p.thermostat.high) / 2
        self._compressor = bool(rng.random() < 0.4)
        self._off_since = t - p.min_off_s
        low, high = p.defrosts_per_day
        self._defrost_every_s = 86_400.0 / int(rng.integers(low, high + 1))
        self._next_defrost = t + float(rng.uniform(0.0, self._defrost_every_s))
        self._door_open_at = self._door_close_at = t

    def _advance(self, t: float, dt: float) -> None:
        self._run_defrost_timer(t)
        self._run_thermostat(t)
        self._maybe_open_door(t, dt)
        self._integrate(t, dt)

    def _run_defrost_timer(self, t: float) -> None:
        if self._defrost_end and t >= self._defrost_end:
            self._defrost_end = 0.0
            self._off_since = t
        if not self._defrost_end and t >= self._next_defrost:
            # Controllers defrost on a fixed interval; a little drift keeps devices apart.
            self._defrost_end = t + self.params.defrost_s
            jitter = float(self._plant.normal(0.0, 0.02))
            self._next_defrost += self._defrost_every_s * (1.0 + jitter)

    def _run_thermostat(self, t: float) -> None:
        if self._defrost_end:
            if self._compressor:
                self._compressor, self._off_since = False, t
            return
        wanted = self.params.thermostat.cooling(self._air, self._compressor)
        if wanted and not self._compressor and t - self._off_since < self.params.min_off_s:
            return
        if self._compressor and not wanted:
            self._off_since = t
        self._compressor = wanted

    def _maybe_open_door(self, t: float, dt: float) -> None:
        if t < self._door_close_at:
            return
        doors = self.params.doors
        rate = doors.per_hour[self._day.phase(t)]
        if self._day.is_weekend(t):
            rate *= doors.weekend_factor
        if self._plant.random() < rate * dt / 3600.0:
            self._door_open_at = t + float(self._plant.uniform(0.0, dt))
            duration = float(self._plant.lognormal(0.0, 0.6)) * doors.median_s
            self._door_close_at = self._door_open_at + min(max(duration, 3.0), 120.0)

    def _integrate(self, t: float, dt: float) -> None:
        p = self.params
        ambient = KITCHEN_AMBIENT_C[self._day.phase(t)] + self._ambient_offset
        door = _overlap(self._door_open_at, self._door_close_at, t, t + dt) / dt
        heater = p.defrost_heater_w if self._defrost_end else 0.0
        fan = 0.0 if heater else p.fan_w
        q_air = (
            p.wall_ua_w_per_k * (ambient - self._air)
            + p.food_ua_w_per_k * (self._food - self._air)
            + door * p.door_ua_w_per_k * (ambient - self._air)
            + fan
            + p.heater_to_air * heater
            - (p.cooling_w if self._compressor else 0.0)
        )
        q_food = p.food_ua_w_per_k * (self._air - self._food)
        self._air += q_air * dt / p.air_j_per_k
        self._food += q_food * dt / p.food_j_per_k

    def _observe(self, t: float) -> Metrics:
        p = self.params
        heater = p.defrost_heater_w if self._defrost_end else 0.0
        power = heater + (0.0 if heater else p.fan_w)
        if self._compressor:
            power += p.compressor_w * (1.0 + self._noise(0.02))
        return {
            "temp_c": quantise(self._air + self._noise(p.sensor_sigma_c), 0.1),
            "door_open": self._door_open_at <= t < self._door_close_at,
            "compressor_on": self._compressor,
            "defrost_on": self.defrosting,
            "power_w": quantise(power, 0.1),
        }


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))
