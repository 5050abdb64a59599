"""An alert's history as a reader follows it: in the order things happened, each row saying
which clock its time is on.

The history is stored in the order it was recorded, and its steps are stamped by different
clocks: a rule's step (pending, fired, refired, resolved, a severity escalation) carries the
event time of the reading that caused it (DESIGN "Time": rules run on event time), a person's
step (acknowledged, resolved, closed) the moment they acted, and a notification level the
moment the service told the next people. Readings that arrive late (a device's buffer, a
catch-up) can record a rule's resolve after a person's acknowledgement although the
temperature came back before it; shown in recording order that reads as "acknowledged, then
it came back" when the reverse happened. So the rows are ordered by their time (recording
order among equal times), each says which time it is, and a row recorded after a step now
shown below it names that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from alerts.lifecycle import RULE_ACTOR
from alerts.notify.recall import LEVEL_NOTE
from core.records import AlertAction, AlertHistoryEntry

__all__ = ["TimeBasis", "TimelineRow", "timeline"]


class TimeBasis(StrEnum):
    """Which clock a history row's time is on."""

    READING = "reading"  # the event time of the reading a rule judged
    ACTED = "acted"  # when a person acted (the service's clock)
    NOTIFIED = "notified"  # when the service told the next level (the service's clock)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    entry: AlertHistoryEntry
    basis: TimeBasis
    # The step shown below this row that was recorded before it (this row's time was known
    # only later, from late readings); None when the row was recorded in its place.
    recorded_after: AlertAction | None = None


def time_basis(entry: AlertHistoryEntry) -> TimeBasis:
    if entry.actor != RULE_ACTOR:
        return TimeBasis.ACTED
    if entry.action is AlertAction.ESCALATED and (entry.note or "").startswith(LEVEL_NOTE):
        return TimeBasis.NOTIFIED
    return TimeBasis.READING


def timeline(history: Sequence[AlertHistoryEntry]) -> list[TimelineRow]:
    """`history` (in recording order) ordered by time, ties kept in recording order."""
    order = sorted(range(len(history)), key=lambda i: history[i].at)
    rows = []
    for place, recorded in enumerate(order):
        below = [i for i in order[place + 1 :] if i < recorded]
        after = history[max(below)].action if below else None
        entry = history[recorded]
        rows.append(TimelineRow(entry, time_basis(entry), after))
    return rows


def mixed(rows: Sequence[TimelineRow]) -> bool:
    """Whether the rows' times are on more than one clock (then each row says which)."""
    return len({row.basis for row in rows}) > 1
