"""A small, deterministic fridge and rice steamer for the seal tests: the physics the seal rules
read (thermostat, doors, defrost, a heat leak), written here so the tests do not depend on the
simulator's tuning.

The fridge is two thermal nodes (air, food) with a 2-5 °C thermostat, a 400 W evaporator,
wall UA 5 W/K plus the leak, doors opened on a kitchen routine, a 20 min defrost every 6 h.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

Row = tuple[str, datetime, dict[str, float]]

_STEP_S = 30.0


def fridge(
    device: str,
    start: datetime,
    days: float,
    *,
    leak_ua: float = 0.0,
    leak_from: datetime | None = None,
    seed: int = 0,
) -> list[Row]:
    rng = np.random.default_rng(seed)
    air, food, on = 3.5, 3.5, False
    door_until = start
    rows: list[Row] = []
    for step in range(int(days * 86_400 / _STEP_S)):
        at = start + timedelta(seconds=step * _STEP_S)
        local_hour = (at.hour + 8) % 24  # Asia/Shanghai
        busy = 7 <= local_hour < 19
        if at >= door_until and rng.random() < (6.0 if busy else 0.2) * _STEP_S / 3600:
            door_until = at + timedelta(seconds=float(rng.uniform(8, 25)))
        door = at < door_until
        minute_of_day = (at - start).total_seconds() / 60 % 360
        defrost = minute_of_day < 20
        ambient = 27.0 if busy else 22.0
        ua = 5.0 + (leak_ua if leak_from is not None and at >= leak_from else 0.0)
        on = False if defrost else (air >= 5.0 or (on and air > 2.0))
        q_air = (
            ua * (ambient - air)
            + 10.0 * (food - air)
            + (100.0 * (ambient - air) if door else 0.0)
            + 15.0
            - (400.0 if on else 0.0)
        )
        air += q_air * _STEP_S / 40e3
        food += 10.0 * (air - food) * _STEP_S / 350e3
        temp = round(air + float(rng.normal(0, 0.05)), 1)
        metrics = {
            "temp_c": temp,
            "compressor_on": float(on),
            "door_open": float(door),
            "defrost_on": float(defrost),
            "power_w": (265.0 if on else 15.0),
        }
        rows.append((device, at, metrics))
    return rows


def steamer(
    device: str, start: datetime, cycles: list[float], *, plateau_c: float = 100.0
) -> list[Row]:
    """One cycle every 8 h, reading every 15 s: idle at 25 °C, rise to the plateau in the given
    minutes, hold 30 min, cool down."""
    rows: list[Row] = []
    for index, heat_up_min in enumerate(cycles):
        begin = start + timedelta(hours=8 * index)
        steps = int(8 * 3600 / 15)
        rise = int(heat_up_min * 4)
        for step in range(steps):
            at = begin + timedelta(seconds=15 * step)
            if step < 60:
                temp = 25.0
            elif step < 60 + rise:
                temp = 25.0 + (plateau_c - 25.0) * (step - 60) / rise
            elif step < 60 + rise + 120:
                temp = plateau_c
            else:
                temp = max(25.0, plateau_c - 2.0 * (step - 60 - rise - 120))
            rows.append((device, at, {"temp_c": round(temp, 1)}))
    return rows
