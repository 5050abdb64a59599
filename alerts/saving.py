"""`RuleSaves`: the findings the live rules made, waiting for the alert book, and the rules'
state, saved together in the alerts service's worker thread (`alerts.service`).

The live rules run on the event loop and their findings wait here in memory; a save applies
them to the alert book and the registers, with the rules' state when one was taken, in the
worker thread. Saves land one at a time, in the order asked (a lock held across the hop to the
thread), and the waiting findings are taken when the previous save is done and after the state
was taken: every finding made before a device's state was taken is written with or before that
state, so a restart from it never skips one. The state is taken `_SNAPSHOT_PART` devices per
turn of the loop, so a snapshot of a large site does not hold ingest. A seal re-learn saves the
device's new state at once and keeps a snapshot under way from overwriting it with the old one.
All of it runs on the loop that owns the rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from alerts.engine import EngineOutput, RuleEngine
from alerts.findings_out import FindingsOut
from alerts.lifecycle import AlertChange
from alerts.pace import RulesPace
from alerts.worker import RulesWorker

__all__ = ["RuleSaves"]

# Devices whose state is taken in one turn of the event loop. A fridge's state is ~0.1-0.2 ms
# of JSON; 1,000 devices at once held the loop (and ingest with it) for 100-200 ms.
_SNAPSHOT_PART = 50


class RuleSaves:
    def __init__(
        self, engine: RuleEngine, out: FindingsOut, pace: RulesPace, worker: RulesWorker
    ) -> None:
        self._engine = engine
        self._out = out
        self._pace = pace
        self._worker = worker
        self._waiting = EngineOutput()
        self._waiting_since: float | None = None  # perf_counter when findings began to wait
        self._relearned: set[str] | None = None  # re-learned while a snapshot is taken
        # Findings and snapshots go to the store one batch at a time, in the order taken.
        self._lock = asyncio.Lock()

    def keep(self, output: EngineOutput) -> None:
        """Findings wait for the next save."""
        if output and self._waiting_since is None:
            self._waiting_since = time.perf_counter()
        self._waiting.extend(output)

    async def save(
        self, states: dict[str, str] | None = None, *, but: set[str] | None = None
    ) -> list[AlertChange]:
        """Apply the waiting findings and save `states` (the rules' state, but the devices in
        `but`), in the worker thread. The findings are taken when the previous save is done,
        so saves land in order, and after the state was taken."""
        async with self._lock:
            if states is not None and but:  # their newer state is saved already
                states = {device: state for device, state in states.items() if device not in but}
            output, self._waiting = self._waiting, EngineOutput()
            since, self._waiting_since = self._waiting_since, None
            if not output and states is None:
                return []  # nothing found: no hop to a worker thread for it
            begun = time.perf_counter()
            started: list[float] = []

            def persist() -> list[AlertChange]:
                started.append(time.perf_counter())
                return self._out.persist(output, states)

            changes = await self._worker.run(persist)
            ended = time.perf_counter()
            hop = started[0] - begun if started else 0.0
            self._pace.saved(None if since is None else begun - since, hop, ended - begun - hop)
            return changes

    async def save_state(self) -> None:
        """The rules' state, taken spread over turns of the loop (batches judged and findings
        saved meanwhile: a finding does not wait for a snapshot), then saved with the findings
        waiting by then. A device whose state a re-learn saved while this one was being taken
        keeps that newer state."""
        relearned: set[str] = set()
        self._relearned = relearned
        try:
            await self.save(await self.snapshot(spread=True), but=relearned)
        finally:
            self._relearned = None

    async def snapshot(self, spread: bool) -> dict[str, str]:
        """The rules' state, `_SNAPSHOT_PART` devices per turn of the event loop."""
        states: dict[str, str] = {}
        took = 0.0
        parts = self._engine.snapshot_parts(_SNAPSHOT_PART)
        while True:
            begun = time.perf_counter()
            part = next(parts, None)
            took += time.perf_counter() - begun
            if part is None:
                break
            states.update(part)
            if spread:
                await asyncio.sleep(0)
        self._pace.snapshot_taken(took)
        return states

    async def relearn_seal(
        self, device: str, by: str, reason: str, judge_now: Callable[[str], None]
    ) -> list[AlertChange]:
        """The device's seal baseline learnt afresh, after `judge_now(device)` judged the
        readings stored before the request (by the old baseline); the new state saved at once,
        with what the rules found before it first, so a restart does not bring the old
        baseline back."""
        async with self._lock:
            judge_now(device)
            output = self._engine.relearn_seal(device, by, reason)
            if self._relearned is not None:
                self._relearned.add(device)  # a snapshot under way holds its older state
            before, self._waiting = self._waiting, EngineOutput()
            self._waiting_since = None  # what waited is saved here, not by the next save
            states = self._engine.snapshot()
            return await self._worker.run(self._out.persist, output, states, before)
