"""Energy accounting over HTTP: the report of a day, week or month as JSON or as a file (PDF,
XLSX, CSV), the anomalies of a range of days, and the site's meters as a hierarchy."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from dashboard_api.deps import Context
from dashboard_api.errors import ApiError, answers, shown
from dashboard_api.params import FIRST_DAY, LAST_DAY, check_date, query_value
from energy import EnergyError, PeriodKind, ReportPeriod, build_report, find_anomalies, site_meters
from energy.report_json import anomaly_json, report_json
from energy.writers import ReportFormat, write_csv, write_xlsx

__all__ = ["report_period", "router"]

router = APIRouter(tags=["energy"])

_MEDIA = {
    ReportFormat.PDF: "application/pdf",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.CSV: "text/csv; charset=utf-8",
}

# A range of days longer than a school term is a report, not a list of anomalies.
MAX_ANOMALY_DAYS = 184

LangQuery = Annotated[Literal["zh", "en"], Query(description="Language of labels and evidence")]

_EXAMPLES = {
    PeriodKind.DAY: "date=2026-10-12",
    PeriodKind.WEEK: "week=2026-W42",
    PeriodKind.MONTH: "month=2026-10",
}
# The periods whose first day lies in params.FIRST_DAY..LAST_DAY (2000-W01 is the first ISO week
# to start in 2000; 2100 has 52 weeks).
_RANGES = {
    PeriodKind.DAY: "days run from 2000-01-01 to 2100-12-31",
    PeriodKind.WEEK: "weeks run from 2000-W01 to 2100-W52",
    PeriodKind.MONTH: "months run from 2000-01 to 2100-12",
}


@router.get(
    "/api/energy/report",
    summary="Energy report of a day, an ISO week or a month",
    responses=answers(422),
)
def energy_report(
    context: Context,
    period: Annotated[PeriodKind, Query(description="day, week or month")] = PeriodKind.MONTH,
    month: Annotated[
        str | None,
        Query(max_length=16, description="With period=month: YYYY-MM, 2000-01 to 2100-12"),
    ] = None,
    week: Annotated[
        str | None,
        Query(max_length=16, description="With period=week: YYYY-Www, 2000-W01 to 2100-W52"),
    ] = None,
    day: Annotated[
        str | None,
        Query(
            alias="date",
            max_length=16,
            description="With period=day: YYYY-MM-DD, 2000-01-01 to 2100-12-31",
        ),
    ] = None,
    lang: LangQuery = "zh",
) -> dict[str, Any]:
    chosen = report_period(period, month, week, day)
    report = build_report(context.config, context.store, chosen, now=context.clock.now())
    return report_json(report, lang)


def report_period(
    period: PeriodKind, month: str | None, week: str | None, day: str | None
) -> ReportPeriod:
    """The period the query names (`month`, `week` or `date`, whichever `period` asks for); a
    422 naming the parameter when it is missing, malformed or out of range."""
    given = {PeriodKind.MONTH: month, PeriodKind.WEEK: week, PeriodKind.DAY: day}
    name = "date" if period is PeriodKind.DAY else period.value
    text = given[period]
    if text is None:
        raise ApiError(
            422,
            f"query parameter '{name}' is required with period={period.value}, "
            f"e.g. ?period={period.value}&{_EXAMPLES[period]}",
        )
    try:
        chosen = ReportPeriod.parse(period, text)
    except EnergyError as exc:
        raise ApiError(422, f"query parameter '{name}': {exc.message}") from None
    if not FIRST_DAY <= chosen.first <= LAST_DAY:
        raise ApiError(
            422, f"query parameter '{name}': {shown(text)} is out of range; {_RANGES[period]}"
        )
    return chosen


@router.get(
    "/api/energy/report.{fmt}",
    summary="Energy report of a day, an ISO week or a month as a PDF, XLSX or CSV file",
    responses={
        200: {"content": {m: {} for m in _MEDIA.values()}, "description": "The report file"},
        **answers(422, 503),
    },
    response_class=Response,
)
def energy_report_file(
    context: Context,
    fmt: Annotated[ReportFormat, PathParam(description="pdf, xlsx or csv")],
    period: Annotated[PeriodKind, Query(description="day, week or month")] = PeriodKind.MONTH,
    month: Annotated[
        str | None, Query(max_length=16, description="With period=month: YYYY-MM")
    ] = None,
    week: Annotated[
        str | None, Query(max_length=16, description="With period=week: YYYY-Www")
    ] = None,
    day: Annotated[
        str | None, Query(alias="date", max_length=16, description="With period=day: YYYY-MM-DD")
    ] = None,
    lang: LangQuery = "zh",
) -> Response:
    """The same report as the JSON, laid out as `canteen report energy` writes it."""
    chosen = report_period(period, month, week, day)
    report = build_report(context.config, context.store, chosen, now=context.clock.now())
    with tempfile.TemporaryDirectory(prefix="canteen-report-") as folder:
        out = Path(folder) / f"report.{fmt.value}"
        try:
            if fmt is ReportFormat.CSV:
                write_csv(report, out, lang)
            elif fmt is ReportFormat.XLSX:
                write_xlsx(report, out, lang)
            else:
                from energy.pdf import write_pdf  # matplotlib loads only when a PDF is asked for

                write_pdf(report, out, lang)
        except EnergyError as exc:
            raise ApiError(503, exc.message) from None
        body = out.read_bytes()
    site = context.config.site
    filename = f"{site.id}_energy_{chosen.label}.{fmt.value}"
    shown_name = f"{site.name}_{'能耗报告' if lang == 'zh' else 'energy report'}_{chosen.label}"
    disposition = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(shown_name)}.{fmt.value}"
    )
    return Response(body, media_type=_MEDIA[fmt], headers={"Content-Disposition": disposition})


@router.get(
    "/api/energy/anomalies",
    summary="Energy anomalies of a range of local days",
    responses=answers(422),
)
def energy_anomalies(
    context: Context,
    start: Annotated[
        date | None,
        Query(
            description="First local day, YYYY-MM-DD, 2000-01-01 to 2100-12-31; default 7 days ago"
        ),
    ] = None,
    end: Annotated[
        date | None, Query(description="Last local day (included); default yesterday")
    ] = None,
    building: Annotated[str | None, Query(max_length=64, description="Only this building")] = None,
    lang: LangQuery = "zh",
) -> dict[str, Any]:
    zone = context.config.site.zone
    today = context.clock.now().astimezone(zone).date()
    last = query_value("end", check_date, end) if end else today - timedelta(days=1)
    first = query_value("start", check_date, start) if start else last - timedelta(days=6)
    if first > last:
        raise ApiError(422, f"query parameter 'start' ({first}) must not be after 'end' ({last})")
    if (last - first).days + 1 > MAX_ANOMALY_DAYS:
        raise ApiError(
            422,
            f"query parameters 'start'..'end' span {(last - first).days + 1} days; at most "
            f"{MAX_ANOMALY_DAYS} are allowed, so ask for a shorter range",
        )
    buildings = [b.id for b in context.config.buildings]
    if building is not None and building not in buildings:
        raise ApiError(
            422, f"query parameter 'building': no building {shown(building)}; known: {buildings}"
        )
    found = find_anomalies(context.config, context.store, first, last)
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "items": [
            anomaly_json(a, lang, zone) for a in found if building is None or a.building == building
        ],
    }


@router.get("/api/energy/meters", summary="Meters by building, with sub-meters and tariffs")
def energy_meters(context: Context) -> list[dict[str, Any]]:
    return [
        {
            "id": meter.id,
            "building": meter.building.id,
            "carrier": meter.carrier.value,
            "unit": meter.carrier.unit,
            "category": meter.category.value,
            "parent": meter.device.parent,
            "children": list(meter.children),
            "tariff": meter.tariff.id if meter.tariff else None,
        }
        for meter in site_meters(context.config)
    ]
