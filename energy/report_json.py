"""An energy report and anomalies as JSON-ready dicts: what the API returns. Times are the
site's local time (RFC 3339 with offset); labels are in the language asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy.anomaly_model import EnergyAnomaly
from energy.figures import Figures
from energy.labels import Lang
from energy.periods import ReportPeriod
from energy.report import EnergyReport, ReportLine
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
        "lines": [_line(line, lang) for line in report.lines],
        "meter_days": [
            {
                "meter": d.meter,
                "building": d.building,
                "carrier": d.carrier.value,
                "date": d.day.isoformat(),
                "day_type": d.day_type.value,
                "measured": d.measured,
                "across_gaps": d.across_gaps,
                "completeness": d.completeness,
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
        "observed": anomaly.observed,
        "baseline": anomaly.baseline,
        "unit": anomaly.unit,
        "reference_days": anomaly.reference_days,
        "use": anomaly.use,
        "evidence": anomaly.evidence(lang, zone),
    }


def _period(period: ReportPeriod) -> dict[str, str]:
    return {
        "kind": period.kind.value,
        "label": period.label,
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
    }


def _line(line: ReportLine, lang: Lang) -> dict[str, Any]:
    building, category = line_label(line, lang)
    now = line.current
    return {
        "building": line.building.id if line.building else None,
        "building_name": building,
        "carrier": line.carrier.value,
        "category": line.category.value if line.category else "unaccounted",
        "category_name": category,
        "role": line.role.value,
        "meters": list(line.meters),
        "unit": line.unit,
        **_figures(now),
        "by_period": {
            period.value: {"use": use, "cost": cost}
            for period, use, cost in zip(
                PERIODS, now.use_by_period, now.cost_by_period, strict=True
            )
        },
        "per_m2": line.per_m2,
        "per_occupant": line.per_occupant,
        "share_pct": line.share_pct,
        "previous": _figures(line.previous) if line.previous else None,
        "change_previous_pct": line.change_previous_pct,
        "year_before": _figures(line.year_before) if line.year_before else None,
        "change_year_pct": line.change_year_pct,
    }


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "consumption": figures.consumption,
        "across_gaps": figures.across_gaps,
        "cost": figures.cost,
        "cost_estimated": figures.cost_estimated,
        "completeness": figures.completeness,
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
        "before": step.before,
        "after": step.after,
        "usage": step.usage,
    }


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat()
