"""Energy accounting: meter counters read right (resets, replacements, rollovers, gaps), use
and cost per building and category under time-of-use or tiered tariffs, sub-metering and what
it leaves unaccounted, baselines by school day type and the anomalies against them, and
reports (CSV, XLSX, PDF, JSON). Aggregation runs in the store; nothing here talks MQTT."""

from energy.anomalies import detect_anomalies, find_anomalies
from energy.anomaly_model import AnomalyKind, EnergyAnomaly, Severity
from energy.errors import EnergyError
from energy.figures import Figures
from energy.labels import Lang, text
from energy.meters import METER_EVENT_KINDS, Meter, site_meters
from energy.periods import PeriodKind, ReportPeriod
from energy.report import EnergyReport, LineRole, MeterDay, Progress, ReportLine, build_report

__all__ = [
    "METER_EVENT_KINDS",
    "AnomalyKind",
    "EnergyAnomaly",
    "EnergyError",
    "EnergyReport",
    "Figures",
    "Lang",
    "LineRole",
    "Meter",
    "MeterDay",
    "PeriodKind",
    "Progress",
    "ReportLine",
    "ReportPeriod",
    "Severity",
    "build_report",
    "detect_anomalies",
    "find_anomalies",
    "site_meters",
    "text",
]
