"""Prices: which time-of-use period each slot falls in, and the cost of use under a tariff.

Time-of-use cost is exact per 15-minute slot. Use known only in total (across a gap) has no
time of use: it is priced at the flat price and marked as estimated. Tiered tariffs price a
meter's volume in each calendar month, tier by tier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.energy_model import PriceTier, Tariff, TariffPeriod
from energy.slots import SlotCalendar

__all__ = ["PERIODS", "period_prices", "slot_periods", "tiered_cost"]

# Array order of the periods; costs by period are arrays of this length.
PERIODS = (TariffPeriod.CRITICAL_PEAK, TariffPeriod.PEAK, TariffPeriod.FLAT, TariffPeriod.VALLEY)
_QUARTER = 15
_FLAT = PERIODS.index(TariffPeriod.FLAT)


def slot_periods(tariff: Tariff | None, calendar: SlotCalendar) -> npt.NDArray[np.int64]:
    """Index into `PERIODS` of every slot; flat throughout without a time-of-use tariff."""
    out = np.full(calendar.slots, _FLAT, dtype=np.int64)
    if tariff is None or tariff.tiers:
        return out
    quarter = calendar.minute // _QUARTER
    templates: dict[tuple[int, bool], npt.NDArray[np.int64]] = {}
    for index, day in enumerate(calendar.days):
        critical = tariff.critical_peak is not None and tariff.critical_peak.applies(day)
        key = (day.month, critical)
        if key not in templates:
            templates[key] = _day_template(tariff, *key)
        day_slots = slice(int(calendar.day_start[index]), int(calendar.day_start[index + 1]))
        out[day_slots] = templates[key][quarter[day_slots]]
    return out


def _day_template(tariff: Tariff, month: int, critical: bool) -> npt.NDArray[np.int64]:
    """The period of each quarter hour of a day in `month`."""
    template = np.full(24 * 60 // _QUARTER, _FLAT, dtype=np.int64)
    for band in tariff.bands_for(month):
        template[band.start // _QUARTER : band.end // _QUARTER] = PERIODS.index(band.period)
    if critical and tariff.critical_peak is not None:
        for window in tariff.critical_peak.windows:
            template[window.start // _QUARTER : window.end // _QUARTER] = 0
    return template


def period_prices(tariff: Tariff | None) -> npt.NDArray[np.float64]:
    """Unit price per period in `PERIODS` order; NaN where the tariff has none (tiers)."""
    prices = [tariff.price(period) if tariff else None for period in PERIODS]
    return np.array([np.nan if p is None else p for p in prices], dtype=np.float64)


def tiered_cost(tiers: Sequence[PriceTier], before: float, volume: float) -> float:
    """Cost of `volume` used after `before` was already used in the same month."""
    cost, low = 0.0, 0.0
    for tier in tiers:
        high = tier.up_to if tier.up_to is not None else float("inf")
        inside = max(0.0, min(high, before + volume) - max(low, before))
        cost += inside * tier.price
        low = high
    return cost
