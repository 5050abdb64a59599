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
as on a test plant read every 5 min: the one-sided evidence then stays silent.)

A move is the change between two successive readings no further apart than the cycle
reader's gap, both in clean time (no door, defrost, excursion or faulty probe, see
`seal_cold`); a reading equal to the last (a coarse probe's level) is no move. Moves are held
back as the metered time is (`seal_duty.CleanTime`), so a defrost or door the probe shows
only at its peak claims its moves back. An hour with at least `_MIN_MOVES` moves gives one
value, its share of falls; the unit's own learning days give its hourly norms, spread, drift
allowance and threshold exactly as for the metered on-share (`seal_duty.learn_duty`), with
the floors `seal_evidence_k` and `seal_probe_evidence_h`. Only a cabinet whose learning days
gave neither per-cycle norms nor a metered on-share uses it: both say the same thing better,
and a noisy probe's flicker (falling as often as rising) moves the share on a unit the
cycles judge well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alerts.rules.seal import Change
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_duty import CleanTime, DutyModel

__all__ = ["ProbeMoves", "hour_falls", "window_falls"]

# An hour speaks with at least this many moves: a 5-min probe gives at most 12 a clean hour;
# below 6 the share takes only a few values (0, 1/5, 2/5...) and one move is a fifth of it.
_MIN_MOVES = 6


@dataclass(slots=True)
class ProbeMoves(CleanTime):
    """The probe's clean moves, held back and claimed as `CleanTime`'s metered time is; each
    move counts once (its length is 1) and is a fall or a rise."""

    def credit(self, hour: HourFeatures, length: int, on: bool) -> None:
        hour.moves += length
        hour.falls += length if on else 0


def hour_falls(hour: HourFeatures) -> float | None:
    """The share of the hour's clean moves that fell, None for too few moves."""
    if hour.moves < _MIN_MOVES:
        return None
    return hour.falls / hour.moves


def window_falls(hours: list[HourFeatures], model: DutyModel) -> Change | None:
    """The window's share of falling moves against its hours' norms (for the alert text)."""
    pairs = [
        (h, n.center)
        for h in hours
        if hour_falls(h) is not None and (n := model.hours.get(h.hour)) is not None
    ]
    total = sum(h.moves for h, _ in pairs)
    if not total:
        return None
    now = sum(h.falls for h, _ in pairs) / total
    base = sum(h.moves * math.exp(center) for h, center in pairs) / total
    return Change("probe_duty", base, now, f"{base:.0%}", f"{now:.0%}")
