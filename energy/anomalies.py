"""Energy anomalies against per-meter baselines by day type, as records alerts can raise.

Rules (thresholds in `EnergySettings`):

- night base load: a main electricity meter's mean power over the night window is above the
  median of the same window on earlier days of the same day type;
- holiday base load: on holidays and in vacations, the daytime mean power of a main
  electricity meter is above that of earlier days without school;
- night water flow (leak): a water meter never stops in the night; its minimum flow over the
  night's 15-minute slots (minimum night flow, the standard leak indicator of water-loss
  practice) is at least `leak_min_flow_m3_h`;
- kitchen off hours: gas meters and kitchen electricity sub-meters (特殊/动力) of a canteen
  building use more outside service hours (from `kitchen_prep_min` before the first meal to
  `kitchen_clean_up_min` after the last) than on earlier days alike.

"Above" means more than `tolerance_pct` above the baseline and by at least the carrier's
`min_excess`; a day that is less than `min_completeness` measured is no evidence and no
baseline. Severity is critical when the excess is three times the threshold's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from core.config import EnergySettings, SiteConfig
from core.energy_model import ClockWindow, DayType
from core.model import BuildingKind, Carrier, MeterCategory
from energy.anomaly_model import AnomalyKind, EnergyAnomaly, Severity
from energy.meters import Meter, site_meters
from energy.usage import MeterUsage, load_usage
from ingest.store import SiteStore

__all__ = ["detect_anomalies", "find_anomalies"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_Rule = Callable[[SiteConfig, MeterUsage, int, date, date], Iterator[EnergyAnomaly]]
_NO_SCHOOL = (DayType.WEEKEND, DayType.HOLIDAY, DayType.VACATION)


@dataclass(frozen=True, slots=True)
class _Daily:
    """One meter's use and measured hours per day inside a daily window; `owner` gives the
    day each slot of the window counts for (-1 outside it)."""

    owner: IntArray
    use: FloatArray
    hours: FloatArray
    possible_h: FloatArray

    def rate(self, day: int) -> float:
        return float(self.use[day] / self.hours[day]) if self.hours[day] else 0.0

    def complete(self, day: int, settings: EnergySettings) -> bool:
        possible = self.possible_h[day]
        return bool(possible) and self.hours[day] / possible >= settings.min_completeness


def find_anomalies(
    config: SiteConfig, store: SiteStore, first: date, last: date
) -> list[EnergyAnomaly]:
    """Anomalies of every meter on the local days `first` to `last`, against baselines of the
    `baseline_days` before each day (one store query)."""
    lookback = first - timedelta(days=config.energy.baseline_days)
    # One day more: the night of `last` ends the next morning.
    usage = load_usage(config, store, site_meters(config), lookback, last + timedelta(days=1))
    return detect_anomalies(config, usage, first, last)


def detect_anomalies(
    config: SiteConfig, usage: MeterUsage, first: date, last: date
) -> list[EnergyAnomaly]:
    """Anomalies on the local days `first` to `last`; `usage` must reach back far enough for
    the baselines (`baseline_days` before `first`) and a day beyond `last` for its night.
    Findings of one meter and rule on consecutive days are one record."""
    found: list[EnergyAnomaly] = []
    for row, meter in enumerate(usage.meters):
        for rule in _rules_for(meter):
            found.extend(merge_runs(list(rule(config, usage, row, first, last))))
    return sorted(found, key=lambda a: (a.start, a.device, a.kind))


def merge_runs(findings: list[EnergyAnomaly]) -> list[EnergyAnomaly]:
    """One record for a run of days: the leak that lasts a week is one leak."""
    out: list[EnergyAnomaly] = []
    for finding in sorted(findings, key=lambda a: a.start):
        previous = out[-1] if out else None
        if previous is not None and finding.start - previous.end < timedelta(days=1):
            out[-1] = previous.joined(finding)
        else:
            out.append(finding)
    return out


def _rules_for(meter: Meter) -> Iterator[_Rule]:
    if meter.carrier is Carrier.ELECTRICITY and meter.is_main:
        yield _night_base_load
        yield _holiday_base_load
    if meter.carrier is Carrier.WATER:
        yield _night_water_flow
    if meter.building.kind is BuildingKind.CANTEEN and (
        meter.carrier is Carrier.GAS
        or meter.category in (MeterCategory.SPECIAL, MeterCategory.POWER)
    ):
        yield _kitchen_off_hours


def _night_base_load(
    config: SiteConfig, usage: MeterUsage, row: int, first: date, last: date
) -> Iterator[EnergyAnomaly]:
    daily = _daily(usage, row, usage.calendar.owner_day(config.calendar.night))
    types = usage.calendar.day_types
    kind = AnomalyKind.NIGHT_BASE_LOAD
    yield from _judge(config, usage, row, daily, kind, lambda day: (types[day],), first, last)


def _holiday_base_load(
    config: SiteConfig, usage: MeterUsage, row: int, first: date, last: date
) -> Iterator[EnergyAnomaly]:
    calendar = usage.calendar
    daytime = np.where(calendar.in_window(config.calendar.night), -1, calendar.day_of_slot)
    daily = _daily(usage, row, daytime)

    def alike(day: int) -> tuple[DayType, ...] | None:
        off = calendar.day_types[day] in (DayType.HOLIDAY, DayType.VACATION)
        return _NO_SCHOOL if off else None

    kind = AnomalyKind.HOLIDAY_BASE_LOAD
    yield from _judge(config, usage, row, daily, kind, alike, first, last)


def _kitchen_off_hours(
    config: SiteConfig, usage: MeterUsage, row: int, first: date, last: date
) -> Iterator[EnergyAnomaly]:
    calendar = usage.calendar
    service = _service_window(config)
    meal_day = np.array([t in config.calendar.meal_days for t in calendar.day_types])
    serving = meal_day[calendar.day_of_slot]
    if service is not None:
        serving &= calendar.in_window(service)
    else:
        serving[:] = False
    daily = _daily(usage, row, np.where(serving, -1, calendar.day_of_slot))

    def alike(day: int) -> tuple[DayType, ...]:
        return tuple(t for t in DayType if (t in config.calendar.meal_days) == meal_day[day])

    kind = AnomalyKind.KITCHEN_OFF_HOURS
    yield from _judge(config, usage, row, daily, kind, alike, first, last)


def _night_water_flow(
    config: SiteConfig, usage: MeterUsage, row: int, first: date, last: date
) -> Iterator[EnergyAnomaly]:
    calendar, settings = usage.calendar, config.energy
    owner = calendar.owner_day(config.calendar.night)
    slot_h = calendar.slot_s / 3600
    full = usage.covered[row] >= 0.999 * calendar.slot_s
    flow = usage.usage[row] / slot_h
    meter = usage.meters[row]
    night = config.calendar.night
    whole_night = ((night.end - night.start) % (24 * 60) or 24 * 60) * 60 // calendar.slot_s
    for day in _days(usage, first, last):
        slots = np.flatnonzero(owner == day)
        measured = slots[full[slots]]
        if len(slots) < whole_night or len(measured) < settings.min_completeness * whole_night:
            continue
        minimum = float(flow[measured].min())
        if minimum < settings.leak_min_flow_m3_h:
            continue
        critical = minimum >= 3 * settings.leak_min_flow_m3_h
        yield EnergyAnomaly(
            kind=AnomalyKind.NIGHT_WATER_FLOW,
            site=config.site.id,
            building=meter.building.id,
            device=meter.id,
            start=calendar.slot_instant(int(slots[0])),
            end=calendar.slot_instant(int(slots[-1]) + 1),
            severity=Severity.CRITICAL if critical else Severity.WARNING,
            observed=minimum,
            baseline=settings.leak_min_flow_m3_h,
            unit="m³/h",
            reference_days=0,
            use=float(usage.usage[row, slots].sum()),
        )


def _judge(
    config: SiteConfig,
    usage: MeterUsage,
    row: int,
    daily: _Daily,
    kind: AnomalyKind,
    alike: Callable[[int], tuple[DayType, ...] | None],
    first: date,
    last: date,
) -> Iterator[EnergyAnomaly]:
    """Every day up to `last` is judged against the like days before it, so that a day found
    anomalous never becomes part of a later baseline; those from `first` on are reported."""
    flagged: set[int] = set()
    known: dict[bool, tuple[float, int]] = {}
    calendar = usage.calendar
    for day in range(calendar.day_index(last) + 1):
        types = alike(day)
        found = None
        if types is not None:
            found = _compare(config, usage, row, daily, day, types, kind, flagged, known)
        if found is not None:
            flagged.add(day)
            if calendar.days[day] >= first:
                yield found


def _compare(
    config: SiteConfig,
    usage: MeterUsage,
    row: int,
    daily: _Daily,
    day: int,
    alike: tuple[DayType, ...],
    kind: AnomalyKind,
    flagged: set[int],
    known: dict[bool, tuple[float, int]],
) -> EnergyAnomaly | None:
    settings = config.energy
    if not daily.complete(day, settings):
        return None
    found = _baseline(usage, daily, day, alike, settings, flagged, known)
    if found is None:
        return None
    baseline, reference_days = found
    observed = daily.rate(day)
    meter = usage.meters[row]
    threshold = max(baseline * settings.tolerance_pct / 100, settings.min_excess(meter.carrier))
    if observed - baseline <= threshold:
        return None
    start, end = _extent(usage, row, daily.owner == day, baseline + threshold)
    return EnergyAnomaly(
        kind=kind,
        site=config.site.id,
        building=meter.building.id,
        device=meter.id,
        start=start,
        end=end,
        severity=Severity.CRITICAL if observed - baseline >= 3 * threshold else Severity.WARNING,
        observed=observed,
        baseline=baseline,
        unit="kW" if meter.carrier is Carrier.ELECTRICITY else "m³/h",
        reference_days=reference_days,
        use=float(daily.use[day]),
    )


def _baseline(
    usage: MeterUsage,
    daily: _Daily,
    day: int,
    alike: tuple[DayType, ...],
    settings: EnergySettings,
    flagged: set[int],
    known: dict[bool, tuple[float, int]],
) -> tuple[float, int] | None:
    """Median rate of the clean like days before `day`, and how many. Too few like days (a
    first holiday): days with or without school alike. None at all (weeks of anomalies):
    the last baseline found, so that a lasting fault is not learned as normal."""
    school = usage.calendar.day_types[day].is_school_day
    wider = tuple(t for t in DayType if t.is_school_day == school)
    for types in (alike, wider):
        reference = _reference_rates(usage, daily, day, types, settings, flagged)
        if len(reference) >= settings.baseline_min_days:
            known[school] = (statistics.median(reference), len(reference))
            return known[school]
    return known.get(school)


def _reference_rates(
    usage: MeterUsage,
    daily: _Daily,
    day: int,
    alike: tuple[DayType, ...],
    settings: EnergySettings,
    flagged: set[int],
) -> list[float]:
    types = usage.calendar.day_types
    earliest = max(0, day - settings.baseline_days)
    return [
        daily.rate(other)
        for other in range(earliest, day)
        if types[other] in alike and other not in flagged and daily.complete(other, settings)
    ]


def _daily(usage: MeterUsage, row: int, owner: IntArray) -> _Daily:
    """Use and measured hours per owning day of the slots a window selects (owner >= 0)."""
    days = len(usage.calendar.days)
    inside = owner >= 0
    index = owner[inside]
    hours = usage.covered[row, inside] / 3600

    def per_day(weights: FloatArray | None) -> FloatArray:
        return np.bincount(index, weights=weights, minlength=days)[:days].astype(np.float64)

    return _Daily(
        owner=owner,
        use=per_day(usage.usage[row, inside]),
        hours=per_day(hours),
        possible_h=per_day(None) * usage.calendar.slot_s / 3600,
    )


def _extent(
    usage: MeterUsage, row: int, window: BoolArray, level: float
) -> tuple[datetime, datetime]:
    """From the first to the end of the last slot of the window whose rate exceeds `level`,
    so that the record says when it happened (the whole window if no single slot does)."""
    calendar = usage.calendar
    slots = np.flatnonzero(window)
    rate = usage.usage[row, slots] / (calendar.slot_s / 3600)
    hot = slots[rate > level]
    chosen = hot if len(hot) else slots
    return calendar.slot_instant(int(chosen[0])), calendar.slot_instant(int(chosen[-1]) + 1)


def _days(usage: MeterUsage, first: date, last: date) -> range:
    calendar = usage.calendar
    return range(calendar.day_index(first), calendar.day_index(last) + 1)


def _service_window(config: SiteConfig) -> ClockWindow | None:
    """From the kitchen's start before the first meal to its end after the last."""
    if not config.meals:
        return None
    settings = config.energy
    starts = [m.start.hour * 60 + m.start.minute for m in config.meals]
    ends = [m.end.hour * 60 + m.end.minute for m in config.meals]
    opening = max(0, min(starts) - settings.kitchen_prep_min)
    closing = min(24 * 60, max(ends) + settings.kitchen_clean_up_min)
    return ClockWindow(start=opening // 15 * 15, end=-(-closing // 15) * 15)
