"""What a chart reads from the store, in as few scans as give the same picture.

A chart of a cold store's air shows the air's minimum and maximum per pixel column and the
estimated food temperature, which the rules' filter computes from the air's mean per step of
at most tau / 5 (`routes.charts._estimate_step`). Both come from the same rollup rows: read
once at the finer of the two steps (the estimate's step when it divides the column's, else the
column's own), the column envelopes are the minimum of the lows and the maximum of the highs
of the fine steps inside each column (epoch-aligned, as the store aligns a step of its own),
and the estimate runs over the fine means. On the 200-device bench store a week's rollup scan
is most of a drawing's cost, so one scan instead of two halves it. The warm-up of the
estimate (five time constants before the window) is read apart: a short range, so a short scan.

The store hands the rows as arrays (`EnvelopeSteps`): a week's 8 k rollup rows as Python
objects cost more CPU than the query. The grouping is numpy on the fine rows, and the result
is exactly what the store answers for the column step: min of mins, max of maxes over the
same readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from dashboard_api.web.charts import Bucket
from ingest.store import Envelope, EnvelopeSteps

__all__ = ["FineRead", "column_buckets", "fine_step", "means_ms"]


@dataclass(frozen=True, slots=True)
class FineRead:
    """A metric's fine steps as arrays: start (epoch s), low, high, mean."""

    start_s: np.ndarray
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray

    @staticmethod
    def of(steps: EnvelopeSteps) -> FineRead:
        """The store's arrays as they are (no copy, no object per step)."""
        return FineRead(steps.start_s, steps.low, steps.high, steps.mean)

    @staticmethod
    def of_envelopes(envelopes: Sequence[Envelope]) -> FineRead:
        count = len(envelopes)
        start = np.fromiter((e.start.timestamp() for e in envelopes), np.float64, count)
        low = np.fromiter((e.low for e in envelopes), np.float64, count)
        high = np.fromiter((e.high for e in envelopes), np.float64, count)
        mean = np.fromiter((e.mean for e in envelopes), np.float64, count)
        return FineRead(start, low, high, mean)


def fine_step(column_s: int, estimate_s: int | None) -> int:
    """The step to read at: the estimate's when it divides the column's step (a week at
    5 min for 10-min columns), else the column's own (a day's 1-min columns are finer than
    the estimate needs, and finer is closer to the reading-by-reading filter)."""
    if estimate_s is not None and column_s % estimate_s == 0:
        return estimate_s
    return column_s


def column_buckets(fine: FineRead, column_s: int) -> list[Bucket]:
    """The envelope per epoch-aligned column of `column_s`: min of the lows, max of the
    highs of the fine steps inside it (fine steps divide the column, so none straddles)."""
    if fine.start_s.size == 0:
        return []
    columns = np.floor(fine.start_s / column_s) * column_s
    first = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
    lows = np.minimum.reduceat(fine.low, first).tolist()
    highs = np.maximum.reduceat(fine.high, first).tolist()
    return [
        Bucket(datetime.fromtimestamp(at, UTC), low, high)
        for at, low, high in zip(columns[first].tolist(), lows, highs, strict=True)
    ]


def means_ms(fine: FineRead, step_s: int) -> tuple[list[int], list[float]]:
    """Each fine step's mean air at the step's middle (epoch ms), where its lag is centred."""
    middles = (fine.start_s * 1000).astype(np.int64) + step_s * 500
    return middles.tolist(), fine.mean.tolist()
