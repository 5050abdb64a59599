"""An energy report and anomalies as JSON-ready dicts: what the API returns. Times are the
site's local time (RFC 3339 with offset); labels are in the language asked for.

Figures are rounded to what a meter and a bill can tell apart: use (kWh, m³) and register
readings to 3 decimals, money to 2, percentages to 1, completeness (a share, 0-1) to 3 (0.1 %),
intensities (per m², per occupant) to 4. A line whose figure is not known says so (`status`,
`reason`) and carries null, never a number that means nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy.anomaly_model import EnergyAnomaly
from energy.figures import Figures
from energy.labels import Lang
from energy.periods import ReportPeriod
from energy.report import EnergyReport, LineStatus, ReportLine, ReportWarning
from energy.tables import line_label, step_label
from energy.tariffs import PERIODS
from energy.usage import MeterSpan

__all__ = ["anomaly_json", "report_json"]


def report_json(report: EnergyReport, lang: Lang = "zh") -> dict[str, Any]:
    zone = report.site.zone
    return {
        "site": report.site.id,
        "period": _period(report.period),
        "previous": _period(report.previous),
        "year_before": _period(report.year_before),
        "currency": report.currency,
        "happened_until": _local(report.happened_until, zone) if report.happened_until else None,
        "lines": [_line(line, lang, report.warnings) for line in report.lines],
        "warnings": [_warning(w, lang) for w in report.warnings],
        "meter_days": [
            {
                "meter": d.meter,
                "building": d.building,
                "carrier": d.carrier.value,
                "date": d.day.isoformat(),
                "day_type": d.day_type.value,
                "measured": _use(d.measured),
                "across_gaps": _use(d.across_gaps),
                "completeness": _share(d.completeness),
                "future": d.future,
            }
            for d in report.meter_days
        ],
        "steps": [_step(s, lang, zone) for s in report.steps],
        "anomalies": [anomaly_json(a, lang, zone) for a in report.anomalies],
    }


def anomaly_json(anomaly: EnergyAnomaly, lang: Lang, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "rule": anomaly.rule,
        "kind": anomaly.kind.value,
        "title": anomaly.title(lang),
        "building": anomaly.building,
        "device": anomaly.device,
        "start": _local(anomaly.start, zone),
        "end": _local(anomaly.end, zone),
        "days": anomaly.days,
        "severity": anomaly.severity.value,
        "observed": _use(anomaly.observed),
        "baseline": _use(anomaly.baseline),
        "unit": anomaly.unit,
        "reference_days": anomaly.reference_days,
        "use": _use(anomaly.use),
        "evidence": anomaly.evidence(lang, zone),
    }


def _period(period: ReportPeriod) -> dict[str, str]:
    return {
        "kind": period.kind.value,
        "label": period.label,
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
    }


def _line(line: ReportLine, lang: Lang, warnings: tuple[ReportWarning, ...]) -> dict[str, Any]:
    building, category = line_label(line, lang)
    now = line.current
    known = line.status is not LineStatus.NOT_KNOWN
    return {
        "building": line.building.id if line.building else None,
        "building_name": building,
        "carrier": line.carrier.value,
        "category": line.category.value if line.category else "unaccounted",
        "category_name": category,
        "role": line.role.value,
        "meters": list(line.meters),
        "unit": line.unit,
        "status": line.status.value,
        "reason": _reason(line, lang, warnings),
        **(_figures(now) if known else _unknown(now)),
        "by_period": {
            period.value: {"use": _use(use), "cost": _money(cost)} if known else None
            for period, use, cost in zip(
                PERIODS, now.use_by_period, now.cost_by_period, strict=True
            )
        },
        "per_m2": _round(line.per_m2, 4),
        "per_occupant": _round(line.per_occupant, 4),
        "share_pct": _round(line.share_pct, 1),
        "previous": _figures(line.previous) if line.previous and known else None,
        "change_previous_pct": _round(line.change_previous_pct, 1) if known else None,
        "year_before": _figures(line.year_before) if line.year_before and known else None,
        "change_year_pct": _round(line.change_year_pct, 1) if known else None,
    }


def _reason(line: ReportLine, lang: Lang, warnings: tuple[ReportWarning, ...]) -> str | None:
    """The warning behind a flagged line, in words."""
    if line.status is LineStatus.OK or line.building is None:
        return None
    mine = [
        w
        for w in warnings
        if w.building == line.building.id
        and w.carrier is line.carrier
        and (line.role.value == "unaccounted" or set(w.meters) & set(line.meters))
    ]
    return " ".join(w.message(lang) for w in mine) or None


def _warning(warning: ReportWarning, lang: Lang) -> dict[str, Any]:
    return {
        "kind": warning.kind.value,
        "building": warning.building,
        "carrier": warning.carrier.value,
        "meters": list(warning.meters),
        "main_meters": list(warning.parent),
        "message": warning.message(lang),
    }


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "consumption": _use(figures.consumption),
        "across_gaps": _use(figures.across_gaps),
        "cost": _money(figures.cost),
        "cost_estimated": _money(figures.cost_estimated),
        "estimate": _estimate(figures),
        "completeness": _share(figures.completeness),
    }


def _unknown(figures: Figures) -> dict[str, Any]:
    return {
        "consumption": None,
        "across_gaps": None,
        "cost": None,
        "cost_estimated": None,
        "estimate": None,
        "completeness": _share(figures.completeness),
    }


def _estimate(figures: Figures) -> dict[str, Any] | None:
    """How use across gaps was shared over the tariff periods to price it: by the meter's
    own profile on comparable days, or at the flat price."""
    if not figures.gap_bases:
        return None
    return {
        "basis": list(figures.gap_bases),
        "use_by_period": {
            period.value: _use(use)
            for period, use in zip(PERIODS, figures.gap_use_by_period, strict=True)
        },
    }


def _step(span: MeterSpan, lang: Lang, zone: ZoneInfo) -> dict[str, Any]:
    step = span.step
    return {
        "meter": span.meter.id,
        "kind": step.kind.value,
        "gap": step.gap,
        "for_review": step.kind.for_review,
        "label": step_label(span, lang),
        "start": _local(step.start, zone),
        "end": _local(step.end, zone),
        "before": _use(step.before),
        "after": _use(step.after),
        "usage": _use(step.usage),
    }


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat()


def _round(value: float | None, digits: int) -> float | None:
    # + 0.0 turns a rounded -0.0 into 0.0.
    return None if value is None else round(value, digits) + 0.0


def _use(value: float | None) -> float | None:
    return _round(value, 3)


def _money(value: float | None) -> float | None:
    return _round(value, 2)


def _share(value: float) -> float:
    return round(value, 3) + 0.0
