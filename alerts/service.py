"""`AlertService`: the rule engine and the alert lifecycle wired to a store and a clock.

One owner of rule state. Live, that is the event loop running `run`: the gateway calls
`on_batch` there with each batch as soon as it is decoded, before the store has it, once every
device has caught up (`takes_early`; the store's write no longer delays an alert), and the
presence path calls `on_presence`; the batch joins the queue of readings to judge
(`alerts.live_judge`) and `run`'s judging task works through it in slices, yielding to the loop
between two, devices whose readings cross a line first: a merged batch of thousands no longer
holds ingest for a quarter of a second, and the reading that fires an alert does not wait behind
the others. The rules run there (CPU only) and their findings wait in memory; `run` applies them
to the alert book and the registers in a worker thread, ticks the clock for absence rules once
the queue is empty (no deadline is judged on readings received but not judged yet), and saves
the rules' state every `snapshot_s` (the saves: `alerts.saving`). The queue is bounded
(`queue_readings`): past it, `on_batch` judges the oldest at once, which slows ingest as the
rules did before. A stop judges what is queued before the last save. The API does not touch the
rules from its threads: it awaits `relearn_seal_live`, which runs on the owner (handed over from
another loop if need be) and writes to the store in a worker thread. No lock guards the engine;
nothing that holds one can stall ingest. Snapshots are taken on the owner and written one at a
time, in the order they were taken, so an older one never overwrites a newer one.


Start: `run` restores the last saved rule state, then each device replays the readings stored
since its watermark (no saved state: the last `seal_baseline_days` plus one day) in small
groups, shortest first, in a thread and a scratch engine of their own (`alerts.catch_up`).
Meanwhile the devices already replayed are judged live; what arrives for a device still catching
up is held, in order, and judged right after its own replay, before anything newer (DESIGN.md,
time: a restart loses no reading for the rules). Until then batches come once stored, so the
hold is bounded (`hold_readings`): beyond it the held readings are dropped and their span is
read back from the store, where they already are (`alerts.held`). Findings re-sent by a replay
are recognised by the alert book and ignored, so nothing fires twice. Clock deadlines (`tick`)
wait until every device has caught up: none is judged on history not yet replayed. A stop
mid-way saves the caught-up devices' state and the others' as restored, so the next start
replays only those.

`process`, `tick`, `flush`, `recover`, `relearn_seal` and `save_state` are the same steps,
synchronous, for `canteen eval` and tests: their caller is the owner.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from alerts.catch_up import GROUP_SIZE, DeviceGroup, Replayed
from alerts.engine import EngineOutput, RuleEngine
from alerts.findings_out import ChangeListener, FindingsOut
from alerts.lifecycle import AlertBook, AlertChange
from alerts.live_judge import QUEUE_READINGS, LiveJudge
from alerts.model import RuleId
from alerts.pace import RulesPace
from alerts.saving import RuleSaves
from alerts.start_up import StartUp, joined
from alerts.store import AlertPersistence, RegisterStore
from alerts.worker import RulesWorker
from core.clock import Clock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig
from core.readings import PresenceChange, ReadingBatch

__all__ = ["AlertService"]

log = logging.getLogger(__name__)

# Readings held in memory for devices still catching up after a start: at about 40 bytes a
# reading, 200 k are 8 MB, hours of a school's stream (150 probes every 30 s) and far more than
# a device's replay takes. Beyond it the store, which holds them all already, is read instead.
HOLD_READINGS = 200_000
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
        catch_up_group: int = GROUP_SIZE,
        queue_readings: int = QUEUE_READINGS,
    ) -> None:
        self.engine = RuleEngine(config, clock)
        self.book = AlertBook(store, config.site.id, clock)
        self._out = FindingsOut(self.book, store, store, config.site.id)
        self._store = store
        self._clock = clock
        self._site = config.site.id
        self._tick_s = tick_s
        self._snapshot_s = snapshot_s
        self._snapshot_due = asyncio.Event()
        self.pace = RulesPace(book=self.book.times)
        self._live = LiveJudge(
            self.engine,
            self.pace,
            clock,
            lambda output, wake: self._keep(output, wake=wake),
            bound=queue_readings,
        )
        # The start-up replay, the devices not caught up yet and what is held for them.
        self._start_up = StartUp(
            config, clock, self.engine, hold_readings=hold_readings, group_size=catch_up_group
        )
        self._recovered = False  # every device has caught up
        self._stopping = threading.Event()  # asks a replay in its thread to stop early
        # The loop that owns the rules while `run` runs (None: the caller owns them).
        self._owner: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._worker = RulesWorker()  # saves, in a thread of their own
        self._replayer = RulesWorker("alerts-replay")  # the start-up replay, beside them
        self._saves = RuleSaves(self.engine, self._out, self.pace, self._worker)

    @property
    def registers(self) -> RegisterStore:
        """The registers and logs the rules write, for reading (the API)."""
        return self._store

    @property
    def live(self) -> bool:
        """Every device's rules have caught up and every batch is judged as it arrives."""
        return self._recovered

    async def until_live(self) -> None:
        """Return once every device's rules have caught up (`live`)."""
        await self._ready.wait()

    def catch_up_figures(self) -> dict[str, Any]:
        """How far the start-up replay is (`/api/health`, `alerts.start_up`)."""
        return self._start_up.figures()

    def fault_lines(self) -> list[str]:
        """The devices' rules that failed on a reading, in words, for `/api/health`'s
        `faults` (`alerts.rule_faults`): its alerts may be missing until it is fixed."""
        return [
            f"rule {rule} of device {device} failed {f['count']} times, last on the reading "
            f"at {f['last_reading']} ({f['error']}); its other rules judge on"
            for device, rules in self.engine.fault_figures().items()
            for rule, f in rules.items()
        ]

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Told of every alert change (notifications, the live dashboard)."""
        self._out.listeners.append(listener)

    # -- live -------------------------------------------------------------------------------

    def takes_early(self) -> bool:
        """Readings are judged as soon as the gateway has decoded them, before they are
        stored, once every device has caught up and `run` owns the rules. During the start-up
        they come once stored: an overflowing hold is read back from the store
        (`alerts.held`), which must have them by then."""
        return self._recovered and self._owner is not None

    def on_batch(self, batch: ReadingBatch) -> None:
        """The gateway's rules feed (on the event loop): a decoded batch's readings, stored
        or about to be (`takes_early`), each once, in the order they came."""
        if self._start_up.behind:
            batch = self._start_up.hold_behind(batch)
            if not len(batch):
                return
        if self._owner is None:  # no judging task: the caller owns the rules
            self._keep(self._judge(batch))
            return
        self._live.add(batch)

    def on_presence(self, changes: Sequence[PresenceChange]) -> None:
        if not self._start_up.presence_waits(changes):
            self._keep(self.engine.presence(changes))

    def _judge(self, batch: ReadingBatch) -> EngineOutput:
        begun, begun_cpu = time.perf_counter(), time.thread_time()
        output = self.engine.process(batch)
        cpu, wall = time.thread_time() - begun_cpu, time.perf_counter() - begun
        self.pace.judged(batch.ts_ms, to_epoch_ms(self._clock.now()), cpu, wall)
        return output

    def _keep(self, output: EngineOutput, *, wake: bool = True) -> None:
        """Findings wait for the next save; `run` is woken for them."""
        self._saves.keep(output)
        if wake:
            self._wake.set()

    async def run(self) -> None:
        """Catch up (judging the devices caught up meanwhile), then apply findings, tick and
        snapshot until cancelled."""
        self._owner = asyncio.get_running_loop()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._start(), name="alerts-catch-up")
                tasks.create_task(self._serve(), name="alerts-serve")
                tasks.create_task(self._live.run(), name="alerts-judge")
                tasks.create_task(self._snapshots(), name="alerts-snapshots")
        finally:
            self._owner = None
            if self._start_up.loaded:
                self._live.judge_now()
                # Cancelled (the service stops): what is still waiting and the rules' state go
                # to the store before the task ends, so the next start resumes from here. A
                # device still catching up keeps the state it was restored with.
                await self._saves.save(await self._saves.snapshot(spread=False))

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
            self._live.judge_now(device)  # stored under the old limits: judged by them
            self.engine.reset_limits(device)
            self._live.limits_changed(device)
            log.info("alerts: limits of %s changed; its rules judge by them from now on", device)

        await self._on_owner(reset)

    async def _serve(self) -> None:
        """Findings to the alert book as they come; the clock's ticks; the snapshots' turns."""
        last_snapshot = self._clock.now()
        while True:
            await self._until_woken_or_tick()
            if self._recovered and self._live:
                self._live.owe_tick()  # done once the queue is empty, by the judging task
            elif self._recovered:  # no deadline is judged on history not replayed yet
                self._keep(self.engine.tick(), wake=False)
            due = (self._clock.now() - last_snapshot).total_seconds() >= self._snapshot_s
            if due and self._start_up.loaded:
                last_snapshot = self._clock.now()
                self._snapshot_due.set()
            await self._saves.save()

    async def _snapshots(self) -> None:
        """The rules' state when due, taken spread over turns of the loop (batches judged and
        findings saved meanwhile: a finding does not wait for a snapshot), then saved with
        the findings waiting by then. A device whose state a re-learn saved while this one was
        being taken keeps that newer state."""
        while True:
            await self._snapshot_due.wait()
            self._snapshot_due.clear()
            await self._save_state()

    async def _save_state(self) -> None:
        await self._saves.save_state()

    async def _relearn_on_owner(self, device: str, by: str, reason: str) -> list[AlertChange]:
        if self._owner is not None and not self._recovered:
            await self._ready.wait()
        changes = await self._saves.relearn_seal(device, by, reason, self._live.judge_now)
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

    # -- start-up ---------------------------------------------------------------------------

    async def _start(self) -> None:
        """Read the saved state, then replay group after group, each released to the live
        stream as soon as it has caught up."""
        states = await self._worker.run(self._store.load_rule_state, self._site)
        now, found = self._clock.now(), EngineOutput()
        devices = self._start_up.load(states, now, found)
        self._keep(found)
        log.info("alerts: %d saved rule states; %d devices to replay", len(states), devices)
        catch_up = self._start_up.catch_up
        while (group := catch_up.next_group(self._start_up.urgent)) is not None:
            replayed = await self._replay_in_thread(group, now, None)
            while (until := self._start_up.read_back_until(replayed)) is not None:
                replayed = await self._replay_in_thread(group, utc_from_ms(until), replayed)
            last = not catch_up.waiting
            self._keep(self._start_up.release(group, replayed, self._judge, last=last))
            await asyncio.sleep(0)
        self._keep(self.engine.tick(now))
        self._went_live()

    async def _replay_in_thread(
        self, group: DeviceGroup, end: datetime, before: Replayed | None
    ) -> Replayed:
        """The group's replay (`before`: a first pass, continued up to `end`) in the replay
        thread; its findings then saved in the worker thread, before any live finding of the
        group can be. If `run` is cancelled, the replay is asked to stop after its current
        chunk and awaited, so nothing touches the scratch engine once `run` has ended."""
        found = EngineOutput()
        since = before.end if before is not None else None
        replay = functools.partial(self._start_up.catch_up.replay, since=since)
        try:
            replayed = await self._replayer.run(
                replay,
                group,
                self._read,
                found.extend,
                end,
                self._stopping,
                on_cancel=self._stopping.set,
            )
        finally:
            self._stopping.clear()
        await self._worker.run(self._out.flush, found)
        return joined(before, replayed)

    def _went_live(self) -> None:
        self._recovered = True
        self._ready.set()
        self._wake.set()
        progress = self._start_up.catch_up.progress
        log.info(
            "alerts: live; %d readings replayed for %d devices in %d groups",
            progress.readings_replayed,
            progress.devices,
            progress.groups_done,
        )

    def _read(self, start: datetime, end: datetime, devices: tuple[str, ...]) -> ReadingBatch:
        return self._store.readings_between(self._site, start, end, devices)

    # -- synchronous steps ------------------------------------------------------------------

    def relearn_seal(self, device: str, by: str, reason: str) -> list[AlertChange]:
        """Learn the device's door-seal baseline afresh from now on. The new state is saved at
        once, so a restart does not bring the old baseline back. LookupError: the device has
        no seal to judge. (The live service's API uses `relearn_seal_live`.)"""
        self._caller_owns()
        output = self.engine.relearn_seal(device, by, reason)
        changes = self._out.persist(output, self.engine.snapshot())
        log.info("alerts: seal baseline of %s re-learned (%s: %s)", device, by, reason)
        return changes

    def recover(self, now: datetime | None = None) -> None:
        """Restore the saved rule state, replay what was stored after it, then process what
        arrived meanwhile, group by group as `run` does."""
        self._caller_owns()
        now, found = now or self._clock.now(), EngineOutput()
        self._start_up.load(self._store.load_rule_state(self._site), now, found)
        self.flush(found)
        catch_up, read, stop = self._start_up.catch_up, self._read, self._stopping
        while (group := catch_up.next_group(self._start_up.urgent)) is not None:
            replayed = catch_up.replay(group, read, self.flush, now, stop)
            while (until := self._start_up.read_back_until(replayed)) is not None:
                end, since = utc_from_ms(until), replayed.end
                more = catch_up.replay(group, read, self.flush, end, stop, since=since)
                replayed = joined(replayed, more)
            last = not catch_up.waiting
            self.flush(self._start_up.release(group, replayed, self._judge, last=last))
        self.flush(self.engine.tick(now))
        self._went_live()

    def process(self, batch: ReadingBatch) -> list[AlertChange]:
        self._caller_owns()
        return self.flush(self.engine.process(batch))

    def tick(self, now: datetime | None = None) -> list[AlertChange]:
        self._caller_owns()
        return self.flush(self.engine.tick(now))

    def flush(self, output: EngineOutput) -> list[AlertChange]:
        """Apply findings to the alert book and write register records."""
        return self._out.flush(output)

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


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()
