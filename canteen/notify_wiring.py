"""Notifications wired into the service: the configured channels, the planner, the outbox store
and its dispatcher, fed by the alerts service's changes.

Flow: the wiring is the alert book's `Notifier`. When the book applies the rules' findings (in
the alerts service's worker thread), it asks the planner for the notices about what changed
inside its transaction, so the alerts, their escalation steps and the notices are committed
together; the new notices are then handed straight to the dispatcher's lanes on the event loop
(no query for what is due, no poll). The planner's snapshot goes to the rule-state table at
most every `snapshot_every_s` after the book's plans (a burst of alert changes is one save, not
one per change) and when the service stops; a crash in between loses no timer and repeats no
message: on start, `reconcile` lines the restored snapshot up with the alert book and the
outbox, both written before it (each open alert's current round from its history, who was told
and when from its notices: `alerts.notify.recall`). Ticks save their own plans at once. A
plan whose transaction rolled back is forgotten (the planner goes back to its state before it).
A named task ticks the planner every `tick_s` of the clock (escalations, reminders, the end of
quiet hours); another prunes sent notices older than `outbox_retention_days` every hour (the
delivery log stays), keeping every notice about an open alert (what a restart recalls).

What people do (acknowledge, resolve, close, by the API, the page or the signed link) goes
through the alert book, which tells no listener; the tick looks up the alerts the planner
still tracks and hands it what changed, so an acknowledgement stops the escalation within one
tick, whichever door it came through (another process included), and the reminders and
escalations about it still waiting in the outbox are withdrawn (`notify_records`), on start
too, as are those of an alert the rules resolved. What is read and written beside the planner
lives in `canteen.notify_records`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import httpx

from alerts.lifecycle import AlertBook, AlertChange, PlannedNotices
from alerts.model import Alert, AlertAction, AlertState
from alerts.notify.channels import build_channel
from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Channel
from alerts.notify.outbox import RetryPolicy, entry_for
from alerts.notify.planner import Checkpoint, NotifyPlanner, Plan
from alerts.notify.ratelimit import channel_limits
from alerts.store import AlertPersistence
from canteen.notify_records import PLANNER_STATE, NotifyRecords, history_row
from core.clock import Clock
from core.config import SiteConfig, parse_broker_url
from core.notify_channels import MqttConfig
from core.records import OutboxEntry
from gateway.alert_topic import AlertTopicPublisher
from ingest.duckdb_outbox import DuckDBOutboxStore

__all__ = ["PLANNER_STATE", "NotifyWiring"]

log = logging.getLogger(__name__)

_HTTP_TIMEOUT_S = 15.0
_PRUNE_EVERY_S = 3600.0
# The planner's snapshot after the book's plans: at most one save per this many real seconds
# (a save is a DuckDB commit; at 1 k msg/s one per alert change was 2.4 % of the service's
# samples). What changed since the last save is re-derived from the alert book on start.
SNAPSHOT_EVERY_S = 2.0
# A stopping service saves the planner's state for at most this long (real seconds).
_SAVE_ON_STOP_S = 5.0


class NotifyWiring:
    def __init__(
        self,
        config: SiteConfig,
        clock: Clock,
        *,
        db_path: Path,
        alerts: AlertPersistence,
        book: AlertBook,
        broker_url: str | None = None,
        tick_s: float = 5.0,
        snapshot_every_s: float = SNAPSHOT_EVERY_S,
    ) -> None:
        if snapshot_every_s < 0:
            raise ValueError(f"snapshot_every_s must be >= 0 s, got {snapshot_every_s}")
        self._config = config
        self._clock = clock
        self._book = book
        self._tick_s = tick_s
        self._snapshot_every_s = snapshot_every_s
        self.outbox = DuckDBOutboxStore(db_path)
        self._records = NotifyRecords(config.site.id, alerts, self.outbox)
        try:
            self._http = httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S)
            self._topic = _topic_publisher(config, broker_url)
            channels = self._channels(config)
            retry = config.notify.retry
            self.dispatcher = Dispatcher(
                self.outbox,
                channels,
                clock,
                limits=channel_limits(config.notify.channels),
                policy=RetryPolicy(
                    base_s=retry.base_s, cap_s=retry.cap_s, max_attempts=retry.attempts
                ),
            )
            self.planner = NotifyPlanner(config, clock)
            self._restore()
        except BaseException:
            self.outbox.close()
            raise
        self._known: dict[int, AlertState] = {}
        # Alerts the rules resolved in the book's last plan (kept till it commits), then those
        # whose waiting reminders and escalations the next tick withdraws (the loop's).
        self._resolving: list[Alert] = []
        self._untrue: dict[int, Alert] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._planning = asyncio.Lock()
        # Held from a plan inside the book's transaction until it committed or rolled back, so
        # no snapshot and no tick sees a plan that may yet be undone.
        self._planner_lock = threading.Lock()
        self._before_plan: Checkpoint | None = None
        self._snapshot_due = asyncio.Event()
        book.set_notifier(self)

    def _channels(self, config: SiteConfig) -> Mapping[str, Channel]:
        publish = self._topic.publish if self._topic is not None else None
        return {
            name: build_channel(name, cfg, client=self._http, clock=self._clock, publish=publish)
            for name, cfg in config.notify.channels.items()
        }

    def _restore(self) -> None:
        saved = self._records.load_snapshot()
        if saved is None:
            return
        try:
            self.planner.restore(saved)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "notify: the planner's saved timers are unreadable (%s); starting afresh", exc
            )
            return
        log.info("notify: planner restored, %d alerts tracked", len(self.planner.pending()))

    # -- the alerts service's listener ------------------------------------------------------

    def on_alert_change(self, change: AlertChange) -> None:
        """Told of every alert change (the alerts service's listener); the planner heard of it
        already inside the book's transaction, so only its state is remembered here."""
        self._known[change.alert.id] = change.alert.state

    # -- the alert book's notifier (its worker thread, under its lock) ----------------------

    def plan(self, changes: Sequence[AlertChange]) -> PlannedNotices:
        """The notices and escalation steps for `changes`, for the book's transaction."""
        self._planner_lock.acquire()
        try:
            self._before_plan = self.planner.checkpoint()
            plan = Plan()
            self._resolving = []
            for change in changes:
                self._known[change.alert.id] = change.alert.state
                if change.action is AlertAction.RESOLVED:
                    self._resolving.append(change.alert)
                step = self.planner.on_change(change)
                plan.notices.extend(step.notices)
                plan.escalations.extend(step.escalations)
        except BaseException:
            self._undo_plan()
            raise
        now = self._clock.now()
        return PlannedNotices(
            entries=[entry_for(notice, now) for notice in plan.notices],
            history=[
                history_row(step, self._known.get(step.alert_id, AlertState.FIRING))
                for step in plan.escalations
            ],
        )

    def committed(self, added: Sequence[OutboxEntry]) -> None:
        """Hand the new notices to their lanes on the event loop; save the planner's state."""
        self._before_plan = None
        resolved, self._resolving = self._resolving, []
        self._planner_lock.release()
        self._on_loop(partial(self._after_commit, added, resolved))

    def abandoned(self) -> None:
        self._undo_plan()

    def _undo_plan(self) -> None:
        saved, self._before_plan = self._before_plan, None
        self._resolving = []
        try:
            if saved is not None:
                self.planner.rollback(saved)
        finally:
            self._planner_lock.release()

    def _after_commit(self, added: Sequence[OutboxEntry], resolved: Sequence[Alert]) -> None:
        self.dispatcher.hand_over(added)
        self._untrue.update((alert.id, alert) for alert in resolved)
        self._snapshot_due.set()

    def _on_loop(self, call: Callable[[], None]) -> None:
        """Run `call` on the event loop (now, when this is it); before `run`, the dispatcher
        finds the notices in the outbox when it starts."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            call()
            return
        try:
            loop.call_soon_threadsafe(call)
        except RuntimeError:  # the loop is closed: the service stopped
            log.info("notify: stopped; committed notices wait in the outbox for the next start")

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Line the timers up with the alert book, then dispatch, plan and tick until
        cancelled, as named tasks; the planner's state is saved on the way out."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if self._topic is not None:
            self._topic.start()
        try:
            try:
                await self.reconcile()
            except Exception:  # the tick's people pass and timers still run
                log.exception("notify: lining the planner up with the alert book failed")
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.dispatcher.run(), name="notify-dispatcher")
                tasks.create_task(self._snapshots(), name="notify-snapshots")
                tasks.create_task(self._tick(), name="notify-tick")
                tasks.create_task(self._prune(), name="notify-prune")
        finally:
            await self._save_on_stop()

    async def reconcile(self) -> None:
        """Line the restored timers up with the alert book and the outbox (what happened after
        the last saved snapshot, `NotifyPlanner.reconcile`), withdraw the waiting reminders and
        escalations of alerts someone acted on meanwhile; then the timers due."""
        async with self._planning:
            plan, checkpoint, withdrawn = await asyncio.to_thread(self._reconcile_locked)
            self.dispatcher.forget(withdrawn)
            if plan.notices:
                await self.dispatcher.submit(plan.notices)
            await asyncio.to_thread(self._record, plan, checkpoint)

    def _reconcile_locked(self) -> tuple[Plan, Checkpoint, list[str]]:
        # Under the planner's lock: a plan of the book waits, so no alert committed between the
        # read and the reconcile can be taken for a closed one.
        with self._planner_lock:
            alerts, recalled = self._records.open_alerts()
            closed = set(self.planner.pending()) - {alert.id for alert in alerts}
            plan = self.planner.reconcile(alerts, recalled)
            withdrawn = self._records.withdraw(alerts, closed, self._clock.now())
            return plan, self.planner.checkpoint(), withdrawn

    async def _save_on_stop(self) -> None:
        """The latest state, for the next start (a stop is not a crash: nothing to re-derive)."""
        try:
            async with asyncio.timeout(_SAVE_ON_STOP_S):
                await asyncio.to_thread(self._save_latest)
        except Exception:
            log.exception("notify: the planner's state could not be saved on stop")

    async def disconnect(self) -> None:
        """Close the HTTP client and the alert topic's connection (run() has ended)."""
        await self._http.aclose()
        if self._topic is not None:
            await self._topic.stop()

    def close(self) -> None:
        """Close the outbox's database connection."""
        self.outbox.close()

    async def _snapshots(self) -> None:
        """Save the planner's state after the plans the book committed (the latest one), at
        most every `snapshot_every_s`: the plans of that span are one save."""
        while True:
            await self._snapshot_due.wait()
            self._snapshot_due.clear()
            try:
                async with self._planning:
                    await asyncio.to_thread(self._save_latest)
            except Exception:  # the next plan or tick saves again
                log.exception("notify: the planner's state could not be saved")
            # Real time: a pace for the disk, not a timer of the alerts.
            await asyncio.sleep(self._snapshot_every_s)

    async def _prune(self) -> None:
        """Sent notices leave the outbox after the retention; their delivery log stays."""
        keep = timedelta(days=self._config.notify.outbox_retention_days)
        while True:
            try:
                await self.prune(keep)
            except Exception:
                log.exception("notify: pruning the outbox failed; again in an hour")
            await self._clock.sleep(_PRUNE_EVERY_S)

    async def prune(self, keep: timedelta) -> int:
        """Delete sent notices last changed more than `keep` ago, but none about an open or
        tracked alert (`notify_records`); how many."""
        pruned = await asyncio.to_thread(self._prune_now, self._clock.now() - keep)
        if pruned:
            log.info("notify: %d sent notices older than %s pruned from the outbox", pruned, keep)
        return pruned

    def _prune_now(self, before: datetime) -> int:
        with self._planner_lock:
            tracked = set(self.planner.pending())
        keep = sorted(tracked.union(self._records.open_alert_ids()))
        return self.outbox.prune(before, keep_alerts=keep)

    async def _tick(self) -> None:
        while True:
            await self._clock.sleep(self._tick_s)
            try:
                await self.step()
            except Exception:  # one bad step must not stop the notifications
                log.exception("notify: planner tick failed; next tick in %.0f s", self._tick_s)

    async def step(self) -> None:
        """One tick: people's steps on tracked alerts, then the planner's timers; what people
        did, and what the rules resolved since the last tick, made the alert's waiting
        reminders and escalations untrue: they are withdrawn from the outbox."""
        for change in await asyncio.to_thread(self._people_changes):
            self._known[change.alert.id] = change.alert.state
            await self._planned(partial(self.planner.on_change, change))
            self._untrue[change.alert.id] = change.alert
        await self._planned(self.planner.tick)
        if self._untrue:
            acted, self._untrue = list(self._untrue.values()), {}
            keys = await asyncio.to_thread(self._records.withdraw, acted, (), self._clock.now())
            self.dispatcher.forget(keys)

    def _people_changes(self) -> list[AlertChange]:
        with self._planner_lock:
            tracked = self.planner.pending()
        return self._records.people_changes(tracked, self._known)

    async def _planned(self, make: Callable[[], Plan]) -> None:
        """Take a plan (in a thread, under the planner's lock: a transaction holding it does
        not stall the loop, and a cancelled tick cannot leave it taken) and carry it out:
        notices into the outbox and to their lanes, escalations into the history, the
        snapshot saved; in order. A plan with neither that changed a timer (an acknowledgement)
        leaves the save to the batched snapshots; one that changed nothing saves nothing."""
        async with self._planning:
            plan, checkpoint, changed = await asyncio.to_thread(self._plan_locked, make)
            if plan.notices:
                await self.dispatcher.submit(plan.notices)
            if plan.notices or plan.escalations:
                await asyncio.to_thread(self._record, plan, checkpoint)
            elif changed:
                self._snapshot_due.set()

    def _plan_locked(self, make: Callable[[], Plan]) -> tuple[Plan, Checkpoint, bool]:
        with self._planner_lock:
            before = self.planner.checkpoint()
            plan = make()
            after = self.planner.checkpoint()
        return plan, after, after != before

    def _save_latest(self) -> None:
        """Save the planner's state: copied under its lock (briefly: a plan inside the book's
        transaction waits for it), turned into JSON outside it."""
        with self._planner_lock:
            checkpoint = self.planner.checkpoint()
        self._save_snapshot(checkpoint)

    def _save_snapshot(self, checkpoint: Checkpoint) -> None:
        self._records.save_snapshot(checkpoint)

    def _record(self, plan: Plan, checkpoint: Checkpoint) -> None:
        self._records.record_escalations(plan.escalations)
        self._records.save_snapshot(checkpoint)


def _topic_publisher(config: SiteConfig, broker_url: str | None) -> AlertTopicPublisher | None:
    """A connection for the alert topic, when a channel publishes there."""
    if not any(isinstance(c, MqttConfig) for c in config.notify.channels.values()):
        return None
    host, port = parse_broker_url(broker_url or config.mqtt.broker)
    return AlertTopicPublisher(
        host,
        port,
        client_id=f"{config.mqtt.client_id}-alerts",
        username=config.mqtt.username,
        password=config.mqtt.password_text(),
        keepalive_s=config.mqtt.keepalive_s,
    )
