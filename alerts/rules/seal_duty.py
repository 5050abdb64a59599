"""Seal evidence from the metered duty cycle: needs no sawtooth on the probe.

When a cabinet reports `compressor_on` or `power_w`, the compressor's share of the time is
measured, not inferred. A leaking gasket lets kitchen air in all the time, so the compressor
runs a larger share of every hour (DESIGN.md, seal failure physics). This holds whatever the
probe draws: a chest freezer whose 6-29 min cycles a 5-min probe cannot resolve, a walk-in
whose probe sits far from the evaporator.

Per local hour the rule integrates the metered on-time over the hour's clean time (no door
opening or its settling, no defrost and the hours after it, no excursion; a defrost or upset
the probe shows only at its peak claims its time back when it is seen, see `CleanTime`). An
hour with at least `_MIN_CLEAN_MS` of clean time gives one value, its log on-share. The
unit's own learning days give, per local hour (pooled with the hours on either side), the
median and spread of that value; an hour after learning is scored as a clipped robust z and
accumulated in a one-sided CUSUM (`seal_cusum.CusumState`) whose drift allowance k and
decision threshold h come from the learning days scored one left-out day at a time, as the
per-cycle evidence does. Hour-to-hour noise (a cycle's phase within an hour) is in the spread;
a common cause that shifts half a day (a hot day) is in k.

Kitchen ambient would normalise the duty further (load grows with the temperature gap), but
no bench or school data here reports it; the hour-of-day norm carries the kitchen's routine.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from alerts.rules.seal import Change
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import (
    CusumModel,
    CusumState,
    EvidenceLimits,
    common_shift,
    hour_pool,
)

__all__ = [
    "CleanTime",
    "DrawLevels",
    "DutyModel",
    "DutyNorm",
    "HourValue",
    "HourWeight",
    "clean_time",
    "compressor_from_power",
    "hour_duty",
    "learn_duty",
    "phase_resolution",
    "reading_resolution",
    "run_highs",
    "score_hour",
    "window_duty",
]

_HOUR_MS = 3_600_000
# Without `compressor_on`, the compressor's draw is learned as the 90th percentile of power,
# tracked in steps of 5 % from the first reading above the fan's draw. (Steps of 1 % from the
# first reading, often 0 W with the compressor off, took some 3,000 readings to reach a
# 200 W compressor: ten days of a 5-min plug meter, the learning days all blind.)
_PEAK_QUANTILE = 0.9
_PEAK_STEP = 0.05
_MIN_PEAK_W = 30.0
# ... and the cabinet's draw at rest (fan, controller, lights) as the 10th percentile, in the
# same steps; until the two are known a reading more than twice the usual draw moves it half
# way there (log) at once. The meter says whether the compressor runs (above half its usual
# draw) only once the usual draw is `_APART` times the rest's, and from then on: the rest
# must sit well under that half, and each percentile wanders by a step or two. (Tracked from
# a first reading of a walk-in's 80 W evaporator fan, the usual draw climbed to its 700 W
# compressor over 10 h of a 5-min meter, every reading above half of it meanwhile "on": its
# first night's clean hours read an on-share of 1.0 against a true 0.2, and the learned
# night norms doubled. Fans draw 5-120 W beside compressors of 60-1,000 W,
# `firmware_sim.families`; a cabinet whose rest draws more than a third of its running draw
# is not read from its meter.)
_REST_QUANTILE = 0.1
_APART = 3.0
# An hour judges the seal with at least this much clean metered time: two or more cycles of
# most cabinets (15-60 min each), so a cycle's phase moves its share by a bounded amount.
_MIN_CLEAN_MS = 30 * 60_000
# A floor under log duty: an hour spent wholly off (a cold room at night) reads 1 %, not -inf.
_DUTY_FLOOR = 0.01
# The smallest hour-to-hour spread believed, in log units: a cycle's phase within the hour
# moves the share by a few percent however steady the cabinet.
_SPREAD_FLOOR = 0.05
_MAD_TO_SIGMA = 1.4826
_HALF_READING = 0.5  # of the reading interval, the least uncertainty of an hour's on-time
_PHASES = 24  # where an hour may fall on the compressor's cycle (`phase_resolution`)
_CLIP = 3.0  # an hour's z is bounded (a door the contact missed): many hours carry an alert
# An hour-of-day norm pools the hours up to `_POOL_H` either side: four learning days give
# each local hour only four values, and a centre that far off (σ/2) acts as a shift the
# evidence would add up for weeks; the kitchen's routine moves the duty over hours, not
# minutes.
_POOL_H = 2
_POOL_MAX_H = 4  # reaching further for an hour with too few of its own (`seal_cusum`)
_MIN_POOL = 6  # hours an hour-of-day norm needs
_MIN_SCORED = 24  # left-out hours the spread is read from
_BLOCK_H = 12
# Drift allowance and decision threshold, in units of an hour's spread, chosen like the
# per-cycle evidence's (`seal_cusum`): k at least `seal_evidence_k` and two spreads of the
# common half-day shifts the learning days showed; h a margin of 3 over the largest
# excursion of a typical day's worth of learning hours, at least `seal_duty_evidence_h`
# (10). With k 0.5 and h 10, iid healthy hours reach h about once in 100,000 hours
# (Siegmund's approximation of the CUSUM's run length), years of a unit's clean hours; a
# leak that moves each clean hour by 1.5 spreads crosses it in about 10 of them, by 0.8
# spreads in about 35.
_K_SIGMAS = 2.0
_H_MARGIN = 3.0
# ... and the excursion is read over runs of this many scored hours (a day's worth), not over
# calendar days: a busy unit's clean hours are a few a day, and its evidence adds them up
# across days. (A held-out old unit with a long defrost scored 6 or 7 clean hours a day, each
# read over one or two of its cycles: its learning days' largest excursion was 2-3 a day, h
# the floor 10, and four mildly warm hours scattered over two days of a healthy unit
# confirmed a leak. Its 26 learning hours in one run reach 9.9: h 30.)
_RUN_HOURS = 24
# A day without meals (a weekend) is judged on the clean hours only once the learning days held
# this many of its own: a night's worth. Its clean time is cut differently: on a school day it
# is whole nights, on a weekend also the spans between the few doors, and a span that begins a
# fixed settling time after a door begins at a fixed point of the compressor's cycle (the door
# started a run). A tuning prep counter with 26-min cycles and 7-min runs read 40-min spans
# after its weekend doors at 0.29-0.375 against a true 0.27, hour after hour, and raised a
# false seal alert on its first Sunday; its learning days were Monday to Thursday.
_MIN_QUIET_HOURS = 12
_DEFAULT_LIMITS = EvidenceLimits(0.5, 10.0)
_KEPT_SPANS = 8
# Longer than a defrost's rise before the probe shows its peak (`seal_cold`: 60 min at most)
# and the few minutes to see it turn: clean time is held back this long before it counts.
_HOLD_MS = 75 * 60_000


@dataclass(slots=True)
class DutyNorm:
    center: float  # median log on-share at this local hour
    spread: float  # hour-to-hour spread (log units)
    offset: float = 0.0  # the learning hours' mean clipped z (see `learn_duty`)


@dataclass(slots=True)
class DutyModel:
    hours: dict[int, DutyNorm]
    threshold: CusumModel  # k and h (its `hours` are unused: empty)
    quiet_hours: int = 0  # the learning hours of days without meals that gave a value
    quiet_lift: float = 0.0  # log: how far above their norms those hours read (`quiet_lift`)

    @property
    def judges_quiet(self) -> bool:
        """Whether the learning days held enough days without meals to judge one."""
        return self.quiet_hours >= _MIN_QUIET_HOURS

    def quiet_norm(self, hour: int) -> DutyNorm | None:
        """The norm an hour of a day without meals is judged on: its local hour's, lifted by
        how far the learning days' such hours read above theirs (`quiet_lift`)."""
        norm = self.hours.get(hour)
        if norm is None or self.quiet_lift <= 0.0:
            return norm
        return DutyNorm(norm.center + self.quiet_lift, norm.spread, norm.offset)


@dataclass(slots=True)
class CleanTime:
    """Clean metered time, held back `_HOLD_MS` before it counts for its hour: a defrost or a
    door the probe alone shows is known only at its peak, and the time it claims back (from
    its start to the end of its settling) never counts."""

    spans: list[tuple[int, int]] = field(default_factory=list)  # (from, until) ms
    # (from ms, ms, ms on; or on as a flag, held in a state saved before the on-time)
    held: list[tuple[int, int, int | bool]] = field(default_factory=list)

    def disturbed(self, start_ms: int, until_ms: int) -> None:
        self.spans = [*self.spans, (start_ms, until_ms)][-_KEPT_SPANS:]

    def add(self, start_ms: int, length_ms: int, on_ms: int | bool) -> None:
        self.held.append((start_ms, length_ms, on_ms))

    def release(self, now_ms: int, hours: list[HourFeatures]) -> None:
        """Time held longer than `_HOLD_MS` goes to its hour unless a disturbance claimed it."""
        while self.held and self.held[0][0] < now_ms - _HOLD_MS:
            start, length, on = self.held.pop(0)
            if length < 0 or any(a <= start < b for a, b in self.spans):
                self.skipped()
                continue
            for hour in hours:
                if hour.start_ms <= start < hour.start_ms + _HOUR_MS:
                    self.credit(hour, length, on, start)

    def skipped(self) -> None:
        """Held time that did not count (claimed by a disturbance, or a break, length < 0)."""

    def credit(self, hour: HourFeatures, length: int, on: int | bool, start_ms: int = 0) -> None:
        """`on`: the ms the compressor ran, or whether it ran (a state saved before)."""
        hour.clean_ms += length
        hour.clean_on_ms += (length if on else 0) if isinstance(on, bool) else on


@dataclass(slots=True)
class DrawLevels:
    """What a plug meter's readings tell of the compressor: its usual draw while running
    (`peak_w`), the cabinet's draw at rest (`rest_w`), and whether the two have come apart
    far enough to tell running from resting (`apart`, for good once they have: a compressor
    that runs nine hours in ten moves the rest's percentile up to its own draw)."""

    peak_w: float | None = None
    rest_w: float | None = None
    apart: bool = False


def compressor_from_power(levels: DrawLevels, power: float) -> bool | None:
    """Whether the compressor runs at this reading of `power` (W): above half its usual draw
    (each reading moves the usual draw and the rest's a step towards their percentiles);
    None until the two have come apart (`_APART`)."""
    peak = levels.peak_w if levels.peak_w is not None else power
    if peak < _MIN_PEAK_W:
        peak = max(peak, power)
    elif not levels.apart and power > 2 * peak:
        peak = math.sqrt(peak * power)
    levels.peak_w = _quantile_step(peak, power, _PEAK_QUANTILE)
    rest = levels.rest_w if levels.rest_w is not None else power
    levels.rest_w = _quantile_step(rest, power, _REST_QUANTILE)
    if levels.peak_w <= _MIN_PEAK_W:
        return None
    levels.apart = levels.apart or levels.peak_w > _APART * levels.rest_w
    return power > 0.5 * levels.peak_w if levels.apart else None


def _quantile_step(level: float, power: float, quantile: float) -> float:
    above = 1.0 if power > level else 0.0
    return level + _PEAK_STEP * max(level, 1.0) * (above - (1 - quantile))


def hour_duty(hour: HourFeatures) -> float | None:
    """The hour's metered on-share over its clean time, None for too little clean time."""
    if hour.clean_ms < _MIN_CLEAN_MS:
        return None
    return hour.clean_on_ms / hour.clean_ms


def _log(duty: float) -> float:
    return math.log(max(duty, _DUTY_FLOOR))


def score_hour(duty: float, norm: DutyNorm, resolution: float = 0.0) -> tuple[float, float]:
    """(z, move): the hour's clipped robust z and relative move from its local hour's norm;
    `resolution` (log units, `reading_resolution`) is a floor under the spread."""
    z = (_log(duty) - norm.center) / max(norm.spread, resolution)
    return max(-_CLIP, min(_CLIP, z)) - norm.offset, math.expm1(_log(duty) - norm.center)


def reading_resolution(step_ms: float | None, on_ms: float) -> float:
    """How finely a meter read every `step_ms` measures an hour's on-share (log units): each
    cycle's start and stop are placed only to within a reading, so the on-time is uncertain by
    half a reading at least (2 edges a cycle, each uniform over a reading: step x sqrt(c/6)
    for c cycles, half a step from 1.5 cycles on). A unit whose cycles run in step with its
    meter shows its learning hours all alike (their spread at its floor, `_SPREAD_FLOOR`) and
    then one reading more of on-time for hours on end: a chest freezer at 6 of 30 readings
    an hour read 7 (+15 %) for 8 hours of a day and crossed h (the bench's held-out family)."""
    if not step_ms or on_ms <= 0:
        return 0.0
    return math.log1p(_HALF_READING * step_ms / max(on_ms, step_ms))


def phase_resolution(period_ms: float | None, run_ms: float | None, clean_ms: float) -> float:
    """How finely an hour's clean time measures the on-share of a compressor that cycles every
    `period_ms` with runs of `run_ms` (log units): the relative spread of the on-time a window
    of `clean_ms` catches as it falls at every phase of the cycle. Many cycles to the hour
    catch about the same share wherever they start; one or two do not: a walk-in's 50-min
    cycle with 15-20 min runs reads an hour of 0.25, 0.30 or 0.35 by where the hour fell on
    it, steady duty and all, and its learning days' spread of 0.10 (log), read from hours
    most of which caught one run whole, took each 0.35 for 3 spreads (a healthy held-out
    walk-in alerted with power, bench.detection --start 2024-11-07, seed 4)."""
    if not period_ms or not run_ms or clean_ms <= 0 or not 0 < run_ms < period_ms:
        return 0.0
    shares = []
    for i in range(_PHASES):
        start, on = period_ms * i / _PHASES - period_ms, 0.0
        while start < clean_ms:
            on += max(0.0, min(clean_ms, start + run_ms) - max(0.0, start))
            start += period_ms
        shares.append(on / clean_ms)
    mean = statistics.fmean(shares)
    return statistics.pstdev(shares) / mean if mean > 0 else 0.0


HourValue = Callable[[HourFeatures], float | None]
# How much an hour's value weighs where the hours are counts (`learn_duty`'s `counted`): its
# clean metered time, or for a share of the probe's moves, their number.
HourWeight = Callable[[HourFeatures], float]


def clean_time(hour: HourFeatures) -> float:
    """The hour's clean metered time (ms), the weight of its metered on-share."""
    return hour.clean_ms


def _centers(
    history: list[HourFeatures],
    reading: HourValue,
    counted: bool = False,
    weight: HourWeight = clean_time,
) -> dict[int, float]:
    """Per local hour, the median log on-share of the clean hours (pooled with the hours on
    either side so each rests on several values, further out for an hour that had few,
    see `seal_cusum.hour_pool`). `counted`: the hours' on-shares are counts of a meter's
    readings, read as the pooled hours' share of on time instead, each hour weighing
    `weight` (see `learn_duty`)."""
    by_hour: dict[int, list[tuple[float, float]]] = {h: [] for h in range(24)}
    for features in history:
        duty = reading(features)
        if duty is not None:
            by_hour[features.hour].append((duty, weight(features)))
    centers: dict[int, float] = {}
    for hour in range(24):
        pool = hour_pool(by_hour, hour, _POOL_H, lambda v: len(v) >= _MIN_POOL, _POOL_MAX_H)
        if len(pool) < _MIN_POOL:
            continue
        if counted:
            on = sum(duty * ms for duty, ms in pool)
            total = sum(ms for _, ms in pool)
            centers[hour] = (
                _log(on / total) if total > 0 else statistics.median(_log(duty) for duty, _ in pool)
            )
        else:
            centers[hour] = statistics.median(_log(duty) for duty, _ in pool)
    return centers


def _left_out(
    history: list[HourFeatures], reading: HourValue, counted: bool, weight: HourWeight
) -> list[tuple[int, float]]:
    """Each learning hour's log on-share less the centre the other days give its hour: the
    scatter a new hour shows, the centres' own uncertainty included."""
    first = history[0].start_ms
    day_of = [(h.start_ms - first) // (24 * _HOUR_MS) for h in history]
    out: list[tuple[int, float]] = []
    for day in sorted(set(day_of)):
        rest = [h for h, d in zip(history, day_of, strict=True) if d != day]
        others = _centers(rest, reading, counted, weight)
        for hour, d in zip(history, day_of, strict=True):
            center, duty = others.get(hour.hour), reading(hour)
            if d == day and center is not None and duty is not None:
                out.append((hour.start_ms, _log(duty) - center))
    return out


def learn_duty(
    history: list[HourFeatures],
    limits: EvidenceLimits = _DEFAULT_LIMITS,
    reading: HourValue = hour_duty,
    counted: bool = False,
    explained: Mapping[int, float] | None = None,
    weight: HourWeight = clean_time,
    k_sigmas: float = _K_SIGMAS,
    lifts_quiet: Callable[[dict[int, DutyNorm]], bool] | None = None,
) -> DutyModel | None:
    """The unit's hourly duty norms, k and h from its learning days; None when they hold too
    few clean metered hours to say. The spread is one for the whole day, read from every
    left-out hour (a few days give each hour of the day too few values for its own).
    `reading` is the hour's on-share: metered (`hour_duty`) or read from the probe's moves
    (`seal_probe_duty.hour_falls`).

    `counted`: a meter that reads the compressor's usual run as a single reading
    (`seal_power.runs_resolved`) gives each hour a count of a dozen readings, not a
    measurement: most hours read the same few fractions, and the median sits on one of them
    while the share of hours with a missed run, which a leak changes, moves only the tail.
    A held-out chest freezer metered every 5 min read 1/3 at the median of five of its hours
    of the day, 0.23 overall, and 1/3 again with a leak at 0.32. Its norm is then the pooled
    hours' share of on time, the count's own estimate, each hour weighing `weight` (its
    clean metered time; a share of the probe's moves weighs their number,
    `seal_probe_duty.probe_weight`).

    `explained`: per hour (its start), the log on-share a known common cause would have taken
    out of it once learned (the kitchen's warmth read from the compressor's draw,
    `seal_power`): the half-day shifts k is read from leave it out; the norms, the spread and
    h keep it. `k_sigmas`: how many spreads of those half-day shifts k is (`_K_SIGMAS`).
    `lifts_quiet`: whether the learned norms say a day without meals may read higher than a
    school day (`quiet_lift`); without it, none does."""
    centers = _centers(history, reading, counted, weight) if history else {}
    left_out = _left_out(history, reading, counted, weight) if centers else []
    if len(left_out) < _MIN_SCORED:
        return None
    residuals = [r for _, r in left_out]
    mid = statistics.median(residuals)
    mad = statistics.median(abs(r - mid) for r in residuals)
    spread = max(_MAD_TO_SIGMA * mad, _SPREAD_FLOOR)
    clipped = [(at, max(-_CLIP, min(_CLIP, r / spread))) for at, r in left_out]
    # centred on the learning hours' mean clipped z where it is above 0 (a lopsided stream:
    # a quarter of a busy unit's clean hours catch a second run, +3 clipped, and the rest
    # near 0 would add some 0.25 each beyond k). A mean below 0 already drifts the sum down;
    # lifting it would score the usual hour as a leak's.
    offset = max(0.0, statistics.fmean(z for _, z in clipped))
    norms = {hour: DutyNorm(center, spread, offset) for hour, center in centers.items()}
    scored = [(at, z - offset) for at, z in clipped]
    shifted = [
        (at, max(-_CLIP, min(_CLIP, (r - (explained or {}).get(at, 0.0)) / spread)) - offset)
        for at, r in left_out
    ]
    first = history[0].start_ms
    blocks: dict[int, list[float]] = {}
    for at, z in shifted:
        blocks.setdefault((at - first) // (_BLOCK_H * _HOUR_MS), []).append(z)
    shifts = common_shift([b for b in blocks.values() if len(b) >= 3])
    k = max(limits.k_floor, k_sigmas * shifts)
    typical = statistics.median(run_highs([z for _, z in scored], CusumModel({}, k, math.inf)))
    quiet = sum(1 for h in history if h.quiet and reading(h) is not None)
    threshold = CusumModel({}, k, max(limits.h_floor, _H_MARGIN * typical))
    lifted = lifts_quiet is not None and lifts_quiet(norms)
    return DutyModel(norms, threshold, quiet, quiet_lift(history, left_out) if lifted else 0.0)


def quiet_lift(history: list[HourFeatures], left_out: list[tuple[int, float]]) -> float:
    """How far (log) the learning hours of days without meals read above the norms the other
    learning days give their hours: the median of their left-out residuals, where they number
    `_MIN_QUIET_HOURS`, and 0 where it is below.

    A day without meals rests the kitchen: it lifts no heat and the compressor runs less, so
    a stream that follows the on-share reads lower on it, and its hours are judged on the
    pooled norms. A stream that may read the other way (`learn_duty`'s `lifts_quiet`) judges
    them on the norms lifted by this much (`DutyModel.quiet_norm`): its rested days read as a
    leak would. One lift for all those hours, as a median over a weekend's hours is steady
    where each hour's own two values are not; it only ever raises the bar."""
    quiet_at = {h.start_ms for h in history if h.quiet}
    residuals = [r for at, r in left_out if at in quiet_at]
    if len(residuals) < _MIN_QUIET_HOURS:
        return 0.0
    return max(0.0, statistics.median(residuals))


def run_highs(scored: list[float], model: CusumModel) -> list[float]:
    """The largest CUSUM of each run of the learning hours' scores (in time order), a run
    holding a day's worth of them (`_RUN_HOURS` or more): a stream that scores a few clean
    hours a day adds them up over days, so a day of its learning is not its span."""
    runs = max(1, len(scored) // _RUN_HOURS)
    highs: list[float] = []
    for run in range(runs):
        state, high = CusumState(), 0.0
        for z in scored[run * len(scored) // runs : (run + 1) * len(scored) // runs]:
            state.add(z, 0.0, model)
            high = max(high, state.evidence)
        highs.append(high)
    return highs


def window_duty(hours: list[HourFeatures], model: DutyModel) -> Change | None:
    """The clean metered duty of the window's hours against their hourly norms."""
    pairs = [
        (h, math.exp(n.center))
        for h in hours
        if hour_duty(h) is not None and (n := model.hours.get(h.hour)) is not None
    ]
    total = sum(h.clean_ms for h, _ in pairs)
    if not total:
        return None
    now = sum(h.clean_on_ms for h, _ in pairs) / total
    base = sum(h.clean_ms * d for h, d in pairs) / total
    return Change("duty", base, now, f"{base:.0%}", f"{now:.0%}")
