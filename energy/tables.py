"""An energy report as plain tables (a header and rows of cells) in Chinese or English: what the
CSV and XLSX writers put on paper. Times are the site's local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from energy.labels import Lang, text
from energy.report import EnergyReport, LineRole, LineStatus, ReportLine
from energy.tariffs import PERIODS
from energy.usage import MeterSpan

__all__ = ["Cell", "Table", "line_label", "report_tables", "step_label"]

Cell = str | float | int | None


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # sheet.summary, sheet.meter_days, ...
    title: str
    header: list[str]
    rows: list[list[Cell]]


def report_tables(report: EnergyReport, lang: Lang = "zh") -> list[Table]:
    zone = report.site.zone
    return [
        _summary(report, lang),
        _warnings(report, lang),
        _meter_days(report, lang),
        _steps(report, lang, zone),
        _anomalies(report, lang, zone),
    ]


def line_label(line: ReportLine, lang: Lang) -> tuple[str, str]:
    """(building, category) as a reader sees them."""
    building = line.building.name if line.building else text("site", lang)
    if line.role is LineRole.UNACCOUNTED:
        return building, text("category.unaccounted", lang)
    category = line.category.value if line.category else line.carrier.value
    return building, text(f"category.{category}", lang)


def _summary(report: EnergyReport, lang: Lang) -> Table:
    periods = [text(p.value, lang) for p in PERIODS]
    header = [
        text("building", lang),
        text("carrier", lang),
        text("category", lang),
        text("consumption", lang),
        text("unit", lang),
        text("across_gaps", lang),
        f"{text('cost', lang)} ({report.currency})",
        text("cost_estimated", lang),
        *[f"{text('cost', lang)}·{p}" for p in periods],
        *[f"{text('consumption', lang)}·{p}" for p in periods],
        text("per_m2", lang),
        text("per_occupant", lang),
        f"{text('share', lang)} %",
        text("previous", lang),
        f"{text('change_previous', lang)} %",
        text("year_before", lang),
        f"{text('change_year', lang)} %",
        f"{text('completeness', lang)} %",
        text("status", lang),
        text("gap_basis", lang),
    ]
    rows: list[list[Cell]] = []
    for line in report.lines:
        building, category = line_label(line, lang)
        now = line.current
        if line.status is LineStatus.NOT_KNOWN:
            rows.append(_not_known_row(line, building, category, len(header), lang))
            continue
        rows.append(
            [
                building,
                text(line.carrier.value, lang),
                category,
                _r(now.consumption),
                line.unit,
                _r(now.across_gaps),
                _r(now.cost),
                _r(now.cost_estimated),
                *[_r(c) for c in now.cost_by_period],
                *[_r(u) for u in now.use_by_period],
                _r(line.per_m2, 4),
                _r(line.per_occupant, 4),
                _r(line.share_pct, 1),
                _r(line.previous.consumption if line.previous else None),
                _r(line.change_previous_pct, 1),
                _r(line.year_before.consumption if line.year_before else None),
                _r(line.change_year_pct, 1),
                _r(now.completeness * 100, 1),
                text(f"status.{line.status.value}", lang),
                "、".join(text(f"gap_basis.{b}", lang) for b in now.gap_bases) or None,
            ]
        )
    title = f"{text('sheet.summary', lang)} {report.period.label}"
    return Table("sheet.summary", title, header, rows)


def _not_known_row(
    line: ReportLine, building: str, category: str, width: int, lang: Lang
) -> list[Cell]:
    """An unaccounted rest that cannot be known: words where the figures would be."""
    row: list[Cell] = [building, text(line.carrier.value, lang), category]
    row += [text("not_known", lang), line.unit]
    row += [None] * (width - len(row) - 3)
    row += [_r(line.current.completeness * 100, 1), text("status.not_known", lang), None]
    return row


def _warnings(report: EnergyReport, lang: Lang) -> Table:
    header = [text("building", lang), text("meter", lang), text("warning", lang)]
    names = {b.id: b.name for b in (line.building for line in report.lines) if b is not None}
    rows: list[list[Cell]] = [
        [names.get(w.building, w.building), ", ".join(w.meters), w.message(lang)]
        for w in report.warnings
    ]
    return Table("sheet.warnings", text("sheet.warnings", lang), header, rows)


def _meter_days(report: EnergyReport, lang: Lang) -> Table:
    header = [
        text("meter", lang),
        text("building", lang),
        text("carrier", lang),
        text("date", lang),
        text("day_type", lang),
        text("usage", lang),
        text("across_gaps", lang),
        f"{text('completeness', lang)} %",
    ]
    rows: list[list[Cell]] = [
        [
            d.meter,
            d.building,
            text(d.carrier.value, lang),
            d.day.isoformat(),
            text(d.day_type.value, lang),
            _r(d.measured),
            _r(d.across_gaps),
            _r(d.completeness * 100, 1),
        ]
        for d in report.meter_days
    ]
    return Table("sheet.meter_days", text("sheet.meter_days", lang), header, rows)


def step_label(span: MeterSpan, lang: Lang) -> str:
    step = span.step
    if step.gap:
        return text("step.gap" if step.usage is not None else "step.gap_unknown", lang)
    return text(f"step.{step.kind.value}", lang)


def _steps(report: EnergyReport, lang: Lang, zone: ZoneInfo) -> Table:
    header = [
        text("meter", lang),
        text("kind", lang),
        text("start", lang),
        text("end", lang),
        text("before", lang),
        text("after", lang),
        text("usage", lang),
    ]
    rows: list[list[Cell]] = [
        [
            s.meter.id,
            step_label(s, lang),
            _local(s.step.start, zone),
            _local(s.step.end, zone),
            s.step.before,
            s.step.after,
            _r(s.step.usage),
        ]
        for s in report.steps
    ]
    return Table("sheet.steps", text("sheet.steps", lang), header, rows)


def _anomalies(report: EnergyReport, lang: Lang, zone: ZoneInfo) -> Table:
    header = [
        text("building", lang),
        text("meter", lang),
        text("kind", lang),
        text("severity", lang),
        text("start", lang),
        text("end", lang),
        text("usage", lang),
        text("evidence", lang),
    ]
    rows: list[list[Cell]] = [
        [
            a.building,
            a.device,
            a.title(lang),
            text(f"severity.{a.severity.value}", lang),
            _local(a.start, zone),
            _local(a.end, zone),
            _r(a.use),
            a.evidence(lang, zone),
        ]
        for a in report.anomalies
    ]
    return Table("sheet.anomalies", text("sheet.anomalies", lang), header, rows)


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
