"""Where a sparse probe read each trough of its sawtooth, and how crowded that reading phase
is among the teeth before it (issue 11); the arithmetic behind `cycle_inference`'s `phase`
and `phase_excess`.

A probe reads on its own clock, a fixed interval apart, so each trough falls between two
readings. Its time is where the fall line through the reading before the lowest one meets
the rise line through the reading after it (slopes: the recent teeth's medians), its phase
that time's place in the reading interval. A phase that sweeps visits every part of the
interval evenly: among n earlier teeth, 2·band·n of them sit within ±band of any one, a
binomial count. Teeth beyond that crowd the phase: the readings repeat it, and with it the
slope error the reading timing puts in each tooth.
"""

from __future__ import annotations

import math
import statistics

__all__ = ["apart", "crowding", "phase_band", "trough_phase", "turn_meet"]

_HOUR_MS = 3_600_000
_PHASE_BAND = 0.08  # a share of the reading interval
_CHANCE_SIGMAS = 0.5  # of the count a sweeping phase puts near a phase (binomial)

Reading = tuple[int, float]  # (ms, °C)
Slopes = list[tuple[float, float]]  # per recent tooth: steepest rise, steepest fall (K/h)


def _lines(slopes: Slopes) -> tuple[float, float]:
    """The recent teeth's rise and fall rates (K/h, both positive): their medians."""
    rise = statistics.median(s[0] for s in slopes)
    fall = -statistics.median(s[1] for s in slopes)
    return rise, fall


def trough_phase(
    before: Reading, after: Reading, low_ms: int, slopes: Slopes, read_ms: float
) -> float:
    """Where the trough read lowest at `low_ms` fell in the reading interval (0-1): the fall
    line through the reading `before` meets the rise line through the reading `after`."""
    meet, _ = turn_meet(before, after, slopes, peak=False)
    return ((meet - low_ms) / read_ms) % 1.0


def turn_meet(before: Reading, after: Reading, slopes: Slopes, peak: bool) -> tuple[float, float]:
    """The instant (ms) and temperature of the turn between the readings `before` and
    `after` the extreme one: where the line through `before` (the rise line for a peak, the
    fall line for a trough) meets the other line through `after`, held between the two
    readings."""
    rise, fall = (rate / _HOUR_MS for rate in _lines(slopes))  # K/ms
    first, second = (rise, fall) if peak else (fall, rise)
    sign = 1.0 if peak else -1.0  # a peak's first line climbs to the turn, a trough's falls
    meet = (sign * (after[1] - before[1]) + first * before[0] + second * after[0]) / (fall + rise)
    meet = min(max(meet, float(before[0])), float(after[0]))
    return meet, before[1] + sign * first * (meet - before[0])


def phase_band(step_c: float | None, slopes: Slopes, read_ms: float | None) -> float:
    """How close two phases must be to count as one: `_PHASE_BAND`, or the display's step
    over what the air moves in a reading interval (down one line, up the other), the finest
    a phase is read to, when that is coarser (at most half: then no phase is crowded)."""
    if not slopes or not read_ms or not step_c:
        return _PHASE_BAND
    rise, fall = _lines(slopes)
    moved = (rise + fall) * read_ms / _HOUR_MS
    return min(0.5, max(_PHASE_BAND, step_c / moved))


def crowding(seen: list[float], phase: float, band: float) -> float:
    """How many of the earlier phases `seen` sat within `band` of `phase` beyond what a
    sweeping phase puts there, less `_CHANCE_SIGMAS` σ of that binomial count."""
    near = sum(1 for p in seen if apart(p, phase) <= band)
    share = 2 * band  # of a sweeping phase's troughs
    spread = math.sqrt(len(seen) * share * (1 - share))
    return near - (share * len(seen) + _CHANCE_SIGMAS * spread)


def apart(a: float, b: float) -> float:
    """The distance of two phases on the circle of the reading interval."""
    return min(abs(a - b), 1 - abs(a - b))
