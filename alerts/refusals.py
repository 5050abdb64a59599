"""Why a person's step on an alert is refused, in a sentence a person acts on (the alert book's
refusals: `alerts.lifecycle`)."""

from __future__ import annotations

from datetime import datetime

from alerts.errors import ClosureIncompleteError, TransitionError
from alerts.model import Alert, AlertState, FoodDecision

__all__ = ["blank_to_none", "require_food_closure", "require_state", "when"]


def require_state(alert: Alert, allowed: tuple[AlertState, ...], verb: str) -> None:
    """Refuse a person's step on an alert that is not in one of the `allowed` states."""
    if alert.state in allowed:
        return
    why = {
        AlertState.PENDING: "it is still pending: its condition has not lasted long enough to fire",
        AlertState.FIRING: "it is still firing: acknowledge it, then it resolves when its "
        "condition clears",
        AlertState.ACKNOWLEDGED: "it is acknowledged but not resolved: it resolves when its "
        "condition clears",
        AlertState.RESOLVED: "it is already resolved",
        AlertState.CLOSED: f"it was closed by {alert.closed_by} at {when(alert.closed_at)}",
    }[alert.state]
    raise TransitionError(
        f"alert {alert.id} cannot be {verb}: {why}", alert_id=alert.id, device=alert.device
    )


def require_food_closure(
    alert: Alert,
    action: str | None,
    decision: FoodDecision | None,
    reason: str | None,
) -> None:
    missing = []
    if not blank_to_none(action):
        missing.append("the corrective action taken (corrective_action)")
    if decision is None:
        missing.append("the decision on the food: kept or discarded (food_decision)")
    if not blank_to_none(reason):
        missing.append("the reason for that decision (food_reason)")
    if missing:
        raise ClosureIncompleteError(
            f"alert {alert.id} is a food-safety alert; to close it, give " + ", ".join(missing),
            alert_id=alert.id,
            device=alert.device,
        )


def blank_to_none(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


def when(instant: datetime | None) -> str:
    return instant.isoformat() if instant else "an unknown time"
