"""The `Store` protocol every backend implements, and the value types its queries return.

Methods are synchronous and may block (file or network I/O): async callers run them in a thread.
A reading's identity is (site, device, metric, ts): writing it again replaces it, never duplicates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch

__all__ = [
    "ROLLUP_WIDTHS_S",
    "Aggregate",
    "CounterDeltas",
    "CounterMark",
    "CounterSpan",
    "CounterSpec",
    "DeadLetterRecord",
    "Envelope",
    "EnvelopeSteps",
    "LatestValue",
    "PairKind",
    "PresenceRecord",
    "RecordStore",
    "SeriesPoint",
    "SiteStore",
    "Store",
    "chart_step",
]

# Bucket widths the store keeps rollups at (`ingest.duckdb_rollup`): a series whose steps are
# whole multiples of one is read from its rollups instead of every reading.
ROLLUP_WIDTHS_S: tuple[int, ...] = (60, 300, 3_600)


def chart_step(span_s: float, columns: int) -> int:
    """A step of at least one bucket per pixel column that a rollup serves whole: the longest
    multiple of the coarsest width that fits in span / columns (any step under a minute)."""
    ideal = max(1, math.floor(span_s / columns))
    for width in sorted(ROLLUP_WIDTHS_S, reverse=True):
        if width <= ideal:
            return ideal // width * width
    return ideal


class Aggregate(StrEnum):
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    LAST = "last"


@dataclass(frozen=True, slots=True)
class LatestValue:
    metric: str
    ts: datetime
    value: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One step of a series: the aggregate over [start, start + step) and how many readings
    (a local day for steps of days in a zone, see `Store.series`)."""

    start: datetime
    value: float
    count: int


@dataclass(frozen=True, slots=True)
class Envelope:
    """One step of a metric for a chart: its minimum, maximum and mean over [start, start +
    step) and how many readings."""

    start: datetime
    low: float
    high: float
    mean: float
    count: int


@dataclass(frozen=True, slots=True)
class EnvelopeSteps:
    """A metric's `Envelope`s as arrays of equal length, oldest first: each step's start
    (epoch seconds), minimum, maximum, mean and count. A week of 5-minute steps of four
    metrics is 8 k steps: as objects they cost more than the query that finds them."""

    start_s: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.start_s.size)

    def envelopes(self) -> list[Envelope]:
        starts = [datetime.fromtimestamp(at, UTC) for at in self.start_s.tolist()]
        return [
            Envelope(at, low, high, mean, int(n))
            for at, low, high, mean, n in zip(
                starts,
                self.low.tolist(),
                self.high.tolist(),
                self.mean.tolist(),
                self.count.tolist(),
                strict=True,
            )
        ]


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    device: str
    online: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    letter: DeadLetter


class PairKind(StrEnum):
    """How the step between two consecutive readings of a cumulative counter is read."""

    INCREASE = "increase"
    RESET = "reset"  # a declared reset or meter replacement lies in the step
    ROLLOVER = "rollover"  # the register passed its modulus and started again from 0
    DECREASE = "decrease"  # fell without a declaration or a plausible rollover: for review
    JUMP = "jump"  # rose faster than the supply can deliver: for review

    @property
    def for_review(self) -> bool:
        return self in (PairKind.DECREASE, PairKind.JUMP)


@dataclass(frozen=True, slots=True)
class CounterMark:
    """A declared reset or replacement: from `at` on the register counts from `start`;
    `final` is the old register's last value, when the work order gives it."""

    at: datetime
    start: float = 0.0
    final: float | None = None


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One cumulative counter and what is known about its register."""

    device: str
    metric: str
    multiplier: float = 1.0  # use = register delta × multiplier (CT ratio)
    modulus: float | None = None  # the register wraps to 0 here
    max_rate_per_h: float | None = None  # most use per hour the supply can deliver
    resolution: float = 0.0  # the register's last digit: slack for the rate check
    gap_s: float = 180.0  # steps longer than this are gaps
    marks: tuple[CounterMark, ...] = ()


@dataclass(frozen=True, slots=True)
class CounterSpan:
    """A step that is not plain measured use: a gap (use known in total only, or not at all),
    a declared reset, a rollover, or a step held for review. `usage` is None when the step has
    no value; `after` is None for a replaced register whose final value is unknown."""

    counter: int  # position in the counters asked for
    start: datetime
    end: datetime
    before: float
    after: float | None
    kind: PairKind
    usage: float | None
    gap: bool


@dataclass(frozen=True, slots=True)
class CounterDeltas:
    """Measured use per counter and slot, as columns, and the steps that need a word.

    Row i says: counter `counter[i]` used `usage[i]` in the slot starting at `slot_start[i]`
    (epoch seconds, UTC) and its readings covered `covered_s[i]` seconds of it. Slots without
    any measured step are absent. Steps in `spans` with `gap` false and a usage (resets and
    rollovers) are counted in the slots too; gaps are not."""

    slot_s: int
    counter: npt.NDArray[np.int64]
    slot_start: npt.NDArray[np.int64]
    usage: npt.NDArray[np.float64]
    covered_s: npt.NDArray[np.float64]
    spans: list[CounterSpan]


class Store(Protocol):
    """Time-series readings."""

    def write(self, batch: ReadingBatch) -> int:
        """Store a batch (idempotent); returns the number of readings written."""
        ...

    def latest(self, site: str, device: str) -> list[LatestValue]: ...

    def series(
        self,
        site: str,
        device: str,
        metric: str,
        start: datetime,
        end: datetime,
        step_s: int,
        agg: Aggregate,
        *,
        zone: ZoneInfo | None = None,
    ) -> list[SeriesPoint]:
        """Readings with start <= ts < end, aggregated per step; empty steps are absent.

        Steps shorter than a day align to the Unix epoch (a 1 h step starts on the hour). With
        a `zone`, steps of a day or longer align to local midnights there: a 1 d step is one
        local day (23 or 25 hours across a DST change), whatever the zone's UTC offset."""
        ...

    def envelopes(
        self,
        site: str,
        device: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
        step_s: int,
    ) -> dict[str, list[Envelope]]:
        """Several metrics of one device with start <= ts < end, per epoch-aligned step (as
        `series`): minimum, maximum, mean and count, for a chart; empty steps are absent."""
        ...

    def envelope_steps(
        self,
        site: str,
        device: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
        step_s: int,
    ) -> dict[str, EnvelopeSteps]:
        """`envelopes` as arrays (the same steps), for a chart's first drawing."""
        ...

    def counter_deltas(
        self,
        site: str,
        counters: Sequence[CounterSpec],
        start: datetime,
        end: datetime,
        slot_s: int,
        bridge_s: int,
    ) -> CounterDeltas:
        """Use of cumulative counters over [start, end), aggregated per slot in the store.

        Consecutive readings of a counter form steps; each declared mark joins the sequence
        at its instant (before a reading at the same instant), so the step into it is the old
        register's tail (`final - before`, or no value) and the step out of it counts from
        the new `start` (to the next reading, or to the next mark's `final`). A step is
        classified (`PairKind`): a rise within `max_rate_per_h` (plus one `resolution` digit)
        is an increase; a fall is a rollover when `modulus` is known and the wrapped rise fits
        the rate (without a rate: the register was in its top tenth and is now in its bottom
        tenth), else a decrease; both review kinds have no value. Use is the register delta
        times `multiplier`.

        A step with a value and no longer than `gap_s` is measured: its use is spread over the
        slots it overlaps in proportion to time (readings within one reporting interval) and
        counts as coverage. Longer steps are gaps, reported in `spans` with their total and
        never spread. Steps across `start` or `end` are found by looking up to `bridge_s`
        seconds beyond them. `start` and `end` must be multiples of `slot_s` (epoch)."""
        ...

    def close(self) -> None: ...


class RecordStore(Protocol):
    """Relational records beside the readings: dead letters, presence, device events."""

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...

    def dead_letters(
        self, site: str | None, limit: int, reason: str | None = None, code: str | None = None
    ) -> list[DeadLetterRecord]:
        """Newest first; `reason` matches text in the reason, `code` the reason's code."""
        ...

    def dead_letter_count(
        self, site: str | None = None, code: str | None = None, reason: str | None = None
    ) -> int:
        """How many letters match, with the filters of `dead_letters`."""
        ...

    def write_presence(self, changes: Sequence[PresenceChange]) -> None: ...

    def presence(self, site: str) -> list[PresenceRecord]: ...

    def write_events(self, events: Sequence[DeviceEvent]) -> None: ...

    def device_events(
        self, site: str, kinds: Sequence[str], start: datetime, end: datetime
    ) -> list[DeviceEvent]:
        """Events of these kinds with start <= ts < end, oldest first."""
        ...


class SiteStore(Store, RecordStore, Protocol):
    """A store holding a site's readings and the records beside them (the embedded default)."""
