"""`AlertService`: the rule engine and the alert lifecycle wired to a store and a clock.

One owner of rule state. Live, that is the event loop running `run`: the store writer calls
`on_batch` (and the gateway's presence path `on_presence`) there, the rules run there (CPU
only) and their findings wait in memory; `run` applies them to the alert book and the
registers in a worker thread, ticks the clock for absence rules, and saves the rules' state
every `snapshot_s`. The API does not touch the rules from its threads: it awaits
`relearn_seal_live`, which runs on the owner (handed over from another loop if need be) and
writes to the store in a worker thread. No lock guards the engine; nothing that holds one can
stall ingest. Snapshots are taken on the owner and written one at a time, in the order they
were taken, so an older one never overwrites a newer one.

Restart: `run` first restores the last saved rule state and replays the readings stored since
its watermark (or, with no saved state, the last `seal_baseline_days` plus one day, to rebuild
learned baselines), in a worker thread that owns the rules meanwhile. What arrives during that
time is held, in order, and processed after it (DESIGN.md, time: a restart loses no reading
for the rules). The queue is bounded (`hold_readings`): beyond it the held batches are dropped
and the span of their readings is replayed from the store instead, where they already are.
Findings re-sent by a replay are recognised by the alert book and ignored, so nothing fires
twice.

`process`, `tick`, `flush`, `recover`, `relearn_seal` and `save_state` are the same steps,
synchronous, for `canteen eval` and tests: their caller is the owner.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from alerts.engine import EngineOutput, RuleEngine
from alerts.held import Held, HeldArrivals
from alerts.lifecycle import AlertBook, AlertChange
from alerts.model import DisinfectionRecord, RetentionRecord, RuleId, SealHealthPoint
from alerts.pace import RulesPace
from alerts.store import AlertPersistence, RegisterStore
from alerts.worker import RulesWorker
from core.clock import Clock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig
from core.readings import PresenceChange, ReadingBatch

__all__ = ["AlertService"]

log = logging.getLogger(__name__)

ChangeListener = Callable[[AlertChange], None]
_REPLAY_CHUNK = timedelta(hours=6)
# Readings held in memory while the rules' state is restored: at about 40 bytes a reading,
# 200 k are 8 MB, hours of a school's stream (150 probes every 30 s) and far more than a
# restore takes. Beyond it the store, which holds them all already, is read instead.
HOLD_READINGS = 200_000
_HOLD_YIELD = 64  # held items processed between two turns of the event loop
# Devices whose state is taken in one turn of the event loop. A fridge's state is ~0.1-0.2 ms
# of JSON; 1,000 devices at once held the loop (and ingest with it) for 100-200 ms.
_SNAPSHOT_PART = 50
R = TypeVar("R", DisinfectionRecord, RetentionRecord)
T = TypeVar("T")


class AlertService:
    def __init__(
        self,
        config: SiteConfig,
        store: AlertPersistence,
        clock: Clock,
        *,
        tick_s: float = 30.0,
        snapshot_s: float = 300.0,
        hold_readings: int = HOLD_READINGS,
    ) -> None:
        self.engine = RuleEngine(config, clock)
        # With no saved state, a restart replays enough history for the seal baselines.
        self._history = timedelta(
            days=max((config.rules_for(d).seal_baseline_days for d in config.devices), default=0)
            + 1
        )
        self.book = AlertBook(store, config.site.id, clock)
        self._store = store
        self._clock = clock
        self._site = config.site.id
        self._tick_s = tick_s
        self._snapshot_s = snapshot_s
        self._waiting = EngineOutput()
        self._waiting_since: float | None = None  # perf_counter when findings began to wait
        self.pace = RulesPace(book=self.book.times)
        self._listeners: list[ChangeListener] = []
        # What arrives before the rules' state is restored, in order (alerts.held).
        self._held = HeldArrivals(hold_readings)
        self._recovered = False
        self._stopping = threading.Event()  # asks a restore in its thread to stop early
        # The loop that owns the rules while `run` runs (None: the caller owns them).
        self._owner: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        # Findings and snapshots go to the store one batch at a time, in the order taken.
        self._saving = asyncio.Lock()
        self._worker = RulesWorker()  # saves and the restore, in a thread of their own

    @property
    def registers(self) -> RegisterStore:
        """The registers and logs the rules write, for reading (the API)."""
        return self._store

    @property
    def live(self) -> bool:
        """The rules' state is restored and every batch is judged as it arrives."""
        return self._recovered

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Told of every alert change (notifications, the live dashboard)."""
        self._listeners.append(listener)

    # -- live -------------------------------------------------------------------------------

    def on_batch(self, batch: ReadingBatch) -> None:
        """The store writer's listener (on the event loop): the batch is already stored."""
        if not self._recovered:
            self._held.batch(batch)
            return
        begun, begun_cpu = time.perf_counter(), time.thread_time()
        output = self.engine.process(batch)
        cpu, wall = time.thread_time() - begun_cpu, time.perf_counter() - begun
        self.pace.judged(batch.ts_ms, to_epoch_ms(self._clock.now()), cpu, wall)
        self._keep(output)

    def on_presence(self, changes: Sequence[PresenceChange]) -> None:
        if not self._recovered:
            self._held.presence(changes)
            return
        self._keep(self.engine.presence(changes))

    def _keep(self, output: EngineOutput, *, wake: bool = True) -> None:
        """Findings wait for the next save; `run` is woken for them."""
        if output and self._waiting_since is None:
            self._waiting_since = time.perf_counter()
        self._waiting.extend(output)
        if wake:
            self._wake.set()

    async def run(self) -> None:
        """Recover, then apply findings, tick and snapshot until cancelled."""
        self._owner = asyncio.get_running_loop()
        try:
            await self._in_worker(self._restore, None)
            await self._catch_up()
            await self._serve()
        finally:
            self._owner = None
            if self._recovered:
                # Cancelled (the service stops): what is still waiting and the rules' state go
                # to the store before the task ends, so the next start resumes from here.
                await self._save(with_state=True, spread=False)
            # else: a restore still running in its thread owns the rules; the store holds
            # all it would have saved, and the next start replays it again.

    async def relearn_seal_live(self, device: str, by: str, reason: str) -> list[AlertChange]:
        """`relearn_seal` for the API: run on the rules' owner once they are restored, the
        new state saved before it returns, without blocking ingest meanwhile."""
        return await self._on_owner(lambda: self._relearn_on_owner(device, by, reason))

    async def reset_limits_live(self, device: str) -> None:
        """The device's limits changed in the config (an admin's override): its rules take
        them over on the rules' owner, between two batches, with no restart and no lock; the
        rules' state is saved with the next snapshot. KeyError: not a device of this site."""

        async def reset() -> None:
            if self._owner is not None and not self._recovered:
                await self._ready.wait()
            self.engine.reset_limits(device)
            log.info("alerts: limits of %s changed; its rules judge by them from now on", device)

        await self._on_owner(reset)

    async def _serve(self) -> None:
        last_snapshot = self._clock.now()
        while True:
            await self._until_woken_or_tick()
            self._keep(self.engine.tick(), wake=False)
            due = (self._clock.now() - last_snapshot).total_seconds() >= self._snapshot_s
            if due:
                last_snapshot = self._clock.now()
            await self._save(with_state=due)

    async def _save(self, *, with_state: bool, spread: bool = True) -> list[AlertChange]:
        """Apply the waiting findings and, if asked, save the rules' state, in a worker thread.
        Both are taken when the previous save is done, so saves land in order. The state is
        taken first (`spread` over turns of the event loop, batches judged in between), the
        findings after it: every finding made before a device's state was taken is written
        with or before that state, so a restart from it never skips one."""
        async with self._saving:
            states = await self._snapshot(spread) if with_state else None
            output, self._waiting = self._waiting, EngineOutput()
            since, self._waiting_since = self._waiting_since, None
            if not output and states is None:
                return []  # nothing found: no hop to a worker thread for it
            begun = time.perf_counter()
            started: list[float] = []

            def persist() -> list[AlertChange]:
                started.append(time.perf_counter())
                return self._persist(output, states)

            changes = await self._worker.run(persist)
            ended = time.perf_counter()
            hop = started[0] - begun if started else 0.0
            self.pace.saved(None if since is None else begun - since, hop, ended - begun - hop)
            return changes

    async def _snapshot(self, spread: bool) -> dict[str, str]:
        """The rules' state, `_SNAPSHOT_PART` devices per turn of the event loop."""
        states: dict[str, str] = {}
        took = 0.0
        parts = self.engine.snapshot_parts(_SNAPSHOT_PART)
        while True:
            begun = time.perf_counter()
            part = next(parts, None)
            took += time.perf_counter() - begun
            if part is None:
                break
            states.update(part)
            if spread:
                await asyncio.sleep(0)
        self.pace.snapshot_taken(took)
        return states

    async def _relearn_on_owner(self, device: str, by: str, reason: str) -> list[AlertChange]:
        if self._owner is not None and not self._recovered:
            await self._ready.wait()
        async with self._saving:
            output = self.engine.relearn_seal(device, by, reason)
            # What the rules found before it goes first; the new state is saved at once, so a
            # restart does not bring the old baseline back.
            before, self._waiting = self._waiting, EngineOutput()
            self._waiting_since = None  # what waited is saved here, not by the next save
            states = self.engine.snapshot()
            changes = await self._worker.run(self._persist, output, states, before)
        log.info("alerts: seal baseline of %s re-learned (%s: %s)", device, by, reason)
        return changes

    async def _on_owner(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` on the loop that owns the rules (here, when it is this one or none)."""
        owner = self._owner
        if owner is None or owner is asyncio.get_running_loop():
            return await work()
        future = asyncio.run_coroutine_threadsafe(_awaited(work), owner)
        return await asyncio.wrap_future(future)

    async def _until_woken_or_tick(self) -> None:
        """Wait for new findings or `tick_s` of the clock's time, whichever comes first."""
        woken = asyncio.ensure_future(self._wake.wait())
        ticked = asyncio.ensure_future(self._clock.sleep(self._tick_s))
        try:
            await asyncio.wait({woken, ticked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            ticked.cancel()
        self._wake.clear()

    # -- restart ----------------------------------------------------------------------------

    async def _catch_up(self) -> None:
        """Process what arrived while restoring, in order, on the event loop (the span that
        overflowed in a worker thread, which owns the rules meanwhile); then go live. The
        last check for more and going live happen in one step of the loop, so no batch can
        slip between them."""
        done = 0
        while self._held:
            span = self._held.take_overflow()
            if span is not None:
                output, self._waiting = self._waiting, EngineOutput()
                await self._in_worker(self._replay_span, output, span)
                continue
            self._waiting.extend(self._take(self._held.take()))
            done += 1
            if done % _HOLD_YIELD == 0:
                await asyncio.sleep(0)
        self._recovered = True
        self._ready.set()
        self._wake.set()
        log.info("alerts: live; %d batches that arrived while restoring processed", done)

    async def _in_worker(self, work: Callable[..., None], *args: object) -> None:
        """Run a step of the restore in a worker thread, which owns the rules meanwhile. If
        `run` is cancelled, the step is asked to stop after its current chunk and awaited, so
        nothing touches the rules or the store once `run` has ended."""
        try:
            await self._worker.run(work, *args, on_cancel=self._stopping.set)
        finally:
            self._stopping.clear()

    def _take(self, item: Held) -> EngineOutput:
        if isinstance(item, ReadingBatch):
            return self.engine.process(item)
        return self.engine.presence(item)

    def _restore(self, now: datetime | None) -> None:
        """Restore the saved rule state and replay what was stored after it, up to `now`."""
        now = now or self._clock.now()
        states = self._store.load_rule_state(self._site)
        self.engine.restore(states)
        mark = self.engine.watermark_ms()
        start = utc_from_ms(mark) if mark is not None else now - self._history
        replayed = self._replay(start, now, live=False)
        if not self._stopping.is_set():
            self.flush(self.engine.tick(now))
        log.info("alerts: %d saved rule states, %d readings replayed", len(states), replayed)

    def _replay_span(self, before: EngineOutput, span: tuple[int, int]) -> None:
        """Read back the readings that did not fit in memory while restoring (they arrived
        live); what the rules have seen already is skipped by each device's watermark."""
        self.flush(before)
        oldest, newest = span
        replayed = self._replay(utc_from_ms(oldest - 1), utc_from_ms(newest), live=True)
        log.info("alerts: %d readings that arrived while restoring replayed", replayed)

    def _replay(self, start: datetime, end: datetime, *, live: bool) -> int:
        """Run the stored readings in (start, end] through the rules, a chunk at a time."""
        replayed = 0
        while start < end and not self._stopping.is_set():
            stop = min(start + _REPLAY_CHUNK, end)
            batch = self._store.readings_between(self._site, start, stop)
            replayed += len(batch)
            self.flush(self.engine.process(batch, live=live))
            start = stop
        return replayed

    # -- synchronous steps ------------------------------------------------------------------

    def relearn_seal(self, device: str, by: str, reason: str) -> list[AlertChange]:
        """Learn the device's door-seal baseline afresh from now on. The new state is saved at
        once, so a restart does not bring the old baseline back. LookupError: the device has
        no seal to judge. (The live service's API uses `relearn_seal_live`.)"""
        self._caller_owns()
        output = self.engine.relearn_seal(device, by, reason)
        changes = self._persist(output, self.engine.snapshot())
        log.info("alerts: seal baseline of %s re-learned (%s: %s)", device, by, reason)
        return changes

    def recover(self, now: datetime | None = None) -> None:
        """Restore the saved rule state, replay what was stored after it, then process what
        arrived meanwhile."""
        self._caller_owns()
        self._restore(now)
        while self._held:
            span = self._held.take_overflow()
            if span is not None:
                self._replay_span(EngineOutput(), span)
            else:
                self.flush(self._take(self._held.take()))
        self._recovered = True

    def process(self, batch: ReadingBatch) -> list[AlertChange]:
        self._caller_owns()
        return self.flush(self.engine.process(batch))

    def tick(self, now: datetime | None = None) -> list[AlertChange]:
        self._caller_owns()
        return self.flush(self.engine.tick(now))

    def flush(self, output: EngineOutput) -> list[AlertChange]:
        """Apply findings to the alert book and write register records."""
        changes = self.book.apply(output.findings)
        disinfection = [r for r in output.records if isinstance(r, DisinfectionRecord)]
        retention = [r for r in output.records if isinstance(r, RetentionRecord)]
        seal = [r for r in output.records if isinstance(r, SealHealthPoint)]
        if disinfection:
            self._store.save_disinfection(_last_per_key(disinfection))
        if retention:
            self._store.save_retention(_last_per_key(retention))
        if seal:
            self._store.save_seal_health(seal)
        for change in changes:
            for listener in self._listeners:
                try:
                    listener(change)
                except Exception:
                    log.exception("alert change listener %r failed", listener)
        return changes

    def devices_per_rule(self) -> dict[RuleId, int]:
        """How many devices each rule watches (to weigh false alarms per device-day)."""
        return self.engine.devices_per_rule()

    def save_state(self) -> None:
        self._caller_owns()
        self._store.save_rule_state(self._site, self.engine.snapshot())

    def _caller_owns(self) -> None:
        """The synchronous steps are for a caller that owns the rules: not while `run` does."""
        if self._owner is not None:
            raise RuntimeError(
                "the alert rules belong to the running service's event loop; hand work to it "
                "(on_batch, relearn_seal_live) instead of calling the synchronous steps"
            )

    def _persist(
        self,
        output: EngineOutput,
        states: dict[str, str] | None,
        before: EngineOutput | None = None,
    ) -> list[AlertChange]:
        """Flush `before`, then `output` (whose changes are returned), then save `states`."""
        if before is not None:
            self.flush(before)
        changes = self.flush(output)
        if states is not None:
            self._store.save_rule_state(self._site, states)
        return changes


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def _last_per_key(records: list[R]) -> list[R]:
    """Only the newest line per (device, meal, date): a window written three times in one
    flush needs one write."""
    latest: dict[tuple[str, str, str], R] = {}
    for record in records:
        latest[(record.device, record.meal, record.service_date.isoformat())] = record
    return list(latest.values())
