"""Use across a gap spread over the tariff periods by the meter's own profile, for pricing.

A gap's use is known in total only. To price it under a time-of-use tariff, it is shared among
the slots the gap spans in proportion to what the same meter used at the same quarter hour on
comparable days: fully measured days of the same day type (school day, weekend, holiday,
vacation) in the loaded window. Without such a day, or when those days used nothing, the gap
falls back to the flat price. Either way the result is an estimate, and says which basis it
used. The consumption figures never change: only the price of the gap's total does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from core.energy_model import DayType, TariffPeriod
from energy.tariffs import PERIODS
from energy.usage import MeterSpan, MeterUsage

__all__ = ["GapBasis", "GapSplit", "split_gap"]

FloatArray = npt.NDArray[np.float64]
_QUARTERS = 24 * 4
# A comparable day must be measured throughout (a few seconds of rounding aside).
_COMPLETE = 0.999
_FLAT = PERIODS.index(TariffPeriod.FLAT)


class GapBasis(StrEnum):
    PROFILE = "profile"  # the meter's own profile on comparable days
    FLAT = "flat"  # no comparable day: priced at the flat price


@dataclass(frozen=True, slots=True)
class GapSplit:
    use_by_period: tuple[float, ...]  # PERIODS order; all at FLAT when basis is FLAT
    basis: GapBasis


def split_gap(
    usage: MeterUsage, row: int, span: MeterSpan, periods: npt.NDArray[np.int64]
) -> GapSplit:
    """The gap's known total shared over the tariff periods of the slots it spans."""
    total = span.gap_total or 0.0
    slots, overlap = _gap_slots(usage, span)
    weights = _profile_weights(usage, row, slots) if len(slots) else None
    if weights is None or float((weights * overlap).sum()) <= 0:
        flat = tuple(total if i == _FLAT else 0.0 for i in range(len(PERIODS)))
        return GapSplit(flat, GapBasis.FLAT)
    share = weights * overlap
    by_period = np.bincount(
        periods[slots], weights=total * share / share.sum(), minlength=len(PERIODS)
    )
    return GapSplit(tuple(by_period.tolist()), GapBasis.PROFILE)


def _gap_slots(usage: MeterUsage, span: MeterSpan) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The slots the gap touches and the share of each slot it covers."""
    calendar = usage.calendar
    start = (span.step.start - calendar.start).total_seconds()
    end = (span.step.end - calendar.start).total_seconds()
    first = max(int(start // calendar.slot_s), 0)
    last = min(int(-(-end // calendar.slot_s)), calendar.slots)
    slots = np.arange(first, last, dtype=np.int64)
    lo = np.maximum(slots * calendar.slot_s, start)
    hi = np.minimum((slots + 1) * calendar.slot_s, end)
    return slots, np.clip(hi - lo, 0, None) / calendar.slot_s


def _profile_weights(
    usage: MeterUsage, row: int, slots: npt.NDArray[np.int64]
) -> FloatArray | None:
    """Use at each slot's quarter hour on comparable days; None when a day type the gap
    touches has no comparable day."""
    calendar = usage.calendar
    kinds = [calendar.day_types[int(d)] for d in calendar.day_of_slot[slots]]
    quarter = calendar.minute[slots] // 15
    weights = np.zeros(len(slots))
    for kind in set(kinds):
        profile = _day_type_profile(usage, row, kind)
        if profile is None:
            return None
        mine = np.array([k is kind for k in kinds])
        weights[mine] = profile[quarter[mine]]
    return weights


def _day_type_profile(usage: MeterUsage, row: int, kind: DayType) -> FloatArray | None:
    """Mean use per quarter hour over the fully measured days of `kind`."""
    calendar = usage.calendar
    sums, counts = np.zeros(_QUARTERS), np.zeros(_QUARTERS)
    for index, day_type in enumerate(calendar.day_types):
        if day_type is not kind:
            continue
        day = slice(int(calendar.day_start[index]), int(calendar.day_start[index + 1]))
        possible = (day.stop - day.start) * calendar.slot_s
        if usage.covered[row, day].sum() < _COMPLETE * possible:
            continue
        quarter = calendar.minute[day] // 15
        sums += np.bincount(quarter, weights=usage.usage[row, day], minlength=_QUARTERS)
        counts += np.bincount(quarter, minlength=_QUARTERS)
    if not counts.any():
        return None
    return np.divide(sums, counts, out=np.zeros(_QUARTERS), where=counts > 0)
