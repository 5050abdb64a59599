"""An energy report (`energy.EnergyReport`, the one the PDF, XLSX and CSV are written from) as
the energy page shows it: SVG charts (day by day, the period per building against the one
before, cost by tariff period, end uses), the lines per building and category, the metering
warnings and the anomalies. Sums per building and day are presentation; every figure and
verdict (use, cost, estimate, completeness, metering error, anomaly) is the report's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from core.energy_model import DayType
from core.model import Carrier
from dashboard_api.web.energy_charts import (
    BarChart,
    BarRow,
    ColumnChart,
    Series,
    bar_chart,
    column_chart,
)
from energy import EnergyReport, Lang, LineRole, ReportLine, text
from energy.report import LineStatus
from energy.tables import line_label, step_label
from energy.tariffs import PERIODS

__all__ = ["EnergyView", "energy_view"]

# Okabe-Ito (colour-blind safe) for buildings and end uses; tariff periods red to blue, as the
# PDF report draws them (energy.charts).
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
_PERIOD_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7", "#67a9cf")


@dataclass(frozen=True, slots=True)
class LineView:
    building: str
    carrier: str
    category: str
    role: str
    unit: str
    line: ReportLine
    reason: str | None


@dataclass(frozen=True, slots=True)
class ChartPair:
    """One chart drawn for a wide screen and for a phone (the page shows one by CSS)."""

    wide: str  # SVG, every text escaped
    phone: str


@dataclass(frozen=True, slots=True)
class EnergyView:
    charts: list[ChartPair]
    lines: list[LineView]
    warnings: list[str]
    anomalies: list[dict[str, str]]
    steps: list[dict[str, str]]  # gaps, resets, rollovers and items for review (the first)
    steps_total: int  # of the building's: the rest are in the XLSX and CSV


def energy_view(report: EnergyReport, building: str | None, lang: Lang) -> EnergyView:
    lines = [
        line
        for line in report.lines
        if building is None or (line.building is not None and line.building.id == building)
    ]
    charts = [
        ChartPair(wide, phone)
        for draw in (_daily_charts, _period_charts, _tou_charts, _end_use_charts)
        for wide, phone in zip(
            draw(report, lines, lang, WIDE), draw(report, lines, lang, PHONE), strict=True
        )
    ]
    return EnergyView(
        charts=charts,
        lines=[_line_view(line, report, lang) for line in lines],
        warnings=[w.message(lang) for w in report.warnings if building in (None, w.building)],
        anomalies=_anomalies(report, building, lang),
        steps=_steps(report, building, lang),
        steps_total=sum(1 for s in report.steps if building in (None, s.meter.building.id)),
    )


@dataclass(frozen=True, slots=True)
class Size:
    suffix: str  # of the chart's id (ids are unique on the page)
    width: int
    label_width: int  # bar charts: room for the row names


WIDE = Size("", 720, 150)
PHONE = Size("-phone", 380, 96)


def _totals(lines: Sequence[ReportLine], carrier: Carrier) -> list[ReportLine]:
    return [
        line
        for line in lines
        if line.building is not None and line.carrier is carrier and line.role is LineRole.TOTAL
    ]


def _daily_charts(
    report: EnergyReport, lines: Sequence[ReportLine], lang: Lang, size: Size
) -> list[str]:
    """Per carrier: each day's use of the main meters, stacked per building; use across gaps
    hatched; days without school shaded; days not fully measured dotted; future days blank."""
    days = sorted({d.day for d in report.meter_days})
    out = []
    for carrier in Carrier:
        totals = _totals(lines, carrier)
        mains = {m for line in totals for m in line.meters}
        if mains and days:
            out.append(_daily_chart(report, carrier, totals, mains, days, lang, size))
    return out


def _daily_chart(
    report: EnergyReport,
    carrier: Carrier,
    totals: list[ReportLine],
    mains: set[str],
    days: list[date],
    lang: Lang,
    size: Size,
) -> str:
    use: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    gaps: dict[date, float] = defaultdict(float)
    incomplete, future = set(), set()
    types = {d.day: d.day_type for d in report.meter_days}
    for row in report.meter_days:
        if row.meter not in mains:
            continue
        use[row.building][row.day] += row.measured
        gaps[row.day] += row.across_gaps
        if row.future:
            future.add(row.day)
        elif row.completeness < 0.999:
            incomplete.add(row.day)
    series = [
        Series(
            line.building.name if line.building else "",
            _PALETTE[i % len(_PALETTE)],
            [use[line.building.id][d] if line.building else 0.0 for d in days],
        )
        for i, line in enumerate(totals)
    ]
    series.append(Series(text("step.gap", lang), "#fff", [gaps[d] for d in days], hatched=True))
    title = f"{text('sheet.daily', lang)} · {text(carrier.value, lang)}"
    return column_chart(
        ColumnChart(
            chart_id=f"energy-daily-{carrier.value}{size.suffix}",
            title=_heading(title),
            unit=carrier.unit,
            labels=[f"{d:%m-%d}" for d in days],
            series=series,
            shaded=[types.get(d) is not DayType.SCHOOL_DAY for d in days],
            incomplete=[d in incomplete for d in days],
            future=[d in future for d in days],
            future_word=text("future", lang),
            empty_word=text("none", lang),
            width=size.width,
        )
    )


def _period_charts(
    report: EnergyReport, lines: Sequence[ReportLine], lang: Lang, size: Size
) -> list[str]:
    """Each building's use of electricity this period, with the change on the previous
    period and on the same period a year before written after the bar."""
    totals = _totals(lines, Carrier.ELECTRICITY)
    if not totals:
        return []
    rows = [
        BarRow(line_label(line, lang)[0], _changes(line, lang), tone="muted") for line in totals
    ]
    series = [
        Series(
            report.period.label,
            _PALETTE[0],
            [line.current.consumption for line in totals],
            texts=[f"{line.current.consumption:,.0f}" for line in totals],
        )
    ]
    chart = bar_chart(
        BarChart(
            chart_id=f"energy-period{size.suffix}",
            title=_heading(f"{text('chart.by_building', lang)} · {text('electricity', lang)}"),
            unit="kWh",
            rows=rows,
            series=series,
            empty_word=text("none", lang),
            width=size.width,
            label_width=size.label_width,
            note_width=170 if size is WIDE else 40,
        )
    )
    return [chart]


def _heading(words: str) -> str:
    """A chart's title from the report's words, which are lower case in English."""
    return words[:1].upper() + words[1:]


def _changes(line: ReportLine, lang: Lang) -> str:
    parts = []
    for key, change in (
        ("change_previous", line.change_previous_pct),
        ("change_year", line.change_year_pct),
    ):
        if change is not None:
            parts.append(f"{text(key, lang)} {change:+.1f}%")
    return "  ".join(parts)


def _tou_charts(
    report: EnergyReport, lines: Sequence[ReportLine], lang: Lang, size: Size
) -> list[str]:
    """Each building's electricity by tariff period, the period's cost written on it."""
    totals = _totals(lines, Carrier.ELECTRICITY)
    if not totals:
        return []
    series = [
        Series(
            text(period.value, lang),
            _PERIOD_COLOURS[i],
            [line.current.use_by_period[i] for line in totals],
            texts=[f"{line.current.cost_by_period[i]:,.0f}" for line in totals],
        )
        for i, period in enumerate(PERIODS)
        if any(line.current.use_by_period[i] > 0 for line in totals)
    ]
    chart = bar_chart(
        BarChart(
            chart_id=f"energy-tou{size.suffix}",
            title=_heading(
                f"{text('chart.tou', lang)} ({text('note.tou', lang)}, {report.currency})"
            ),
            unit="kWh",
            rows=[BarRow(line_label(line, lang)[0]) for line in totals],
            series=series,
            empty_word=text("none", lang),
            width=size.width,
            label_width=size.label_width,
            note_width=60 if size is WIDE else 40,
        )
    )
    return [chart]


def _end_use_charts(
    report: EnergyReport, lines: Sequence[ReportLine], lang: Lang, size: Size
) -> list[str]:
    """Shares of each end use below a main meter; a line without a share (a metering error,
    a rest not known) is named after the bar instead of drawn."""
    rows: dict[str, dict[str, float]] = {}
    flagged: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        if line.building is None or line.role is LineRole.TOTAL:
            continue
        building, category = line_label(line, lang)
        key = f"{building} · {text(line.carrier.value, lang)}"
        rows.setdefault(key, {})
        if line.share_pct is not None:
            rows[key][category] = line.share_pct
        else:
            status = line.status if line.status is not LineStatus.OK else LineStatus.NOT_KNOWN
            flagged[key].append(f"{category}: {text(f'status.{status.value}', lang)}")
    if not rows:
        return []
    categories = list(dict.fromkeys(c for parts in rows.values() for c in parts))
    series = [
        Series(
            category,
            _PALETTE[i % len(_PALETTE)],
            [parts.get(category, 0.0) for parts in rows.values()],
            texts=[f"{parts.get(category, 0.0):.0f}%" for parts in rows.values()],
        )
        for i, category in enumerate(categories)
    ]
    chart = bar_chart(
        BarChart(
            chart_id=f"energy-end-uses{size.suffix}",
            title=_heading(text("chart.categories", lang)),
            unit="%",
            rows=[BarRow(key, "; ".join(flagged[key])) for key in rows],
            series=series,
            empty_word=text("none", lang),
            fixed_max=100.0,
            width=size.width,
            label_width=size.label_width,
            note_width=60 if size is WIDE else 40,
        )
    )
    return [chart]


def _line_view(line: ReportLine, report: EnergyReport, lang: Lang) -> LineView:
    building, category = line_label(line, lang)
    reason = None
    if line.status is not LineStatus.OK and line.building is not None:
        mine = [
            w.message(lang)
            for w in report.warnings
            if w.building == line.building.id
            and w.carrier is line.carrier
            and (line.role is LineRole.UNACCOUNTED or set(w.meters) & set(line.meters))
        ]
        reason = " ".join(mine) or None
    return LineView(
        building, text(line.carrier.value, lang), category, line.role.value, line.unit, line, reason
    )


def _anomalies(report: EnergyReport, building: str | None, lang: Lang) -> list[dict[str, str]]:
    zone = report.site.zone
    names = {b.id: b.name for b in (line.building for line in report.lines) if b is not None}
    return [
        {
            "title": a.title(lang),
            "severity": a.severity.value,
            "severity_word": text(f"severity.{a.severity.value}", lang),
            "building": names.get(a.building, a.building),
            "device": a.device,
            "start": a.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "end": a.end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "evidence": a.evidence(lang, zone),
        }
        for a in report.anomalies
        if building in (None, a.building)
    ]


# Listed on the page at most: a counter that zigzags can hold tens of thousands (megabytes
# of a page a phone would choke on); the reports' files list them all.
STEPS_LISTED = 200


def _steps(report: EnergyReport, building: str | None, lang: Lang) -> list[dict[str, str]]:
    zone = report.site.zone
    spans = [s for s in report.steps if building in (None, s.meter.building.id)]
    return [
        {
            "meter": s.meter.id,
            "label": step_label(s, lang),
            "start": s.step.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "end": s.step.end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "usage": "" if s.step.usage is None else f"{s.step.usage:,.3f}",
        }
        for s in spans[:STEPS_LISTED]
    ]
