"""The register pages: the daily temperature log, the per-meal disinfection register, the
food-sample retention register and the probe calibration register for a period (default this
month) and optionally one device, with the calibration-overdue flag, print CSS and the PDF and
XLSX downloads of the same register; and the calibration form (`POST /registers/calibration`),
which records a check in the logged-in person's name through the same logic the API uses.

A page shows the register document the downloads are made of (`alerts.register_export`), so
the screen, the paper and the spreadsheet never disagree. Parameters are parsed as the JSON
routes parse them; a refusal is a page with the API's sentence naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from alerts import calibration as cal
from alerts import register_export as export
from alerts.register_export import Lang, RegisterName
from core.model import Device
from core.records import Role
from dashboard_api.context import ApiContext
from dashboard_api.deps import PageViewer, check_form_csrf, get_context
from dashboard_api.errors import ApiError
from dashboard_api.register_scope import devices_of
from dashboard_api.routes.registers import _air_readings, _dates
from dashboard_api.web import calibration_form, i18n_registers
from dashboard_api.web.i18n import language_of, translator
from dashboard_api.web.registers_view import document_tables
from dashboard_api.web.render import render

__all__ = ["RegisterQuery", "problem_page", "router"]

router = APIRouter(include_in_schema=False)

assert i18n_registers  # its words are in the catalogue once this module is loaded

TABS = (
    RegisterName.TEMPERATURE_LOG,
    RegisterName.DISINFECTION,
    RegisterName.SAMPLE_RETENTION,
    RegisterName.CALIBRATION,
)


@dataclass(frozen=True, slots=True)
class RegisterQuery:
    """What a register page shows: which register, the local dates, one device or all."""

    name: RegisterName
    first: date
    last: date
    device: Device | None
    devices: list[Device]

    def params(self, **extra: str) -> str:
        query = {"start": self.first.isoformat(), "end": self.last.isoformat()}
        if self.device is not None:
            query["device"] = self.device.id
        return urlencode(query | extra)


@router.get("/registers", response_class=HTMLResponse)
def registers_page(request: Request, person: PageViewer) -> HTMLResponse:
    return _page(request, RegisterName.TEMPERATURE_LOG)


@router.get("/registers/{name}", response_class=HTMLResponse)
def register_page(request: Request, person: PageViewer, name: str) -> HTMLResponse:
    try:
        register = RegisterName(name)
    except ValueError:
        t = translator(language_of(request))
        known = ", ".join(f"/registers/{n.value}" for n in TABS)
        return problem_page(request, 404, t("reg.unknown", name=name[:64], known=known))
    return _page(request, register)


@router.post("/registers/calibration", response_class=HTMLResponse)
async def record_calibration(request: Request, person: PageViewer) -> Response:
    form = await request.form()
    check_form_csrf(person, form.get("csrf"))
    if not person.role.allows(Role.STAFF):
        back = "/registers/calibration"
        return render(
            request,
            "refused.html",
            {"reason_key": "reg.refused_role", "back": back},
            status_code=403,
        )
    context = get_context(request)
    if context.calibration is None:
        return problem_page(request, 503, translator(language_of(request))("reg.no_calibration"))
    entry = calibration_form.CheckEntry.of(form)
    check = entry.record(context.calibration, context.config, context.clock.now(), person.name)
    if check is None:
        return _page(request, RegisterName.CALIBRATION, entry=entry, status_code=422)
    return RedirectResponse(f"/registers/calibration?saved={check.id}", status_code=303)


def problem_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A refusal as a page: what was wrong (the API's sentence) and a way back."""
    return render(
        request,
        "registers_problem.html",
        {"status": status, "message": message, "back": request.url.path},
        status_code=status,
    )


def _page(
    request: Request,
    name: RegisterName,
    *,
    entry: calibration_form.CheckEntry | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = get_context(request)
    t = translator(language_of(request))
    if context.alerts is None:
        return problem_page(request, 503, t("reg.not_running"))
    if context.calibration is None:
        return problem_page(request, 503, t("reg.no_calibration"))
    sources = export.RegisterSources(
        context.config,
        context.alerts.registers,
        context.calibration,
        context.alerts.book.find,
        air=lambda d: _air_readings(context, d),
        limit_history=None if context.admin is None else context.admin.limits.history,
    )
    calibration = name is RegisterName.CALIBRATION
    try:
        query = _query(request, context, name)
        extra = calibration_form.page_context(request, context, entry) if calibration else {}
    except ApiError as exc:
        return problem_page(request, exc.status, exc.message)
    return render(
        request,
        "calibration.html" if calibration else "registers.html",
        _register_context(request, context, sources, query) | extra,
        status_code=status_code,
    )


def _query(request: Request, context: ApiContext, name: RegisterName) -> RegisterQuery:
    params = request.query_params
    device_id = params.get("device") or None
    today = context.clock.now().astimezone(context.config.site.zone).date()
    end = params.get("end") or None
    start = params.get("start") or None
    # Default: this month up to today; with only an end, that end's month.
    first, last = _dates(context, start or _month_start(end, today), end or today.isoformat())
    devices = devices_of(context, name, device_id)
    device = devices[0] if device_id is not None else None
    return RegisterQuery(
        name, first, last, device, export.register_devices(context.config, name, None)
    )


def _month_start(end: str | None, today: date) -> str:
    try:
        anchor = date.fromisoformat(end) if end else today
    except ValueError:
        anchor = today  # the end itself is refused, naming 'end'
    return anchor.replace(day=1).isoformat()


def _register_context(
    request: Request,
    context: ApiContext,
    sources: export.RegisterSources,
    query: RegisterQuery,
) -> dict[str, Any]:
    lang = language_of(request)
    now = context.clock.now()
    document = export.build_document(
        sources, query.name, query.device, query.first, query.last, now, lang
    )
    tables = document_tables(document, _amended(sources, query))
    downloads = {
        fmt: f"/api/registers/{query.name.value}.{fmt}?{query.params(lang=lang)}"
        for fmt in ("pdf", "xlsx")
    }
    return {
        "query": query,
        "tabs": _tabs(query),
        "document": document,
        "tables": tables,
        "any_amended": any(row.amended for table in tables for row in table.rows),
        "overdue": _overdue(sources, query, now, lang),
        "downloads": downloads,
        "months": _month_links(query, now.astimezone(context.config.site.zone).date()),
    }


def _tabs(query: RegisterQuery) -> list[dict[str, Any]]:
    keep = {"start": query.first.isoformat(), "end": query.last.isoformat()}
    return [
        {
            "name": name.value,
            "url": f"/registers/{name.value}?{urlencode(keep)}",
            "current": name is query.name,
        }
        for name in TABS
    ]


def _month_links(query: RegisterQuery, today: date) -> dict[str, str]:
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    device = {"device": query.device.id} if query.device else {}
    return {
        "this": urlencode({"start": this_month.isoformat(), "end": today.isoformat()} | device),
        "last": urlencode(
            {"start": last_month.isoformat(), "end": (this_month - timedelta(days=1)).isoformat()}
            | device
        ),
    }


def _amended(sources: export.RegisterSources, query: RegisterQuery) -> set[tuple[str, str, str]]:
    """The disinfection lines that data received later corrected."""
    if query.name is not RegisterName.DISINFECTION:
        return set()
    device = query.device.id if query.device else None
    records = sources.registers.disinfection_records(
        sources.config.site.id, query.first, query.last, device
    )
    return {(r.service_date.isoformat(), r.meal, r.device) for r in records if r.amendments}


def _overdue(
    sources: export.RegisterSources, query: RegisterQuery, now: datetime, lang: Lang
) -> list[dict[str, Any]]:
    """The probes behind this register that are overdue for their check now."""
    config = sources.config
    zone = config.site.zone
    out = []
    for device in [query.device] if query.device else query.devices:
        if not cal.has_probe(device):
            continue
        checks = sources.calibration.checks(config.site.id, device.id, until=now)
        status = cal.calibration_status(checks, config, device, now)
        if status.flag is None:
            continue
        last = status.last_passed
        out.append(
            {
                "device": device,
                "flag": status.flag.in_language(lang),
                "last_at": None if last is None else last.checked_at.astimezone(zone),
                "last_by": None if last is None else last.by,
            }
        )
    return out
