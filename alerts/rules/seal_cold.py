"""Door-seal degradation of a fridge or freezer, from the physics of its own cooling.

A leaking gasket lets kitchen air in all the time, which a healthy cabinet only sees while its
door is open (DESIGN.md, seal failure physics). With the compressor off the air then warms
faster; with it on the air pulls down slower (a longer time constant); the compressor runs a
larger share of the time and the cabinet uses more energy. Per local hour, on quiet time only
(no door opening in the last minutes, no defrost or its recovery), this rule measures:

- duty: compressor-on share of the quiet time;
- warming rate: the slope of the air temperature over each quiet compressor-off stretch;
- pull-down time: the inverse of the cooling slope over each quiet compressor-on stretch.

The first `seal_baseline_days` give the device's baseline for each hour of the day (pooled
with the neighbouring hours), so the kitchen's routine - warmer while cooking, more doors at
service - is compared like with like. Every hour after that, the last `seal_window_h` hours
are compared with the baseline: the load index is a weighted mean of the relative moves, and
health falls from 1 to 0 as that index reaches `seal_cold_fail_ratio`. Energy per hour is
shown as evidence beside them (it follows duty).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from alerts.model import Finding, SealHealthPoint
from alerts.rules.base import HOUR_MS, MINUTE_MS, DeviceSetup, StatefulRule
from alerts.rules.disturbance import Disturbances
from alerts.rules.seal import Change, GradeState, SealGrader, evidence, health_from_load
from alerts.rules.sensor import SensorFaultRule
from alerts.rules.slope import Slope
from alerts.rules.threshold import ExcursionRule
from alerts.samples import Sample
from core.clock import utc_from_ms

__all__ = ["ColdSealRule"]

# How much each piece of evidence weighs in the load index: duty and warming rate respond most
# directly to the extra heat; the pull-down slope is noisier (short stretches).
_WEIGHTS = {"duty": 0.4, "warm_rate": 0.4, "pull_down": 0.2}
_SKIP_MS = MINUTE_MS  # the first minute of a stretch is the controller's transient
_MIN_STRETCH_MS = 4 * MINUTE_MS
_MIN_QUIET_MS = 20 * MINUTE_MS  # an hour with less quiet time than this says nothing of duty
_MIN_HOURS = 3
_MIN_STRETCHES = 4
# Food warmed by an open door keeps warming the air for a while: seal evidence waits longer
# after a door than the door grace of the threshold rule.
_DOOR_SETTLE_MS = 20 * MINUTE_MS
_EXCURSION_SETTLE_MS = 6 * HOUR_MS
_EXCURSION_LEAD_MS = 3 * HOUR_MS
# Without `compressor_on`, the compressor's draw is learned as the 90th percentile of power.
_PEAK_QUANTILE = 0.9
_PEAK_STEP = 0.01
_MIN_PEAK_W = 30.0


@dataclass(slots=True)
class HourFeatures:
    start_ms: int
    hour: int  # local hour of the day
    quiet_ms: int = 0
    on_ms: int = 0
    energy_wh: float = 0.0
    warm: list[float] = field(default_factory=list)  # K/h
    cool: list[float] = field(default_factory=list)  # K/h, negative

    @property
    def duty(self) -> float | None:
        return self.on_ms / self.quiet_ms if self.quiet_ms >= _MIN_QUIET_MS else None


@dataclass(slots=True)
class HourBaseline:
    duty: float | None
    warm: float | None
    cool: float | None
    energy_wh: float | None


@dataclass(slots=True)
class ColdSealState:
    first_ms: int | None = None
    last_ms: int | None = None
    last_power_w: float | None = None
    power_peak_w: float | None = None
    compressor_on: bool | None = None
    disturbed_until_ms: int | None = None
    stretch: Slope | None = None
    stretch_clean: bool = True
    hour: HourFeatures | None = None
    history: list[HourFeatures] = field(default_factory=list)
    baseline: dict[int, HourBaseline] | None = None
    grade: GradeState = field(default_factory=GradeState)


class ColdSealRule(StatefulRule[ColdSealState]):
    rule = SealGrader.rule_id

    def __init__(
        self,
        setup: DeviceSetup,
        disturbances: Disturbances,
        excursions: Sequence[ExcursionRule] = (),
        sensor: SensorFaultRule | None = None,
    ) -> None:
        super().__init__(setup)
        self._disturbances = disturbances
        self._excursions = excursions
        self._sensor = sensor
        self._grader = SealGrader(setup, self)
        s = setup.settings
        self._baseline_ms = int(s.seal_baseline_days * 24 * HOUR_MS)
        self._window_h = int(s.seal_window_h)
        self.state = ColdSealState()

    def observe(self, sample: Sample, out: list[Finding]) -> None:
        st, ts = self.state, sample.ts_ms
        on = self._compressor(sample)
        temp = sample.get("temp_c")
        if st.first_ms is None:
            st.first_ms = ts
        self._roll_hour(ts, out)
        quiet = self._quiet(ts)
        self._account(ts, on, quiet, sample.get("power_w"))
        if on is not None and temp is not None:
            self._stretch(ts, on, temp, quiet)
        st.last_ms = ts

    def relearn(self, ts: int, by: str, reason: str, out: list[Finding]) -> None:
        """Forget the baseline and learn a new one from the next readings."""
        self._grader.release(self.state.grade, ts, by, reason, out)
        self.state = ColdSealState()

    # -- per reading ------------------------------------------------------------------------

    def _quiet(self, ts: int) -> bool:
        """Evidence counts only while the plant runs on its own: no door or defrost, a probe
        the sensor rule trusts, and not while (or for hours after) the cabinet was out of band
        (warm food pulls the compressor's duty up for hours, whatever the seal)."""
        st = self.state
        if any(rule.firing for rule in self._excursions):
            if st.disturbed_until_ms is None or ts >= st.disturbed_until_ms:
                self._forget_recent(ts)
            st.disturbed_until_ms = ts + _EXCURSION_SETTLE_MS
        if st.disturbed_until_ms is not None and ts < st.disturbed_until_ms:
            return False
        if self._sensor is not None and self._sensor.state.firing:
            return False
        return self._disturbances.quiet(ts, _DOOR_SETTLE_MS)

    def _forget_recent(self, ts: int) -> None:
        """What led up to an excursion (a failing compressor, a door ajar) is not the seal:
        drop the evidence of the last hours before it."""
        st = self.state
        st.history = [h for h in st.history if h.start_ms < ts - _EXCURSION_LEAD_MS]
        if st.hour is not None:
            st.hour = HourFeatures(st.hour.start_ms, st.hour.hour)

    def _compressor(self, sample: Sample) -> bool | None:
        """`compressor_on` when reported; otherwise from `power_w` above half its usual peak
        (the fan alone draws a few percent of a compressor)."""
        on = sample.flag("compressor_on")
        power = sample.get("power_w")
        if on is not None or power is None:
            return on
        st = self.state
        peak = st.power_peak_w if st.power_peak_w is not None else power
        above = 1.0 if power > peak else 0.0
        st.power_peak_w = peak + _PEAK_STEP * max(peak, 1.0) * (above - (1 - _PEAK_QUANTILE))
        return power > 0.5 * st.power_peak_w if st.power_peak_w > _MIN_PEAK_W else None

    def _account(self, ts: int, on: bool | None, quiet: bool, power: float | None) -> None:
        st = self.state
        hour = st.hour
        if hour is None or st.last_ms is None:
            st.last_power_w = power
            return
        step = ts - st.last_ms
        if 0 < step <= 2 * self.setup.interval_ms:
            if st.last_power_w is not None:
                hour.energy_wh += st.last_power_w * step / HOUR_MS
            if quiet and st.compressor_on is not None:
                hour.quiet_ms += step
                hour.on_ms += step if st.compressor_on else 0
        st.last_power_w = power

    def _stretch(self, ts: int, on: bool, temp: float, quiet: bool) -> None:
        st = self.state
        if on != st.compressor_on or st.stretch is None:
            self._close_stretch()
            st.compressor_on, st.stretch, st.stretch_clean = on, Slope(ts), quiet
            return
        st.stretch_clean = st.stretch_clean and quiet
        if ts - st.stretch.start_ms >= _SKIP_MS:
            st.stretch.add(ts, temp)

    def _close_stretch(self) -> None:
        st = self.state
        stretch, hour = st.stretch, st.hour
        if stretch is None or hour is None or not st.stretch_clean or st.compressor_on is None:
            return
        if stretch.span_ms < _MIN_STRETCH_MS - _SKIP_MS or stretch.count < 4:
            return
        slope = stretch.per_hour()
        if slope is None:
            return
        (hour.cool if st.compressor_on else hour.warm).append(slope)

    # -- per hour ---------------------------------------------------------------------------

    def _roll_hour(self, ts: int, out: list[Finding]) -> None:
        st = self.state
        start = ts - ts % HOUR_MS
        if st.hour is not None and st.hour.start_ms == start:
            return
        if st.hour is not None:
            st.history = [*st.history, st.hour][-self._kept_hours() :]
            self._judge(st.hour.start_ms + HOUR_MS, out)
        local_hour = datetime.fromtimestamp(start / 1000, self.setup.timetable.zone).hour
        st.hour = HourFeatures(start, local_hour)

    def _kept_hours(self) -> int:
        learning = self.state.baseline is None
        return int(self._baseline_ms / HOUR_MS) + 1 if learning else self._window_h

    def _judge(self, ts: int, out: list[Finding]) -> None:
        st = self.state
        assert st.first_ms is not None
        if st.baseline is None:
            if ts - st.first_ms >= self._baseline_ms:
                st.baseline = _learn(st.history)
                st.history = st.history[-self._window_h :]
            return
        changes = self._changes()
        if not changes:
            return
        weight = sum(_WEIGHTS.get(c.feature, 0.0) for c in changes)
        if weight == 0:
            return
        load = sum(_WEIGHTS.get(c.feature, 0.0) * _load(c) for c in changes) / weight
        health = health_from_load(load, self.setup.settings.seal_cold_fail_ratio)
        point = SealHealthPoint(
            self.setup.site, self.setup.id, utc_from_ms(ts), health, evidence(health, changes)
        )
        self.records.append(point)
        self._grader.grade(st.grade, ts, health, changes, out)

    def _changes(self) -> list[Change]:
        """Each feature over the window against the baseline of the same hours. Duty is
        weighted by quiet time; slopes are judged one stretch at a time against their hour's
        baseline and summarised by the median, so a stretch that a busy kitchen disturbed in
        a way the door sensor did not see cannot move the verdict alone."""
        st = self.state
        assert st.baseline is not None
        hours = [
            (hour, base)
            for hour in st.history[-self._window_h :]
            if (base := st.baseline.get(hour.hour)) is not None
        ]
        found = [
            _duty_change(hours),
            _slope_change("warm_rate", [(h.warm, b.warm) for h, b in hours]),
            _slope_change("pull_down", [(h.cool, b.cool) for h, b in hours]),
            _energy_change(hours),
        ]
        return [change for change in found if change is not None]


def _duty_change(hours: list[tuple[HourFeatures, HourBaseline]]) -> Change | None:
    usable = [(h, b.duty) for h, b in hours if h.duty is not None and b.duty is not None]
    if len(usable) < _MIN_HOURS:
        return None
    quiet = sum(h.quiet_ms for h, _ in usable)
    now = sum(h.on_ms for h, _ in usable) / quiet
    base = sum(d * h.quiet_ms for h, d in usable) / quiet
    return Change("duty", base, now, f"{base:.0%}", f"{now:.0%}")


def _slope_change(feature: str, hours: list[tuple[list[float], float | None]]) -> Change | None:
    ratios = [s / b for slopes, b in hours if b for s in slopes]
    bases = [b for slopes, b in hours if b and slopes]
    if len(ratios) < _MIN_STRETCHES:
        return None
    ratio, base = statistics.median(ratios), sum(bases) / len(bases)
    if feature == "warm_rate":
        return Change(feature, base, base * ratio, f"{base:.1f} K/h", f"{base * ratio:.1f} K/h")
    if ratio <= 0:
        return None
    # Pull-down time is the inverse of the cooling slope: compare minutes per kelvin.
    base_t = -60.0 / base
    now_t = base_t / ratio
    return Change(feature, base_t, now_t, f"{base_t:.1f} min/K", f"{now_t:.1f} min/K")


def _energy_change(hours: list[tuple[HourFeatures, HourBaseline]]) -> Change | None:
    usable = [(h.energy_wh, b.energy_wh) for h, b in hours if h.quiet_ms and b.energy_wh]
    if len(usable) < _MIN_HOURS:
        return None
    now = sum(n for n, _ in usable) / len(usable)
    base = sum(b for _, b in usable if b) / len(usable)
    return Change("energy", base, now, f"{base:.0f} Wh/h", f"{now:.0f} Wh/h")


def _load(change: Change) -> float:
    return max(0.0, change.relative)


def _learn(history: list[HourFeatures]) -> dict[int, HourBaseline]:
    """Per local hour of the day: medians over the learning days, pooled with the hours on
    either side so each hour's figure rests on several values."""
    baseline: dict[int, HourBaseline] = {}
    for hour in range(24):
        near = [h for h in history if min((h.hour - hour) % 24, (hour - h.hour) % 24) <= 1]
        duties = [d for h in near if (d := h.duty) is not None]
        warms = [w for h in near for w in h.warm]
        cools = [c for h in near for c in h.cool]
        energies = [h.energy_wh for h in near if h.quiet_ms]
        baseline[hour] = HourBaseline(
            _median(duties), _median(warms), _median(cools), _median(energies)
        )
    return baseline


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
