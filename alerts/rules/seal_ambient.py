"""The kitchen's own temperature, where a cold cabinet reports it beside its air
(`ambient_temp_c`: a controller's second probe, or a two-channel sensor), taken out of the
seal's evidence.

A leaking gasket lets kitchen air in: an extra load UA_leak x (T_kitchen - T_cabinet). A
warmer kitchen adds UA_walls x its rise through the walls, and from inside the cabinet the two
look alike for as long as the kitchen stays warm: the air warms faster with the compressor off,
pulls down slower with it on, and the compressor runs a larger share. A bare probe cannot tell
a hot day from a leak's first day (held-out walk-in 10, seed 6, temperature only: a night and
day 2 K warmer than its learning nights raised a seal alert; held-out old unit 00, seed 9, did
the same on a warm Wednesday evening). The DESIGN asks for a baseline normalised for the
kitchen's temperature; the compressor's draw infers it (`seal_power`), a probe in the kitchen
air reads it.

- The kitchen's temperature is followed with the walls' lag (`_WALL_TAU_MS`): insulation and
  the cabinet's own mass answer a change in the room over about an hour (assumed).
- Its norm per local hour is the median of the learning days' hours, kept apart for days with
  meals and days without (a weekend's idle kitchen is cooler; the quiet days fall back to the
  school days' norms when the learning saw none of their own). A cycle is weighed against the
  norm where it ended, straight between the middles of its hour and the next or last (a
  kitchen warming for lunch within the hour is not its hour's mean at both ends); a whole
  hour against its hour's. A probe added after the seal's baseline is learned from its first
  `_LATE_LEARNING_H` hours; one silent for `_STALE_MS` stops speaking.
- A kitchen above its norm by dT moves the cycles' load by log((T_norm + dT - T_c) /
  (T_norm - T_c)), T_c the cabinet's median air on the learning days, and takes
  `seal_power.CAPACITY_PER_K` of the compressor's capacity per kelvin: the
  on-share's shift is their sum. As with the draw, only a warmer kitchen takes evidence out:
  fans, lights and doors carry part of the load and do not follow the kitchen, so the ratio
  credits a cooler one with more than it took away; a kitchen that warms past
  `_EXCESS_CAP_K` above its norm is believed only that far (a probe set down by the oven).
- Only the kitchen beyond its usual wander counts: the evidence's drift allowance k was
  learned on days whose kitchen wandered (one robust sigma of the learning hours about their
  norms, `wander_c`), so it already allows for that much, and a one-sided correction of
  every kitchen above its norm took out some of it every day: from a Monday, held-out seeds
  1-3, 0.35 leaks confirmed within 24 h went from 27 to 25 of 45 with the kitchen reported,
  0.2 leaks within 72 h from 30 to 26.
- The shift applies where the draw's does (`seal_cold`): to each clean cycle's features
  (`seal_cusum.without_kitchen`), to the clean metered hours' on-share, to the probe's falling
  share (read in full: the share moves less than the duty, so the kitchen's is over-taken,
  erring toward no alert), and to the folded period at the unit's on-share
  (`seal_fold.kitchen_share`). Where a cabinet reports the kitchen, its reading stands in for
  what the draw infers. The level above the low is read as it is: a thermostat holds it.

Each seal-health point says how far the hour's kitchen ran off its norm (`kitchen_excess_c`).
A cabinet that never reports `ambient_temp_c` is judged exactly as before: no norms are
learned, every shift is None.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alerts.rules.seal_power import CAPACITY_PER_K, MIN_GAP_K

__all__ = [
    "KitchenState",
    "follow_kitchen",
    "kitchen_excess",
    "kitchen_hour_shift",
    "kitchen_moves",
    "learn_kitchen",
    "learned",
    "roll_kitchen_hour",
    "unread_gap",
    "unread_kitchen_move",
]

_HOUR_MS = 3_600_000
_WALL_TAU_MS = _HOUR_MS
# The kitchen believed at most this far above its norm: a heat wave or a broken extractor
# hood warms a kitchen by a few kelvin for hours; further is the probe's own surroundings.
_EXCESS_CAP_K = 6.0
# Learning hours kept for the norms: the longest learning (1.5 times `seal_baseline_days`
# of 4 with weekends between) with room to spare; and the hours' shifts kept once judged,
# for the per-hour streams that settle an hour two hours late.
_LEARNING_KEPT_H = 12 * 24
_SHIFTS_KEPT = 6
_MIN_HOUR_DAYS = 2  # learning days a local hour's norm needs
_MAD_TO_SIGMA = 1.4826
_LATE_LEARNING_H = 4 * 24  # a kitchen probe added after the baseline: four days of it
# A kitchen probe silent this long is no longer followed: its last reading says nothing of now.
_STALE_MS = 2 * _HOUR_MS
# A kitchen at the cool end of a school kitchen's air (winter, the hood running): a kelvin
# there moves a cabinet's load through its walls the most (assumed; the bench's independent
# plant draws its kitchens' nights from 16-26 °C and adds the cooking to them).
_COOL_KITCHEN_C = 20.0


@dataclass(slots=True)
class KitchenHour:
    hour: int  # local hour of day
    quiet: bool  # a day without meals
    kitchen_c: float  # the followed kitchen's mean over the hour
    air_c: float | None  # the cabinet's mean air over the hour


@dataclass(slots=True)
class KitchenState:
    # the kitchen followed with the walls' lag, and its last reading's time
    level_c: float | None = None
    last_ms: int | None = None
    # the hour under way: its start, local hour and kind, and its sums
    hour_start_ms: int | None = None
    hour_local: int = 0
    hour_quiet: bool = False
    kitchen_sum: float = 0.0
    kitchen_n: int = 0
    air_sum: float = 0.0
    air_n: int = 0
    learning: list[KitchenHour] = field(default_factory=list)
    # learned: the norm per local hour, days with meals and days without; the cabinet's air
    school: dict[int, float] = field(default_factory=dict)
    quiet: dict[int, float] = field(default_factory=dict)
    cabinet_c: float | None = None
    # how far the learning days' kitchen wandered about its norms (a robust sigma, K): the
    # evidence's drift allowance was learned with that much in it (`_moves`)
    wander_c: float = 0.0
    # the ended hours' on-share shifts once learned: (start, log shift, the kitchen's mean
    # off its norm in K)
    shifts: list[tuple[int, float, float]] = field(default_factory=list)


def follow_kitchen(st: KitchenState, ts: int, kitchen_c: float | None, air_c: float | None) -> None:
    """One reading: the kitchen's temperature (None: not in this sample) followed with the
    walls' lag, and the hour's sums."""
    if kitchen_c is not None and math.isfinite(kitchen_c):
        if st.level_c is None or st.last_ms is None:
            st.level_c = kitchen_c
        elif ts > st.last_ms:
            keep = math.exp(-(ts - st.last_ms) / _WALL_TAU_MS)
            st.level_c = kitchen_c + (st.level_c - kitchen_c) * keep
        st.last_ms = ts if st.last_ms is None else max(st.last_ms, ts)
    if st.level_c is None or st.last_ms is None or ts - st.last_ms > _STALE_MS:
        return  # no kitchen reported (lately): nothing to sum
    st.kitchen_sum += st.level_c
    st.kitchen_n += 1
    if air_c is not None and math.isfinite(air_c):
        st.air_sum += air_c
        st.air_n += 1


def roll_kitchen_hour(st: KitchenState, start_ms: int, hour: int, quiet: bool) -> None:
    """The hour from `start_ms` (local `hour`, on a day without meals or not) begins: the one
    that ended is kept for learning, or, once learned, gives its on-share shift
    (`kitchen_hour_shift`)."""
    if st.hour_start_ms == start_ms:
        return
    if st.hour_start_ms is not None and st.kitchen_n:
        kitchen = st.kitchen_sum / st.kitchen_n
        air = st.air_sum / st.air_n if st.air_n else None
        if not learned(st):
            done = KitchenHour(st.hour_local, st.hour_quiet, kitchen, air)
            st.learning = [*st.learning, done][-_LEARNING_KEPT_H:]
        else:
            norm = _norm(st, st.hour_local, st.hour_quiet)
            shift = sum(_moves(st, kitchen, norm))
            excess = kitchen - norm if norm is not None else 0.0
            st.shifts = [*st.shifts, (st.hour_start_ms, shift, excess)][-_SHIFTS_KEPT:]
    st.kitchen_sum, st.kitchen_n, st.air_sum, st.air_n = 0.0, 0, 0.0, 0
    st.hour_start_ms, st.hour_local, st.hour_quiet = start_ms, hour, quiet


def learned(st: KitchenState) -> bool:
    return st.cabinet_c is not None and bool(st.school)


def learn_kitchen(st: KitchenState, *, late: bool = False) -> None:
    """The seal's baseline is learned: so are the kitchen's norms, from the hours kept since
    the kitchen was first reported (nothing when it never was). `late`: the baseline was
    learned before the kitchen was reported (a probe added since); its norms are learned
    once `_LATE_LEARNING_H` hours of it are kept."""
    if learned(st) or (late and len(st.learning) < _LATE_LEARNING_H):
        return
    hours, airs = st.learning, [h.air_c for h in st.learning if h.air_c is not None]
    school = _norms([h for h in hours if not h.quiet])
    if not school or not airs:
        st.learning = [] if not late else st.learning
        return
    st.school, st.quiet = school, _norms([h for h in hours if h.quiet])
    st.cabinet_c = statistics.median(airs)
    residuals = [
        abs(h.kitchen_c - norm) for h in hours if (norm := _norm(st, h.hour, h.quiet)) is not None
    ]
    st.wander_c = _MAD_TO_SIGMA * statistics.median(residuals) if residuals else 0.0
    st.learning = []


def _norms(hours: list[KitchenHour]) -> dict[int, float]:
    by_hour: dict[int, list[float]] = {}
    for h in hours:
        by_hour.setdefault(h.hour, []).append(h.kitchen_c)
    return {
        hour: statistics.median(values)
        for hour, values in by_hour.items()
        if len(values) >= _MIN_HOUR_DAYS
    }


def kitchen_moves(
    st: KitchenState, ts: int, start_ms: int, hour: int, quiet: bool
) -> tuple[float, float] | None:
    """What the kitchen, as followed at `ts`, moves for a cycle scored in the local `hour`
    that began at `start_ms`: the log load through the walls it added and the log capacity it
    took away (both 0 for a kitchen at or below its norm); None where it does not speak (never
    reported, silent for `_STALE_MS`, or not learned). The norm at `ts` runs straight between
    the hours' norms, each taken at its hour's middle: a kitchen that warms for lunch within
    the hour is not read as the hour's mean at its start and end."""
    if not learned(st) or st.level_c is None or st.last_ms is None:
        return None
    if ts - st.last_ms > _STALE_MS:
        return None
    return _moves(st, st.level_c, _norm_at(st, (ts - start_ms) / _HOUR_MS, hour, quiet))


def kitchen_hour_shift(st: KitchenState, start_ms: int) -> float | None:
    """The log on-share shift the kitchen explains in the ended hour from `start_ms`, None
    when it gave none (no kitchen reported in it, or not learned)."""
    return next((shift for at, shift, _ in reversed(st.shifts) if at == start_ms), None)


def kitchen_excess(st: KitchenState, start_ms: int) -> float | None:
    """How far the kitchen's mean over the ended hour from `start_ms` stood off its norm (K),
    for the seal-health points; None where it gave none."""
    return next((excess for at, _, excess in reversed(st.shifts) if at == start_ms), None)


def _norm(st: KitchenState, hour: int, quiet: bool) -> float | None:
    norms = st.quiet if quiet and hour % 24 in st.quiet else st.school
    return norms.get(hour % 24)


def _norm_at(st: KitchenState, into: float, hour: int, quiet: bool) -> float | None:
    """The norm `into` (0-1) of the way through local `hour`, straight between the middles
    of the hour and the one before or after (the hour's own where that has none)."""
    middle = _norm(st, hour, quiet)
    if middle is None:
        return None
    toward = hour + 1 if into >= 0.5 else hour - 1
    beside = _norm(st, toward, quiet)
    if beside is None:
        return middle
    return middle + abs(into - 0.5) * (beside - middle)


def _moves(st: KitchenState, kitchen_c: float, norm: float | None) -> tuple[float, float]:
    cabinet = st.cabinet_c
    if norm is None or cabinet is None or norm - cabinet < MIN_GAP_K:
        return 0.0, 0.0
    excess = min(_EXCESS_CAP_K, max(0.0, kitchen_c - norm - st.wander_c))
    top = norm + st.wander_c  # the warmest the learning days' kitchen usually ran
    return math.log1p(excess / (top - cabinet)), CAPACITY_PER_K * excess


def unread_kitchen_move(cabinet_c: float, swing_k: float) -> float:
    """The log load a kitchen `swing_k` warmer than on the learning days adds through the
    walls of a cabinet at `cabinet_c` (°C), in a cool kitchen (`_COOL_KITCHEN_C`), where
    neither its own probe nor a meter reads it: what a bare probe's slopes can move by on a
    healthy unit, beside their own noise. A fridge at 4 °C moves about twice as far as a
    freezer at -20 °C for the same kelvin, while a leak moves both by its share of the walls'
    UA."""
    return math.log1p(max(0.0, swing_k) / unread_gap(cabinet_c))


def unread_gap(cabinet_c: float) -> float:
    """The gap (K) from a cabinet at `cabinet_c` to the cool kitchen `unread_kitchen_move`
    reckons with (`_COOL_KITCHEN_C`), at least `MIN_GAP_K`."""
    return max(MIN_GAP_K, _COOL_KITCHEN_C - cabinet_c)
