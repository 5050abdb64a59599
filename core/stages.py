"""Where the time of the readings path goes: durations between its stages, as histograms.

The gateway and the store writer stamp each batch with `time.monotonic()` as it passes
(received from the broker, decoded, batch closed, write began, stored, handed to the rules,
acknowledged) and add the time between two stamps to the histogram of that step. A stamp is
one clock read; a histogram update is a lock and a bucket increment, a few per batch, so the
stamps stay on in production. `/api/health` shows them (`ingest_latency_ms`) and the benches
read them. Durations are wall time on one host's monotonic clock, never event time.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence
from contextvars import ContextVar

__all__ = ["BUCKETS_MS", "OLDEST_RECEIVED", "STAGES", "StageTimes"]

# The batch being stored: when its oldest message was received (time.monotonic()). The gateway
# sets it around its store call; the writer, in another package, reads it to stamp the
# end-to-end steps (a context variable follows the call into `asyncio.to_thread`).
OLDEST_RECEIVED: ContextVar[float | None] = ContextVar("oldest_received", default=None)

# Upper bounds of the histogram buckets, in ms: roughly 1-2-5 per decade from 0.1 ms to 10 s,
# then everything longer.
BUCKETS_MS: tuple[float, ...] = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, math.inf,
)  # fmt: skip

# The steps, in the order a batch passes them (README, operations: the readings path).
STAGES: tuple[str, ...] = (
    "inbox",  # read by the broker link (on the event loop) -> taken by the decoder
    "linger",  # the decoder waiting for more messages after a busy batch
    "decode",  # decoding and validating the batch's messages
    "queued",  # batch closed -> the store stage takes it (the previous write still running)
    "write_hop",  # the store stage's call -> the write begins in its worker thread
    "write",  # the DuckDB transaction, COMMIT included
    "handover",  # stored -> back on the event loop, handing the batch to its listeners
    "listeners",  # the listeners (the live dashboard; the rules when they take it stored)
    "ack",  # every part of the batch stored -> acknowledged to the broker
    "received_to_stored",  # the batch's oldest message received -> its batch stored
    "received_to_handed",  # the batch's oldest message received -> handed to the listeners
    "received_to_rules",  # a decoded batch's oldest message received -> told to the rules
)


class StageTimes:
    """Histograms of the durations of `STAGES`, shared by the threads that stamp them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {stage: [0] * len(BUCKETS_MS) for stage in STAGES}
        self._sums = dict.fromkeys(STAGES, 0.0)
        self._maxima = dict.fromkeys(STAGES, 0.0)

    def observe(self, stage: str, seconds: float) -> None:
        """Add one duration of `stage` (an unknown stage is a bug: KeyError)."""
        ms = max(0.0, seconds * 1000.0)
        index = bisect.bisect_left(BUCKETS_MS, ms)
        with self._lock:
            self._counts[stage][index] += 1
            self._sums[stage] += ms
            if ms > self._maxima[stage]:
                self._maxima[stage] = ms

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """Per stage seen at least once: count, mean, p50, p90, p99 (the bucket's upper
        bound, so an estimate from above) and max, in ms."""
        with self._lock:
            counts = {stage: list(c) for stage, c in self._counts.items()}
            sums, maxima = dict(self._sums), dict(self._maxima)
        out: dict[str, dict[str, float | int]] = {}
        for stage in STAGES:
            total = sum(counts[stage])
            if total == 0:
                continue
            out[stage] = {
                "count": total,
                "mean": round(sums[stage] / total, 2),
                "p50": _quantile(counts[stage], 0.5, maxima[stage]),
                "p90": _quantile(counts[stage], 0.9, maxima[stage]),
                "p99": _quantile(counts[stage], 0.99, maxima[stage]),
                "max": round(maxima[stage], 2),
            }
        return out

    def reset(self) -> None:
        with self._lock:
            for counts in self._counts.values():
                counts[:] = [0] * len(BUCKETS_MS)
            self._sums = dict.fromkeys(STAGES, 0.0)
            self._maxima = dict.fromkeys(STAGES, 0.0)


def _quantile(counts: Sequence[int], q: float, maximum: float) -> float:
    """The upper bound of the bucket holding quantile `q`, never above the largest seen."""
    rank = q * sum(counts)
    running = 0
    for bound, count in zip(BUCKETS_MS, counts, strict=True):
        running += count
        if running >= rank and count:
            return round(min(bound, maximum), 2)
    return round(maximum, 2)
