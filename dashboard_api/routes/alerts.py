"""Alerts: list and filter them, read one with its history, acknowledge, resolve, close.

The alert lifecycle lives in `alerts`; this module only translates HTTP to it and its errors
to 404 (no such alert), 409 (not allowed in the alert's state) and 422 (a food-safety alert
closed without its corrective action or food decision), each with a sentence a person reads.
The running `AlertService` comes in through the `ApiContext` (`alerts`), as an `AlertsDesk`.
The lifecycle steps need the role staff; the actor recorded is the person logged in (or the
bearer token's name), never a name from the body. Each step a person takes (here, on the alert
page or through a signed link) is told to the live hub (`announce_step`), as the rules' own
changes are: other open dashboards update without a reload.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query
from pydantic import Field

from alerts.errors import AlertError, AlertNotFoundError, ClosureIncompleteError
from alerts.lifecycle import AlertChange
from alerts.model import (
    Alert,
    AlertAction,
    AlertQuery,
    AlertState,
    FoodDecision,
    RuleId,
    Severity,
)
from dashboard_api.alert_timeline import TimelineRow, timeline
from dashboard_api.context import ApiContext
from dashboard_api.deps import ActorFromLogin, Context, Desk, Staff
from dashboard_api.errors import ApiError, answers, shown
from dashboard_api.params import parse_instant, query_value

__all__ = ["announce_step", "describe", "router"]

router = APIRouter(tags=["alerts"])

T = TypeVar("T")
Language = Literal["zh", "en"]
_OPEN = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)


# Alert ids are DuckDB BIGINTs: a larger number cannot name an alert, and the store refuses it.
MAX_ALERT_ID = 2**63 - 1
AlertId = Annotated[int, Path(description="Alert id", ge=1, le=MAX_ALERT_ID)]
Lang = Annotated[Language, Query(description="Language of `text`: zh (default) or en")]


def _instant_query(what: str) -> Any:
    return Query(
        max_length=64,
        description=f"{what}: RFC 3339, local date-time or epoch ms, from 1970-01-01T00:00:00Z "
        "to 9999-12-31T00:00:00Z",
    )


class Acknowledgement(ActorFromLogin):
    note: str | None = Field(default=None, max_length=2000)


class Closure(ActorFromLogin):
    corrective_action: str | None = Field(
        default=None, max_length=2000, description="What was done (required for food safety)"
    )
    food_decision: FoodDecision | None = Field(
        default=None, description="kept or discarded (required for food safety)"
    )
    food_reason: str | None = Field(
        default=None, max_length=2000, description="Why (required for food safety)"
    )
    note: str | None = Field(default=None, max_length=2000)


@router.get(
    "/api/alerts",
    summary="Alerts, newest first; open ones unless a state is given",
    responses=answers(404, 422, 503),
)
def list_alerts(
    context: Context,
    desk: Desk,
    state: Annotated[
        list[str] | None,
        Query(description="pending, firing, acknowledged, resolved, closed or all; repeatable"),
    ] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    rule: RuleId | None = None,
    severity: Severity | None = None,
    since: Annotated[str | None, _instant_query("Raised at or after")] = None,
    until: Annotated[str | None, _instant_query("Raised before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    lang: Lang = "zh",
) -> dict[str, Any]:
    zone = context.config.site.zone
    states = _states(state)
    if (
        device is not None
        and context.config.device(device) is None
        and device != context.config.site.id
    ):
        raise ApiError(404, f"no device {shown(device)} at this site")
    query = AlertQuery(
        site=context.config.site.id,
        states=states,
        device=device,
        rule=rule,
        severity=severity,
        since=_instant("since", since, zone),
        until=_instant("until", until, zone),
        limit=limit,
    )
    alerts = desk.book.find(query)
    return {"count": len(alerts), "items": [describe(context, a, lang) for a in alerts]}


@router.get(
    "/api/alerts/{alert_id}",
    summary="One alert with its history",
    responses=answers(404, 422, 503),
)
def get_alert(context: Context, desk: Desk, alert_id: AlertId, lang: Lang = "zh") -> dict[str, Any]:
    alert = _act(lambda: desk.book.get(alert_id))
    history = _act(lambda: desk.book.history(alert_id))
    rows = timeline(history)
    return {**describe(context, alert, lang), "history": [_entry(context, r) for r in rows]}


@router.post(
    "/api/alerts/{alert_id}/acknowledge",
    summary="Someone has seen it and acts",
    responses=answers(404, 409, 422, 503),
)
def acknowledge(
    context: Context,
    desk: Desk,
    person: Staff,
    alert_id: AlertId,
    body: Acknowledgement,
    lang: Lang = "zh",
) -> dict[str, Any]:
    alert = _act(lambda: desk.book.acknowledge(alert_id, person.name, body.note))
    announce_step(context, alert, AlertAction.ACKNOWLEDGED)
    return describe(context, alert, lang)


@router.post(
    "/api/alerts/{alert_id}/resolve",
    summary="Declare a discrete alert dealt with",
    responses=answers(404, 409, 422, 503),
)
def resolve(
    context: Context,
    desk: Desk,
    person: Staff,
    alert_id: AlertId,
    body: Acknowledgement,
    lang: Lang = "zh",
) -> dict[str, Any]:
    alert = _act(lambda: desk.book.resolve(alert_id, person.name, body.note))
    announce_step(context, alert, AlertAction.RESOLVED)
    return describe(context, alert, lang)


@router.post(
    "/api/alerts/{alert_id}/close",
    summary="Close with the corrective action taken",
    responses=answers(404, 409, 422, 503),
)
def close(
    context: Context, desk: Desk, person: Staff, alert_id: AlertId, body: Closure, lang: Lang = "zh"
) -> dict[str, Any]:
    alert = _act(
        lambda: desk.book.close(
            alert_id,
            person.name,
            body.corrective_action,
            body.food_decision,
            body.food_reason,
            body.note,
        )
    )
    announce_step(context, alert, AlertAction.CLOSED)
    return describe(context, alert, lang)


def announce_step(context: ApiContext, alert: Alert, action: AlertAction) -> None:
    """Tell the live hub of a person's step (the alert book announces only the rules'
    changes): the overview's open alerts and every open alert list follow at once. Callable
    from a worker thread; the hub hands it to its loop."""
    if context.live is not None:
        context.live.on_alert_change(AlertChange(alert, action))


def describe(context: Context, alert: Alert, lang: Language) -> dict[str, Any]:
    def local(instant: datetime | None) -> str | None:
        return None if instant is None else instant.astimezone(context.config.site.zone).isoformat()

    return {
        "id": alert.id,
        "device": alert.device,
        "rule": alert.rule.value,
        "severity": alert.severity.value,
        "state": alert.state.value,
        "food_safety": alert.food_safety,
        "condition_active": alert.condition_active,
        "text": alert.message.in_language(lang),
        "message": {"zh": alert.message.zh, "en": alert.message.en},
        "evidence": dict(alert.evidence),
        "occurrences": alert.occurrences,
        "pending_since": local(alert.pending_since),
        "fired_at": local(alert.fired_at),
        "acknowledged_at": local(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": local(alert.resolved_at),
        "resolved_by": alert.resolved_by,
        "closed_at": local(alert.closed_at),
        "closed_by": alert.closed_by,
        "corrective_action": alert.corrective_action,
        "food_decision": alert.food_decision.value if alert.food_decision else None,
        "food_reason": alert.food_reason,
        "note": alert.note,
    }


def _entry(context: Context, row: TimelineRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "at": entry.at.astimezone(context.config.site.zone).isoformat(),
        "time_basis": row.basis.value,
        "action": entry.action.value,
        "state": entry.state.value,
        "actor": entry.actor,
        "note": entry.note,
        "recorded_after": None if row.recorded_after is None else row.recorded_after.value,
    }


def _states(chosen: list[str] | None) -> tuple[AlertState, ...]:
    if not chosen:
        return _OPEN
    if "all" in chosen:
        return ()
    known = {s.value: s for s in AlertState}
    for name in chosen:
        if name not in known:
            raise ApiError(
                422,
                f"query parameter 'state': {shown(name)} is not a state; use "
                f"{', '.join(list(known)[:-1])}, {list(known)[-1]} or all",
            )
    return tuple(known[name] for name in chosen)


def _instant(name: str, text: str | None, zone: ZoneInfo) -> datetime | None:
    return None if text is None else query_value(name, lambda t: parse_instant(t, zone), text)


def _act(action: Callable[[], T]) -> T:
    """Run a lifecycle step; its refusal becomes the matching HTTP status and sentence."""
    try:
        return action()
    except AlertNotFoundError as exc:
        raise ApiError(404, exc.message) from None
    except ClosureIncompleteError as exc:
        raise ApiError(422, exc.message) from None
    except AlertError as exc:
        raise ApiError(409, exc.message) from None
