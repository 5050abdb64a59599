"""The energy report of a period: per building and category, consumption, cost, intensity,
change against the previous period and the same period a year before, and completeness;
with the completeness of every meter-day, the gaps and review items, and the anomalies.

Two store queries make a report: one over the period, the previous period and the days the
baselines need (they are contiguous), one over the same period a year before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

import numpy as np

from core.config import SiteConfig
from core.energy_model import DayType
from core.model import Building, Carrier, MeterCategory, Site
from energy.anomalies import detect_anomalies
from energy.anomaly_model import EnergyAnomaly
from energy.figures import Figures, meter_figures
from energy.meters import Meter, site_meters
from energy.periods import ReportPeriod
from energy.submetering import LineStatus, ReportWarning, WarningKind, check_sub_metering
from energy.usage import MeterSpan, MeterUsage, load_usage
from ingest.store import SiteStore

__all__ = [
    "EnergyReport",
    "LineRole",
    "LineStatus",
    "MeterDay",
    "Progress",
    "ReportLine",
    "ReportWarning",
    "build_report",
]

# Told each step of a long run: (what, steps done, steps in all).
Progress = Callable[[str, int, int], None]


class LineRole(StrEnum):
    TOTAL = "total"  # the main meters of a carrier
    SUB = "sub"  # sub-meters of one category below them
    UNACCOUNTED = "unaccounted"  # main − Σ sub


@dataclass(frozen=True, slots=True)
class ReportLine:
    building: Building | None  # None: the whole site
    carrier: Carrier
    category: MeterCategory | None  # None on the unaccounted line
    role: LineRole
    meters: tuple[str, ...]
    current: Figures
    previous: Figures | None
    year_before: Figures | None
    share_pct: float | None  # sub and unaccounted lines: share of the main meters' use
    floor_area_m2: float | None
    occupants: int | None
    currency: str
    status: LineStatus = LineStatus.OK  # a metering error or an unaccounted rest not known

    @property
    def unit(self) -> str:
        return self.carrier.unit

    @property
    def per_m2(self) -> float | None:
        area = self.floor_area_m2
        return self.current.consumption / area if area and self.role is LineRole.TOTAL else None

    @property
    def per_occupant(self) -> float | None:
        people = self.occupants
        return self.current.consumption / people if people and self.role is LineRole.TOTAL else None

    @property
    def change_previous_pct(self) -> float | None:
        return _change(self.current, self.previous)

    @property
    def change_year_pct(self) -> float | None:
        return _change(self.current, self.year_before)


def _change(now: Figures, then: Figures | None) -> float | None:
    if then is None or not then.has_data or then.consumption <= 0:
        return None
    return (now.consumption / then.consumption - 1) * 100


@dataclass(frozen=True, slots=True)
class MeterDay:
    meter: str
    building: str
    carrier: Carrier
    day: date
    day_type: DayType
    measured: float
    across_gaps: float  # use across gaps lying wholly inside the day
    completeness: float
    future: bool = False  # the day had not begun when the report was made: not a gap


@dataclass(frozen=True, slots=True)
class EnergyReport:
    site: Site
    period: ReportPeriod
    previous: ReportPeriod
    year_before: ReportPeriod
    currency: str
    lines: tuple[ReportLine, ...]
    meter_days: tuple[MeterDay, ...]
    steps: tuple[MeterSpan, ...]  # gaps, resets, rollovers and review items in the period
    anomalies: tuple[EnergyAnomaly, ...]
    warnings: tuple[ReportWarning, ...] = ()  # sub-metering that cannot be shown as shares
    # The period had happened up to here when the report was made (its end when it is over).
    happened_until: datetime | None = None


def build_report(
    config: SiteConfig,
    store: SiteStore,
    period: ReportPeriod,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> EnergyReport:
    """The report of `period` as of `now` (default: the latest reading of any meter)."""
    tell = progress or (lambda _what, _done, _all: None)
    meters = site_meters(config)
    previous, year_before = period.previous(), period.year_before()
    tell("reading this and the previous period", 0, 4)
    # One day beyond the period: the night of its last day ends the next morning.
    after = period.last + timedelta(days=1)
    usage = load_usage(config, store, meters, _window_first(config, period), after)
    tell("reading the same period last year", 1, 4)
    last_year = load_usage(
        config,
        store,
        meters,
        min(year_before.first.replace(day=1), year_before.first),
        year_before.last,
    )
    tell("accounting", 2, 4)
    lines, warnings = _lines(
        config,
        meters,
        meter_figures(usage, period.first, period.last),
        meter_figures(usage, previous.first, previous.last),
        meter_figures(last_year, year_before.first, year_before.last),
    )
    start, end = period.bounds(config.site.zone)
    until = min(now if now is not None else _latest_data(usage), end)
    tell("looking for anomalies", 3, 4)
    anomalies = detect_anomalies(config, usage, period.first, period.last)
    tell("done", 4, 4)
    return EnergyReport(
        site=config.site,
        period=period,
        previous=previous,
        year_before=year_before,
        currency=next((t.currency for t in config.tariffs), "CNY"),
        lines=tuple(lines),
        meter_days=tuple(_meter_days(usage, period, until)),
        steps=tuple(s for s in usage.spans if s.overlaps(start, end)),
        anomalies=tuple(anomalies),
        warnings=tuple(warnings),
        happened_until=until,
    )


def _latest_data(usage: MeterUsage) -> datetime:
    """The end of the last slot any meter measured: how far the site's data reaches."""
    seen = np.flatnonzero(usage.covered.any(axis=0))
    return usage.calendar.slot_instant(int(seen[-1]) + 1 if len(seen) else 0)


def _window_first(config: SiteConfig, period: ReportPeriod) -> date:
    """Far enough back for the previous period, the baselines and a tiered month's start."""
    baseline = period.first - timedelta(days=config.energy.baseline_days)
    return min(period.previous().first, baseline, period.first.replace(day=1))


@dataclass(frozen=True, slots=True)
class _Figured:
    """Every meter's figures now, in the previous period and a year before."""

    config: SiteConfig
    now: dict[str, Figures]
    before: dict[str, Figures]
    year: dict[str, Figures]

    def line(
        self,
        building: Building | None,
        group: Sequence[Meter],
        role: LineRole,
        total: ReportLine | None = None,
    ) -> ReportLine:
        """The line of `group`; an unaccounted line is `total` less `group`."""
        ids = tuple(m.id for m in group)
        rest = role is LineRole.UNACCOUNTED and total is not None
        current = _sum(self.now, ids)
        previous: Figures | None = _sum(self.before, ids)
        year_before: Figures | None = _sum(self.year, ids)
        if rest and total is not None:
            current = total.current.less(current)
            previous = _less(total.previous, previous)
            year_before = _less(total.year_before, year_before)
        share = None
        if total is not None and total.current.consumption:
            share = current.consumption / total.current.consumption * 100
        return ReportLine(
            building=building,
            carrier=group[0].carrier,
            category=None if rest else group[0].category,
            role=role,
            meters=ids,
            current=current,
            previous=previous if previous and previous.has_data else None,
            year_before=year_before if year_before and year_before.has_data else None,
            share_pct=share,
            floor_area_m2=_area(self.config, building, group),
            occupants=_people(self.config, building, group),
            currency=next((t.currency for t in self.config.tariffs), "CNY"),
        )


def _lines(
    config: SiteConfig,
    meters: Sequence[Meter],
    now: dict[str, Figures],
    before: dict[str, Figures],
    year: dict[str, Figures],
) -> tuple[list[ReportLine], list[ReportWarning]]:
    """Site totals per carrier, then per building: the total of its main meters, one line per
    end use below them, and what the sub-meters leave unaccounted; with what is wrong with the
    sub-metering."""
    figured = _Figured(config, now, before, year)
    out = [
        figured.line(None, mains, LineRole.TOTAL)
        for carrier in Carrier
        if (mains := [m for m in meters if m.carrier is carrier and m.is_main])
    ]
    warnings: list[ReportWarning] = []
    for building in config.buildings:
        for carrier in Carrier:
            mains = [m for m in meters if m.building == building and m.carrier is carrier]
            mains = [m for m in mains if m.is_main]
            if not mains:
                continue
            total = figured.line(building, mains, LineRole.TOTAL)
            out.append(total)
            subs = [m for m in meters if m.device.parent in {x.id for x in mains}]
            if not subs:
                continue
            found = check_sub_metering(building.id, mains, subs, now)
            warnings.extend(found)
            below = [
                figured.line(building, group, LineRole.SUB, total)
                for category in MeterCategory
                if (group := [m for m in subs if m.category is category])
            ]
            below.append(figured.line(building, subs, LineRole.UNACCOUNTED, total))
            out.extend(_judged(line, found) for line in below)
    return out, warnings


def _judged(line: ReportLine, found: Sequence[ReportWarning]) -> ReportLine:
    """A line below a main meter as the sub-metering checks leave it: a share only where the
    figures behind it hold."""
    kinds = {w.kind for w in found}
    faulty = {m for w in found if w.kind is WarningKind.SUB_EXCEEDS_PARENT for m in w.meters}
    if line.role is LineRole.UNACCOUNTED:
        if WarningKind.UNACCOUNTED_NOT_KNOWN in kinds:
            return replace(line, status=LineStatus.NOT_KNOWN, share_pct=None)
        if kinds:
            return replace(line, status=LineStatus.METERING_ERROR, share_pct=None)
        return line
    if faulty & set(line.meters):
        return replace(line, status=LineStatus.METERING_ERROR, share_pct=None)
    if kinds & {WarningKind.UNACCOUNTED_NOT_KNOWN, WarningKind.SUBS_EXCEED_MAIN}:
        return replace(line, share_pct=None)
    return line


def _less(whole: Figures | None, parts: Figures | None) -> Figures | None:
    return None if whole is None or parts is None else whole.less(parts)


def _sum(figures: dict[str, Figures], ids: Sequence[str]) -> Figures:
    parts = [figures[i] for i in ids]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _area(config: SiteConfig, building: Building | None, group: Sequence[Meter]) -> float | None:
    buildings = [building] if building else _buildings_of(config, group)
    areas = [b.floor_area_m2 for b in buildings]
    return None if not areas or None in areas else sum(a for a in areas if a)


def _people(config: SiteConfig, building: Building | None, group: Sequence[Meter]) -> int | None:
    buildings = [building] if building else _buildings_of(config, group)
    people = [b.occupants for b in buildings]
    return None if not people or None in people else sum(p for p in people if p)


def _buildings_of(config: SiteConfig, group: Sequence[Meter]) -> list[Building]:
    ids = {m.building.id for m in group}
    return [b for b in config.buildings if b.id in ids]


def _meter_days(usage: MeterUsage, period: ReportPeriod, until: datetime) -> list[MeterDay]:
    calendar = usage.calendar
    first, last = calendar.day_index(period.first), calendar.day_index(period.last)
    edges = calendar.day_start[first : last + 2]
    window = slice(int(edges[0]), int(edges[-1]))
    measured = np.add.reduceat(usage.usage[:, window], edges[:-1] - edges[0], axis=1)
    covered = np.add.reduceat(usage.covered[:, window], edges[:-1] - edges[0], axis=1)
    possible = np.diff(edges) * calendar.slot_s
    gaps = np.zeros_like(measured)
    rows = {m.id: i for i, m in enumerate(usage.meters)}
    for span in usage.spans:
        day = calendar.day_index(span.step.start.astimezone(calendar.zone).date())
        if span.gap_total and first <= day <= last:
            start, end = (
                calendar.slot_instant(int(calendar.day_start[day])),
                calendar.slot_instant(int(calendar.day_start[day + 1])),
            )
            if span.within(start, end):
                gaps[rows[span.meter.id], day - first] += span.gap_total
    return [
        MeterDay(
            meter=meter.id,
            building=meter.building.id,
            carrier=meter.carrier,
            day=calendar.days[first + offset],
            day_type=calendar.day_types[first + offset],
            measured=float(measured[row, offset]),
            across_gaps=float(gaps[row, offset]),
            completeness=float(covered[row, offset] / possible[offset]),
            future=calendar.slot_instant(int(edges[offset])) >= until,
        )
        for row, meter in enumerate(usage.meters)
        for offset in range(last - first + 1)
    ]
