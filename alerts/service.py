"""`AlertService`: the rule engine and the alert lifecycle wired to a store and a clock.

Live, the store writer calls `on_batch` (and the gateway's presence path `on_presence`) on
the event loop; the rules run there (CPU only) and their findings wait in memory. The `run`
task applies them to the alert book and the registers in a worker thread, ticks the clock for
absence rules, and saves the rules' state every `snapshot_s`.

Restart: `run` first calls `recover`, which restores the last saved rule state and replays the
readings stored since its watermark (or, with no saved state, the last `seal_baseline_days`
plus one day, to rebuild learned baselines). Findings re-sent by the replay are recognised by
the alert book and ignored, so nothing fires twice.

`process`, `tick` and `flush` are the same steps, synchronous, for `canteen eval` and tests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from alerts.engine import EngineOutput, RuleEngine
from alerts.lifecycle import AlertBook, AlertChange
from alerts.model import DisinfectionRecord, RetentionRecord, RuleId, SealHealthPoint
from alerts.store import AlertPersistence, RegisterStore
from core.clock import Clock, utc_from_ms
from core.config import SiteConfig
from core.readings import PresenceChange, ReadingBatch

__all__ = ["AlertService"]

log = logging.getLogger(__name__)

ChangeListener = Callable[[AlertChange], None]
_REPLAY_CHUNK = timedelta(hours=6)
R = TypeVar("R", DisinfectionRecord, RetentionRecord)


class AlertService:
    def __init__(
        self,
        config: SiteConfig,
        store: AlertPersistence,
        clock: Clock,
        *,
        tick_s: float = 30.0,
        snapshot_s: float = 300.0,
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
        self._held: list[ReadingBatch] = []
        self._recovered = False
        self._wake = asyncio.Event()
        self._listeners: list[ChangeListener] = []
        # The engine runs on the event loop; requests from the API (threads) take this too.
        self._engine_lock = threading.Lock()

    @property
    def registers(self) -> RegisterStore:
        """The registers and logs the rules write, for reading (the API)."""
        return self._store

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Told of every alert change (notifications, the live dashboard)."""
        self._listeners.append(listener)

    # -- live -------------------------------------------------------------------------------

    def on_batch(self, batch: ReadingBatch) -> None:
        """The store writer's listener: the batch is already stored."""
        if not self._recovered:
            self._held.append(batch)  # the replay reads it from the store anyway
            return
        with self._engine_lock:
            self._waiting.extend(self.engine.process(batch))
        self._wake.set()

    def on_presence(self, changes: Sequence[PresenceChange]) -> None:
        if self._recovered:
            with self._engine_lock:
                self._waiting.extend(self.engine.presence(changes))
            self._wake.set()

    async def run(self) -> None:
        """Recover, then apply findings, tick and snapshot until cancelled."""
        await asyncio.to_thread(self.recover)
        self._held.clear()
        last_snapshot = self._clock.now()
        try:
            while True:
                await self._until_woken_or_tick()
                with self._engine_lock:
                    self._waiting.extend(self.engine.tick())
                    output, self._waiting = self._waiting, EngineOutput()
                    states = None
                    if (self._clock.now() - last_snapshot).total_seconds() >= self._snapshot_s:
                        states, last_snapshot = self.engine.snapshot(), self._clock.now()
                await asyncio.to_thread(self._persist, output, states)
        finally:
            # Cancelled (the service stops): what is still waiting and the rules' state go to
            # the store before the task ends, so the next start resumes from here.
            with self._engine_lock:
                output, self._waiting = self._waiting, EngineOutput()
                states = self.engine.snapshot()
            await asyncio.to_thread(self._persist, output, states)

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

    # -- synchronous steps ------------------------------------------------------------------

    def relearn_seal(self, device: str, by: str, reason: str) -> list[AlertChange]:
        """Learn the device's door-seal baseline afresh from now on (from any thread: the
        API). The new state is saved at once, so a restart does not bring the old baseline
        back. LookupError: the device has no seal to judge."""
        with self._engine_lock:
            output = self.engine.relearn_seal(device, by, reason)
            states = self.engine.snapshot()
        changes = self.flush(output)
        self._store.save_rule_state(self._site, states)
        log.info("alerts: seal baseline of %s re-learned (%s: %s)", device, by, reason)
        return changes

    def recover(self, now: datetime | None = None) -> None:
        """Restore the saved rule state and replay what was stored after it."""
        with self._engine_lock:
            self._recover(now)

    def _recover(self, now: datetime | None) -> None:
        now = now or self._clock.now()
        states = self._store.load_rule_state(self._site)
        self.engine.restore(states)
        mark = self.engine.watermark_ms()
        start = utc_from_ms(mark) if mark is not None else now - self._history
        replayed = 0
        while start < now:
            end = min(start + _REPLAY_CHUNK, now)
            batch = self._store.readings_between(self._site, start, end)
            replayed += len(batch)
            self.flush(self.engine.process(batch, live=False))
            start = end
        self.flush(self.engine.tick(now))
        self._recovered = True
        log.info("alerts: %d saved rule states, %d readings replayed", len(states), replayed)

    def process(self, batch: ReadingBatch) -> list[AlertChange]:
        with self._engine_lock:
            output = self.engine.process(batch)
        return self.flush(output)

    def tick(self, now: datetime | None = None) -> list[AlertChange]:
        with self._engine_lock:
            output = self.engine.tick(now)
        return self.flush(output)

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
        with self._engine_lock:
            states = self.engine.snapshot()
        self._store.save_rule_state(self._site, states)

    def _persist(self, output: EngineOutput, states: dict[str, str] | None) -> None:
        self.flush(output)
        if states is not None:
            self._store.save_rule_state(self._site, states)


def _last_per_key(records: list[R]) -> list[R]:
    """Only the newest line per (device, meal, date): a window written three times in one
    flush needs one write."""
    latest: dict[tuple[str, str, str], R] = {}
    for record in records:
        latest[(record.device, record.meal, record.service_date.isoformat())] = record
    return list(latest.values())
