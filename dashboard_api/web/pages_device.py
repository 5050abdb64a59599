"""The device page at `/devices/{id}`: a chart of any metric the device has (1 h to 1 year, or
a chosen from/to), its latest values, its open alerts, its door-seal health with the evidence
and, for staff, the form that has the seal baseline learned afresh.

The chart is the server-drawn SVG of `/api/devices/{id}/chart.svg` (downsampled per pixel
column, thresholds, door/defrost/cycle ticks, alerts, the estimated food temperature beside the
air); this page only chooses its metric and period (`device_period`). Seal health comes from
`alerts.registers.seal_health`, the re-learn from the alerts service (`relearn_seal_live`), as
the JSON routes use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from alerts import registers as alert_registers
from alerts.text import SEAL_FEATURES
from core.metrics import METRICS, ValueType
from core.model import Device
from core.records import Alert, AlertQuery, AlertState, Role
from dashboard_api.context import ApiContext
from dashboard_api.deps import Context, PageViewer, check_form_csrf, current_person
from dashboard_api.web.device_body import (
    BodySlot,
    BodyState,
    DeviceBodies,
    local_time,
    render_body,
    with_csrf,
)
from dashboard_api.web.device_period import (
    CHART_NARROW,
    CHART_WIDE,
    RANGES,
    Period,
    chart_url,
    chart_window,
    minute,
    period_links,
    period_of,
)
from dashboard_api.web.device_seal import SealMemory, SealView, read_seal
from dashboard_api.web.i18n import CATALOGUE, Language, language_of, translator
from dashboard_api.web.pages_common import (
    PageError,
    can_act,
    form_text,
    problem_page,
    query_param,
    shared,
    staff_or_refusal,
)
from dashboard_api.web.pages_overview import band_text, decimals, main_metric
from dashboard_api.web.render import render
from ingest.store import LatestValue

__all__ = ["RANGES", "SealView", "device_bodies", "router", "seal_memory"]

router = APIRouter(include_in_schema=False)

_SEAL_ROWS = 12
_REASON_MAX = 2000
_OPEN = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)


@router.get("/devices/{device_id}", response_class=HTMLResponse)
async def device_page(
    request: Request, device_id: str, person: PageViewer, context: Context
) -> HTMLResponse:
    try:
        device = _device(context, device_id)
        if _from_memory(request, context, device):
            # Made on the loop: a hop to a worker thread and back cost more than the page.
            return _page(request, context, device)
        return await run_in_threadpool(_page, request, context, device)
    except PageError as problem:
        return problem_page(request, problem, devices=context.config.devices)


@router.get("/devices/{device_id}/relearn-seal", response_model=None)
def relearn_page(device_id: str) -> Response:
    """The form's address opened as a page (a reload): the device it belongs to."""
    return RedirectResponse(f"/devices/{quote(device_id, safe='')}", status_code=303)


@router.post("/devices/{device_id}/relearn-seal", response_model=None)
async def relearn_seal(request: Request, device_id: str, context: Context) -> Response:
    back = f"/devices/{device_id}"
    try:
        device = _device(context, device_id)
        acting = staff_or_refusal(request, back)
        if isinstance(acting, Response):
            return acting
        fields = await form_text(request, {"csrf": 200, "reason": _REASON_MAX})
        check_form_csrf(acting, fields["csrf"])
        if context.alerts is None or not alert_registers.has_door_seal(device):
            raise PageError(422, "device.no_seal", device=device.label)
        if not fields["reason"]:
            return _page(request, context, device, relearn_error="device.relearn_reason")
        try:
            await context.alerts.relearn_seal_live(device.id, acting.name, fields["reason"])
        except LookupError as exc:
            return _page(request, context, device, relearn_error=str(exc))
        finally:
            seal_memory(request).relearned(device.id)
        return RedirectResponse(f"{back}?relearned=1", status_code=303)
    except PageError as problem:
        return problem_page(request, problem, devices=context.config.devices)


def _from_memory(request: Request, context: ApiContext, device: Device) -> bool:
    """Every part of the page is in memory: the hub's latest values, the kept open alerts of
    the device's current alert version and its kept seal view (no store read)."""
    hub = context.live
    if hub is None or not hub.seeded:
        return False
    version = hub.alerts_version_of(device.id)
    if context.alerts is not None:
        kept = _app_memory(request, "device_open_alerts").get(device.id)
        if kept is None or kept[0] != version:
            return False
    return seal_memory(request).holds(context, device, context.clock.now(), version)


def _device(context: ApiContext, device_id: str) -> Device:
    device = context.config.device(device_id)
    if device is None:
        raise PageError(404, "device.unknown", device=device_id[:64])
    return device


def _page(
    request: Request, context: ApiContext, device: Device, relearn_error: str | None = None
) -> HTMLResponse:
    hub = context.live
    values_version = 0 if hub is None else hub.version_of(device.id)  # taken before the read
    latest = _latest(context, device)
    metric = _metric(request, device, latest)
    period = period_of(request, context)
    person = current_person(request)
    csrf = person.csrf if person is not None and person.csrf else ""
    view = _BodyView(request, context, device, latest, metric, period, relearn_error)
    if hub is None or not hub.seeded or view.one_off or period.range is None:
        body = with_csrf(render_body(view.variables()), csrf)  # nothing to key it on, or one-off
    else:
        slot = BodySlot(device.id, metric, period.range, view.lang, view.role)
        state = BodyState(
            values_version,
            hub.alerts_version_of(device.id),
            context.config.limit_overrides().get(device.id),
            tuple(chart_window(period, size) for size in (CHART_WIDE, CHART_NARROW)),
            minute(period.end),
        )
        seal = _seal(request, context, device)
        body = device_bodies(request).body(slot, state, seal, view.variables, csrf)
    return render(
        request,
        "device.html",
        {
            "device": device,
            "body": body,
            "now_ms": int(context.clock.now().timestamp() * 1000),
            **shared(request, request.url.path),
        },
        status_code=422 if relearn_error else 200,
    )


@dataclass(frozen=True, slots=True)
class _BodyView:
    """What the body is made of; `variables` is called only when it is rendered."""

    request: Request
    context: ApiContext
    device: Device
    latest: list[LatestValue]
    metric: str
    period: Period
    relearn_error: str | None

    @property
    def lang(self) -> Language:
        return language_of(self.request)

    @property
    def role(self) -> str:
        person = current_person(self.request)
        return "" if person is None else person.role.value

    @property
    def one_off(self) -> bool:
        """A notice shown once (a re-learn done or refused): not kept."""
        return bool(self.relearn_error) or self.request.query_params.get("relearned") == "1"

    def variables(self) -> dict[str, Any]:
        request, context, device, lang = self.request, self.context, self.device, self.lang
        metric, period, latest = self.metric, self.period, self.latest
        return {
            "t": translator(lang),
            "lang": lang,
            "words": CATALOGUE[lang],
            "local": local_time(context.config.site.zone),
            "device": device,
            "building": next(b for b in context.config.buildings if b.id == device.building),
            "metric": metric,
            "metrics": [v.metric for v in latest] or [metric],
            "period": period,
            "ranges": list(RANGES),
            "chart_url": chart_url(device, metric, period, lang, CHART_WIDE),
            "chart_narrow_url": chart_url(device, metric, period, lang, CHART_NARROW),
            "links": period_links(device, metric, period, context.clock.now()),
            "latest": [_latest_row(v.metric, v.ts, v.value) for v in latest],
            "band": band_text(device, context.config.limits_for(device), lang),
            "limits_overridden": device.id in context.config.limit_overrides(),
            "is_admin": self.role == Role.ADMIN.value,
            "alerts": _open_alerts(request, context, device),
            "seal": _seal(request, context, device),
            "features": {k: v[0 if lang == "zh" else 1] for k, v in SEAL_FEATURES.items()},
            "relearned": request.query_params.get("relearned") == "1",
            "relearn_error": self.relearn_error,
            "can_act": can_act(request),
            "seal_rows": _SEAL_ROWS,
        }


def device_bodies(request: Request) -> DeviceBodies:
    """The app's kept device-page bodies, made on first use (one per app, as the hub is)."""
    kept: DeviceBodies | None = getattr(request.app.state, "device_bodies", None)
    if kept is None:
        kept = request.app.state.device_bodies = DeviceBodies()
    return kept


def _metric(request: Request, device: Device, latest: list[LatestValue]) -> str:
    have = sorted({v.metric for v in latest})
    default = main_metric(device, latest) or "temp_c"
    allowed = ", ".join(have) if have else default
    chosen = query_param(request, "metric", allowed)
    if chosen is None:
        return default
    if chosen not in (have or [default]) or chosen not in METRICS:
        raise PageError(422, "page.param_choice", name="metric", value=chosen, allowed=allowed)
    return chosen


def _latest_row(metric: str, ts: datetime, value: float) -> dict[str, object]:
    spec = METRICS.get(metric)
    boolean = spec is not None and spec.value_type is ValueType.BOOLEAN
    return {
        "metric": metric,
        "unit": spec.unit if spec else "",
        "ts": ts,
        "value": value >= 0.5 if boolean else value,
        "decimals": decimals(metric),
    }


def _latest(context: ApiContext, device: Device) -> list[LatestValue]:
    """The device's latest values: from the live hub's memory once it is seeded (the same
    values the store answers, kept by every stored batch), else from the store."""
    hub = context.live
    if hub is None or not hub.seeded:
        return context.store.latest(context.config.site.id, device.id)
    return [
        LatestValue(metric, datetime.fromtimestamp(ts / 1000, UTC), value)
        # A copy first: the page is made in a worker thread while the loop updates the hub.
        for metric, (ts, value) in sorted(dict(hub.values_of(device.id)).items())
    ]


def _open_alerts(request: Request, context: ApiContext, device: Device) -> list[Alert]:
    """The device's open alerts; with the live hub, read once per change of its alerts (the
    hub is told of each: the rules', a person's acknowledge, resolve or close) and kept, so
    twenty people opening device pages do not each query the alert book. The version is
    taken before the read: a change during it leaves the kept list one version behind, read
    again by the next request."""
    if context.alerts is None:
        return []
    hub = context.live
    if hub is None:
        return _find_open(context, device)
    kept: dict[str, tuple[int, list[Alert]]] = _app_memory(request, "device_open_alerts")
    version = hub.alerts_version_of(device.id)
    hit = kept.get(device.id)
    if hit is not None and hit[0] == version:
        return hit[1]
    found = _find_open(context, device)
    kept[device.id] = (version, found)
    return found


def _find_open(context: ApiContext, device: Device) -> list[Alert]:
    assert context.alerts is not None
    query = AlertQuery(context.config.site.id, states=_OPEN, device=device.id, limit=100)
    return context.alerts.book.find(query)


def _app_memory(request: Request, name: str) -> dict[str, Any]:
    """A dict kept on the app (one per app, as the hub is), made on first use."""
    memory: dict[str, Any] | None = getattr(request.app.state, name, None)
    if memory is None:
        memory = {}
        setattr(request.app.state, name, memory)
    return memory


def _seal(request: Request, context: ApiContext, device: Device) -> SealView | None:
    """The device's seal view; with the live hub, kept in memory (`device_seal`)."""
    now = context.clock.now()
    hub = context.live
    if hub is None:
        return read_seal(context, device, now)
    return seal_memory(request).view(context, device, now, hub.alerts_version_of(device.id))


def seal_memory(request: Request) -> SealMemory:
    """The app's kept seal views, made on first use (one per app, as the hub is)."""
    memory: SealMemory | None = getattr(request.app.state, "seal_memory", None)
    if memory is None:
        memory = request.app.state.seal_memory = SealMemory()
    return memory
