"""Notifications wired into the service: the configured channels, the planner, the outbox store
and its dispatcher, fed by the alerts service's changes.

Flow: the alerts service tells every `AlertChange` to `on_alert_change` (from its worker
thread); the change is queued and handed to the planner on the event loop; the planner's plan
goes to the dispatcher (persisted in the outbox before anything is sent), its escalations into
the alert's history, and the planner's snapshot into the rule-state table, so a restart keeps
every timer and who was told. A named task ticks the planner every `tick_s` of the clock
(escalations, reminders, the end of quiet hours).

What people do (acknowledge, resolve, close, by the API, the page or the signed link) goes
through the alert book, which tells no listener; the tick looks up the alerts the planner
still tracks and hands it what changed, so an acknowledgement stops the escalation within one
tick, whichever door it came through (another process included).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import httpx

from alerts.lifecycle import RULE_ACTOR, AlertBook, AlertChange
from alerts.model import AlertAction, AlertHistoryEntry, AlertQuery, AlertState
from alerts.notify.channels import build_channel
from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Channel
from alerts.notify.planner import NotifyPlanner, Plan
from alerts.notify.ratelimit import channel_limits
from alerts.store import AlertPersistence
from core.clock import Clock
from core.config import SiteConfig, parse_broker_url
from core.notify_channels import MqttConfig
from gateway.alert_topic import AlertTopicPublisher
from ingest.duckdb_outbox import DuckDBOutboxStore

__all__ = ["PLANNER_STATE", "NotifyWiring"]

log = logging.getLogger(__name__)

# The planner's snapshot, a named state beside the rules' (the rule engine ignores names it
# does not know; a device id cannot contain a colon).
PLANNER_STATE = "notify:planner"
_HTTP_TIMEOUT_S = 15.0
# What a person's step looks like to the planner, by the state it left the alert in.
_PERSON_ACTIONS = {
    AlertState.ACKNOWLEDGED: AlertAction.ACKNOWLEDGED,
    AlertState.RESOLVED: AlertAction.RESOLVED,
    AlertState.CLOSED: AlertAction.CLOSED,
}


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
    ) -> None:
        self._config = config
        self._clock = clock
        self._site = config.site.id
        self._records = alerts
        self._book = book
        self._tick_s = tick_s
        self.outbox = DuckDBOutboxStore(db_path)
        try:
            self._http = httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S)
            self._topic = _topic_publisher(config, broker_url)
            channels = self._channels(config)
            self.dispatcher = Dispatcher(
                self.outbox, channels, clock, limits=channel_limits(config.notify.channels)
            )
            self.planner = NotifyPlanner(config, clock)
            self._restore()
        except BaseException:
            self.outbox.close()
            raise
        self._changes: deque[AlertChange] = deque()
        self._known: dict[int, AlertState] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._woken = asyncio.Event()
        self._planning = asyncio.Lock()

    def _channels(self, config: SiteConfig) -> Mapping[str, Channel]:
        publish = self._topic.publish if self._topic is not None else None
        return {
            name: build_channel(name, cfg, client=self._http, clock=self._clock, publish=publish)
            for name, cfg in config.notify.channels.items()
        }

    def _restore(self) -> None:
        saved = self._records.load_rule_state(self._site).get(PLANNER_STATE)
        if saved is None:
            return
        try:
            self.planner.restore(json.loads(saved))
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "notify: the planner's saved timers are unreadable (%s); starting afresh", exc
            )
            return
        log.info("notify: planner restored, %d alerts tracked", len(self.planner.pending()))

    # -- the alerts service's listener ------------------------------------------------------

    def on_alert_change(self, change: AlertChange) -> None:
        """Told of every alert change; may be called from the alerts service's worker thread."""
        self._changes.append(change)
        loop = self._loop
        if loop is None:
            return  # run() takes what queued up before it started
        if threading.get_ident() == self._loop_thread:
            self._woken.set()
        else:
            loop.call_soon_threadsafe(self._woken.set)

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Dispatch, plan and tick until cancelled, as named tasks."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if self._topic is not None:
            self._topic.start()
        self._woken.set()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.dispatcher.run(), name="notify-dispatcher")
            tasks.create_task(self._consume(), name="notify-planner")
            tasks.create_task(self._tick(), name="notify-tick")

    async def disconnect(self) -> None:
        """Close the HTTP client and the alert topic's connection (run() has ended)."""
        await self._http.aclose()
        if self._topic is not None:
            await self._topic.stop()

    def close(self) -> None:
        """Close the outbox's database connection."""
        self.outbox.close()

    async def _consume(self) -> None:
        while True:
            await self._woken.wait()
            self._woken.clear()
            while self._changes:
                change = self._changes.popleft()
                self._known[change.alert.id] = change.alert.state
                await self._planned(partial(self.planner.on_change, change))

    async def _tick(self) -> None:
        while True:
            await self._clock.sleep(self._tick_s)
            try:
                await self.step()
            except Exception:  # one bad step must not stop the notifications
                log.exception("notify: planner tick failed; next tick in %.0f s", self._tick_s)

    async def step(self) -> None:
        """One tick: people's steps on tracked alerts, then the planner's timers."""
        for change in await asyncio.to_thread(self._people_changes):
            self._known[change.alert.id] = change.alert.state
            await self._planned(partial(self.planner.on_change, change))
        await self._planned(self.planner.tick)

    def _people_changes(self) -> list[AlertChange]:
        """What people did to the alerts the planner tracks since it last heard of them. One
        query finds those still firing (nothing to tell); only the others are read one by one,
        so a tick costs the database little however many alerts are tracked."""
        tracked = self.planner.pending()
        if not tracked:
            return []
        still = AlertQuery(site=self._site, states=(AlertState.FIRING,), limit=len(tracked) + 100)
        firing = {alert.id for alert in self._records.find_alerts(still)}
        found: list[AlertChange] = []
        for alert_id in sorted(tracked):
            if alert_id in firing and self._known.get(alert_id) in (None, AlertState.FIRING):
                continue
            alert = self._records.alert(self._site, alert_id)
            if alert is None or alert.state is self._known.get(alert_id):
                continue
            action = _PERSON_ACTIONS.get(alert.state)
            if action is not None:
                found.append(AlertChange(alert, action))
        return found

    async def _planned(self, make: Callable[[], Plan]) -> None:
        """Take a plan (under one lock, so plans and snapshots land in order) and carry it
        out: notices into the outbox, escalations into the history, the snapshot saved."""
        async with self._planning:
            plan: Plan = make()
            if plan.notices:
                await self.dispatcher.submit(plan.notices)
            snapshot = json.dumps(self.planner.snapshot(), ensure_ascii=False)
            await asyncio.to_thread(self._record, plan, snapshot)

    def _record(self, plan: Plan, snapshot: str) -> None:
        for step in plan.escalations:
            alert = self._records.alert(self._site, step.alert_id)
            state = alert.state if alert is not None else AlertState.FIRING
            told = ", ".join(step.told_before) or "-"
            note = f"notification level {step.level}; told before: {told}"
            self._records.add_history(
                AlertHistoryEntry(
                    step.alert_id, step.at, AlertAction.ESCALATED, state, RULE_ACTOR, note
                )
            )
        self._records.save_rule_state(self._site, {PLANNER_STATE: snapshot})


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
