"""Device physics: one model per device kind, each deterministic given a seed and driven by the
instants it is asked for (`step_to` live, `read` in batch), with the scenario's faults built in.
`build_model` picks and configures the model of a device of a site config."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date

from core.config import SiteConfig
from core.model import Device, DeviceKind, Limits
from firmware_sim.errors import SimulatorError
from firmware_sim.faults import BATTERY_KINDS, Fault
from firmware_sim.models.base import (
    DEFAULT_BLOCK_STEPS,
    BlockModel,
    DeviceModel,
    Hysteresis,
    Metrics,
    Reading,
    SimEvent,
)
from firmware_sim.models.calendar import KitchenPhase, SiteDay
from firmware_sim.models.cold import COLD_PRESETS, ColdParams, ColdStorageModel
from firmware_sim.models.heated import (
    CYCLE_LOG,
    ChamberParams,
    HeatedCabinetModel,
    ProgrammeParams,
)
from firmware_sim.models.meters import METER_KINDS, MeterModel, sub_meter_share
from firmware_sim.models.programme import CycleRecord, ProgrammeStage

__all__ = [
    "BlockModel",
    "ColdStorageModel",
    "CycleRecord",
    "DeviceModel",
    "HeatedCabinetModel",
    "KitchenPhase",
    "MeterModel",
    "Metrics",
    "ProgrammeStage",
    "Reading",
    "SimEvent",
    "SimModel",
    "SiteDay",
    "build_model",
    "metrics_of",
]

SimModel = ColdStorageModel | HeatedCabinetModel | MeterModel

# A rice steamer: 12 kW is a common rating for a 24-tray electric unit (assumed).
RICE_STEAMER = ChamberParams(
    heater_w=12_000.0,
    capacity_j_per_k=150e3,
    loss_ua_w_per_k=40.0,
    vent_ua_w_per_k=200.0,  # door open to unload the trays
    vent_s=10 * 60.0,
    # A worn seal (assumed): at severity ~0.4 the losses outgrow the element below boiling.
    seal_leak_ua_w_per_k=300.0,
    thermostat=None,
)
INFRARED_CABINET = ChamberParams(
    heater_w=4_500.0,
    capacity_j_per_k=50e3,
    loss_ua_w_per_k=8.0,
    vent_ua_w_per_k=30.0,  # cooling fan after the programme
    vent_s=30 * 60.0,
    seal_leak_ua_w_per_k=25.0,  # assumed: a slower heat-up, a busier heater
    thermostat=None,  # set from the device's target in `_disinfection`
)
STEAM_DISINFECTION_CABINET = ChamberParams(
    heater_w=9_000.0,
    capacity_j_per_k=80e3,
    loss_ua_w_per_k=30.0,
    vent_ua_w_per_k=150.0,
    vent_s=15 * 60.0,
    seal_leak_ua_w_per_k=150.0,  # assumed, as for the rice steamer
    thermostat=None,
)
# How far below a cold device's upper limit staff set the thermostat's cut-in (assumed), so a
# defrost or a busy hour does not carry it over the limit.
LIMIT_MARGIN_C = 2.0
# 15 min is the common hold (DESIGN.md, domain defaults); never shorter than the device's limit.
COMMON_HOLD_MIN = 15.0


def build_model(
    config: SiteConfig,
    device: Device,
    seed: int = 0,
    faults: Sequence[Fault] = (),
    *,
    holidays: Iterable[date] = (),
    block_steps: int = DEFAULT_BLOCK_STEPS,
    keep_cycles: int | None = CYCLE_LOG,
) -> SimModel:
    """The simulated plant behind `device`, configured from the site (meals, buildings, limits),
    with `faults` (those of other devices are ignored) and the school's `holidays`, on which the
    canteen is closed. `block_steps` trades memory for speed and never changes a value;
    `keep_cycles` bounds a cabinet's cycle log (None: keep every cycle, for ground truth)."""
    site_day = SiteDay.of(config, holidays)
    limits = config.limits_for(device)
    mine = [f for f in faults if f.device == device.id]
    if device.kind.is_cold_storage:
        params = _cold_params(device.kind, limits)
        return ColdStorageModel(device, params, site_day, seed, mine, block_steps=block_steps)
    if device.kind is DeviceKind.STEAM_CABINET:
        rice = ProgrammeParams("start", (-75.0, -60.0), 100.0, 45 * 60.0, False, "steam")
        return HeatedCabinetModel(
            device, RICE_STEAMER, rice, site_day, seed, mine, block_steps=block_steps,
            keep_cycles=keep_cycles,
        )  # fmt: skip
    if device.kind is DeviceKind.DISINFECTION_CABINET:
        chamber, programme = _disinfection(device, limits)
        return HeatedCabinetModel(
            device, chamber, programme, site_day, seed, mine, block_steps=block_steps,
            keep_cycles=keep_cycles,
        )  # fmt: skip
    if device.kind.is_meter:
        building = next(b for b in config.buildings if b.id == device.building)
        kind = METER_KINDS[device.kind]
        share = sub_meter_share(config, device)
        return MeterModel(
            device, kind, building, site_day, seed, mine, block_steps=block_steps, share=share
        )
    raise SimulatorError(f"no model for device kind {device.kind!r}", device=device.id)


def metrics_of(device: Device) -> tuple[str, ...]:
    """The metrics the device's model reports, its main one (what a sensor fault hits by
    default) first."""
    if device.kind.is_cold_storage:
        metrics: tuple[str, ...] = ("temp_c", "door_open", "compressor_on", "defrost_on", "power_w")
    elif device.kind.is_meter:
        kind = METER_KINDS[device.kind]
        metrics = (kind.counter,) if kind.rate is None else (kind.counter, kind.rate)
    else:
        metrics = ("temp_c", "power_w")
    return (*metrics, "battery_pct") if device.kind in BATTERY_KINDS else metrics


def _cold_params(kind: DeviceKind, limits: Limits) -> ColdParams:
    """The preset, with the thermostat lowered when the device's own limit is tighter: staff set
    a pastry fridge with a 5 °C limit colder than a vegetable fridge."""
    preset = COLD_PRESETS[kind]
    band = preset.thermostat
    if limits.high_c is None or band.high <= limits.high_c - LIMIT_MARGIN_C:
        return preset
    high = limits.high_c - LIMIT_MARGIN_C
    floor = (limits.low_c + 1.0) if limits.low_c is not None else high - (band.high - band.low)
    low = max(high - (band.high - band.low), floor)
    return dataclasses.replace(preset, thermostat=Hysteresis(min(low, high - 0.5), high))


def _disinfection(device: Device, limits: Limits) -> tuple[ChamberParams, ProgrammeParams]:
    method = device.method or "infrared"
    hold_s = max(COMMON_HOLD_MIN, limits.hold_min or 0.0) * 60.0
    # A cycle starts 15-40 min after service ends (tableware is washed first) and so finishes
    # inside the 90 min window after the meal (DESIGN.md, disinfection window).
    after_meal = (15.0, 40.0)
    if method == "steam":
        target = limits.target_c if limits.target_c is not None else 100.0
        steam = ProgrammeParams("end", after_meal, target, hold_s, True, method)
        return STEAM_DISINFECTION_CABINET, steam
    target = limits.target_c if limits.target_c is not None else 120.0
    # GB 17988 (secondary): ≥ 120 °C; the thermostat runs a little above so the hold never dips.
    chamber = dataclasses.replace(INFRARED_CABINET, thermostat=Hysteresis(target + 2, target + 8))
    return chamber, ProgrammeParams("end", after_meal, target, hold_s, True, method)
