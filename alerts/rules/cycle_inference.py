"""The compressor cycle of a cold cabinet read from its air probe alone, so a bare Zigbee or
Tasmota probe is judged like a cabinet that reports its compressor and power.

A thermostat holds the air between a cut-in and a cut-out a differential apart (1-4 K in
kitchen cabinets): with the compressor off the air warms to the cut-out, with it on the air
falls to the cut-in. The probe draws a sawtooth whose turning points are the compressor's
switchings. They are found as reversals of at least `reversal` kelvin from the running extreme
(a zigzag), so probe noise and a quantised probe's flicker between two levels are not turns.

One cycle is trough → peak → trough: the rise is the compressor's off time, the fall its on
time; on-fraction = fall time / period. A cycle is "normal" when both its rise and its fall
span about the usual swing, its peak sits at the usual cut-out and its rise is not steep. A
disturbance the probe saw, after which the seal rule waits, is either a door opening (a
steep, short rise: kitchen air floods in and the air jumps by kelvins in a minute or two,
several times faster than the recent teeth warmed) or a defrost (a larger, slower rise to
well above the cut-out, heater on, at roughly regular times), after which food and walls
warmed by the heater keep the compressor busier for hours. A peak above the usual cut-out
alone is not a disturbance: a leaking gasket warms every cycle faster and carries the probe
past its cut-out, cycle after cycle, at about the rate of the teeth before it. Such a tooth
is not normal (its slopes are not the usual cycle's), but the cycles after it are not
discarded: they are the evidence the seal rule needs.

When the device reports `compressor_on` (or `power_w`, read by the caller), the metered on
time and energy over each cycle ride along as counters sampled at the turning points.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = ["CycleInference", "CycleInferenceState", "InferredCycle", "Turn"]

_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
# A 0.1 K probe's noise (σ up to 0.1 K) stays below this reversal; a thermostat's differential
# (1-4 K) is well above it.
_MIN_REVERSAL_C = 0.3
# A quantised probe flickers by one step at a level's edge: a move of 1.5 steps is real.
_RESOLUTION_STEPS = 1.5
# Once cycles are seen, a reversal must be a third of the usual swing.
_SWING_SHARE = 0.35
_KEPT = 41  # recent swings and peaks the usual cycle is the median of
_MIN_KNOWN = 5  # cycles seen before "usual" means anything
# Normal cycle: rise and fall within these shares of the usual swing, peak this close to the
# usual cut-out (shares of the swing, at least the floor in kelvin).
_NORMAL_SWING = (0.6, 1.5)
_PEAK_TOLERANCE = 0.35
_PEAK_TOLERANCE_MIN_C = 0.3
# A defrost lifts the air well above the cut-out (vendors' heaters run 10-40 min, taking the
# air several kelvin up) and takes longer to rise than a door opening (seconds to minutes).
_DEFROST_ABOVE_SWINGS = 1.0
_DEFROST_ABOVE_MIN_C = 1.5
_DEFROST_MIN_RISE_MS = 8 * _MINUTE_MS
# A rise is an upset (a door) when it is steep against the recent teeth: over `_STEEP` times
# their median warming rate. A leak ramps in over hours (a gasket tears or hardens over half
# a day), so the few teeth before a leaky one warmed nearly as fast: its rate is not steep.
_STEEP = 3.0
_RECENT_TEETH = 5
# A probe's own noise: a zigzag reversal must stand above it, or a noisy probe's flicker
# (σ 0.15 K on a 0.2 K display, read every 30 s) draws one-minute "cycles" that teach the
# baseline nonsense. σ is read from the second difference of successive readings, which a
# steady warming or cooling ramp leaves at zero: for white noise it is normal with standard
# deviation √6·σ, so its median absolute value is 0.674·√6·σ ≈ 1.65σ. The median is tracked
# as a running quantile so the few large values at the turning points do not move it.
_D2_MEDIAN_PER_SIGMA = 1.65
_NOISE_SIGMAS = 4.0  # a reversal of 4σ is rarely noise (peak-to-peak of a few readings)
_NOISE_STEP = 0.02  # running-median step, as a share of the current estimate
# Refrigeration controllers hold the compressor on or off for at least a few minutes
# (anti-short-cycle delay; 3 min is a common controller default): a tooth with a shorter
# rise or fall is not a compressor cycle.
_MIN_HALF_MS = 3 * _MINUTE_MS


@dataclass(slots=True)
class Turn:
    """A turning point of the air temperature, with the metered counters at that instant."""

    ms: int
    c: float
    metered_ms: int = 0
    on_ms: int = 0
    energy_wh: float = 0.0


@dataclass(frozen=True, slots=True)
class InferredCycle:
    trough: Turn  # compressor stopped: the air starts to warm
    peak: Turn  # compressor started
    end: Turn  # compressor stopped again
    normal: bool

    @property
    def period_ms(self) -> int:
        return self.end.ms - self.trough.ms

    @property
    def on_ms(self) -> int:
        return self.end.ms - self.peak.ms

    @property
    def warm_rate(self) -> float:
        """K/h while the compressor is off."""
        return (self.peak.c - self.trough.c) * _HOUR_MS / max(self.peak.ms - self.trough.ms, 1)

    @property
    def cool_rate(self) -> float:
        """K/h while the compressor runs (positive)."""
        return (self.peak.c - self.end.c) * _HOUR_MS / max(self.on_ms, 1)

    @property
    def metered_ms(self) -> int:
        return self.end.metered_ms - self.trough.metered_ms

    @property
    def metered_on_ms(self) -> int:
        return self.end.on_ms - self.trough.on_ms

    @property
    def energy_wh(self) -> float:
        return self.end.energy_wh - self.trough.energy_wh


@dataclass(slots=True)
class CycleInferenceState:
    rising: bool = True
    extreme: Turn | None = None  # the running extreme of the current direction
    trough: Turn | None = None  # the last confirmed trough: where the current cycle began
    peak: Turn | None = None  # the last confirmed peak after it
    peak_normal: bool = False
    step_c: float | None = None  # the smallest change seen: the probe's resolution
    last_c: float | None = None
    before_c: float | None = None  # the reading before last_c
    d2_median: float | None = None  # running median of |second difference|, see _NOISE
    swings: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # K/h of the recent teeth's rises
    defrost_ms: int | None = None  # the peak of the last defrost seen on the probe
    upset_ms: int | None = None  # the peak of the last other disturbance seen on the probe
    # metered counters (compressor_on / power_w), integrated between readings
    last_ms: int | None = None
    last_on: bool | None = None
    last_power_w: float | None = None
    metered_ms: int = 0
    on_ms: int = 0
    energy_wh: float = 0.0


class CycleInference:
    def __init__(self, max_step_ms: int) -> None:
        self._max_step_ms = max_step_ms  # a longer gap is not integrated (nobody saw it)
        self.state = CycleInferenceState()

    @property
    def max_step_ms(self) -> int:
        return self._max_step_ms

    def observe(
        self, ts: int, temp: float, on: bool | None, power_w: float | None
    ) -> InferredCycle | None:
        """Take a reading; returns the cycle that this reading completed, if any."""
        self._meter(ts, on, power_w)
        st = self.state
        if st.last_c is not None and abs(temp - st.last_c) > 1e-6:
            step = abs(temp - st.last_c)
            st.step_c = step if st.step_c is None else min(st.step_c, step)
        self._noise(temp)
        st.before_c, st.last_c = st.last_c, temp
        here = Turn(ts, temp, st.metered_ms, st.on_ms, st.energy_wh)
        extreme = st.extreme
        if extreme is None:
            st.extreme = here
            return None
        if st.rising:
            if temp > extreme.c:
                st.extreme = here
            elif temp < extreme.c - self.reversal_c:
                st.rising, st.extreme = False, here
                self._peak(extreme)
        elif temp < extreme.c:
            st.extreme = here
        elif temp > extreme.c + self.reversal_c:
            st.rising, st.extreme = True, here
            return self._trough(extreme)
        return None

    def _noise(self, temp: float) -> None:
        st = self.state
        if st.last_c is None or st.before_c is None:
            return
        d2 = abs(temp - 2 * st.last_c + st.before_c)
        if st.d2_median is None:
            st.d2_median = d2
            return
        move = _NOISE_STEP * max(st.d2_median, 0.01)
        st.d2_median = max(0.0, st.d2_median + (move if d2 > st.d2_median else -move))

    @property
    def noise_c(self) -> float:
        """The probe's noise σ in kelvin, as far as seen (0 before three readings)."""
        median = self.state.d2_median
        return 0.0 if median is None else median / _D2_MEDIAN_PER_SIGMA

    @property
    def reversal_c(self) -> float:
        st = self.state
        floor = max(_MIN_REVERSAL_C, _RESOLUTION_STEPS * min(st.step_c or 0.0, 1.0))
        floor = max(floor, _NOISE_SIGMAS * self.noise_c)
        if len(st.swings) < _MIN_KNOWN:
            return floor
        return max(floor, _SWING_SHARE * statistics.median(st.swings))

    @property
    def usual(self) -> tuple[float, float] | None:
        """(swing, cut-out) in °C of the usual cycle, once enough cycles are seen."""
        st = self.state
        if len(st.swings) < _MIN_KNOWN or len(st.peaks) < _MIN_KNOWN:
            return None
        return statistics.median(st.swings), statistics.median(st.peaks)

    def _meter(self, ts: int, on: bool | None, power_w: float | None) -> None:
        st = self.state
        if st.last_ms is not None and 0 < ts - st.last_ms <= self._max_step_ms:
            step = ts - st.last_ms
            if st.last_on is not None:
                st.metered_ms += step
                st.on_ms += step if st.last_on else 0
            if st.last_power_w is not None:
                st.energy_wh += st.last_power_w * step / _HOUR_MS
        st.last_ms, st.last_on, st.last_power_w = ts, on, power_w

    def _peak(self, peak: Turn) -> None:
        st = self.state
        trough, usual = st.trough, self.usual
        st.peak, st.peak_normal = peak, False
        if trough is None:
            return
        rise = peak.c - trough.c
        rate = rise * _HOUR_MS / max(peak.ms - trough.ms, 1)
        if usual is None:
            st.peaks = [*st.peaks, peak.c][-_KEPT:]
            st.rates = [*st.rates, rate][-_RECENT_TEETH:]
            return
        swing, cut_out = usual
        above = peak.c - cut_out
        if above > max(_DEFROST_ABOVE_MIN_C, _DEFROST_ABOVE_SWINGS * swing):
            if peak.ms - trough.ms >= _DEFROST_MIN_RISE_MS:
                st.defrost_ms = peak.ms
            else:
                st.upset_ms = peak.ms
            return  # neither belongs to the usual cut-out
        st.peaks = [*st.peaks, peak.c][-_KEPT:]
        near = abs(above) <= max(_PEAK_TOLERANCE_MIN_C, _PEAK_TOLERANCE * swing)
        upset = self._steep(rate)
        st.rates = [*st.rates, rate][-_RECENT_TEETH:]
        swing_ok = _NORMAL_SWING[0] <= rise / swing <= _NORMAL_SWING[1]
        st.peak_normal = near and swing_ok and not upset
        if upset:
            st.upset_ms = peak.ms

    def _steep(self, rate: float) -> bool:
        recent = self.state.rates
        return len(recent) >= 3 and rate > _STEEP * statistics.median(recent)

    def _trough(self, end: Turn) -> InferredCycle | None:
        st = self.state
        trough, peak = st.trough, st.peak
        st.trough, st.peak = end, None
        if trough is None or peak is None or peak.ms <= trough.ms:
            return None
        fall = peak.c - end.c
        usual = self.usual
        if fall > 0 and (usual is None or peak.c - usual[1] < _DEFROST_ABOVE_MIN_C):
            st.swings = [*st.swings, fall][-_KEPT:]
        normal = (
            st.peak_normal
            and usual is not None
            and peak.ms - trough.ms >= _MIN_HALF_MS
            and end.ms - peak.ms >= _MIN_HALF_MS
            and _NORMAL_SWING[0] <= fall / usual[0] <= _NORMAL_SWING[1]
        )
        return InferredCycle(trough, peak, end, normal)
