"""What each fault did, measured on the simulated plant: one function per fault kind, each
returning the sentence a rule or report should arrive at and the numbers behind it (see
`truth.py` for the record around them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from core.model import DeviceKind
from firmware_sim.faults import SPIKE_MAGNITUDE, FaultType, default_load
from firmware_sim.models import HeatedCabinetModel, metrics_of
from firmware_sim.models.calendar import SiteDay
from firmware_sim.models.programme import CycleRecord
from firmware_sim.truth import Consequence, FaultWindow, iso, pull_down_tau_s

__all__ = ["CONSEQUENCES"]

Measured = dict[str, Any]
# Night, when nobody should draw water or power (local hours; assumed, see energy rules).
NIGHT_HOURS = (0.0, 5.0)
RATE_UNITS = {
    DeviceKind.ELECTRICITY_METER: "W",
    DeviceKind.WATER_METER: "m³/h",
    DeviceKind.GAS_METER: "m³/h",
}


def seal_leak(w: FaultWindow) -> tuple[str, Measured]:
    if w.run.device.kind.is_cold_storage:
        return _cold_seal_leak(w)
    return _cabinet_seal_leak(w)


def _cold_seal_leak(w: FaultWindow) -> tuple[str, Measured]:
    """Compared at full severity (after the ramp) with the healthy twin over the same hours."""
    run, mask = w.run, w.mask(w.fault.onset_s + w.fault.ramp_s)
    if not mask.any():
        mask = w.mask()
    days = mask.sum() * run.interval_s / 86_400.0
    duty = [float(run.true("compressor_on", twin=t)[mask].mean()) for t in (True, False)]
    energy = [_kwh(run.true("power_w", twin=t)[mask], run.interval_s) / days for t in (True, False)]
    tau = [_tau(w, mask, twin=t) for t in (True, False)]
    peak = float(run.true("temp_c")[mask].max())
    ramp = f", ramping in over {w.fault.ramp_s / 86_400:g} d" if w.fault.ramp_s else ""
    text = (
        f"door-seal leak (severity {w.fault.severity:g}{ramp}) {w.span()}: at full severity "
        f"compressor duty {duty[0]:.0%} -> {duty[1]:.0%}, energy {energy[0]:.2f} -> "
        f"{energy[1]:.2f} kWh/day ({_change(energy)}), pull-down tau after a door closes "
        f"{_minutes(tau[0])} -> {_minutes(tau[1])} min; the thermostat holds the band "
        f"(peak {peak:.1f} °C)"
    )
    measured = {"duty": duty, "energy_kwh_per_day": energy, "pull_down_tau_s": tau}
    return text, measured | {"peak_c": peak, "days_compared": days}


def _tau(w: FaultWindow, mask: npt.NDArray[np.bool_], *, twin: bool) -> float | None:
    reading = w.run.twin_reading if twin else w.run.reading
    assert reading is not None
    v = {k: a[mask] for k, a in reading.values.items()}
    t = w.run.times[mask]
    return pull_down_tau_s(t, v["temp_c"], v["door_open"], v["compressor_on"], v["defrost_on"])


def _cabinet_seal_leak(w: FaultWindow) -> tuple[str, Measured]:
    start = w.fault.onset_s + w.fault.ramp_s
    if start >= w.end_s:
        start = w.start_s
    pairs = [_cycles_in(w, start, twin=t) for t in (True, False)]
    heat_up = [_mean([c.heat_up_s for c in cs]) for cs in pairs]
    plateau = [_mean([c.true_max_c for c in cs]) for cs in pairs]
    energy = [_mean([c.energy_kwh for c in cs]) for cs in pairs]
    cold = sum(1 for c in pairs[1] if c.heat_up_s is None)
    every = _cycles_in(w, w.start_s, twin=False)
    first_cold = next((c.start_s for c in every if c.heat_up_s is None), None)
    text = (
        f"door-seal leak (severity {w.fault.severity:g}) {w.span()}: at full severity heat-up "
        f"{_minutes(heat_up[0])} -> {_minutes(heat_up[1])} min, plateau {plateau[0]:.1f} -> "
        f"{plateau[1]:.1f} °C, energy per cycle {energy[0]:.1f} -> {energy[1]:.1f} kWh "
        f"({_change(energy)}); {cold} of {len(pairs[1])} cycles never reached the target"
    )
    if first_cold is not None:
        text += f", the first on {w.local(first_cold)}"
    measured = {"heat_up_s": heat_up, "plateau_c": plateau, "energy_kwh_per_cycle": energy}
    more = {
        "cycles": len(pairs[1]),
        "never_at_target": cold,
        "first_never_at": _iso_or_none(first_cold),
    }
    return text, measured | more


def _cycles_in(w: FaultWindow, start: float, *, twin: bool) -> list[CycleRecord]:
    return [
        c for c in w.run.cycles(twin=twin) if c.start_s is not None and start <= c.start_s < w.end_s
    ]


def too_warm(w: FaultWindow) -> tuple[str, Measured]:
    """Compressor failure, door left open: when the cabinet crosses its upper limit."""
    run, mask = w.run, w.mask()
    temp, times = run.true("temp_c")[mask], run.times[mask]
    limit = run.limits.high_c
    above = np.flatnonzero(temp > limit) if limit is not None else np.array([], np.int64)
    peak = float(temp.max()) if len(temp) else float("nan")
    if w.fault.type is FaultType.COMPRESSOR_FAILURE:
        what = f"cooling lost (compressor failure, severity {w.fault.severity:g})"
    else:
        what = f"door left open (opening {w.fault.severity:.0%}), door_open reads true"
    measured: Measured = {"limit_c": limit, "peak_c": peak, "above_limit_at": None}
    if len(above):
        at = float(times[above[0]])
        measured |= {"above_limit_at": iso(at), "minutes_to_limit": (at - w.start_s) / 60}
        crossing = f"temp above {limit:g} °C from {w.local(at, date=False)} "
        crossing += f"(+{(at - w.start_s) / 60:.0f} min), peak {peak:.1f} °C"
    else:
        crossing = f"temp stays at or below {limit} °C (peak {peak:.1f} °C)"
    return f"{what} {w.span()}: {crossing}", measured


def disinfection(w: FaultWindow) -> tuple[str, Measured]:
    hit = [c for c in w.run.cycles() if w.fault.index in c.faults]
    records = [_cycle_record(c) for c in hit]
    if not hit:
        return "no cycle fell due in the window (holiday or outside the run)", {"cycles": []}
    model = w.run.model
    assert isinstance(model, HeatedCabinetModel)  # disinfection faults hit cabinets only
    target = model.programme.target_c
    parts = [_cycle_text(w, c, target) for c in hit]
    return "; ".join(parts), {"cycles": records, "target_c": target}


def _cycle_text(w: FaultWindow, c: CycleRecord, target: float) -> str:
    when = f"{c.meal} cycle due {w.local(c.due_s)}"
    if c.result == "missed":
        return f"{when} missed (no cycle_start, no heating)"
    held = f"held >= {target:g} °C for {c.true_hold_s / 60:.1f} min"
    if c.result == "aborted":
        return f"{when} aborted: {held}, controller counted {c.hold_s / 60:.1f} min"
    return (
        f"{when} under temperature: chamber peak {c.true_max_c:.1f} °C, {held}; the controller "
        f"reported {c.max_c:.1f} °C and '{c.result}'"
    )


def _cycle_record(c: CycleRecord) -> Measured:
    return {
        "meal": c.meal,
        "due": iso(c.due_s),
        "start": None if c.start_s is None else iso(c.start_s),
        "end": None if c.end_s is None else iso(c.end_s),
        "result": c.result,
        "hold_s": c.hold_s,
        "true_hold_s": c.true_hold_s,
        "max_c": None if c.start_s is None else c.max_c,
        "true_max_c": None if c.start_s is None else c.true_max_c,
    }


def sensor(w: FaultWindow) -> tuple[str, Measured]:
    run, mask = w.run, w.mask() & w.run.reading.present
    metric = w.fault.metric or metrics_of(run.device)[0]
    reported = run.reading.values[metric][mask].astype(np.float64)
    true = run.true(metric)[mask].astype(np.float64)
    if not len(true):
        return f"{metric} sensor fault but no reading in the window", {"metric": metric}
    error = reported - true
    measured: Measured = {"metric": metric, "readings": len(true)}
    if w.fault.type is FaultType.SENSOR_STUCK:
        measured |= {
            "held": float(reported[0]),
            "true_range": [float(true.min()), float(true.max())],
        }
        return (
            f"{metric} reads {_num(reported[0])} {w.span()} while the true value ranges "
            f"{true.min():.1f} to {true.max():.1f}",
            measured,
        )
    if w.fault.type is FaultType.SENSOR_DRIFT:
        measured |= {"final_error": float(np.median(error[-10:]))}
        return (
            f"{metric} drifts {w.span()}, off by {measured['final_error']:+.2f} at the end",
            measured,
        )
    spikes = np.abs(error) > 0.25 * (w.fault.magnitude or SPIKE_MAGNITUDE)
    measured |= {"spikes": int(spikes.sum()), "largest": float(np.abs(error).max())}
    return (
        f"{int(spikes.sum())} spikes in {metric} {w.span()} (largest {np.abs(error).max():.1f}); "
        "the plant is unaffected",
        measured,
    )


def offline(w: FaultWindow) -> tuple[str, Measured]:
    mask = w.mask()
    missing = int((mask & ~w.run.reading.present).sum())
    how = (
        "readings buffered and delivered late"
        if w.fault.buffered
        else f"{missing} readings missing"
    )
    text = f"offline {w.span()}: {how}; live, the broker publishes its Last Will (offline)"
    return text, {"missing_readings": missing, "buffered": w.fault.buffered}


def battery(w: FaultWindow) -> tuple[str, Measured]:
    level, times = w.run.true("battery_pct"), w.run.times
    mask = w.mask()
    at_onset = float(level[mask][0]) if mask.any() else float("nan")
    low = _first(times, mask & (level <= 20.0))
    dead = _first(times, mask & (level <= 0.0))
    measured = {
        "pct_at_onset": at_onset,
        "below_20_at": _iso_or_none(low),
        "empty_at": _iso_or_none(dead),
    }
    text = f"battery drains {w.span()} from {at_onset:.0f} %"
    text += f", below 20 % at {w.local(low)}" if low is not None else ""
    text += f", empty and silent from {w.local(dead)}" if dead is not None else ", never empty"
    return text, measured


def register(w: FaultWindow) -> tuple[str, Measured]:
    run = w.run
    counter = metrics_of(run.device)[0]
    values, present, times = run.reading.values[counter], run.reading.present, run.times
    before = np.flatnonzero(present & (times < w.start_s))
    after = np.flatnonzero(present & (times >= w.start_s))
    if not len(before) or not len(after):
        return "no readings around the onset", {}
    old, new = float(values[before[-1]]), float(values[after[0]])
    at = float(times[after[0]])
    measured = {"before": old, "after": new, "first_after_at": iso(at)}
    if w.fault.type is FaultType.METER_RESET:
        what = "register reset"
    elif w.fault.type is FaultType.METER_REPLACEMENT:
        what = f"meter replaced (supply off {w.fault.downtime_s / 60:g} min)"
    else:
        what = f"register wraps at {w.fault.modulus:g}"
    at_text = w.local(at, date=False)
    text = f"{what} at {w.local(w.start_s)}: {counter} {_num(old)} -> {_num(new)} at {at_text}"
    return text + "; consumption continues (never negative use)", measured


def extra_load(w: FaultWindow) -> tuple[str, Measured]:
    """A leak or an appliance left on: consumption and night rate against the healthy twin."""
    run, mask = w.run, w.mask()
    counter = metrics_of(run.device)[0]
    steps = [_increments(run.true(counter, twin=t)) for t in (True, False)]
    used = [float(s[mask[:-1]].sum()) for s in steps]
    night = (mask & _night(w))[:-1]
    night_hours = night.sum() * run.interval_s / 3600.0
    rate = [float(s[night].sum()) / night_hours if night_hours else float("nan") for s in steps]
    load = default_load(w.fault, run.device.kind)
    unit = RATE_UNITS[run.device.kind]
    what = "leak" if w.fault.type is FaultType.WATER_LEAK else "load left on"
    text = (
        f"{what} of {load:g} {unit} {w.span()}: {counter} used {used[0]:.1f} -> {used[1]:.1f} "
        f"({_change(used)}); at night ({NIGHT_HOURS[0]:02.0f}-{NIGHT_HOURS[1]:02.0f} h) "
        f"{rate[0]:.3f} -> {rate[1]:.3f} per hour"
    )
    return text, {"used": used, "night_use_per_hour": rate, "load": load, "unit": unit}


def _night(w: FaultWindow) -> npt.NDArray[np.bool_]:
    hours = SiteDay(w.zone, ()).hour_of(w.run.times)
    return (hours >= NIGHT_HOURS[0]) & (hours < NIGHT_HOURS[1])


def _increments(counter: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """What the register counted between consecutive readings; a reset or a wrap (a negative
    step) counts nothing."""
    return np.clip(np.diff(counter.astype(np.float64)), 0.0, None)


def _num(value: float) -> str:
    """A register value as a meter shows it: up to three decimals, no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _kwh(power_w: npt.NDArray[Any], interval_s: float) -> float:
    return float(power_w.sum()) * interval_s / 3.6e6


def _mean(values: list[float | None]) -> float:
    found = [v for v in values if v is not None]
    return float(np.mean(found)) if found else float("nan")


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None or not np.isfinite(seconds) else f"{seconds / 60:.1f}"


def _change(pair: list[float]) -> str:
    if not pair[0] or not np.isfinite(pair[0]):
        return "n/a"
    return f"{(pair[1] / pair[0] - 1):+.0%}"


def _first(times: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]) -> float | None:
    found = np.flatnonzero(mask)
    return float(times[found[0]]) if len(found) else None


def _iso_or_none(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else iso(epoch_s)


CONSEQUENCES: Mapping[FaultType, Consequence] = {
    FaultType.SEAL_LEAK: seal_leak,
    FaultType.COMPRESSOR_FAILURE: too_warm,
    FaultType.DOOR_LEFT_OPEN: too_warm,
    FaultType.DISINFECTION_MISSED: disinfection,
    FaultType.DISINFECTION_ABORTED: disinfection,
    FaultType.DISINFECTION_UNDER_TEMP: disinfection,
    FaultType.SENSOR_STUCK: sensor,
    FaultType.SENSOR_SPIKES: sensor,
    FaultType.SENSOR_DRIFT: sensor,
    FaultType.DEVICE_OFFLINE: offline,
    FaultType.BATTERY_DRAIN: battery,
    FaultType.METER_RESET: register,
    FaultType.METER_REPLACEMENT: register,
    FaultType.COUNTER_ROLLOVER: register,
    FaultType.WATER_LEAK: extra_load,
    FaultType.EQUIPMENT_LEFT_ON: extra_load,
}
