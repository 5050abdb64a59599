"""Seal evidence that agrees across streams: two streams well on their way say more than one.

Each stream accumulates its own evidence against its own decision threshold h
(`seal_cusum`): the per-cycle slopes read from the probe's sawtooth, the metered on-share of
clean hours (`seal_duty`), the probe's falling share (`seal_probe_duty`) and whole metered
cycles in every hour (`seal_power`). A leaking gasket lets kitchen air in all the time
(DESIGN.md, seal failure physics), and that one extra load moves every stream the same way at
once: the air warms faster while the compressor rests, pulls down slower while it runs, and
the compressor runs a larger share of every hour, clean or busy. What else moves one stream
far leaves the others alone: a probe's reading phase locked to the cycle (the sawtooth
stream), a clean-time window that happens to hold only the hour's long cycles (the metered
hours), a door the contact did not report (every hour's cycles). Where the streams'
healthy wanderings are independent, two of them past a share s of their own h together are
about as rare as one past 2s (a one-sided CUSUM's excursions above x fall off about as
e^(-θx)); a common cause that moves them together (a hot kitchen day, a busy day) is what
each stream's drift allowance k is learned against (two spreads of the half-day shifts of
its learning days), and it is why s is well above 1/2.

So beside the single stream furthest towards its h (which alone still confirms a leak at h),
`weigh` reads the agreement: the streams whose evidence moved beyond their own minimum move,
ranked by share; the second-highest share over `AGREE_SHARE` is the agreement's share. Two
streams each past `AGREE_SHARE` of their h confirm a leak as one stream at h does, and the
finding names the streams that agreed. A stream that does not speak alone (the probe's
falling share on a unit whose cycles the probe resolves: a noisy probe's flicker moves it)
may still agree with another.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from alerts.rules.seal_cusum import CusumModel, CusumState

__all__ = ["AGREE_SHARE", "Stream", "Verdict", "weigh"]

# The share of its own h each of two agreeing streams must reach. Under independence a pair
# past s is about as rare as one stream past 2s, so 1/2 would break even with one stream at h;
# common causes need more. Measured on the tuning families only (bench.detection's cohorts,
# seed 1, 10 healthy and 3 leaking units per severity and family, 12 days, ~400 healthy
# unit-days per data variant): the second-highest share of the streams that moved reached at
# most 0.30 on a healthy unit (a prep counter's clean metered hours and whole cycles), 0.22
# with temperature alone, while single streams reached 0.47-0.66 (metered) and 1.1 (cycles).
# 3/4 keeps 2.5 times the healthy pairs' maximum; any share from 0.5 to 0.75 gave the leaks
# the same hours there (the per-cycle stream mostly crosses 1/2 to 1 within an hour).
AGREE_SHARE = 0.75
# A move read over fewer cycles than half the recent ones (`seal_cusum._RECENT`, 16) is a
# median a few door-struck cycles or busy hours can make: a healthy metered fridge's clean
# hours (tests/alerts/test_seal_metered.py) went pending on a run of 4 hours moved by 0.4.
_MIN_RUN = 8
# A sparse probe's folded period (`seal_fold`) has no such picking to fear: its hours scatter
# by 0.004-0.034 (log) about their norms on the tuning families' folded units, under its least
# move (0.075-0.10), so its run's median speaks from 4 folded hours, at least two of them
# moved (one odd fold is not enough). Its hours come mostly at night, when doors rest: with 8,
# a walk-in whose leak began in the morning had its move read with the folds from before the
# leak until late in the night (held-out walk-ins with 0.35-0.6 leaks, temperature only,
# confirmed at 25-27 h, now 1-4 h sooner).
_MIN_PERIOD_RUN = 4


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream of accumulated evidence: its name (as staff see it), its state, its model
    (k, h), the move it must show, whether it may confirm a leak on its own, and whether its
    move is read over the evidence's run (`move`)."""

    name: str
    state: CusumState
    model: CusumModel
    min_move: float
    alone: bool = True
    run_move: bool = False

    @property
    def share(self) -> float:
        return self.state.evidence / self.model.h

    @property
    def move(self) -> float:
        """How far the cycles (hours) the evidence rests on moved beyond the learning days.

        The evidence's run began where it last stood at 0: the CUSUM's own reading of when
        the change began (Page 1954; the last zero is the change time's maximum-likelihood
        estimate). With `run_move` the move is the median over the run's cycles, up to the
        state's recent ones (`seal_cusum._RECENT`), so cycles from before the change do not
        dilute it: a walk-in whose probe draws a few clean cycles an hour spreads 16 of them
        over most of a day, half from before its leak. Otherwise, and while the run holds
        fewer than `_MIN_RUN` cycles (`_MIN_PERIOD_RUN` folded hours), the median of the
        recent cycles whatever the run (`CusumState.move`)."""
        state = self.state
        run = min(state.run_cycles, len(state.recent))
        least = _MIN_PERIOD_RUN if self.name == "period" else _MIN_RUN
        if not self.run_move or run < least:
            return state.move
        return statistics.median(state.recent[-run:])

    @property
    def moved(self) -> bool:
        return self.move >= self.min_move


@dataclass(frozen=True, slots=True)
class Verdict:
    """What speaks: its evidence as a share of h, whether it moved enough to matter, the
    move and cycles behind it, and the streams it rests on."""

    share: float
    moved: bool
    move: float
    cycles: int
    streams: tuple[str, ...]
    highest: float = 0.0  # the highest share any reading holds (a calm needs all low)


def weigh(streams: list[Stream]) -> Verdict:
    """The single stream furthest towards its h among those that moved (among all when none
    did), or the agreement of two or more streams that moved when it stands further (a
    verdict that moved before one that did not). A stream further on that did not move does
    not hide one that did: a held-out old unit's metered whole cycles stood at h with a move
    of 0.14 for 43 h behind its per-cycle evidence at 2 h, whose move stayed under its 0.15.
    `highest` is the highest share any stream holds."""
    alone = [s for s in streams if s.alone]
    moved = [s for s in alone if s.moved]
    single = _single(max(moved or alone, key=lambda s: s.share)) if alone else _NONE
    highest = max((s.share for s in alone), default=0.0)
    agreed = agreement(streams)
    if agreed is None:
        return replace(single, highest=highest)
    highest = max(highest, agreed.share)
    if single.moved and single.share >= agreed.share:
        return replace(single, highest=highest)
    return replace(agreed, highest=highest)


def agreement(streams: list[Stream]) -> Verdict | None:
    """The agreement of the streams that moved, None with fewer than two: the second-highest
    share over `AGREE_SHARE`, resting on the streams at least that far."""
    moved = sorted((s for s in streams if s.moved), key=lambda s: s.share, reverse=True)
    if len(moved) < 2 or moved[1].share <= 0:
        return None
    second = moved[1].share
    agreeing = [s for s in moved if s.share >= second]
    return Verdict(
        second / AGREE_SHARE,
        True,
        min(s.move for s in agreeing),
        max(s.state.run_cycles for s in agreeing),
        tuple(s.name for s in agreeing),
    )


def _single(stream: Stream) -> Verdict:
    share = stream.share
    return Verdict(share, stream.moved, stream.move, stream.state.run_cycles, (stream.name,), share)


_NONE = Verdict(0.0, False, 0.0, 0, ())
