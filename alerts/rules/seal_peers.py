"""What the other bare-probe cabinets of a building say of its kitchen.

A bare probe cannot tell a warmer kitchen from a leak (`seal_ambient`): its evidence must
move further than a kitchen `seal_kitchen_swing_k` warmer than on its learning days moves it,
reckoned at a cool kitchen (`seal_ambient.unread_kitchen_move`). A kitchen that runs cooler
than that at night moves a cabinet further per kelvin, and a warm spell (a heat wave through
the windows, a broken extractor hood) is not one unit's weather: every cabinet of the kitchen
runs harder at once, each by its own gap to the kitchen's air, where a leak moves one.

So each bare-probe cabinet tells its building, every hour it is judged, the kitchen shift each
of its evidence streams implies (`implied_k`: the stream's recent move times the cabinet's gap
to a cool kitchen), and each of its streams reads what the same stream of the others told
(`KitchenPeers.shared_k`; the streams read the kitchen unalike: the warming half of a tooth
moves with it further than the whole tooth's slopes): the lower third of their shifts, from
at least `_LEAST_PEERS` of them, each the latest another told of an hour before the asking
one and no more than `_FRESH_MS` before it. Only earlier hours, so what a cabinet hears does
not hang on the order the cabinets' readings are judged in: in one batch one goes first, and a
buffer published at full speed judges some a little ahead of the others. Up to two in
three of them may be leaking at once and leave that reading where the healthy ones put it; a
cabinet whose readings arrive hours behind the others' (a buffer uploaded after an outage)
hears none, and is judged as before. A kitchen the peers read warmer adds its share at the
cabinet's own gap (`unread_kitchen_move` of the shared kelvins) to the least move each of its
streams must show before it may alert; a cooler one takes nothing away.

Nothing here is kept across a restart: the cabinets tell their building again at the next
hour each is judged, from their own restored evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alerts.rules.seal_ambient import unread_gap, unread_kitchen_move

__all__ = ["KitchenPeers", "implied_k", "peer_share"]

_HOUR_MS = 3_600_000
# What another cabinet told of an hour this long before the asking hour is read: each is
# judged once an hour, and the devices' own clocks (their readings' times) stray by minutes.
_FRESH_MS = 2 * _HOUR_MS
# The others that must have told: with two, the lower third is the smaller of the two.
_LEAST_PEERS = 2


@dataclass(slots=True)
class KitchenPeers:
    """The kitchen shift (K) each bare-probe cabinet of one building implied at each hour it
    was judged lately (ms, oldest first; an hour it implied nothing holds none)."""

    told: dict[str, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)

    def tell(self, device: str, ts: int, kelvins: dict[str, float] | None) -> None:
        """`device` was judged at `ts`: the kitchen shift each of its streams implies (by the
        stream's name); None: it implies nothing now (learning, a meter or a kitchen probe
        of its own). An hour older than the one it last told (a buffer of old readings
        judged late) changes nothing. Hours older than any asking hour after `ts` reads
        are let go."""
        hours = self.told.setdefault(device, [])
        if hours and ts < hours[-1][0]:
            return
        if hours and ts == hours[-1][0]:
            hours.pop()
        hours.append((ts, {n: k for n, k in (kelvins or {}).items() if math.isfinite(k)}))
        while hours[0][0] < ts - _FRESH_MS:
            hours.pop(0)

    def shared_k(self, device: str, ts: int, stream: str) -> float | None:
        """The kitchen shift the other cabinets' `stream` agrees on at `ts`: the lower third of
        what each told of its latest hour before `ts`, None when fewer than `_LEAST_PEERS`
        told one within `_FRESH_MS` of it."""
        others = []
        for other, hours in self.told.items():
            if other == device:
                continue
            told = _latest_before(hours, ts)
            if told is not None and ts - told[0] <= _FRESH_MS and stream in told[1]:
                others.append(told[1][stream])
        if len(others) < _LEAST_PEERS:
            return None
        others.sort()
        return others[(len(others) - 1) // 3]


def _latest_before(
    hours: list[tuple[int, dict[str, float]]], ts: int
) -> tuple[int, dict[str, float]] | None:
    for told in reversed(hours):
        if told[0] < ts:
            return told
    return None


def implied_k(move: float, cabinet_c: float) -> float:
    """The kitchen rise (K, negative: cooler) that moves the load of a cabinet at `cabinet_c`
    by `move` (relative, as the streams read it) through its walls: the load goes with the
    gap to the kitchen (`unread_kitchen_move` turned around)."""
    return move * unread_gap(cabinet_c)


def peer_share(kelvin: float | None, cabinet_c: float) -> float:
    """The move (log) a kitchen `kelvin` warmer gives a cabinet at `cabinet_c`; 0 for none
    or a cooler one."""
    if kelvin is None or kelvin <= 0.0:
        return 0.0
    return unread_kitchen_move(cabinet_c, kelvin)
