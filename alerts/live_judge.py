"""`LiveJudge`: the live alerts service's judging, on the event loop that owns the rules.

The gateway's batches (as decoded; once stored during a start-up) join the queue
(`alerts.judge_queue`: per device, crossings first); `run` works through it in slices of
`_JUDGE_SLICE` readings for up to `_JUDGE_TURN_S` per turn of the loop (at least one slice),
then lets ingest and the saves go on. What the rules find goes to the service's `keep`. A clock
tick asked for while readings wait (`owe_tick`) is done once the queue is empty: no deadline is
judged on readings received but not judged yet. The queue is bounded (`bound` readings): past it,
`add` judges the oldest at once, so ingest waits for the rules as it did when every batch was
judged on arrival.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from alerts.engine import EngineOutput, RuleEngine
from alerts.judge_queue import JudgeQueue
from alerts.pace import RulesPace
from alerts.samples import Sample
from core.clock import Clock, to_epoch_ms
from core.readings import ReadingBatch

__all__ = ["QUEUE_READINGS", "LiveJudge"]

# The judging task's turn of the event loop: slices of readings (~27 us each on the bench's
# fridges) until it has taken this long, then the loop's other work (ingest, saves) goes on.
_JUDGE_SLICE = 200
_JUDGE_TURN_S = 0.008
# Readings queued for the rules at most (~2 s at 10 k msg/s, a few MB); past it ingest waits.
QUEUE_READINGS = 20_000

Keep = Callable[[EngineOutput, bool], None]  # (findings, wake the saver)


class LiveJudge:
    def __init__(
        self, engine: RuleEngine, pace: RulesPace, clock: Clock, keep: Keep, *, bound: int
    ) -> None:
        self._engine, self._pace, self._clock, self._keep = engine, pace, clock, keep
        limits = {name: rules.setup.limits for name, rules in engine.devices.items()}
        self.queue = JudgeQueue(engine.site, limits)
        self._bound = bound
        self._queued = asyncio.Event()
        self._tick_owed = False

    def __bool__(self) -> bool:
        """Readings are waiting."""
        return bool(self.queue)

    def add(self, batch: ReadingBatch) -> None:
        """A batch, to be judged by `run` (past the bound, the oldest judged now)."""
        self.queue.add(batch)
        while self.queue.readings > self._bound:
            self._keep(self._judge(self.queue.take(_JUDGE_SLICE)), True)
        self._queued.set()

    def judge_now(self, device: str | None = None) -> None:
        """What is queued (for `device`, or all), judged now: before an API call changes a
        device's rules, and before the last save."""
        groups = self.queue.take_all() if device is None else self.queue.take_device(device)
        if groups:
            self._keep(self._judge(groups), False)

    def owe_tick(self) -> None:
        """Tick once the queue is empty."""
        self._tick_owed = True
        self._queued.set()

    def limits_changed(self, device: str) -> None:
        self.queue.limits_changed(device, self._engine.devices[device].setup.limits)

    async def run(self) -> None:
        """Work through the queue, a turn of the loop at a time; then the tick put off."""
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self.queue:
                turn_ends = time.perf_counter() + _JUDGE_TURN_S
                self._keep(self._judge(self.queue.take(_JUDGE_SLICE)), True)
                while self.queue and time.perf_counter() < turn_ends:
                    self._keep(self._judge(self.queue.take(_JUDGE_SLICE)), True)
                await asyncio.sleep(0)
            if self._tick_owed:
                self._tick_owed = False
                self._keep(self._engine.tick(), True)

    def _judge(self, groups: list[tuple[str, list[Sample]]]) -> EngineOutput:
        begun, begun_cpu = time.perf_counter(), time.thread_time()
        output = self._engine.judge(groups)
        cpu, wall = time.thread_time() - begun_cpu, time.perf_counter() - begun
        stamps = np.fromiter((s.ts_ms for _, group in groups for s in group), np.int64)
        self._pace.judged(stamps, to_epoch_ms(self._clock.now()), cpu, wall)
        return output
