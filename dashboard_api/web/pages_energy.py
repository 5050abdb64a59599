"""The energy page: a day, an ISO week or a month (default this month) for the whole site or
one building: use and cost per building and category (sub-meters), day-by-day and per-period
charts (server-side SVG), cost by tariff period, completeness and estimated use marked,
metering errors flagged, the anomalies (or "no anomalies found"), and the report as PDF, XLSX
and CSV from `GET /api/energy/report.{fmt}` with the same period.

The page reads the same report as the JSON and the files (`energy.build_report`); parameters
are parsed as the API parses them (`routes.energy.report_period`), and a refusal is a page
with the API's sentence naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from dashboard_api.context import ApiContext
from dashboard_api.deps import PageViewer, get_context
from dashboard_api.errors import ApiError, shown
from dashboard_api.params import FIRST_DAY, LAST_DAY
from dashboard_api.routes.energy import report_period
from dashboard_api.web import i18n_energy
from dashboard_api.web.energy_view import energy_view
from dashboard_api.web.i18n import language_of
from dashboard_api.web.pages_registers import problem_page
from dashboard_api.web.render import render
from energy import Lang, PeriodKind, ReportPeriod, build_report, site_meters, text
from energy.report import LineStatus
from energy.tariffs import PERIODS

__all__ = ["EnergyQuery", "router"]

router = APIRouter(include_in_schema=False)

assert i18n_energy is not None  # its words are in the catalogue once this module is loaded

# The query parameter that names the period of each kind, as in GET /api/energy/report.
_PARAM = {PeriodKind.DAY: "date", PeriodKind.WEEK: "week", PeriodKind.MONTH: "month"}


@dataclass(frozen=True, slots=True)
class EnergyQuery:
    period: ReportPeriod
    building: str | None

    def params(self, period: ReportPeriod | None = None, **extra: str) -> str:
        chosen = period or self.period
        query = {"period": chosen.kind.value, _PARAM[chosen.kind]: chosen.label}
        if self.building is not None:
            query["building"] = self.building
        return urlencode(query | extra)


@router.get("/energy", response_class=HTMLResponse)
def energy_page(request: Request, person: PageViewer) -> HTMLResponse:
    context = get_context(request)
    lang = language_of(request)
    try:
        query = _query(request, context)
    except ApiError as exc:
        return problem_page(request, exc.status, exc.message)
    if not site_meters(context.config):
        return render(
            request, "energy.html", {"query": query, "no_meters": True} | _nav(query, context)
        )
    report = build_report(context.config, context.store, query.period, now=context.clock.now())
    view = energy_view(report, query.building, _lang(lang))
    files = {fmt: f"/api/energy/report.{fmt}?{query.params(lang=lang)}" for fmt in _FORMATS}
    return render(
        request,
        "energy.html",
        {
            "query": query,
            "no_meters": False,
            "report": report,
            "view": view,
            # Built with every text escaped (energy_charts).
            "charts": [{"wide": Markup(c.wide), "phone": Markup(c.phone)} for c in view.charts],
            "words": _report_words(lang),
            "files": files,
            "has_data": any(d.completeness > 0 or d.across_gaps > 0 for d in report.meter_days),
            "estimated": any(v.line.current.cost_estimated > 0 for v in view.lines),
            "period_words": [text(p.value, _lang(lang)) for p in PERIODS],
            "status_words": {s.value: text(f"status.{s.value}", _lang(lang)) for s in LineStatus},
        }
        | _nav(query, context),
    )


_FORMATS = ("pdf", "xlsx", "csv")


def _query(request: Request, context: ApiContext) -> EnergyQuery:
    params = request.query_params
    text = params.get("period") or PeriodKind.MONTH.value
    try:
        kind = PeriodKind(text)
    except ValueError:
        raise ApiError(
            422, f"query parameter 'period': {shown(text)} is not a period; use day, week or month"
        ) from None
    today = context.clock.now().astimezone(context.config.site.zone).date()
    given = params.get(_PARAM[kind]) or _default(kind, today).label
    chosen = report_period(
        kind,
        given if kind is PeriodKind.MONTH else None,
        given if kind is PeriodKind.WEEK else None,
        given if kind is PeriodKind.DAY else None,
    )
    building = params.get("building") or None
    known = [b.id for b in context.config.buildings]
    if building is not None and building not in known:
        raise ApiError(
            422, f"query parameter 'building': no building {shown(building)}; known: {known}"
        )
    return EnergyQuery(chosen, building)


def _default(kind: PeriodKind, today: date) -> ReportPeriod:
    if kind is PeriodKind.DAY:
        return ReportPeriod.day(today)
    if kind is PeriodKind.WEEK:
        return ReportPeriod.week(today)
    return ReportPeriod.month(today.year, today.month)


def _nav(query: EnergyQuery, context: ApiContext) -> dict[str, Any]:
    """Links to the day, week and month holding the period's last day, and to the periods
    before and after (none after 2100, none before 2000: the API's range)."""
    anchor = query.period.last
    kinds = {kind.value: f"/energy?{query.params(_default(kind, anchor))}" for kind in PeriodKind}
    before = _shift(query.period, -1)
    after = _shift(query.period, 1)
    return {
        "kinds": kinds,
        "previous_url": f"/energy?{query.params(before)}" if before else None,
        "next_url": f"/energy?{query.params(after)}" if after else None,
        "site_buildings": context.config.buildings,
    }


def _shift(period: ReportPeriod, direction: int) -> ReportPeriod | None:
    if direction < 0:
        moved = period.previous()
    elif period.kind is PeriodKind.MONTH:
        following = period.last + timedelta(days=1)
        moved = ReportPeriod.month(following.year, following.month)
    else:
        moved = period.shifted(period.days)
    return moved if moved.first >= FIRST_DAY and moved.last <= LAST_DAY else None


def _lang(lang: str) -> Lang:
    return "en" if lang == "en" else "zh"


def _report_words(lang: str) -> dict[str, str]:
    """The report's own column words (`energy.labels`), as the PDF prints them."""
    keys = (
        "building", "carrier", "category", "consumption", "unit", "cost", "share",
        "completeness", "status", "across_gaps", "cost_estimated", "no_anomalies", "severity",
        "start", "end", "meter", "evidence", "no_warnings", "kind", "usage", "before", "after",
        "change_previous", "change_year", "previous", "year_before", "critical_peak", "peak",
        "flat", "valley", "future", "not_known",
    )  # fmt: skip
    return {key: text(key, _lang(lang)) for key in keys}
