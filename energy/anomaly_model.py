"""The record of an energy anomaly: what the alerts package takes to raise an alert.

It carries the device, the period, the evidence (observed rate against its baseline and how
many days that baseline rests on) and a severity, with a sentence in Chinese or English.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from energy.labels import Lang, text

__all__ = ["AnomalyKind", "EnergyAnomaly", "Severity"]


class AnomalyKind(StrEnum):
    NIGHT_BASE_LOAD = "night_base_load"
    HOLIDAY_BASE_LOAD = "holiday_base_load"
    NIGHT_WATER_FLOW = "night_water_flow"
    KITCHEN_OFF_HOURS = "kitchen_off_hours"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


_RANK = [Severity.WARNING, Severity.CRITICAL]


@dataclass(frozen=True, slots=True)
class EnergyAnomaly:
    kind: AnomalyKind
    site: str
    building: str
    device: str
    start: datetime  # UTC
    end: datetime
    severity: Severity
    observed: float  # mean rate in the window; the minimum flow for night water flow
    baseline: float | None  # median of like days; the leak threshold for night water flow
    unit: str  # "kW" or "m³/h"
    reference_days: int  # days the baseline rests on
    use: float  # kWh or m³ used in the window
    days: int = 1  # consecutive days (or nights) found alike, merged into this record

    def joined(self, later: EnergyAnomaly) -> EnergyAnomaly:
        """This record extended by the next day's finding of the same meter and rule."""
        worst = max(self, later, key=lambda a: a.observed)
        return replace(
            self,
            end=later.end,
            severity=max(self.severity, later.severity, key=_RANK.index),
            observed=worst.observed,
            baseline=worst.baseline,
            reference_days=min(self.reference_days, later.reference_days),
            use=self.use + later.use,
            days=self.days + later.days,
        )

    @property
    def rule(self) -> str:
        """A stable rule name for alerts: one open alert per (device, rule)."""
        return f"energy.{self.kind.value}"

    def evidence_fields(self) -> dict[str, float | int | str | None]:
        """The numbers behind the verdict, flat, as an alert's evidence mapping takes them."""
        return {
            "observed": self.observed,
            "baseline": self.baseline,
            "unit": self.unit,
            "reference_days": self.reference_days,
            "use": self.use,
            "days": self.days,
        }

    def title(self, lang: Lang = "zh") -> str:
        return text(f"anomaly.{self.kind.value}", lang)

    def evidence(self, lang: Lang = "zh", zone: ZoneInfo | None = None) -> str:
        when = _window(self.start, self.end, zone)
        if self.days > 1:
            when += f"（{self.days} 天）" if lang == "zh" else f" ({self.days} days)"
        seen = f"{self.observed:.2f} {self.unit}"
        if self.kind is AnomalyKind.NIGHT_WATER_FLOW:
            limit = f"{self.baseline:.2f} {self.unit}" if self.baseline is not None else "?"
            if lang == "zh":
                return f"{when} 夜间最小流量达 {seen}，漏水阈值 {limit}"
            return f"{when} minimum night flow up to {seen}, leak threshold {limit}"
        base = f"{self.baseline:.2f} {self.unit}" if self.baseline is not None else "?"
        excess = self._excess_pct()
        if lang == "zh":
            return (
                f"{when} 平均 {seen}，基线 {base}（前 {self.reference_days} 个同类日中位数）"
                f"，高出 {excess}"
            )
        return (
            f"{when} mean {seen} against a baseline of {base} (median of "
            f"{self.reference_days} like days), {excess} above"
        )

    def _excess_pct(self) -> str:
        if not self.baseline:
            return "—"
        return f"{(self.observed / self.baseline - 1) * 100:.0f}%"


def _window(start: datetime, end: datetime, zone: ZoneInfo | None) -> str:
    a, b = (start.astimezone(zone), end.astimezone(zone)) if zone else (start, end)
    if a.date() == b.date() or ((b - a).total_seconds() <= 86_400 and b.hour == b.minute == 0):
        return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{b:%m-%d %H:%M}"
