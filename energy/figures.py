"""Consumption, cost and completeness of each meter over a run of local days.

Consumption is measured use plus the use across gaps that lie wholly inside the days (known in
total, never spread). Time-of-use cost prices measured use per slot; use across gaps has no
measured time of use: for its price only, it is spread over the tariff periods by the meter's
own profile on comparable days (`energy.gap_profile`; the flat price when there is none) and
reported apart as estimated. Time not measured and not inside such a gap (a gap across the
period's edge or without a value, a review item) is counted as `unbooked_s`: the meter's use
in the period is then not fully known. Tiered tariffs price
each calendar month's volume; a sub-meter under a tiered tariff takes its parent's average
price, since tiers apply to the account (the main meter), not to each end use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import numpy.typing as npt

from core.energy_model import Tariff, TariffPeriod
from energy.gap_profile import split_gap
from energy.tariffs import PERIODS, period_prices, slot_periods, tiered_cost
from energy.usage import MeterSpan, MeterUsage

__all__ = ["Figures", "meter_figures"]

_FLAT = PERIODS.index(TariffPeriod.FLAT)


@dataclass(frozen=True, slots=True)
class Figures:
    consumption: float
    across_gaps: float  # part of consumption known only in total
    use_by_period: tuple[float, ...]  # measured use per tariff period (PERIODS order)
    cost: float | None  # None without a tariff
    cost_by_period: tuple[float, ...]
    cost_estimated: float  # part of cost that prices use across gaps (an estimate)
    completeness: float  # share of meter-time covered by measured readings, 0-1
    meters: int = 1
    gap_use_by_period: tuple[float, ...] = (0.0,) * len(PERIODS)  # across_gaps as priced
    gap_bases: tuple[str, ...] = ()  # how gaps were spread: profile, flat (GapBasis)
    unbooked_s: float = 0.0  # meter-seconds that happened but are in no figure

    def __add__(self, other: Figures) -> Figures:
        meters = self.meters + other.meters
        return Figures(
            consumption=self.consumption + other.consumption,
            across_gaps=self.across_gaps + other.across_gaps,
            use_by_period=_add(self.use_by_period, other.use_by_period),
            cost=None if self.cost is None or other.cost is None else self.cost + other.cost,
            cost_by_period=_add(self.cost_by_period, other.cost_by_period),
            cost_estimated=self.cost_estimated + other.cost_estimated,
            completeness=(self.completeness * self.meters + other.completeness * other.meters)
            / meters,
            meters=meters,
            gap_use_by_period=_add(self.gap_use_by_period, other.gap_use_by_period),
            gap_bases=_bases(self, other),
            unbooked_s=self.unbooked_s + other.unbooked_s,
        )

    def less(self, parts: Figures) -> Figures:
        """What `parts` leave of this: the unaccounted rest; as complete as the least part."""
        return Figures(
            consumption=self.consumption - parts.consumption,
            across_gaps=self.across_gaps - parts.across_gaps,
            use_by_period=_add(self.use_by_period, tuple(-x for x in parts.use_by_period)),
            cost=None if self.cost is None or parts.cost is None else self.cost - parts.cost,
            cost_by_period=_add(self.cost_by_period, tuple(-x for x in parts.cost_by_period)),
            cost_estimated=self.cost_estimated - parts.cost_estimated,
            completeness=min(self.completeness, parts.completeness),
            meters=self.meters,
            gap_use_by_period=_add(
                self.gap_use_by_period, tuple(-x for x in parts.gap_use_by_period)
            ),
            gap_bases=_bases(self, parts),
            unbooked_s=self.unbooked_s + parts.unbooked_s,  # either part unknown: rest unknown
        )

    @property
    def has_data(self) -> bool:
        return self.completeness > 0 or self.across_gaps > 0


def _add(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _bases(a: Figures, b: Figures) -> tuple[str, ...]:
    return tuple(sorted({*a.gap_bases, *b.gap_bases}))


def meter_figures(usage: MeterUsage, first: date, last: date) -> dict[str, Figures]:
    """Figures of every meter in `usage` over the local days `first` to `last`."""
    calendar = usage.calendar
    window = calendar.slot_range(first, last)
    periods: dict[str | None, npt.NDArray[np.int64]] = {}
    out: dict[str, Figures] = {}
    for row, meter in enumerate(usage.meters):
        key = meter.tariff.id if meter.tariff else None
        if key not in periods:
            periods[key] = slot_periods(meter.tariff, calendar)
        use = np.bincount(
            periods[key][window], weights=usage.usage[row, window], minlength=len(PERIODS)
        )
        gaps = _gaps_within(usage, row, first, last)
        total = sum(s.gap_total or 0.0 for s in gaps)
        slots = window.stop - window.start
        figures = Figures(
            consumption=float(use.sum()) + total,
            across_gaps=total,
            use_by_period=tuple(use.tolist()),
            cost=None,
            cost_by_period=(0.0,) * len(PERIODS),
            cost_estimated=0.0,
            completeness=float(usage.covered[row, window].sum()) / (slots * calendar.slot_s),
            unbooked_s=_unbooked_s(usage, row, window, gaps),
        )
        if meter.tariff is not None and meter.tariff.tiers:
            out[meter.id] = _tiered(figures, usage, row, meter.tariff, first, last)
        elif meter.tariff is not None:
            splits = [split_gap(usage, row, gap, periods[key]) for gap in gaps if gap.gap_total]
            figures = replace(
                figures,
                gap_use_by_period=tuple(
                    float(sum(x)) for x in zip(*(s.use_by_period for s in splits), strict=True)
                )
                if splits
                else figures.gap_use_by_period,
                gap_bases=tuple(sorted({s.basis.value for s in splits})),
            )
            out[meter.id] = _time_of_use(figures, meter.tariff)
        else:
            out[meter.id] = figures
    return _sub_meters_at_parent_price(usage, out)


def _gaps_within(usage: MeterUsage, row: int, first: date, last: date) -> list[MeterSpan]:
    """Gaps of the meter lying wholly inside the days; one across their edge is in neither."""
    days = usage.calendar.slot_range(first, last)
    start, end = usage.calendar.slot_instant(days.start), usage.calendar.slot_instant(days.stop)
    meter = usage.meters[row]
    return [
        s for s in usage.spans if s.meter.id == meter.id and s.step.gap and s.within(start, end)
    ]


def _unbooked_s(usage: MeterUsage, row: int, window: slice, gaps: list[MeterSpan]) -> float:
    """Seconds of the window, up to the latest data the site has, that are neither measured
    nor inside a gap of known total; a meter quieter than its gap threshold is not late yet."""
    calendar = usage.calendar
    seen = np.flatnonzero(usage.covered.any(axis=0))
    horizon_s = (int(seen[-1]) + 1) * calendar.slot_s if len(seen) else 0
    grace = usage.gap_s[row] if usage.gap_s else 0.0
    lo_s = window.start * calendar.slot_s
    hi_s = float(min(window.stop * calendar.slot_s, horizon_s - grace))
    if hi_s <= lo_s:
        return 0.0
    hi_slot = int(-(-hi_s // calendar.slot_s))
    measured = float(usage.covered[row, window.start : hi_slot].sum())
    bridged = 0.0
    for gap in gaps:
        if gap.gap_total is None:
            continue
        start = (gap.step.start - calendar.start).total_seconds()
        end = (gap.step.end - calendar.start).total_seconds()
        bridged += max(0.0, min(end, hi_s) - max(start, lo_s))
    return max(0.0, float(hi_s - lo_s) - measured - bridged)


def _time_of_use(figures: Figures, tariff: Tariff) -> Figures:
    prices = period_prices(tariff)
    use = np.array(figures.use_by_period)
    if np.any((use != 0) & np.isnan(prices)):
        return figures
    cost = np.where(use != 0, use * np.nan_to_num(prices), 0.0)
    measured = float(use.sum())
    flat = tariff.price(PERIODS[_FLAT])
    fallback = flat if flat is not None else (float(cost.sum()) / measured if measured else 0.0)
    # A period the tariff leaves unpriced takes the price a gap had before: flat, else average.
    gap_prices = np.where(np.isnan(prices), fallback, prices)
    gap_use = np.array(figures.gap_use_by_period)
    estimated = float(np.where(gap_use != 0, gap_use * gap_prices, 0.0).sum())
    return replace(
        figures,
        cost=float(cost.sum()) + estimated,
        cost_by_period=tuple(cost.tolist()),
        cost_estimated=estimated,
    )


def _tiered(
    figures: Figures, usage: MeterUsage, row: int, tariff: Tariff, first: date, last: date
) -> Figures:
    """Tier cost of each day's volume on top of what the month used before it."""
    calendar = usage.calendar
    daily = np.add.reduceat(usage.usage[row], calendar.day_start[:-1])
    for span in usage.spans:
        mine = span.meter.id == usage.meters[row].id
        if mine and span.gap_total and span.within(calendar.start, calendar.end):
            # A gap's volume is billed in the month its closing reading falls in.
            last_slot = int((span.step.end - calendar.start).total_seconds() - 1) // calendar.slot_s
            daily[calendar.day_of_slot[last_slot]] += span.gap_total
    cost, month_to_date, month = 0.0, 0.0, None
    for index, day in enumerate(calendar.days):
        if (day.year, day.month) != month:
            month, month_to_date = (day.year, day.month), 0.0
        if first <= day <= last:
            cost += tiered_cost(tariff.tiers, month_to_date, float(daily[index]))
        month_to_date += float(daily[index])
    by_period = tuple(cost if i == _FLAT else 0.0 for i in range(len(PERIODS)))
    return replace(figures, cost=cost, cost_by_period=by_period)


def _sub_meters_at_parent_price(usage: MeterUsage, out: dict[str, Figures]) -> dict[str, Figures]:
    for meter in usage.meters:
        parent = meter.device.parent
        if parent is None or meter.tariff is None or not meter.tariff.tiers or parent not in out:
            continue
        whole = out[parent]
        price = (whole.cost or 0.0) / whole.consumption if whole.consumption else 0.0
        mine = out[meter.id]
        cost = mine.consumption * price
        by_period = tuple(cost if i == _FLAT else 0.0 for i in range(len(PERIODS)))
        out[meter.id] = replace(mine, cost=cost, cost_by_period=by_period)
    return out
