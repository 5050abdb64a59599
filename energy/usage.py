"""Use of the site's meters over a run of local days, fetched aggregated from the store.

The store returns measured use per meter and 15-minute slot plus the steps that need a word
(gaps, resets, rollovers, review items); here they become dense [meter, slot] arrays on the
site's local calendar, so days, weeks, months, tariff periods and night windows are sums over
slices and masks, never over raw readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from core.config import SiteConfig
from energy.meters import Meter, counter_specs
from energy.slots import SLOT_S, SlotCalendar
from ingest.store import CounterSpan, SiteStore

__all__ = ["MeterSpan", "MeterUsage", "load_usage"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MeterSpan:
    """A step of one meter that is not plain measured use (see `CounterSpan`)."""

    meter: Meter
    step: CounterSpan

    def within(self, start: datetime, end: datetime) -> bool:
        return start <= self.step.start and self.step.end <= end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.step.start < end and self.step.end > start

    @property
    def gap_total(self) -> float | None:
        """Use across a gap, known in total; None for other steps or a gap without a value."""
        return self.step.usage if self.step.gap else None


@dataclass(frozen=True, slots=True)
class MeterUsage:
    meters: tuple[Meter, ...]
    calendar: SlotCalendar
    usage: FloatArray  # [meter, slot], measured use
    covered: FloatArray  # [meter, slot], seconds covered by measured steps
    spans: tuple[MeterSpan, ...]
    gap_s: tuple[float, ...] = ()  # per meter: silence longer than this is a gap

    def rows(self, meters: Sequence[Meter]) -> list[int]:
        index = {m.id: i for i, m in enumerate(self.meters)}
        return [index[m.id] for m in meters]

    def covers(self, first: date, last: date) -> bool:
        return self.calendar.days[0] <= first and last <= self.calendar.days[-1]


def load_usage(
    config: SiteConfig, store: SiteStore, meters: Sequence[Meter], first: date, last: date
) -> MeterUsage:
    """Measured use per slot of `meters` over the local days `first` to `last`."""
    calendar = SlotCalendar.build(config.calendar, config.site.zone, first, last, SLOT_S)
    specs = counter_specs(config, meters, store, calendar.start, calendar.end)
    deltas = store.counter_deltas(
        config.site.id,
        specs,
        calendar.start,
        calendar.end,
        SLOT_S,
        config.energy.bridge_days * 86_400,
    )
    usage = np.zeros((len(meters), calendar.slots))
    covered = np.zeros((len(meters), calendar.slots))
    slot = (deltas.slot_start - calendar.start_s) // SLOT_S
    usage[deltas.counter, slot] = deltas.usage
    covered[deltas.counter, slot] = deltas.covered_s
    spans = tuple(MeterSpan(meters[s.counter], s) for s in deltas.spans)
    gap_s = tuple(float(spec.gap_s) for spec in specs)
    return MeterUsage(tuple(meters), calendar, usage, covered, spans, gap_s)
