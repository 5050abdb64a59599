"""What the notification planner keeps and hands out: one `Track` of timers per alert occurrence,
the `Plan` of one step (notices and escalations), a `Checkpoint` of every track (a plan undone,
a snapshot saved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.notify import planner_state
from alerts.notify.model import AlertFacts, Notice
from alerts.notify.routing import Target

__all__ = ["Checkpoint", "Escalation", "Plan", "Track"]


@dataclass(frozen=True, slots=True)
class Escalation:
    """An alert passed to `level` because nobody acknowledged it: for its history."""

    alert_id: int
    level: int
    at: datetime
    told_before: tuple[str, ...]


@dataclass(slots=True)
class Plan:
    notices: list[Notice] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.notices.extend(other.notices)
        self.escalations.extend(other.escalations)


@dataclass(slots=True)
class Track:
    """The timers of one alert occurrence. `round` names it in idempotency keys: `o{n}` for the
    n-th firing, `o{n}-{severity}` once a worse verdict started it over."""

    facts: AlertFacts
    route: str
    round: str
    held: bool  # quiet hours may hold it
    phase: str  # waiting | active | acknowledged | resolving
    due: datetime  # waiting/resolving: when to go out; active: when the next level is due
    level: int = -1
    reminders: int = 0
    next_reminder: datetime | None = None
    unacked_since: datetime | None = None
    told: list[Target] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in Track.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The planner's timers at one moment (`NotifyPlanner.checkpoint`)."""

    tracks: dict[int, Track]

    def snapshot(self) -> dict[str, Any]:
        """As plain JSON-able data (`NotifyPlanner.snapshot`)."""
        return planner_state.dump({i: t.fields() for i, t in self.tracks.items()})
