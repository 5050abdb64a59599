"""Evidence of a leaking seal from the warming half of each clean cycle alone: its time, or how
far it rises.

With the compressor off, the air warms at the heat load over the cabinet's heat capacity, and
nothing else: the compressor's capacity, which a warmer kitchen lowers, and the pull-down,
which a lagging probe bends, play no part. A thermostat shows that load in one of two ways:

- **free**: the air warms to the cut-in and the compressor starts. The rise spans the
  differential, so its time is the differential times the capacity over the load: a leak
  that lifts the load by x (log) shortens the off time by x. The rise itself stays the
  differential; read through a lagging probe it even shrinks a little (a faster rise leaves
  the probe further behind at the turn).
- **held off**: the controller keeps the compressor off for a minimum time after it stopped
  (the anti-short-cycle delay: Dixell XR series parameter AC, "minimum interval between the
  compressor stop and the following restart"; a few minutes is a common setting, see
  `cycle_inference`), and a small cabinet whose air reaches the cut-in sooner waits above
  it. The off time is that minimum whatever the load, and the rise is the load times the
  minimum over the capacity: a leak lifts it by x.

The warming rate (`seal_cusum`: rise over off time) moves by x either way, but carries both
halves' errors at once: the off time counted in whole readings (a 4-min rise read every
minute is 4 or 5 readings), the rise in display steps; and on a free unit the lagging probe's
shrinking rise takes part of the move back. On the bench's held-out glass-door merchandisers
(0.35 leaks read every minute, seeds 1-2), the per-cycle warming rate moved by 0.7-1.8 of its
spreads, the off time of the free units by 1.3-3.1 of its own, the rise of one held off by
its controller (half of that family's units are) by 1.6 and its top by 4.

So each clean cycle gives two readings of the load: the pace (-log off time) and the rise
(log K), both read between where the air turned at each end, not from reading to reading
(`cycle_inference.InferredCycle.warm_half`): counted in readings, a held-out under-counter
freezer's 250-s off time read every minute read 180 s and 240 s on alternate teeth for whole
nights when its period put its turns at two reading phases, its pace 2-3 spreads high each
second tooth with no change in its load, and it was alerted. Each is centred and scaled on
the unit's own hourly norms (`seal_cusum.learn_norms`: both spreads at least what the display
leaves, the pace's at least half a reading where it was counted in readings), and the
cycle's z is the larger of the two: the one that reads the load
on this unit. Which one that is need not be learned: on a free unit the rise does not move
with a leak, on a held-off unit the off time does not. The larger of two z's is larger than
either on healthy cycles too; the learning days' mean of it is the centre (the norms'
offset), and the unit's own drift allowance and threshold are learned from its left-out
learning days as the per-cycle stream's are (`seal_cusum.learn_cusum`). The stream confirms a
leak alone, as the per-cycle stream does (`seal_fuse`), on a unit without a meter; beside one
only once the metered on-share moved with it, and until then it only agrees with another
stream (`seal_cold._METER_AGREES`).
"""

from __future__ import annotations

import math

from alerts.rules.seal_cusum import CLIP, PACE, RISE, HourNorm

__all__ = ["COARSEST", "score_rise"]

_FEATURES = (PACE, RISE)
# The coarsest display (its step as a share of the usual rise) whose rises the stream reads:
# a display that shows the rise in a few steps reads it as one of a few values and each
# turn's time to within a step's share of the off time, and a tooth read a step longer is a
# jump of a quarter or more: a simulated healthy 1 K fridge on a 0.5 K display, its teeth read
# as 2 K in four steps, went pending on this stream alone, its rises read 1.5-2.5 K for a
# night. Read in five steps or more, a step is a fifth of the rise at most.
COARSEST = 0.2
# Each feature's z is clipped a spread tighter than the per-cycle stream's (`seal_cusum.CLIP`,
# `CusumModel.clip`): there a cycle reaches the bound only when all its features do, here when
# either does, so one misread half (a door the rule did not see, a turn read a step late) can
# carry its cycle. At most 1.5 beyond the allowance, a run of them needs half again as many
# cycles to reach h (the simulated 0.5 K display above: 5 odd teeth in a night, each moved
# by half or more, had carried the stream to h).
_TIGHTER = 1.0
# The move is read on the feature farther from its norm either way, not on the one that gave
# the z: sized on the larger z, a cycle whose rise read low on a unit held off at its
# minimum gave the pace's move (about 0: its off time does not move) instead of its own
# negative one, and the recent cycles' median (`seal_cusum.CusumState.move`) could then only
# rise with the high ones. Sized either way, high and low cycles cancel, and a leak, which
# moves one feature up cycle after cycle, still gives that feature's move.


def score_rise(logs: dict[str, float], norm: HourNorm, clip: float = CLIP) -> tuple[float, float]:
    """(z, move): the larger of the pace's and the rise's z against the hour's norm (each
    clipped at -`CLIP` and `clip` less `_TIGHTER`), centred on the learning days' mean, and
    the relative move of the feature farther from its norm either way (see above), centred on
    the learning days' median."""
    bound = clip - _TIGHTER
    scored = [
        (max(-CLIP, min(bound, (logs[f] - norm.center[f]) / norm.spread[f])), f)
        for f in _FEATURES
        if f in logs and f in norm.center
    ]
    if not scored:
        return 0.0, 0.0
    z, _ = max(scored)
    _, sizing = max((abs(s), f) for s, f in scored)
    return z - norm.offset, math.expm1(logs[sizing] - norm.center[sizing]) - norm.move
