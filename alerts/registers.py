"""The food-safety registers as an inspector reads them: which devices keep a temperature log
and which have a door seal, the band and the gap a day of the temperature log is judged by,
the local days a range of dates covers, the disinfection register's completeness figure, and
what a re-learned seal baseline learns from.

The rules write the register lines (`alerts.rules`); this module reads them back through a
`RegisterStore` with the site's settings, so the API only parses a request and shapes the answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.model import (
    DailyTemperature,
    DisinfectionRecord,
    DisinfectionStatus,
    SealHealthPoint,
)
from alerts.product_log import AirReadings
from alerts.register_bands import BandSpan, LimitChange, band_spans, judged_days, limit_changes
from alerts.rules.product import JudgeOn, judge_on, tau_min
from alerts.seal_basis import SealBasis, seal_basis
from alerts.store import DayWindow, RegisterStore
from core.admin_records import LimitPeriod
from core.config import SiteConfig
from core.model import Device, DeviceKind

__all__ = [
    "AirReadings",
    "DisinfectionSummary",
    "SealHealth",
    "SealLearning",
    "TemperatureLog",
    "disinfection_summary",
    "has_door_seal",
    "keeps_temperature_log",
    "local_days",
    "seal_health",
    "seal_learning",
    "temperature_band",
    "temperature_log",
]

# Heated cabinets log their temperature too; their compliance is judged per cycle, in the
# disinfection register, not against a band.
_HEATED = (DeviceKind.STEAM_CABINET, DeviceKind.DISINFECTION_CABINET)
# A door seal whose health the rules learn: cold cabinets from their pull-down after a
# disturbance, steam cabinets from their heating cycles (DESIGN.md, seal failure).
_SEALED = (
    DeviceKind.FRIDGE,
    DeviceKind.FREEZER,
    DeviceKind.SAMPLE_FRIDGE,
    DeviceKind.STEAM_CABINET,
)


@dataclass(frozen=True, slots=True)
class TemperatureLog:
    """A device's daily temperature log and the band in force now (None: no band on that
    side); each day's minutes out of band count against that day's own bands (`day_bands`,
    more than one span on a day a limit changed; `changes`: the band limits an admin changed in
    the period, by whom). `judged_on` says which of the air and the estimated food the
    over-temperature rule judges; `product_tau_min` is the estimate's time constant (None: no
    food estimated)."""

    device: str
    low_c: float | None
    high_c: float | None
    days: list[DailyTemperature]
    judged_on: JudgeOn = "air"
    product_tau_min: float | None = None
    day_bands: dict[date, list[BandSpan]] = field(default_factory=dict)
    changes: list[LimitChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DisinfectionSummary:
    """Register lines per status, and the figure schools report: the share of meals with a
    compliant record ("消毒记录完整率"), None when no meal is on the register."""

    counts: dict[DisinfectionStatus, int]
    completeness: float | None


@dataclass(frozen=True, slots=True)
class SealLearning:
    """What a re-learned seal baseline is learned from: days of a cold cabinet's readings, or
    heating cycles of a steam cabinet."""

    days: float | None
    cycles: int | None


@dataclass(frozen=True, slots=True)
class SealHealth:
    """A device's door-seal health over a range: the scored points, and while its baseline is
    still being learned, how far it got (hours of clean compressor cycles for a cold cabinet,
    heating cycles for a steam cabinet) instead of a silence."""

    points: list[SealHealthPoint]
    learned: int | None  # None: the baseline is learned and the points are its verdicts
    needed: int | None
    unit: str  # "h" or "cycles"
    # a cold cabinet's learning counts days with meals: how many it has seen, of how many
    served_days: float | None = None
    needed_days: float | None = None

    @property
    def learning(self) -> bool:
        return self.learned is not None

    @property
    def basis(self) -> SealBasis | None:
        """What the latest verdict rests on (`alerts.seal_basis`); None while learning."""
        if self.learning or not self.points:
            return None
        return seal_basis(self.points[-1])


def keeps_temperature_log(device: Device) -> bool:
    return device.kind.is_cold_storage or device.kind in _HEATED


def has_door_seal(device: Device) -> bool:
    return device.kind in _SEALED


def temperature_band(config: SiteConfig, device: Device) -> tuple[float | None, float | None]:
    """(low, high) °C of the log's band: the cold-storage limits of the device (操作规范: a
    fridge 0-8 °C, a freezer ≤ -12 °C, as configured); no band for a heated cabinet."""
    if not device.kind.is_cold_storage:
        return None, None
    limits = config.limits_for(device)
    return limits.low_c, limits.high_c


def local_days(zone: ZoneInfo, first: date, last: date, now: datetime) -> list[DayWindow]:
    """The local days first..last as UTC instants: today cut at `now`, future days left out."""
    now = now.astimezone(UTC)
    windows = []
    day = first
    while day <= last:
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        if start < now:
            windows.append(DayWindow(day, start, min(end, now)))
        day += timedelta(days=1)
    return windows


def temperature_log(
    registers: RegisterStore,
    config: SiteConfig,
    device: Device,
    first: date,
    last: date,
    now: datetime,
    air: AirReadings | None = None,
    history: Sequence[LimitPeriod] | None = None,
) -> TemperatureLog:
    """Per local day: min, max, mean, minutes out of band and completeness, judged by the
    band in force that day: the config's limits with an admin's overrides as `history` (the
    device's `LimitPeriod`s over the range) says they were (None: today's limits throughout).
    A reading stands for the time until the next one, at most the device's silence
    (`RuleSettings.silence_s`): a longer gap is missing data, as the offline rule sees it.
    With the device's `air` readings, the same figures of the estimated food temperature of a
    cold cabinet beside them (`alerts.product_log`)."""
    low, high = temperature_band(config, device)
    settings = config.rules_for(device)
    days = local_days(config.site.zone, first, last, now)
    silence_s = settings.silence_s(device.interval_s)
    tau = tau_min(device.kind, settings)
    product = (air, tau) if air is not None and tau is not None else None
    spans = band_spans(config, device, history, days)
    rows = judged_days(registers, config, device, days, spans, silence_s, product)
    changes = (
        limit_changes(config, device, history, days[0].start, days[-1].end)
        if history is not None and days
        else []
    )
    return TemperatureLog(
        device.id, low, high, rows, judge_on(device.kind, settings), tau, spans, changes
    )


def seal_health(
    registers: RegisterStore,
    config: SiteConfig,
    device: Device,
    first: date,
    last: date,
    now: datetime,
) -> SealHealth:
    """The device's door-seal health over the local days first..last (up to now). A cold
    cabinet's rule writes a learning point each hour until its baseline is learned: the
    latest one says how far it got; with no point at all nothing has been learned yet."""
    windows = local_days(config.site.zone, first, last, now)
    stored = (
        registers.seal_health(config.site.id, device.id, windows[0].start, windows[-1].end)
        if windows
        else []
    )
    points = [p for p in stored if "learning" not in p.evidence]
    unit = "cycles" if device.kind is DeviceKind.STEAM_CABINET else "h"
    if stored and "learning" in stored[-1].evidence:
        evidence = stored[-1].evidence
        days = evidence.get("served_days"), evidence.get("needed_days")
        return SealHealth(
            points,
            _int(evidence["learned_h"]),
            _int(evidence["needed_h"]),
            unit,
            *(float(d) if isinstance(d, int | float) else None for d in days),
        )
    if points:
        return SealHealth(points, None, None, unit)
    if device.kind is DeviceKind.STEAM_CABINET:
        return SealHealth([], 0, _needed(config, device), unit)
    needed_days = config.rules_for(device).seal_baseline_days
    return SealHealth([], 0, _needed(config, device), unit, 0.0, needed_days)


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _needed(config: SiteConfig, device: Device) -> int:
    """What a baseline needs: clean hours of a cold cabinet, cycles of a steam cabinet."""
    settings = config.rules_for(device)
    if device.kind is DeviceKind.STEAM_CABINET:
        return settings.seal_baseline_cycles
    return math.ceil(settings.seal_baseline_days * 24 * settings.seal_baseline_coverage)


def disinfection_summary(records: Sequence[DisinfectionRecord]) -> DisinfectionSummary:
    counts = {status: 0 for status in DisinfectionStatus}
    for record in records:
        counts[record.status] += 1
    total = len(records)
    compliant = counts[DisinfectionStatus.COMPLIANT]
    return DisinfectionSummary(counts, round(compliant / total, 4) if total else None)


def seal_learning(config: SiteConfig, device: Device) -> SealLearning:
    settings = config.rules_for(device)
    if device.kind is DeviceKind.STEAM_CABINET:
        return SealLearning(None, settings.seal_baseline_cycles)
    return SealLearning(settings.seal_baseline_days, None)
