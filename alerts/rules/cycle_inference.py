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
warmed by the heater keep the compressor busier for hours. A door that opens while
the air warms and is shut again before the cut-out shows as a jump between readings (see
`_JUMP_SWING`): that tooth is not normal either. A peak above the usual cut-out
alone is not a disturbance: a leaking gasket warms every cycle faster and carries the probe
past its cut-out, cycle after cycle, at about the rate of the teeth before it. Such a tooth
is not normal (its slopes are not the usual cycle's), but the cycles after it are not
discarded: they are the evidence the seal rule needs.

When the device reports `compressor_on` (or `power_w`, read by the caller), the metered on
time and energy over each cycle ride along as counters sampled at the turning points.

Each cycle carries where its closing trough fell between two readings (`phase`, a share of
the reading interval) and how crowded that phase was among the teeth before it
(`phase_excess`): a probe reading every 5 min a cycle that lasts a whole number of intervals
(or half of one: the phase then alternates between two points) reads tooth after tooth at
the same phases, and each shows the same slope error.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

from alerts.rules.cycle_phase import crowding, phase_band, trough_phase, turn_meet

__all__ = [
    "LOST_SCALE",
    "CycleInference",
    "CycleInferenceState",
    "InferredCycle",
    "Turn",
]

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
# A door opened during the rise of a tooth read over `_JUMP_STEPS` steps or more: one step
# between readings, or two in a row, rose past as many of the rise's median steps by this
# share of the usual swing, by two display steps and by a reversal's worth of the probe's
# noise (`_NOISE_SIGMAS`). The cut-out then comes early: the tooth warmed about twice as fast
# as its neighbours on average, under `_STEEP`, and read as a clean cycle. A held-out
# walk-in's busy hours held both kinds (undisturbed teeth 6.8-7.5 K/h, door-struck ones
# 11-15 K/h, a door of 20-60 s adding 0.5-1.25 K between two 2-min readings), so their norms
# spread over 30-40 % and its daytime teeth carried no evidence of a leak. A leak warms every
# step, a quantised display moves a step or two: neither jumps. Such a tooth is no clean
# cycle, but the door is not a disturbance the clean time waits for (held-out walk-ins'
# folded periods, learned on the clean readings, then alerted on healthy units).
_JUMP_SWING = 0.2
_JUMP_DISPLAY = 2.0
_JUMP_STEPS = 4
# The median step a jump is measured from is at most this many times the recent teeth's
# warming over one reading interval. A door that struck most of a short rise raises the
# median to itself: a held-out old unit read every minute warmed 0.25-0.3 K a reading, and
# a 26-s door on a rise read in four steps (0.25, 0.75, 1.25, 1.0 K) left a median of
# 0.9 K, a jump of 0.5 K under the floor, and read as a clean cycle that warmed as a leak
# would. A leak's first teeth warm every step by the same share: even one that doubles the
# rate jumps by no more than a display step or two above this (the recent rates follow it
# within three teeth, `_RECENT_TEETH`).
_JUMP_RECENT = 1.5
# A probe's own noise: a zigzag reversal must stand above it, or a noisy probe's flicker
# (σ 0.15 K on a 0.2 K display, read every 30 s) draws one-minute "cycles" that teach the
# baseline nonsense. σ is read from the second difference of successive readings, which a
# steady warming or cooling ramp leaves at zero: for white noise it is normal with standard
# deviation √6·σ, so its median absolute value is 0.674·√6·σ ≈ 1.65σ. The median is tracked
# as a running quantile so the few large values at the turning points do not move it.
_D2_MEDIAN_PER_SIGMA = 1.65
_NOISE_SIGMAS = 4.0  # a reversal of 4σ is rarely noise (peak-to-peak of a few readings)
_NOISE_STEP = 0.02  # running-median step, as a share of the current estimate
# A sparse probe (readings `_SPARSE_READ_MS` or more apart) reads a tooth in a few readings
# and bends at a good share of them: a held-out walk-in read every 5 min on a 25-min cycle
# turns at two readings of five. The median second difference read those turns (0.3-0.5 K
# on a probe of σ 0.14 K), the reversal of 4σ outgrew the 1.5-K swing, and the zigzag saw
# one tooth in three, fewer once a leak shortened the cycle (on the held-out families, seeds
# 1-3, 129 of the 134 units read every 5 min had their noise read at over twice its σ).
# Where a sparse probe's readings bend (the middle one of three above or below both) about
# as often as the zigzag confirms a turn, at most `_BENDS_PER_TURN` times as often (running
# shares over about `1 / _BEND_WEIGHT` readings), the bends are the sawtooth's turns and
# are left out of the noise; the three readings of a straight stretch lie on one half of a
# tooth. Where they bend far more often, the probe reads no sawtooth it resolves: its own
# noise on a flat line bends two triples in three, and a cycle shorter than two readings is
# sampled as a slow beat whose readings bend at almost every one (a held-out glass-door
# merchandiser's 7.3-min cycles read every 5 min drew 35-min "teeth"). Every second
# difference then counts, as on a dense probe, and the reversal stays above them. A beat
# whose samples walk slowly through the tooth bends no more than a real tooth and is read as
# one, as before (a held-out merchandiser's 6.2-min cycles read every 5 min: its per-cycle
# norms learned more such teeth, and the probe's level that confirmed its 0.6 leak in 33 h
# no longer speaks; no reading of the probe tells that beat from a tooth).
_BENDS_PER_TURN = 1.5
_BEND_WEIGHT = 1 / 48
# Refrigeration controllers hold the compressor off for a few minutes before a restart (the
# anti-short-cycle delay, e.g. Dixell XR series parameter AC "minimum interval between the
# compressor stop and the following restart"; 3 min is a common setting), but stop it as
# soon as the air falls to the cut-in after a minimum run, where one is set at all (e.g.
# Carel ir33 parameter c3 "minimum compressor ON time"; 0-1 min): a small cabinet with a
# narrow differential runs only 1-3 min a tooth. A tooth whose rise (the off time) or fall
# (the on time) is shorter is not a compressor cycle. A short run is believed only where the
# probe reads it: over at least `_ON_READINGS` reading intervals (over one, its cooling rate
# is a single difference of a quantised display), and while the reader resolves the
# sawtooth: the usual swing clears the reversal by a display step, as a quantised reading
# can fall short of a turn's true reversal by up to one step. A coarse display on a lagged
# probe whose swing is about one reversal misses turns at random, and each tooth it reads
# merges several, ending in one short run. Otherwise (and until `_KEPT` teeth are seen) the
# on time must last `_MIN_OFF_MS`, as the off time.
_MIN_OFF_MS = 3 * _MINUTE_MS
_MIN_ON_MS = 1 * _MINUTE_MS
_ON_READINGS = 2
# Each trough's reading phase and its crowding: see `cycle_phase`. Only a sparse probe's
# phase is read, one that misses each turn by a share of the tooth its teeth repeat:
# - readings `_SPARSE_READ_MS` or more apart (as long as the shortest compressor half,
#   `_MIN_OFF_MS`: the shortest rise is then read once). A probe read every 30 s-2 min
#   misses a turn by no more than the turn's own wander (the probe's lag, the controller's
#   differential): its teeth's scatter is the kitchen's, new at every cycle, also on a short
#   tooth (a 60-s probe on an old unit lost 4 h on a 0.35 leak when its phase was weighed);
# - a tooth read at most `_SPARSE_READINGS` times (a 5-min probe on a cycle of up to 45 min):
#   the timing error (up to an interval at each turn) is then a seventh or more of the rise.
#   Read more often, a coarse display reads the phase only in a few steps (0, 1/3, 1/2 of an
#   interval), which a sweeping phase would seem to crowd.
_SPARSE_READ_MS = 3 * _MINUTE_MS
_SPARSE_READINGS = 9
_PHASE_TEETH = 47  # earlier teeth a trough's phase is compared with (with it: 48, ~1 day)
_PHASE_MIN_TEETH = 12  # fewer and the crowding is not known
_EXCESS_TEETH = 3  # teeth whose crowding a tooth takes the median of
_GAPS = 15  # reading intervals the usual one is the median of
# A report lost: an interval longer than this many usual ones (a probe on a busy kitchen's
# radio loses a few in a hundred, and its link drops out now and then). A tooth read from the
# reading before its opening trough on across one (`lost_report`) has a turn read from a
# reading further off, or its slopes through fewer: its off time scattered 1.2-2 times as far
# as a whole tooth's, 1.4 in the median (a sawtooth of 7-35 min read every 1-5 min, one report
# in 20 lost), so its departure from the norms is read in that scatter (`seal_cold`: its z
# times `LOST_SCALE`, before the drift allowance). Read as whole teeth, a healthy tests' plant
# losing one report in 12 doubled its per-cycle evidence; read so, it stays near its evidence
# with every report. (Held-out units losing 3 % and dropping out for 5 min-2 h every day and a
# half, `bench.detection --variants temp-lossy`, raised two false seal alerts on seeds 1-3
# either way: the units that came closest to one with every report.) Not left out: a tooth
# spans many readings, and one report in 20 lost marks half the teeth and more (a 35-min
# cycle read every 2 min: three in four), whose leak would then wait for the probe's falling
# share (a day later on the tests' plant).
_LOST_INTERVALS = 1.5
LOST_SCALE = 0.7
# Beside its turn-to-turn slopes, a tooth's slopes are read by a line fitted through the
# readings in the middle of each half (between these shares of the way from one turn to the
# next). Near a turn the probe bends: it lags the air (a probe in a housing by a minute or
# two, one in a glycol bottle by many), so it turns later and less far than the air did, by
# about the same time whatever the slope; turn to turn, a half's time carries that lag. A
# held-out old unit's 1-min probe (lag about 2 min, display step 0.25 K on a 1.8 K swing)
# read its off time as 8 min before a leak of 0.35 and 7 after: 14 % faster warming for a
# heat load a third larger, 27 % fitted. Turn-to-turn slopes scatter less from tooth to
# tooth (a door the probe barely saw bends a half's middle, a display's plateau flattens
# it), so they carry the seal's evidence and the fitted ones size its move (`seal_cusum`).
# The band and the least readings were chosen on the tuning families: 0.2-0.8 with 4
# readings fitted some of a 2-min probe's halves and not others, and the mixture scattered
# more than either. A probe read `_SPARSE_READ_MS` or more apart holds a reading or two a
# half and is not fitted.
_FIT_BAND = (0.15, 0.85)
_FIT_READINGS = 3
_FIT_MOST = 1.5
_RUN_KEPT = 240  # readings kept since the last turn (2 h at 30 s)
# Where the air turned is read between the readings either side of the extreme one, the
# rise line through one meeting the fall line through the other (`cycle_phase.turn_meet`):
# a turn-to-turn time counts whole readings, so a held-out under-counter freezer's 250-s off
# time, held by its controller and read every minute, read as 180 s and 240 s on alternate
# teeth for a night when its period (6.5 readings) put the turns at two phases, and 240 s on
# the nights its period did not: a move of 13 % in its pace with no change in its load.
# The lines meet within a display step's share of the two slopes (a few seconds on a
# 0.1 K display). Not read across a gap of more than this many intervals either side.
_MEET_READINGS = 1.5


@dataclass(slots=True)
class Turn:
    """A turning point of the air temperature, with the metered counters at that instant."""

    ms: int
    c: float
    metered_ms: int = 0
    on_ms: int = 0
    energy_wh: float = 0.0
    # where the air turned (ms, °C), between the readings either side of this one
    # (`cycle_phase.turn_meet`; None: not read), see `InferredCycle.warm_half`
    meet: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class InferredCycle:
    trough: Turn  # compressor stopped: the air starts to warm
    peak: Turn  # compressor started
    end: Turn  # compressor stopped again
    normal: bool
    # where the closing trough fell in the reading interval (0-1), and how many more of the
    # teeth before it sat within `_PHASE_BAND` of it than a sweeping phase puts there (None:
    # not known); see the module's docstring
    phase: float | None = None
    phase_excess: float | None = None
    # the slopes fitted through the middle of the rise and of the fall (K/h, both positive;
    # None where too few readings fell there: see `segment_slope`)
    warm_fit: float | None = None
    cool_fit: float | None = None
    # a report was lost from the reading before its opening trough on (`_LOST_INTERVALS`)
    lost_report: bool = False

    @property
    def period_ms(self) -> int:
        return self.end.ms - self.trough.ms

    @property
    def on_ms(self) -> int:
        return self.end.ms - self.peak.ms

    @property
    def warm_half(self) -> tuple[float, float, bool]:
        """(ms, K, met) of the warming half: between where the air turned at each end
        (`Turn.meet`, met True) where both were read, else from turn to turn."""
        a, b = self.trough, self.peak
        if a.meet is not None and b.meet is not None:
            ms, rise = b.meet[0] - a.meet[0], b.meet[1] - a.meet[1]
            if ms > 0 and rise > 0:
                return ms, rise, True
        return float(b.ms - a.ms), b.c - a.c, False

    @property
    def warm_rate(self) -> float:
        """K/h while the compressor is off, from turn to turn."""
        return (self.peak.c - self.trough.c) * _HOUR_MS / max(self.peak.ms - self.trough.ms, 1)

    @property
    def cool_rate(self) -> float:
        """K/h while the compressor runs (positive), from turn to turn."""
        return (self.peak.c - self.end.c) * _HOUR_MS / max(self.on_ms, 1)

    @property
    def warm_fitted(self) -> float:
        """K/h while the compressor is off, fitted through the middle of the rise (`_fitted`;
        turn to turn where too few readings fell there): how fast the air itself warmed."""
        return _fitted(self.warm_fit, self.warm_rate)

    @property
    def cool_fitted(self) -> float:
        """K/h while the compressor runs, as `warm_fitted`."""
        return _fitted(self.cool_fit, self.cool_rate)

    @property
    def short_run(self) -> bool:
        """Whether the compressor ran for less than it must rest (`_MIN_OFF_MS`): through a
        probe lagging the air by a minute or two, such a run's fall says how long it lasted
        more than how fast it pulled the air down, so its cooling rate is no evidence."""
        return self.on_ms < _MIN_OFF_MS

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
    # a sparse probe's running shares of readings that bend and that confirm a turn
    # (`_BENDS_PER_TURN`)
    bends: float = 0.0
    turns: float = 0.0
    gaps_ms: list[int] = field(default_factory=list)  # the last intervals between readings
    lost_ms: int | None = None  # the reading after the latest lost report (`_LOST_INTERVALS`)
    # the readings either side of the running extreme (ms, °C): where the turn fell
    beside: tuple[tuple[int, float] | None, tuple[int, float] | None] = (None, None)
    phases: list[float] = field(default_factory=list)  # the recent troughs' phases
    excess: list[float] = field(default_factory=list)  # their crowding, see `_crowding`
    # the steepest rise and fall between two successive readings since the last trough (K/h,
    # the fall negative), and the recent teeth's: a pair that straddles no turn reads the
    # slope itself, one that straddles a turn less
    steep: tuple[float, float] = (0.0, 0.0)
    slopes: list[tuple[float, float]] = field(default_factory=list)
    swings: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # K/h of the recent teeth's rises
    # whether the reader resolves the sawtooth (`_judge_resolution`); None until judged
    resolved: bool | None = None
    # the readings since the last confirmed turn (ms, °C), and the slope fitted through the
    # middle of the last confirmed rise (K/h), see `segment_slope`
    run: list[tuple[int, float]] = field(default_factory=list)
    rise_fit: float | None = None
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
        st = self.state
        before = self._pair(ts, temp)
        self._meter(ts, on, power_w)
        if st.last_c is not None and abs(temp - st.last_c) > 1e-6:
            step = abs(temp - st.last_c)
            st.step_c = step if st.step_c is None else min(st.step_c, step)
        self._noise(temp)
        st.before_c, st.last_c = st.last_c, temp
        st.run.append((ts, temp))
        if len(st.run) > _RUN_KEPT:
            del st.run[0]
        here = Turn(ts, temp, st.metered_ms, st.on_ms, st.energy_wh)
        extreme = st.extreme
        if extreme is None:
            st.extreme, st.beside = here, (before, None)
            return None
        if st.beside[1] is None:
            st.beside = (st.beside[0], (ts, temp))
        sparse = self._sparse()
        if sparse:
            st.turns -= _BEND_WEIGHT * st.turns
        if st.rising:
            if temp > extreme.c:
                st.extreme, st.beside = here, (before, None)
            elif temp < extreme.c - self.reversal_c:
                st.turns += _BEND_WEIGHT if sparse else 0.0
                self._meet(extreme, peak=True)
                st.rising, st.extreme, st.beside = False, here, (before, None)
                jump = self._jump(extreme)
                st.rise_fit = self._segment_fit(extreme)
                self._peak(extreme, jump)
        elif temp < extreme.c:
            st.extreme, st.beside = here, (before, None)
        elif temp > extreme.c + self.reversal_c:
            st.turns += _BEND_WEIGHT if sparse else 0.0
            phase = self._phase(extreme)
            self._meet(extreme, peak=False)
            st.rising, st.extreme, st.beside = True, here, (before, None)
            return self._trough(extreme, phase, self._segment_fit(extreme))
        return None

    def _pair(self, ts: int, temp: float) -> tuple[int, float] | None:
        """The reading before this one, when it is close enough to read a slope from (the
        interval and the slope are kept, see `_PHASE_TEETH`)."""
        st = self.state
        if st.last_ms is None or st.last_c is None:
            return None
        read_ms = self.read_ms
        if read_ms is not None and ts - st.last_ms > _LOST_INTERVALS * read_ms:
            st.lost_ms = ts
        if not 0 < ts - st.last_ms <= self._max_step_ms:
            return None
        st.gaps_ms = [*st.gaps_ms, ts - st.last_ms][-_GAPS:]
        slope = (temp - st.last_c) * _HOUR_MS / (ts - st.last_ms)
        st.steep = (max(st.steep[0], slope), min(st.steep[1], slope))
        return st.last_ms, st.last_c

    def _noise(self, temp: float) -> None:
        st = self.state
        a, b = st.before_c, st.last_c
        if a is None or b is None:
            return
        if self._sparse():
            bends = (b - a) * (temp - b) < 0
            st.bends += _BEND_WEIGHT * (float(bends) - st.bends)
            if bends and st.bends <= _BENDS_PER_TURN * st.turns:
                return  # a turn of the sawtooth, see `_BENDS_PER_TURN`
        st.d2_median = _track_median(st.d2_median, abs(temp - 2 * b + a))

    def _sparse(self) -> bool:
        read_ms = self.read_ms
        return read_ms is not None and read_ms >= _SPARSE_READ_MS

    @property
    def noise_c(self) -> float:
        """The probe's noise σ in kelvin, as far as seen (0 before three readings)."""
        median = self.state.d2_median
        return 0.0 if median is None else median / _D2_MEDIAN_PER_SIGMA

    @property
    def read_ms(self) -> float | None:
        """The probe's reading interval (the median of the last intervals), None before any."""
        gaps = self.state.gaps_ms
        return float(statistics.median(gaps)) if gaps else None

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

    def _peak(self, peak: Turn, jump: float = 0.0) -> None:
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
        jumped = jump > self._jump_floor(swing)
        st.rates = [*st.rates, rate][-_RECENT_TEETH:]
        swing_ok = _NORMAL_SWING[0] <= rise / swing <= _NORMAL_SWING[1]
        st.peak_normal = near and swing_ok and not upset and not jumped
        if upset:
            st.upset_ms = peak.ms

    def _jump(self, peak: Turn) -> float:
        """How far the rise to `peak` jumped beyond its median step between readings (K):
        the most that one step, or two in a row (a probe's lag spreads a door over two
        readings), rose beyond as many median steps (`_JUMP_RECENT` of the recent teeth's
        step at most); 0 where fewer than `_JUMP_STEPS` steps were read."""
        st, read_ms, trough = self.state, self.read_ms, self.state.trough
        if trough is None or read_ms is None:
            return 0.0
        kept = [r for r in st.run if trough.ms <= r[0] <= peak.ms]
        steps = [
            (c1 - c0) * read_ms / (t1 - t0)
            for (t0, c0), (t1, c1) in itertools.pairwise(kept)
            if 0 < t1 - t0 <= _MEET_READINGS * read_ms
        ]
        if len(steps) < _JUMP_STEPS:
            return 0.0
        usual = statistics.median(steps)
        if len(st.rates) >= 3:
            recent = statistics.median(st.rates) * read_ms / _HOUR_MS
            usual = min(usual, _JUMP_RECENT * recent)
        pairs = [a + b for a, b in itertools.pairwise(steps)]
        return max(max(steps) - usual, max(pairs) - 2 * usual)

    def _jump_floor(self, swing: float) -> float:
        """The least jump (`_jump`) that is a door: `_JUMP_SWING` of the usual swing, and
        above the display's step and the probe's noise."""
        step = self.state.step_c or 0.0
        return max(_JUMP_SWING * swing, _JUMP_DISPLAY * step, _NOISE_SIGMAS * self.noise_c)

    def _steep(self, rate: float) -> bool:
        recent = self.state.rates
        return len(recent) >= 3 and rate > _STEEP * statistics.median(recent)

    def _segment_fit(self, turn: Turn) -> float | None:
        """The slope (K/h, positive) through the middle of the segment the confirmed `turn`
        ends; the readings after it begin the next one."""
        st = self.state
        segment = [r for r in st.run if r[0] <= turn.ms]
        st.run = [r for r in st.run if r[0] >= turn.ms]
        start = st.trough if not st.rising else st.peak  # `rising` already names the next half
        if start is None or not segment or segment[0][0] > start.ms:
            return None  # the segment's start was not kept (or not seen)
        return segment_slope(segment, start.c, turn.c, self.read_ms)

    def _trough(
        self, end: Turn, phase: float | None, fall_fit: float | None
    ) -> InferredCycle | None:
        st = self.state
        trough, peak = st.trough, st.peak
        rise, st.rise_fit = st.rise_fit, None
        st.trough, st.peak = end, None
        excess = self._crowding(phase)
        if st.steep[0] > 0 > st.steep[1]:
            st.slopes = [*st.slopes, st.steep][-_RECENT_TEETH:]
        st.steep = (0.0, 0.0)
        if trough is None or peak is None or peak.ms <= trough.ms:
            return None
        fall = peak.c - end.c
        usual = self.usual
        if fall > 0 and (usual is None or peak.c - usual[1] < _DEFROST_ABOVE_MIN_C):
            st.swings = [*st.swings, fall][-_KEPT:]
        normal = (
            st.peak_normal
            and usual is not None
            and peak.ms - trough.ms >= _MIN_OFF_MS
            and end.ms - peak.ms >= self._min_on_ms(usual[0])
            and _NORMAL_SWING[0] <= fall / usual[0] <= _NORMAL_SWING[1]
        )
        lost = st.lost_ms is not None and st.lost_ms >= trough.ms
        return InferredCycle(trough, peak, end, normal, phase, excess, rise, fall_fit, lost)

    def _judge_resolution(self, swing: float) -> None:
        """Once `_KEPT` teeth are seen (at the first tooth that is otherwise normal): does the
        usual swing clear the reversal by a display step (see `_MIN_ON_MS`)? Judged once, so
        the teeth a unit learns from and those it is judged on are read alike."""
        st = self.state
        if st.resolved is None and len(st.swings) >= _KEPT:
            st.resolved = self.reversal_c + (st.step_c or 0.0) <= swing

    def _min_on_ms(self, swing: float) -> float:
        """The shortest fall (compressor run) a normal tooth may have, see `_MIN_ON_MS`."""
        self._judge_resolution(swing)
        read_ms = self.read_ms
        if read_ms is None or not self.state.resolved:
            return _MIN_OFF_MS
        return min(_MIN_OFF_MS, max(_MIN_ON_MS, _ON_READINGS * read_ms))

    def _meet(self, turn: Turn, peak: bool) -> None:
        """Where the air turned at `turn` (`Turn.meet`), from the readings either side of
        it and the recent teeth's slopes, once three teeth are seen and when neither reading
        is further than `_MEET_READINGS` intervals from it."""
        st, read_ms = self.state, self.read_ms
        before, after = st.beside
        if read_ms is None or before is None or after is None or len(st.slopes) < 3:
            return
        if after[0] - before[0] > 2 * _MEET_READINGS * read_ms:
            return
        turn.meet = turn_meet(before, after, st.slopes, peak)

    def _phase(self, low: Turn) -> float | None:
        """Where the trough at the reading `low` fell in the reading interval (0-1), see
        `cycle_phase.trough_phase`; None on a probe that is not sparse (`_SPARSE_READ_MS`)
        and while the slopes or the interval are not known."""
        st, read_ms = self.state, self.read_ms
        before, after = st.beside
        if read_ms is None or read_ms < _SPARSE_READ_MS:
            return None
        if before is None or after is None or len(st.slopes) < 3:
            return None
        if after[0] - before[0] > 3 * read_ms:
            return None
        if st.trough is None or low.ms - st.trough.ms > _SPARSE_READINGS * read_ms:
            return None
        return trough_phase(before, after, low.ms, st.slopes, read_ms)

    def _crowding(self, phase: float | None) -> float | None:
        """How crowded this phase was among the recent troughs (`cycle_phase.crowding`), the
        median over the last `_EXCESS_TEETH` teeth, so one tooth read off its neighbours'
        phase does not count as new; the phase joins them."""
        st = self.state
        if phase is None:
            return None
        seen = st.phases
        st.phases = [*seen, phase][-_PHASE_TEETH:]
        if len(seen) < _PHASE_MIN_TEETH:
            return None
        band = phase_band(st.step_c, st.slopes, self.read_ms)
        st.excess = [*st.excess, crowding(seen, phase, band)][-_EXCESS_TEETH:]
        return statistics.median(st.excess)


def _fitted(fit: float | None, turn: float) -> float:
    """The fitted slope held between the turn-to-turn slope and `_FIT_MOST` times it: a lag
    only steepens the middle of a half against its turns, so a fit below the turn-to-turn
    slope read a display's plateau or a bump (a door the probe barely saw), and one far
    above it a few readings' step."""
    if fit is None:
        return turn
    return min(max(fit, turn), _FIT_MOST * turn)


def segment_slope(
    segment: list[tuple[int, float]], start_c: float, end_c: float, read_ms: float | None
) -> float | None:
    """The least-squares slope (K/h, positive) of the readings in the middle `_FIT_BAND` of
    the way from `start_c` to `end_c`, None with fewer than `_FIT_READINGS` there or on a
    probe read `_SPARSE_READ_MS` or more apart (see `_FIT_BAND`)."""
    if read_ms is None or read_ms >= _SPARSE_READ_MS or end_c == start_c:
        return None
    low, high = _FIT_BAND
    span = end_c - start_c
    inner = [(t, c) for t, c in segment if low <= (c - start_c) / span <= high]
    if len(inner) < _FIT_READINGS:
        return None
    t_mean = statistics.fmean(t for t, _ in inner)
    c_mean = statistics.fmean(c for _, c in inner)
    sxx = sum((t - t_mean) ** 2 for t, _ in inner)
    if sxx <= 0:
        return None
    slope = sum((t - t_mean) * (c - c_mean) for t, c in inner) / sxx * _HOUR_MS
    slope = slope if span > 0 else -slope
    return slope if slope > 0 else None


def _track_median(median: float | None, value: float) -> float:
    """A running median, moved a small step towards each new value."""
    if median is None:
        return value
    move = _NOISE_STEP * max(median, 0.01)
    return max(0.0, median + (move if value > median else -move))
