"""The notifications' part of /api/health: how many notices wait, are on their way and failed
in the last hour, and how long the oldest one has waited. Read from the outbox itself, so the
figures are right whichever process or lane changed it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from core.records import DeliveryOutcome, OutboxState

__all__ = ["OutboxFigures", "outbox_health"]

_RECENT = timedelta(hours=1)


@runtime_checkable
class OutboxFigures(Protocol):
    """What the figures are read from (`alerts.store.OutboxStore` provides it)."""

    def state_counts(self) -> dict[str, int]: ...

    def oldest_pending(self) -> datetime | None: ...

    def outcomes_since(self, since: datetime) -> dict[str, int]: ...


def outbox_health(outbox: OutboxFigures, now: datetime) -> dict[str, int | float | None]:
    """`queued` (pending), `sending`, `failed_last_hour` (notices given up on: a permanent
    refusal or the last attempt), `retried_last_hour` (attempts refused, tried again later),
    `oldest_waiting_s` (None: nothing waits)."""
    states = outbox.state_counts()
    outcomes = outbox.outcomes_since(now - _RECENT)
    oldest = outbox.oldest_pending()
    return {
        "queued": states.get(OutboxState.PENDING.value, 0),
        "sending": states.get(OutboxState.SENDING.value, 0),
        "failed_last_hour": outcomes.get(DeliveryOutcome.FAILED.value, 0),
        "retried_last_hour": outcomes.get(DeliveryOutcome.RETRY.value, 0),
        "oldest_waiting_s": None if oldest is None else round((now - oldest).total_seconds(), 1),
    }
