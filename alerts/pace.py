"""How far behind the live stream the rules judge, and what each step after them costs: the
figures `/api/health` shows under `rules` and `bench.alerts` reports.

- `age_ms`: a reading's age when the rules judged it (the service clock at judging minus the
  reading's own timestamp). It includes the device's clock offset and the path before the
  rules (broker, gateway, store write); with device clocks in step it is the stream's
  publish-to-rules lag. Taken over the readings of the last `keep` live batches.
- `judge_us_per_reading`, `busy_share`: the rules' own CPU time per reading (the event
  loop thread's, so other processes on a busy machine do not count), and that CPU time over
  the wall time of those batches: the share of a core the rules take (1.0 is a whole core;
  they share one event loop and the GIL with ingest, so this is what they take from it).
  `judge_wall_us_per_reading`: the same by the wall clock, waits for the CPU and the GIL
  included.
- `findings_wait_ms`: from the batch whose findings started a save's wait to that save's
  start; `thread_hop_ms`: from the save's start to its worker thread running it;
  `alert_book_ms`: the save in that thread (alert book, registers, notices, and the rules'
  state when it is due); `state_snapshot_ms`: taking the rules' state on the event loop,
  spread over several turns of it.
- `alert_book_steps_ms` (`BookTimes`, stamped by the alert book for each batch of findings that
  changed an alert): `lock` waiting for the book (a person's step or another batch),
  `statements` the alerts' and their history's writes, `plan` the notification planner,
  `notices` the outbox's and escalations' writes, `commit` DuckDB's COMMIT (its WAL fsync),
  `total` all of them: the share of the path a durable journal could take over is `commit`;
  `cpu` the applying thread's CPU time for them, which a busy machine stretches far less than
  the wall times (the difference is the wait for a core, the GIL or DuckDB).

Durations of the service's own work are taken with `time.perf_counter` (they measure this
process, not domain time); ages use the injected clock, as the readings' timestamps do.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["BOOK_STEPS", "BookTimes", "RulesPace"]

_KEEP = 256  # batches (and saves) the figures are taken over


# The steps of a batch of findings in the alert book, in order, their sum, and the applying
# thread's CPU time over all of them (`BookTimes`).
BOOK_STEPS = ("lock", "statements", "plan", "notices", "commit", "total", "cpu")


class BookTimes:
    """The alert book's steps for its last `keep` batches that changed an alert, in ms. Written
    by the thread applying findings, read by the API's: a deque's append and a copy of it are
    each atomic under the GIL, so no lock is needed."""

    def __init__(self, keep: int = _KEEP) -> None:
        self._batches: deque[tuple[float, ...]] = deque(maxlen=keep)

    def batch(self, steps_s: Sequence[float], cpu_s: float) -> None:
        """One batch's steps (lock, statements, plan, notices, commit) and CPU, in seconds."""
        if len(steps_s) != len(BOOK_STEPS) - 2:
            raise ValueError(f"{len(steps_s)} steps timed; the book has {BOOK_STEPS[:-2]}")
        self._batches.append(tuple(s * 1000.0 for s in (*steps_s, sum(steps_s), cpu_s)))

    def figures(self) -> dict[str, dict[str, float | None]]:
        batches = np.asarray(list(self._batches), dtype=np.float64)
        return {
            step: _quantiles(batches[:, i] if len(batches) else None)
            for i, step in enumerate(BOOK_STEPS)
        }


class RulesPace:
    def __init__(self, keep: int = _KEEP, book: BookTimes | None = None) -> None:
        self.book = book if book is not None else BookTimes(keep)
        self.readings = 0
        self._ages: deque[npt.NDArray[np.int64]] = deque(maxlen=keep)
        # Per batch: when (wall), CPU seconds, wall seconds, readings.
        self._judged: deque[tuple[float, float, float, int]] = deque(maxlen=keep)
        self._waits: deque[float] = deque(maxlen=keep)
        self._hops: deque[float] = deque(maxlen=keep)
        self._saves: deque[float] = deque(maxlen=keep)
        self._snapshot_ms: float | None = None

    def judged(
        self, ts_ms: npt.NDArray[np.int64], now_ms: int, cpu_s: float, wall_s: float
    ) -> None:
        """A live batch was judged at `now_ms` (clock) in `cpu_s` of the thread's CPU time
        and `wall_s` of wall time."""
        if not len(ts_ms):
            return
        self.readings += len(ts_ms)
        self._ages.append(now_ms - ts_ms)
        self._judged.append((time.perf_counter(), cpu_s, wall_s, len(ts_ms)))

    def saved(self, waited_s: float | None, hop_s: float, took_s: float) -> None:
        if waited_s is not None:
            self._waits.append(waited_s * 1000.0)
        self._hops.append(hop_s * 1000.0)
        self._saves.append(took_s * 1000.0)

    def snapshot_taken(self, took_s: float) -> None:
        self._snapshot_ms = took_s * 1000.0

    def figures(self) -> dict[str, Any]:
        return {
            "readings_judged": self.readings,
            "age_ms": _quantiles(np.concatenate(self._ages) if self._ages else None),
            **self._busy(),
            "findings_wait_ms": _quantiles(np.asarray(self._waits) if self._waits else None),
            "thread_hop_ms": _quantiles(np.asarray(self._hops) if self._hops else None),
            "alert_book_ms": _quantiles(np.asarray(self._saves) if self._saves else None),
            "state_snapshot_ms": _rounded(self._snapshot_ms),
            "alert_book_steps_ms": self.book.figures(),
        }

    def _busy(self) -> dict[str, float | None]:
        judged = list(self._judged)
        readings = sum(n for *_, n in judged)
        cpu = sum(c for _, c, _, _ in judged)
        wall = sum(w for _, _, w, _ in judged)
        span = judged[-1][0] - judged[0][0] if len(judged) > 1 else 0.0
        # The first batch's own time lies before the span began.
        share = (cpu - judged[0][1]) / span if span > 0 else None
        return {
            "judge_us_per_reading": _rounded(cpu * 1e6 / readings if readings else None),
            "judge_wall_us_per_reading": _rounded(wall * 1e6 / readings if readings else None),
            "busy_share": _rounded(share, 3),
        }


def _quantiles(values: npt.NDArray[Any] | None) -> dict[str, float | None]:
    if values is None or not len(values):
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = np.quantile(values, [0.5, 0.99])
    return {"p50": _rounded(p50), "p99": _rounded(p99), "max": _rounded(values.max())}


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)
