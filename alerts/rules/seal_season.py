"""A bare probe's seal norms follow the seasons: their level moves, slowly and never faster
than the seasons move a kitchen, while no seal alert is raised.

A bare probe reads a leak and a warmer kitchen alike: both add load through the walls
(`seal_ambient`). The swing a kitchen makes from one week to the next is allowed for
(`seal_kitchen_swing_k`); the seasons are not a swing. A fridge that learned its baseline in
winter stands in a kitchen 0.1-0.2 K warmer each day through spring (the monthly means of a
temperate city climb 3-6 K a month from March to June), and its clean cycles drift with it.
On the bench's independent plant, a tuning-family kitchen warming 0.2 K a day from the sixth
day raised a seal alert on 11 of 12 healthy fridges read by a bare probe within 36 days; 0.1
K a day on 5 of 12.

A leak changes the load within hours (a torn or pushed-in gasket; the independent plant ramps
one in over 12 h), the seasons over weeks. So each evidence stream's norms (`LEVELLED`) keep
their learned shape, spread, allowance and threshold, and their level follows the clean hours
of days with meals: every hour, each feature's centres (log, every local hour alike) move by
1/`seal_season_hours` of the hour's mean residual from them, and by no more for each hour
since they last moved than a kitchen `SEASON_K_PER_DAY` warmer or cooler moves the
cabinet's load through its walls (`seal_ambient.unread_kitchen_move`: 0.016 a day for a
fridge at 4 °C). A leak is followed no faster: a 0.2 leak's move of 0.15-0.25 gains at most
0.05 on it in three days. While a seal alert is pending or raised the level holds. A quiet
kitchen's residuals (days without meals) are not the season's: they are left out.

Only where nothing reads the kitchen: a kitchen probe (`seal_ambient`) or a plug meter's draw
(`seal_power`) takes the kitchen's shift out against the learning days' kitchen. (Following
a metered unit's level as well spared 2 of 12 metered fridges in that spring and brought a
healthy held-out walk-in to 1.04 of its threshold.) The meter follows the season in its own
terms: its draw, which a leak leaves alone, gives the season's level (`seal_power`
`_follow_season`), the kitchen's shift is believed up to 3 K past it, and a weekend's cycles
are read at it.

Installing a fresh baseline learned in the background was tried first: four days' learning
left the level ten days behind a spring kitchen, two days' was too noisy (a healthy fridge
in a constant kitchen alerted earlier on a fresh level than on its first), and whole fresh
models drew new spreads each time (two of twelve healthy fridges alerted over 36 days on a
fresh model's tight folded period, against none on the first baseline).

A manual re-learn (`ColdSealRule.relearn`) starts from a new baseline, its level unmoved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from alerts.rules.seal_cusum import CusumModel, HourNorm
from alerts.rules.seal_duty import DutyModel

__all__ = ["LEVELLED", "SEASON_K_PER_DAY", "LevelTrack", "follow", "note", "note_cycle"]

# How fast the seasons may move a kitchen, per day (assumed: the steepest monthly means of a
# temperate city's spring, about 6 K a month, and a kitchen's share of it a little above).
SEASON_K_PER_DAY = 0.25
_HOUR_MS = 3_600_000
# The most hours a step may make up for (a unit off for a week comes back to its kitchen's
# level over days, not at once)
_LONGEST_H = 24.0
# The streams whose norms' level follows (`ColdSealState` models of the same names)
LEVELLED = ("cusum", "rise", "duty", "probe", "fold", "level")


@dataclass(slots=True)
class LevelTrack:
    """One stream's residuals in the hour under way (log, per feature; "" for an hourly
    stream's one value), and how far its level has moved since it was learned."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    moved: dict[str, float] = field(default_factory=dict)
    stepped_ms: int | None = None  # the last hour it moved in


def note(track: LevelTrack, feature: str, residual: float) -> None:
    """A clean value's residual from its norm's centre (log)."""
    if math.isfinite(residual):
        track.sums[feature] = track.sums.get(feature, 0.0) + residual
        track.counts[feature] = track.counts.get(feature, 0) + 1


def note_cycle(track: LevelTrack, logs: dict[str, float], norm: HourNorm) -> None:
    """A clean cycle's residuals, feature by feature."""
    for feature, value in logs.items():
        center = norm.center.get(feature)
        if center is not None:
            note(track, feature, value - center)


def follow(
    track: LevelTrack,
    model: CusumModel | DutyModel | None,
    rate: float,
    most_per_h: float,
    now_ms: int,
) -> CusumModel | DutyModel | None:
    """The hour ending `now_ms` ended: `model` with each feature's centres moved by `rate` of
    its mean residual, by at most `most_per_h` (log) for each hour since it last moved (an
    hour without clean cycles waits for the next); the hour's residuals are cleared."""
    since = track.stepped_ms
    waited = min(_LONGEST_H, (now_ms - since) / _HOUR_MS) if since is not None else 1.0
    most = most_per_h * max(1.0, waited)
    steps = {
        f: max(-most, min(most, rate * total / track.counts[f]))
        for f, total in track.sums.items()
        if track.counts.get(f)
    }
    track.sums, track.counts = {}, {}
    if model is None or not steps or not rate:
        return model
    track.stepped_ms = now_ms
    for f, step in steps.items():
        track.moved[f] = track.moved.get(f, 0.0) + step
    if isinstance(model, DutyModel):
        step = steps.get("", 0.0)
        hours = {h: replace(n, center=n.center + step) for h, n in model.hours.items()}
        return replace(model, hours=hours)

    def moved(norms: dict[int, HourNorm]) -> dict[int, HourNorm]:
        return {
            h: replace(n, center={f: v + steps.get(f, 0.0) for f, v in n.center.items()})
            for h, n in norms.items()
        }

    return replace(
        model, hours=moved(model.hours), busy=moved(model.busy), quiet=moved(model.quiet)
    )
