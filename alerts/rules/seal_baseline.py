"""A cold cabinet's own seal baseline: what its clean compressor cycles look like at each local
hour of the day, and how far a window of them wanders from that from one day to the next.

Hourly features come from clean cycles only (see `cycle_inference`): the compressor's share of
the cycle time (metered when `compressor_on` or `power_w` is reported, else the probe's fall
time over its period), the warming rate with the compressor off, the cooling rate with it on,
and the mean power. A window's statistic per feature is its relative move from the baseline of
the same hours. The spread is learned by leaving one learning day out at a time: the other
days make a baseline, the windows ending on the day left out are scored against it, and the
median absolute deviation of those scores is the unit's day-to-day spread. A floor per feature
keeps a very steady learning period from making every later wobble look large.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alerts.rules.seal import Change, health_from_load

__all__ = [
    "DATA",
    "FEATURES",
    "SCORE",
    "WEIGHTS",
    "HourBaseline",
    "HourFeatures",
    "Spread",
    "combined",
    "cycle_ms",
    "evidence_window",
    "learn_baseline",
    "learn_spread",
    "ready_to_learn",
    "settles",
    "window_changes",
    "window_health",
]

FEATURES = ("duty", "warm_rate", "pull_down", "energy")
SCORE = "score"
DATA = "data"  # the usual clean cycle time of a window, in ms (its centre)
# How much each piece of evidence weighs in the score: duty and warming rate respond most
# directly to the extra heat; the pull-down slope is noisier (short stretches); energy follows
# duty and is weighed lightly so that it does not count the same evidence twice.
WEIGHTS = {"duty": 0.4, "warm_rate": 0.4, "pull_down": 0.2, "energy": 0.2}
# The smallest day-to-day spread believed, as a relative move: duty and energy of a cabinet
# wander a few percent with the kitchen's weather and door habits even on the steadiest days;
# single-cycle slopes are noisier.
_SPREAD_FLOOR = {"duty": 0.04, "warm_rate": 0.05, "pull_down": 0.06, "energy": 0.04}
# The combined score's spread is at least this many of its parts' spreads: the parts move
# together under a common cause the learning days may not have shown (a hot week).
_SCORE_FLOOR = 0.5
_POOL_H = 2
# A door opening only ever adds heat: it makes a rise faster and a pull-down slower, never the
# reverse. The cycles least touched by doors are the slow-warming, fast-cooling ones, so the
# slopes are read at a low quantile of warming and of pull-down time, where a leak (which
# touches every cycle) still shows and a busier kitchen does not.
_LOW = 0.25
_FROM_PROBE = ("duty", "warm_rate", "pull_down")
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
_MIN_CYCLE_MS = 3 * 60 * 60_000  # less clean cycle time than this in a window says too little
_MIN_SLOPES = 8
# A window that holds too few clean cycles (a probe reporting every 5 min on a cabinet with 6
# defrosts a day sees one clean cycle in 2-4 h; busy kitchen hours hold few) reaches back up to
# this many times `seal_window_h` until it holds `_MIN_SLOPES` of them: a leak adds heat at
# every hour, so older clean cycles of the same unit still speak about the seal, only later.
WINDOW_REACH = 3
_MIN_SCORES = 8
_HOUR_MS = 3_600_000
# A cabinet whose clean cycles are few (a 5-min probe, many defrosts, a busy kitchen) may not
# fill the coverage in `seal_baseline_days`: it keeps learning up to this many times as long,
# then settles for half the hours asked (each learning day still judged against the others, so
# the spread is its own) and states the confidence learned / needed with every point.
_LEARN_LONGEST = 1.5
_LEARN_FLOOR = 0.5


@dataclass(slots=True)
class HourFeatures:
    start_ms: int
    hour: int  # local hour of the day
    # a day without meals (the calendar's `meal_days`: a weekend, a holiday, a vacation):
    # fewer door openings and a cooler kitchen, so its cycles have norms of their own
    quiet: bool = False
    cycle_ms: int = 0
    on_ms: int = 0  # compressor on within the clean cycles (metered when known)
    metered_ms: int = 0
    metered_on_ms: int = 0
    energy_wh: float = 0.0
    warm: list[float] = field(default_factory=list)  # K/h, compressor off
    cool: list[float] = field(default_factory=list)  # K/h, compressor on, positive; 0: unread
    duty: list[float | None] = field(default_factory=list)  # metered on-share, per cycle
    # how finely the meter read each of those on-shares (log units, `seal_cusum.cycle_log`)
    duty_read: list[float] = field(default_factory=list)
    # how finely the display read the same cycles' slopes (log, `seal_cusum.rate_reading`)
    rate_read: list[float] = field(default_factory=list)
    # the same cycles' rates fitted through the middle of each half (`cycle_inference`)
    warm_fit: list[float] = field(default_factory=list)
    cool_fit: list[float] = field(default_factory=list)
    # how finely the readings count each run the pull-down is read over (log,
    # `seal_cusum.cycle_reading`; 0: its pull-down not read)
    cool_read: list[float] = field(default_factory=list)
    # the same cycles' off times (ms, turn to turn), and how finely the readings count each
    # (log, `seal_cusum.cycle_reading`): the warming half read alone (`seal_rise`)
    off_ms: list[float] = field(default_factory=list)
    off_read: list[float] = field(default_factory=list)
    # ... and how far the air rose in them (K; read where it turned, `InferredCycle.warm_half`)
    rise_c: list[float] = field(default_factory=list)
    # metered time and on-time over the hour's clean time, cycles or not (`seal_duty`)
    clean_ms: int = 0
    clean_on_ms: int = 0
    # the probe's moves between clean readings, and how many fell (`seal_probe_duty`)
    moves: int = 0
    falls: int = 0
    # ... and every clean reading, each falling or rising as the probe last moved
    readings: int = 0
    held_falls: int = 0
    # ... and each of those readings in turn: 1 fell, -1 rose, 0 repeated the last level
    steps: list[int] = field(default_factory=list)
    # ... and the time between two steps of a coarse display the same way, rising and falling
    # (ms summed, and how many: `seal_probe_duty.hour_paced_falls`)
    rise_pace_ms: int = 0
    rise_paces: int = 0
    fall_pace_ms: int = 0
    fall_paces: int = 0
    # the cycle period its clean readings and the last hour's fold on, and the folded
    # tooth's on-share (`seal_fold`; 0: no fold)
    fold_period_ms: float = 0.0
    fold_on: float = 0.0
    fold_misfit: float = 0.0  # the share of the readings' scatter its harmonics leave
    # ... and the same clean readings' mean, lowest and spread (°C, K) within the hour
    # (`seal_level`; level_n 0: too few)
    level_c: float = 0.0
    level_low_c: float = 0.0
    level_sd_c: float = 0.0
    level_upset: bool = False  # its readings scattered far beyond the last day's (no level)
    level_wide: bool = False  # ... scattered so, whether set aside or, hours on end, kept
    level_n: int = 0

    @property
    def usable(self) -> bool:
        return self.cycle_ms > 0


@dataclass(slots=True)
class HourBaseline:
    duty: float | None
    warm: float | None
    cool: float | None
    power_w: float | None


@dataclass(slots=True)
class Spread:
    center: float
    spread: float


def _duty(hour: HourFeatures) -> float | None:
    if hour.metered_ms:
        return hour.metered_on_ms / hour.metered_ms
    return hour.on_ms / hour.cycle_ms if hour.cycle_ms else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (linear between order statistics); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def learn_baseline(history: list[HourFeatures]) -> dict[int, HourBaseline]:
    """Per local hour of the day: medians over the learning days, pooled with the hours on
    either side so each hour's figure rests on several values."""
    baseline: dict[int, HourBaseline] = {}
    for hour in range(24):
        near = [
            h for h in history if h.usable and min((h.hour - hour) % 24, (hour - h.hour) % 24) <= 1
        ]
        duties = [d for h in near if (d := _duty(h)) is not None]
        powers = [h.energy_wh * _HOUR_MS / h.metered_ms for h in near if h.metered_ms]
        baseline[hour] = HourBaseline(
            _median(duties),
            _quantile([w for h in near for w in h.warm], _LOW),
            _quantile([c for h in near for c in h.cool if c > 0], 1 - _LOW),
            _median([p for p in powers if p > 0]),
        )
    return baseline


def window_changes(
    hours: list[HourFeatures], baseline: dict[int, HourBaseline]
) -> dict[str, Change]:
    """Each feature over the window against the baseline of the same hours."""
    pairs = [(h, b) for h in hours if h.usable and (b := baseline.get(h.hour)) is not None]
    found = [_duty_change(pairs), _warm_change(pairs), _pull_change(pairs), _energy(pairs)]
    return {c.feature: c for c in found if c is not None}


def _duty_change(pairs: list[tuple[HourFeatures, HourBaseline]]) -> Change | None:
    """Metered duty only: from the probe alone, a door opening the probe did not flag as an
    upset shortens the rise of its cycle, and the slopes' low quantiles say the same more
    cleanly."""
    metered = bool(pairs) and all(h.metered_ms for h, _ in pairs if h.usable)
    if not metered:
        return None
    usable = [(h, b.duty) for h, b in pairs if b.duty is not None]
    total = sum(h.metered_ms for h, _ in usable)
    if total < _MIN_CYCLE_MS:
        return None
    now = sum(h.metered_on_ms for h, _ in usable) / total
    base = sum(h.metered_ms * d for h, d in usable) / total
    return Change("duty", base, now, f"{base:.0%}", f"{now:.0%}") if base > 0 else None


def _warm_change(pairs: list[tuple[HourFeatures, HourBaseline]]) -> Change | None:
    ratios = [w / b.warm for h, b in pairs if b.warm for w in h.warm]
    bases = [b.warm for h, b in pairs if b.warm and h.warm]
    if len(ratios) < _MIN_SLOPES:
        return None
    base = statistics.median(bases)
    now = base * (_quantile(ratios, _LOW) or 0.0)
    return Change("warm_rate", base, now, f"{base:.1f} K/h", f"{now:.1f} K/h")


def _pull_change(pairs: list[tuple[HourFeatures, HourBaseline]]) -> Change | None:
    """Pull-down time is the inverse of the cooling rate: compare minutes per kelvin."""
    ratios = [b.cool / c for h, b in pairs if b.cool for c in h.cool if c > 0]
    bases = [60.0 / b.cool for h, b in pairs if b.cool and h.cool]
    if len(ratios) < _MIN_SLOPES:
        return None
    base = statistics.median(bases)
    now = base * (_quantile(ratios, _LOW) or 0.0)
    return Change("pull_down", base, now, f"{base:.1f} min/K", f"{now:.1f} min/K")


def _energy(pairs: list[tuple[HourFeatures, HourBaseline]]) -> Change | None:
    usable = [(h, b.power_w) for h, b in pairs if h.metered_ms and b.power_w]
    total = sum(h.metered_ms for h, _ in usable)
    if total < _MIN_CYCLE_MS:
        return None
    now = sum(h.energy_wh for h, _ in usable) * _HOUR_MS / total
    base = sum(h.metered_ms * (p or 0.0) for h, p in usable) / total
    if now <= 0:
        return None
    return Change("energy", base, now, f"{base:.0f} Wh/h", f"{now:.0f} Wh/h")


def cycle_ms(hours: list[HourFeatures]) -> int:
    return sum(h.cycle_ms for h in hours)


def _enough(hours: list[HourFeatures]) -> bool:
    slopes = sum(len(h.warm) for h in hours)
    return slopes >= _MIN_SLOPES and cycle_ms(hours) >= _MIN_CYCLE_MS


def evidence_window(history: list[HourFeatures], end: int, window_h: int) -> list[HourFeatures]:
    """The hours of the window ending before `history[end]`: the last `window_h`, reaching
    further back (at most `WINDOW_REACH` times as far) while they hold too few clean cycles
    to say anything."""
    start = max(0, end - window_h)
    earliest = max(0, end - WINDOW_REACH * window_h)
    while start > earliest and not _enough(history[start:end]):
        start -= 1
    return history[start:end]


def combined(
    changes: dict[str, Change], spread: dict[str, Spread], data_ms: int | None = None
) -> tuple[float, float]:
    """(z, load): the weighed mean of each feature's robust z-score and of its relative move
    beyond its usual one. Empty: (0, 0). A window holding less clean cycle time than the
    learning days' usual (`data_ms` against spread[DATA]) is noisier by the square root of
    the ratio: its z-scores shrink by as much."""
    scored = [(c, spread[f], WEIGHTS[f]) for f, c in changes.items() if f in spread]
    weight = sum(w for _, _, w in scored)
    if not weight:
        return 0.0, 0.0
    z = sum(w * (c.relative - s.center) / s.spread for c, s, w in scored) / weight
    usual = spread.get(DATA)
    if data_ms is not None and usual is not None and 0 < data_ms < usual.center:
        z *= math.sqrt(data_ms / usual.center)
    load = sum(w * (c.relative - s.center) for c, s, w in scored) / weight
    return z, load


@dataclass(slots=True)
class _Scored:
    hour: int  # local hour the window ends in
    changes: dict[str, Change]
    data_ms: int


def learn_spread(
    history: list[HourFeatures], window_h: int, coarse: float = 0.0
) -> dict[int, dict[str, Spread]]:
    """Per local hour a window ends in, per feature, the centre and spread of the window
    statistic on the learning days, each day scored against a baseline of the other days;
    under SCORE, those of the combined z-score, so the score an alert is graded on is in
    units of the unit's own spread at that time of day (a window of busy kitchen hours
    wanders more than a night's). Windows ending within `_POOL_H` hours are pooled.
    `coarse`: the probe's resolution as a share of the usual swing; features read from the
    probe's turning points are no finer than that, however steady the learning days were."""
    if not history:
        return {}
    first = history[0].start_ms
    day_of = [(h.start_ms - first) // (24 * _HOUR_MS) for h in history]
    windows: list[_Scored] = []
    for day in sorted(set(day_of)):
        baseline = learn_baseline([h for h, d in zip(history, day_of, strict=True) if d != day])
        for end in range(window_h, len(history) + 1):
            if day_of[end - 1] == day:
                window = evidence_window(history, end, window_h)
                scored = _Scored(window[-1].hour, window_changes(window, baseline), 0)
                scored.data_ms = cycle_ms(window)
                windows.append(scored)
    metered = all(h.metered_ms for h in history if h.usable)
    floors = {
        f: max(floor, coarse) if f in _FROM_PROBE and not (f == "duty" and metered) else floor
        for f, floor in _SPREAD_FLOOR.items()
    }
    spread: dict[int, dict[str, Spread]] = {}
    for hour in range(24):
        near = [w for w in windows if min((w.hour - hour) % 24, (hour - w.hour) % 24) <= _POOL_H]
        learned = _hour_spread(near, floors)
        if learned:
            spread[hour] = learned
    return spread


def _hour_spread(windows: list[_Scored], floors: dict[str, float]) -> dict[str, Spread]:
    spread: dict[str, Spread] = {}
    for feature in FEATURES:
        values = [w.changes[feature].relative for w in windows if feature in w.changes]
        if len(values) >= _MIN_SCORES:
            spread[feature] = _robust(values, floors[feature])
    if not spread:
        return {}
    spread[DATA] = Spread(statistics.median(w.data_ms for w in windows), 0.0)
    scores = [combined(w.changes, spread, w.data_ms)[0] for w in windows if w.changes]
    if len(scores) < _MIN_SCORES:
        return {}
    spread[SCORE] = _robust(scores, _SCORE_FLOOR)
    return spread


def _robust(values: list[float], floor: float) -> Spread:
    center = statistics.median(values)
    mad = statistics.median(abs(v - center) for v in values)
    return Spread(center, max(_MAD_TO_SIGMA * mad, floor))


def ready_to_learn(
    age_ms: int, served_ms: int, learned: int, needed: int, baseline_ms: int
) -> bool:
    """Whether a baseline is learned after `age_ms` of readings, `served_ms` of them on days
    with meals, holding `learned` hours of clean cycles, `needed` being asked within
    `baseline_ms` of days with meals. A unit short of clean hours settles for half of them
    once `_LEARN_LONGEST` times as long has passed, weekends included: a busy prep counter
    fills its hours on the weekend's quiet nights, and waiting for the next school days let a
    leak that began on the Sunday into its learning."""
    if served_ms < baseline_ms:
        return False
    return learned >= needed or settles(age_ms, learned, needed, baseline_ms)


def settles(age_ms: int, learned: int, needed: int, baseline_ms: int) -> bool:
    """Whether a unit short of the `needed` hours settles for the `learned` it holds: once
    `_LEARN_LONGEST` times `baseline_ms` has passed, for `_LEARN_FLOOR` of them."""
    return age_ms >= _LEARN_LONGEST * baseline_ms and learned >= _LEARN_FLOOR * needed


def window_health(
    window: list[HourFeatures],
    baseline: dict[int, HourBaseline],
    spread: dict[str, Spread] | None,
    fail_ratio: float,
) -> tuple[list[Change], float | None, float]:
    """(changes shown, score, health) of the window's clean cycles against the baseline and
    the unit's day-to-day spread for the hour it ends in; no changes and health 1 when they
    say nothing."""
    if spread is None:
        return [], None, 1.0
    changes = window_changes(window, baseline)
    shown = [c for f, c in changes.items() if f in spread]
    if not shown:
        return [], None, 1.0
    z, load = combined(changes, spread, cycle_ms(window))
    score = (z - spread[SCORE].center) / spread[SCORE].spread
    return shown, score, health_from_load(load, fail_ratio)
