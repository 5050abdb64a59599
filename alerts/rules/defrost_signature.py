"""A unit's defrost signature, learned from its own warm spells: how long they last, how far the
air rises above its usual ceiling, and how far they warm the food.

A heater defrost ends on a termination thermostat or a timer, so one unit's defrosts repeat
their length and shape from day to day (the frost load moves them by a fraction). Each spell is
summed up three ways:

- its length: from the air rising well above the usual ceiling to the air back under it;
- its air rise: the warmest reading above the ceiling;
- its food rise: the most the spell's excess air (above the ceiling the spell began from)
  would warm a first-order food of the device's time constant (`alerts.rules.product`),
  tau dx/dt = (T_air - T_ceiling) - x from x = 0 at the spell's start.

Whether the spell in progress is one of this unit's defrosts is judged on its length and its
food rise. The air rise is no food-safety measure: a heater that holds the air 0.4 K warmer than
on other days, or a spell that began with the kitchen's doors before the defrost, outwarms the
air's spread for minutes and moves the food by a tenth of a kelvin. The food rise integrates
how warm and how long, the way the food itself does: it stays within the unit's spread for
such a spell, while a heater running away or a compressor that does not restart leaves it
within minutes to tens of minutes. The air rise stands in while fewer than three spells have a
food rise (a snapshot taken before it was learned).

The spread of each measure is taken over the upper cluster of the latest spells (those at least
half as long, or warm, as the third largest: a bare probe also records the door-made spells of
a busy kitchen, a few minutes and a kelvin or two each), as the median + 3 robust sigmas, never
narrower than a quarter of the median or a floor, and never below the largest spell seen: each
ended with the air back under its ceiling, so the unit has shown it recovers from that much.
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple

from alerts.rules.base import MINUTE_MS

__all__ = ["SIGNATURE_SPELLS", "DefrostSignature", "food_step", "learn_signature"]

# The signature speaks after this many warm spells (a day's defrosts at 3-6 a day); its spread
# is the median absolute deviation scaled to a standard deviation (x 1.4826), taken three
# times, and never narrower than a quarter of the typical spell: the frost load (doors, humid
# days) moves a heater's time to terminate by that much. Floors for units whose spells repeat
# to the reading: 5 min (a few readings at 1-2 min intervals), 1 K (a 0.5 K probe's step,
# twice).
SIGNATURE_SPELLS = 3
_SIGMAS = 3.0 * 1.4826
_SHARE = 0.25
_MIN_LENGTH_MS = 5 * MINUTE_MS
_MIN_RISE_C = 1.0


class DefrostSignature(NamedTuple):
    length_ms: int  # the longest a defrost of this unit lasts, pull-down included
    rise_c: float  # the most its air rises above the usual ceiling
    food_rise_c: float | None  # the most it warms the food; None: not learned yet


def food_step(food_c: float, excess_c: float, dt_ms: int, tau_ms: float) -> float:
    """The food's rise after `dt_ms` with the air `excess_c` above the ceiling since the last
    reading: the exact step of the first-order filter (as `ProductEstimate.update`)."""
    if dt_ms <= 0:
        return food_c
    return excess_c + (food_c - excess_c) * math.exp(-dt_ms / tau_ms)


def learn_signature(
    lengths: list[int], rises: list[float], food_rises: list[float], max_spell_ms: int
) -> DefrostSignature | None:
    """The signature from the recorded spells (each list oldest first, all ending at the latest
    spell; an older snapshot may hold fewer food rises), or None before three spells no longer
    than a defrost and its recovery."""
    spells = list(zip(reversed(lengths), reversed(rises), strict=False))
    kept = [(n, rise) for n, rise in spells if n <= max_spell_ms]
    if len(kept) < SIGNATURE_SPELLS:
        return None
    length = _upper(_defrost_like([n for n, _ in kept]), _MIN_LENGTH_MS)
    rise = _upper(_defrost_like([r for _, r in kept]), _MIN_RISE_C)
    foods = [
        food
        for n, food in zip(reversed(lengths), reversed(food_rises), strict=False)
        if n <= max_spell_ms
    ]
    food_rise = (
        _upper(_defrost_like(foods), _MIN_RISE_C) if len(foods) >= SIGNATURE_SPELLS else None
    )
    return DefrostSignature(min(int(length), max_spell_ms), rise, food_rise)


def _defrost_like(values: list[int] | list[float]) -> list[float]:
    """The spells' upper cluster: those at least half as long (or warm) as the third-longest
    (warmest). A unit's defrosts repeat; between them a bare probe also sees door-made spells,
    a few minutes and a kelvin or two, which would pull a median over all spells down to a
    door's (a 40-75 min heater defrost then outlasts a 'signature' of 30 min). The third
    largest, not the largest: one odd long spell does not hide the defrosts."""
    ranked = sorted((float(v) for v in values), reverse=True)
    reference = ranked[min(SIGNATURE_SPELLS, len(ranked)) - 1]
    return [v for v in ranked if v >= reference / 2]


def _upper(values: list[float], floor: float) -> float:
    """The top of a learned spread: median + 3 robust sigmas, at least a quarter of the median
    and `floor` above it, and never below the largest of the spells themselves."""
    middle = statistics.median(values)
    mad = statistics.median(abs(v - middle) for v in values)
    spread = max(_SIGMAS * mad, _SHARE * middle, floor)
    return max(middle + spread, max(values))
