"""A parameterised fridge for the seal tests from temperature alone: thermostat differential,
defrosts a day, probe noise and resolution, reporting interval, door habits and a seal leak
that ramps in, drawn so that one healthy parameter set is not the only one the rule sees.

Physics: two thermal nodes (air 40 kJ/K, food 350 kJ/K coupled at 10 W/K), walls UA 5 W/K
plus the leak, a 400 W evaporator switched by the thermostat on the air, a 300 W defrost
heater for 20 min at evenly spaced local times (compressor off), doors opened at random on a
kitchen timetable (100 W/K while open), ambient 22 °C at night and 27 °C while cooking (with
`quiet_weekends`, not on a Saturday or Sunday), and a minimum off time if asked. The
plant integrates every 10 s and reports every `interval_s`. A probe may lag the air
(`probe_lag_s`: a probe in a bottle of glycol, as food-safety probes often are, or far from
the evaporator), which smooths the compressor's sawtooth away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

Row = tuple[str, datetime, dict[str, float]]

_DT_S = 10.0


@dataclass(frozen=True, slots=True)
class ColdPlant:
    cut_in_c: float = 2.0
    differential_k: float = 3.0
    defrosts_a_day: int = 4
    noise_c: float = 0.05
    resolution_c: float = 0.1
    interval_s: float = 60.0
    doors_per_busy_hour: float = 6.0
    ua_w_k: float = 5.0
    capacity_w: float = 400.0
    metered: bool = False  # report compressor power and the door switch too
    probe_lag_s: float = 0.0  # the probe's time constant (0: it reads the air)
    # the kitchen stays cool and shut on local Saturdays and Sundays (the test school's
    # weekend, without meals); False: every day is a cooking day
    quiet_weekends: bool = False
    # the controller keeps the compressor off this long after it stopped (its anti-short-cycle
    # delay): a cabinet whose air reaches the cut-in sooner waits above it
    min_off_s: float = 0.0


def fridge(
    device: str,
    start: datetime,
    days: float,
    plant: ColdPlant,
    *,
    seed: int,
    leak_ua: float = 0.0,
    leak_from: datetime | None = None,
    leak_ramp_h: float = 12.0,
    warm_spell: tuple[datetime, datetime, float] | None = None,
) -> list[Row]:
    """`warm_spell`: (from, until, kelvins) the kitchen runs that much warmer then (a warm
    night: the weather, a vent left shut)."""
    rng = np.random.default_rng(seed)
    air, food, on = plant.cut_in_c + 1.0, plant.cut_in_c + 1.0, False
    sensed = air
    cut_out = plant.cut_in_c + plant.differential_k
    door_until = start
    off_since = start - timedelta(seconds=plant.min_off_s)
    every = max(1, round(plant.interval_s / _DT_S))
    defrost_period_min = 1440 / plant.defrosts_a_day
    ambient_shift = float(rng.normal(0, 0.8))  # this kitchen's own weather
    rows: list[Row] = []
    for step in range(int(days * 86_400 / _DT_S)):
        at = start + timedelta(seconds=step * _DT_S)
        local_min = ((at.hour + 8) % 24) * 60 + at.minute  # Asia/Shanghai
        busy = 6 * 60 <= local_min < 19 * 60
        if plant.quiet_weekends and (at + timedelta(hours=8)).weekday() >= 5:
            busy = False
        rate = plant.doors_per_busy_hour if busy else 0.2
        if at >= door_until and rng.random() < rate * _DT_S / 3600:
            door_until = at + timedelta(seconds=float(rng.uniform(8, 30)))
        door = at < door_until
        defrost = (local_min - 120) % defrost_period_min < 20  # the first at 02:00
        ambient = (27.0 if busy else 22.0) + ambient_shift
        if warm_spell is not None and warm_spell[0] <= at < warm_spell[1]:
            ambient += warm_spell[2]
        ua = plant.ua_w_k + _leak(at, leak_ua, leak_from, leak_ramp_h)
        rested = (at - off_since).total_seconds() >= plant.min_off_s
        was_on = on
        on = False if defrost else ((air >= cut_out and rested) or (on and air > plant.cut_in_c))
        if was_on and not on:
            off_since = at
        q_air = (
            ua * (ambient - air)
            + 10.0 * (food - air)
            + (100.0 * (ambient - air) if door else 0.0)
            + 15.0
            + (300.0 if defrost else 0.0)
            - (plant.capacity_w if on else 0.0)
        )
        air += q_air * _DT_S / 40e3
        food += 10.0 * (air - food) * _DT_S / 350e3
        sensed += (air - sensed) * min(1.0, _DT_S / plant.probe_lag_s) if plant.probe_lag_s else 0.0
        if step % every:
            continue
        probe = (sensed if plant.probe_lag_s else air) + float(rng.normal(0, plant.noise_c))
        metrics = {"temp_c": round(round(probe / plant.resolution_c) * plant.resolution_c, 2)}
        if plant.metered:
            metrics["power_w"] = 265.0 if on else (315.0 if defrost else 15.0)
            metrics["door_open"] = float(door)
        rows.append((device, at, metrics))
    return rows


def _leak(at: datetime, leak_ua: float, leak_from: datetime | None, ramp_h: float) -> float:
    if leak_from is None or at < leak_from:
        return 0.0
    share = min(1.0, (at - leak_from).total_seconds() / 3600 / ramp_h) if ramp_h else 1.0
    return leak_ua * share
