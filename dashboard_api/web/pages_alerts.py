"""The alert pages: `/alerts` (the list with its filters) and `/alerts/{id}` (one alert, its
history, and the forms that acknowledge, resolve and close it).

The forms POST to `/alerts/{id}/acknowledge|resolve|close` with the session's CSRF token; the
route calls the same `AlertBook` methods the JSON API calls (through the `ApiContext`, not over
HTTP) in the logged-in person's name, so the lifecycle's own rules decide. A refusal is shown
in the form on the alert's page (409 or 422), never as a JSON body; a viewer sees no buttons
and a viewer's POST is a 403 page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from alerts.errors import AlertError, AlertNotFoundError, ClosureIncompleteError
from alerts.lifecycle import RULE_ACTOR
from core.records import Alert, AlertAction, AlertQuery, AlertState, FoodDecision, RuleId, Severity
from dashboard_api.alert_timeline import mixed, timeline
from dashboard_api.context import AlertsDesk, ApiContext
from dashboard_api.deps import Context, PageViewer, check_form_csrf
from dashboard_api.params import parse_date
from dashboard_api.routes.alerts import MAX_ALERT_ID, announce_step
from dashboard_api.web.i18n import CATALOGUE, language_of
from dashboard_api.web.pages_common import (
    PageError,
    can_act,
    form_text,
    parse_param,
    problem_page,
    query_param,
    shared,
    staff_or_refusal,
)
from dashboard_api.web.render import render

__all__ = ["ACTIONS", "router"]

router = APIRouter(include_in_schema=False)

_OPEN = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)
_STATES = ("open", "all", *(s.value for s in AlertState))
_SHOWN = 200  # rows on one page; the filters narrow a longer list
_TEXT_MAX = 2000
ACTIONS = ("acknowledge", "resolve", "close")
_STEP_ACTIONS = {
    "acknowledge": AlertAction.ACKNOWLEDGED,
    "resolve": AlertAction.RESOLVED,
    "close": AlertAction.CLOSED,
}


@dataclass(frozen=True, slots=True)
class Filters:
    state: str
    rule: RuleId | None
    severity: Severity | None
    device: str | None
    building: str | None
    since: date | None
    until: date | None

    def query(self) -> dict[str, str]:
        """The filters as the page's query, for links that keep them."""
        out = {"state": self.state}
        for name in ("device", "building"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("rule", "severity"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).value
        for name in ("since", "until"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).isoformat()
        return out


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, person: PageViewer, context: Context) -> HTMLResponse:
    try:
        filters = _filters(request, context)
        found = _find(context, filters)
    except PageError as problem:
        return problem_page(request, problem)
    return render(
        request,
        "alerts.html",
        {
            "filters": filters,
            "alerts": found[:_SHOWN],
            "more": len(found) > _SHOWN,
            "shown": _SHOWN,
            "states": _STATES,
            "rules": [r.value for r in RuleId],
            "severities": [s.value for s in Severity],
            "devices": {d.id: d for d in context.config.devices},
            "buildings": context.config.buildings,
            "alerts_running": context.alerts is not None,
            "live_running": context.live is not None,
            "now_ms": int(context.clock.now().timestamp() * 1000),
            **shared(request, "/alerts"),
        },
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request, alert_id: str, person: PageViewer, context: Context
) -> HTMLResponse:
    try:
        number = _alert_id(alert_id)
        desk = _desk(context)
        return _alert_view(request, context, desk, number)
    except PageError as problem:
        return problem_page(request, problem)


@router.get("/alerts/{alert_id}/{action}", response_model=None)
def act_page(alert_id: str, action: str) -> Response:
    """A form's address opened as a page (a reload, a shared link): the alert it belongs to."""
    return RedirectResponse(f"/alerts/{quote(alert_id, safe='')}", status_code=303)


@router.post("/alerts/{alert_id}/{action}", response_model=None)
async def act(request: Request, alert_id: str, action: str, context: Context) -> Response:
    back = f"/alerts/{alert_id}"
    try:
        if action not in ACTIONS:
            allowed = ", ".join(ACTIONS)
            raise PageError(404, "alert.no_action", action=action[:40], allowed=allowed)
        number = _alert_id(alert_id)
        desk = _desk(context)
        acting = staff_or_refusal(request, back)
        if isinstance(acting, Response):
            return acting
        fields = await form_text(
            request,
            {
                "csrf": 200,
                "note": _TEXT_MAX,
                "corrective_action": _TEXT_MAX,
                "food_decision": 20,
                "food_reason": _TEXT_MAX,
            },
        )
        check_form_csrf(acting, fields["csrf"])
        step = _step(desk, action, number, acting.name, fields)
        try:
            done: Alert = await run_in_threadpool(step)
        except AlertError as exc:
            return await run_in_threadpool(
                _alert_view, request, context, desk, number, action, exc, fields
            )
        announce_step(context, done, _STEP_ACTIONS[action])
        return RedirectResponse(f"{back}?done={action}", status_code=303)
    except PageError as problem:
        return problem_page(request, problem)


def _step(desk: AlertsDesk, action: str, number: int, by: str, fields: dict[str, str]) -> Any:
    note = fields["note"] or None
    if action == "acknowledge":
        return lambda: desk.book.acknowledge(number, by, note)
    if action == "resolve":
        return lambda: desk.book.resolve(number, by, note)
    decision = _decision(fields["food_decision"])
    return lambda: desk.book.close(
        number,
        by,
        fields["corrective_action"] or None,
        decision,
        fields["food_reason"] or None,
        note,
    )


def _decision(text: str) -> FoodDecision | None:
    if not text:
        return None
    try:
        return FoodDecision(text)
    except ValueError:
        raise PageError(
            422,
            "page.param_choice",
            name="food_decision",
            value=text,
            allowed=", ".join(d.value for d in FoodDecision),
        ) from None


def _alert_view(
    request: Request,
    context: ApiContext,
    desk: AlertsDesk,
    number: int,
    action: str | None = None,
    error: AlertError | None = None,
    fields: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        alert = desk.book.get(number)
        history = timeline(desk.book.history(number))
    except AlertNotFoundError:
        raise PageError(404, "alert.unknown", id=number) from None
    # Both callers run this view in a thread (a sync route; `run_in_threadpool` after a
    # refused step), so the DuckDB read of the delivery log never blocks the event loop.
    log = context.deliveries
    deliveries = None if log is None else log.deliveries_for_alert(number)
    status = 200
    if error is not None:
        status = 422 if isinstance(error, ClosureIncompleteError) else 409
    return render(
        request,
        "alert.html",
        {
            "alert": alert,
            "evidence": evidence_rows(alert.evidence),
            "device": context.config.device(alert.device),
            "history": history,  # in the order things happened, each row's clock named
            "history_mixed": mixed(history),
            "deliveries": deliveries,  # None: no notification channel configured
            "forms": _forms(alert) if can_act(request) else (),
            "food_safety": alert.food_safety,
            "rule_actor": RULE_ACTOR,
            "decisions": [d.value for d in FoodDecision],
            "failed": action,
            "error": None if error is None else _error_words(request, alert, action, error),
            "missing": _missing(alert, action, fields) if error is not None else (),
            "fields": fields or {},
            "done": request.query_params.get("done") if error is None else None,
            **shared(request, "/alerts"),
        },
        status_code=status,
    )


def evidence_rows(evidence: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """The alert's evidence as a person reads it: measured values to two decimals at most
    (a peak of 10.595796598018486 °C reads 10.6), what was not measured (None) left out."""
    rows: list[tuple[str, str]] = []
    for key, value in (evidence or {}).items():
        if value is None:
            continue
        shown = str(value)
        if isinstance(value, float):
            shown = f"{value:.2f}".rstrip("0").rstrip(".")
            shown = "0" if shown == "-0" else shown
        rows.append((key, shown))
    return rows


def _forms(alert: Alert) -> tuple[str, ...]:
    """The steps the alert's state allows (the lifecycle decides; this only hides buttons
    that could not succeed)."""
    if alert.state is AlertState.FIRING:
        return ("acknowledge",) if alert.condition_active else ("acknowledge", "resolve")
    if alert.state is AlertState.ACKNOWLEDGED:
        return () if alert.condition_active else ("resolve",)
    if alert.state is AlertState.RESOLVED:
        return ("close",)
    return ()


def _missing(alert: Alert, action: str | None, fields: dict[str, str] | None) -> tuple[str, ...]:
    """Which closure fields a food-safety alert still lacks, to mark them in the form."""
    if action != "close" or fields is None or not alert.food_safety:
        return ()
    names = ("corrective_action", "food_decision", "food_reason")
    return tuple(n for n in names if not fields.get(n))


def _error_words(request: Request, alert: Alert, action: str | None, error: AlertError) -> str:
    """The refusal in the page's language: why, in the person's words, then the lifecycle's
    own sentence (which names the state and who did what when)."""
    words = CATALOGUE[language_of(request)]
    if isinstance(error, ClosureIncompleteError):
        # The form marks each missing field; the lifecycle's sentence would only repeat them.
        return words["alert.error_incomplete"]
    verb = words[f"alert.do_{action}"].lower()  # "Acknowledge" on its button, mid-sentence here
    lead = words["alert.error_state"].format(action=verb, state=words[f"state.{alert.state.value}"])
    return f"{lead} ({error.message})"


def _desk(context: ApiContext) -> AlertsDesk:
    if context.alerts is None:
        raise PageError(503, "alerts.not_running")
    return context.alerts


def _alert_id(text: str) -> int:
    # An id has at most 19 digits (2^63 - 1): a longer one is no alert, and is not converted.
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise PageError(404, "alert.bad_id", id=text[:40])
    number = int(text)
    if not 1 <= number <= MAX_ALERT_ID:
        raise PageError(404, "alert.bad_id", id=text[:40])
    return number


def _filters(request: Request, context: ApiContext) -> Filters:
    state = query_param(request, "state", ", ".join(_STATES)) or "open"
    if state not in _STATES:
        raise PageError(
            422, "page.param_choice", name="state", value=state, allowed=", ".join(_STATES)
        )
    device = query_param(request, "device", "a device id of this site")
    site_wide = device == context.config.site.id  # a site's own alerts (site offline)
    if device is not None and context.config.device(device) is None and not site_wide:
        raise PageError(
            422,
            "page.param_choice",
            name="device",
            value=device,
            allowed=", ".join(d.id for d in context.config.devices),
        )
    building = query_param(request, "building", "a building id of this site")
    known = [b.id for b in context.config.buildings]
    if building is not None and building not in known:
        raise PageError(
            422, "page.param_choice", name="building", value=building, allowed=", ".join(known)
        )
    since = _date(request, "since")
    until = _date(request, "until")
    if since and until and since > until:
        raise PageError(422, "alerts.dates_order")
    return Filters(
        state,
        _choice(request, "rule", RuleId),
        _choice(request, "severity", Severity),
        device,
        building,
        since,
        until,
    )


def _choice(request: Request, name: str, kind: Any) -> Any:
    allowed = ", ".join(k.value for k in kind)
    text = query_param(request, name, allowed)
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise PageError(422, "page.param_choice", name=name, value=text, allowed=allowed) from None


def _date(request: Request, name: str) -> date | None:
    text = query_param(request, name, "YYYY-MM-DD")
    return None if text is None else parse_param(name, parse_date, text, "YYYY-MM-DD")


def _find(context: ApiContext, filters: Filters) -> list[Alert]:
    if context.alerts is None:
        return []
    zone = context.config.site.zone
    states: tuple[AlertState, ...] = ()  # all: no state filter
    if filters.state == "open":
        states = _OPEN
    elif filters.state != "all":
        states = (AlertState(filters.state),)

    def instant(day: date | None, days: int) -> datetime | None:
        return None if day is None else datetime.combine(day + timedelta(days=days), time(0), zone)

    query = AlertQuery(
        context.config.site.id,
        states=states,
        device=filters.device,
        rule=filters.rule,
        severity=filters.severity,
        since=instant(filters.since, 0),
        until=instant(filters.until, 1),  # the last day counts whole
        limit=_SHOWN + 1 if filters.building is None else 1000,
    )
    found = context.alerts.book.find(query)
    if filters.building is not None:
        inside = {d.id for d in context.config.devices if d.building == filters.building}
        found = [a for a in found if a.device in inside]
    return found
