"""The food's side of the daily temperature log: the estimated product temperature's min, max,
mean and minutes out of band per local day, beside the air's (`alerts.registers`).

The estimate is the over-temperature rule's own filter (`alerts.rules.product`) run over the
stored air readings, so the log and the alerts agree. It starts `WARM_UP_TAU` time constants
before the first day, so the estimate has forgotten its start (initialised at the air) by
midnight: after 5 tau the start weighs exp(-5) < 1 %. Each figure follows the air's rules in
the store: min, max and mean over the day's readings; a reading stands for the time until the
next one, at most the device's silence, cut at the day's end.

The air is read as one mean per minute (`AIR_STEP_S`), which the store serves from its 1-min
rollups rather than from every reading: a month is 43 k points per probe whatever its rate.
For a probe reporting once a minute or slower on the minute it is the readings themselves;
faster, it is still the estimate the rule makes: a first-order lag with tau >= 5 x the step
(30 min against 1 min for a fridge) moves by at most 1 - exp(-1/30) = 3 % of the gap within one
step, so feeding it the minute's mean at the minute's start instead of each reading changes
the estimate by a small part of the air's swing within that minute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from alerts.model import DailyTemperature
from alerts.rules.product import product_series
from alerts.store import DayWindow

__all__ = ["AIR_STEP_S", "WARM_UP_TAU", "AirReadings", "with_product"]

# A device's air (temp_c) with start <= ts < end as one mean per AIR_STEP_S step: the step's
# start in epoch ms and the mean in °C, oldest first.
AirReadings = Callable[[datetime, datetime], tuple[Sequence[int], Sequence[float]]]

AIR_STEP_S = 60

WARM_UP_TAU = 5.0


def with_product(
    rows: Sequence[DailyTemperature],
    days: Sequence[DayWindow],
    air: AirReadings,
    tau_minutes: float,
    band: tuple[float | None, float | None],
    max_gap_s: float,
) -> list[DailyTemperature]:
    """`rows` (one per day of `days`) with their product figures filled in."""
    if not days:
        return list(rows)
    warm_up = timedelta(minutes=WARM_UP_TAU * tau_minutes)
    ts_list, air_list = air(days[0].start - warm_up, days[-1].end)
    ts = np.asarray(ts_list, dtype=np.int64)
    estimate = product_series(ts.tolist(), list(air_list), tau_minutes)
    span_ms = _spans(ts, max_gap_s * 1000.0)
    by_day = {day.day: day for day in days}
    out = []
    for row in rows:
        window = by_day.get(row.day)
        out.append(row if window is None else _day(row, window, ts, estimate, span_ms, band))
    return out


def _spans(ts: np.ndarray, max_gap_ms: float) -> np.ndarray:
    """How long each reading stands for: until the next one, at most the silence."""
    if len(ts) == 0:
        return np.zeros(0)
    following = np.append(np.diff(ts).astype(np.float64), max_gap_ms)
    spans: np.ndarray = np.minimum(following, max_gap_ms)
    return spans


def _day(
    row: DailyTemperature,
    window: DayWindow,
    ts: np.ndarray,
    estimate: np.ndarray,
    span_ms: np.ndarray,
    band: tuple[float | None, float | None],
) -> DailyTemperature:
    start, end = (int(window.start.timestamp() * 1000), int(window.end.timestamp() * 1000))
    inside = (ts >= start) & (ts < end)
    if not inside.any():
        return replace(row, product_minutes_out_of_band=0.0)
    values = estimate[inside]
    spans = np.minimum(span_ms[inside], end - ts[inside])
    low, high = band
    out = np.zeros(len(values), dtype=bool)
    if high is not None:
        out |= values > high
    if low is not None:
        out |= values < low
    return replace(
        row,
        product_min_c=round(float(values.min()), 2),
        product_max_c=round(float(values.max()), 2),
        product_mean_c=round(float(values.mean()), 2),
        product_minutes_out_of_band=float(spans[out].sum()) / 60_000.0,
    )
