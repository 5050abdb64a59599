"""What the service's records say an alert's notifications have done, for a planner restarted
from a snapshot older than them.

The alert book and the outbox are written in one transaction, and every tick's notices go to
the outbox at once; the planner's snapshot is saved at most every few seconds. After a crash
the records are the later word: `recall` reads an open alert's current round from its history
(the firing, the firing again, or a worse verdict, which starts the notices over) and every
notice of that round the outbox holds, whatever its state (planned is told: a pending notice
goes out by itself). `recount` turns those notices back into the planner's timers: who was
told, at which level, the next level counted from its level's first notice and the next
reminder from the last one, so nothing is told twice and nothing counts from the restart.

An escalation the planner made is written into the alert's history as ESCALATED too; its note
(`level_note`) tells it apart from the lifecycle's worse verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.model import Alert, AlertAction, AlertHistoryEntry
from alerts.notify.model import Notice, NoticeKind
from alerts.notify.planner_model import Track
from alerts.notify.routing import Target, merge_told
from core.notify_channels import ChannelConfig, is_personal
from core.notify_config import Lang, Route

__all__ = ["LEVEL_NOTE", "Recalled", "ahead", "level_note", "recall", "recount"]

LEVEL_NOTE = "notification level"
_DIGEST = "digest/"  # the planner's digests (`routing.merge_digests`); a rate limit's keep
# their members in the outbox under their own keys


@dataclass(frozen=True, slots=True)
class Recalled:
    """One open alert's current round: its name in the notices' keys (`o{n}`, or
    `o{n}-{severity}` after a worse verdict), when it began, and its notices, oldest first."""

    round: str
    since: datetime
    told: tuple[Notice, ...] = ()


def level_note(level: int, told_before: Sequence[str]) -> str:
    """The history's note of a planner escalation."""
    return f"{LEVEL_NOTE} {level}; told before: {', '.join(told_before) or '-'}"


def recall(
    alert: Alert, history: Iterable[AlertHistoryEntry], notices: Iterable[Notice]
) -> Recalled:
    """`alert`'s current round from its `history`, with those of `notices` (any about it) that
    belong to that round."""
    round_, since = _current_round(alert, history)
    prefix = f"{alert.id}/{round_}/"
    told = [
        n
        for n in notices
        if n.key.startswith(prefix)
        or (n.key.startswith(_DIGEST) and n.created_at >= since and _about(n, alert.id))
    ]
    return Recalled(round_, since, tuple(sorted(told, key=lambda n: (n.created_at, n.key))))


def _current_round(alert: Alert, history: Iterable[AlertHistoryEntry]) -> tuple[str, datetime]:
    since, worse = alert.fired_at or alert.pending_since, False
    for entry in sorted(history, key=lambda e: e.at):
        if entry.action in (AlertAction.FIRED, AlertAction.REFIRED):
            since, worse = entry.at, False
        elif entry.action is AlertAction.ESCALATED and not (entry.note or "").startswith(
            LEVEL_NOTE
        ):
            since, worse = entry.at, True
    occurrence = f"o{alert.occurrences}"
    return (f"{occurrence}-{alert.severity.value}" if worse else occurrence), since


def _about(notice: Notice, alert_id: int) -> bool:
    return any(facts.alert_id == alert_id for facts in notice.alerts)


def ahead(memory: Recalled, track: Track) -> bool:
    """Whether the round's notices say more than `track` (a level told, or a reminder, after
    its snapshot was saved)."""
    told = _told(memory)
    if not told:
        return False
    if track.phase == "waiting":
        return True
    return max(n.level for n in told) > track.level or _reminders(told) > track.reminders


def recount(
    track: Track, memory: Recalled, route: Route, channels: Mapping[str, ChannelConfig]
) -> None:
    """Set `track`'s timers from the round's notices (see the module docstring)."""
    told = _told(memory)
    if not told:
        return
    track.told = []
    merge_told(track.told, [t for t in (_target(n, channels) for n in told) if t is not None])
    level = max(n.level for n in told)
    began = min(n.created_at for n in told if n.level == level)
    track.phase, track.level = "active", level
    track.reminders = _reminders(told)
    track.unacked_since = min(n.created_at for n in told)
    if level + 1 < len(route.levels):
        gap = route.levels[level + 1].after_min - route.levels[level].after_min
        track.due = began + timedelta(minutes=gap)
    every = route.reminder_every_min
    last = max(n.created_at for n in told)
    track.next_reminder = last + timedelta(minutes=every) if every else None


def _told(memory: Recalled) -> list[Notice]:
    return [n for n in memory.told if n.kind is not NoticeKind.RESOLVED]


def _reminders(told: Sequence[Notice]) -> int:
    """Reminders so far: the instants something was told, less each level's first."""
    return len({(n.level, n.created_at) for n in told}) - len({n.level for n in told})


def _target(notice: Notice, channels: Mapping[str, ChannelConfig]) -> Target | None:
    channel = channels.get(notice.channel)
    if channel is None:
        return None  # a channel no longer configured reaches nobody now
    lang: Lang = "en" if notice.lang == "en" else "zh"
    return Target(notice.channel, notice.recipients, notice.addresses, lang, is_personal(channel))
