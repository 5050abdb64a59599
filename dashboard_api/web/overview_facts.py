"""What the overview shows besides the live values: the site's open alerts and today's
disinfection verdict per meal, kept in memory so a page view does not ask the store.

They change rarely and are told of as they change: the live hub hands every alert change the
rules make to `on_alert_change`, which updates the open alerts at once. Besides that the facts
are read again from the store at a bounded interval (a verdict the register writes without an
alert; a person's step, which the alert book does not announce): a view that finds them older
than `refresh_s` starts a read in a thread and is answered with what is known; a view that
finds them older than `wait_s` (the first after a quiet spell, so a person who just closed an
alert sees it closed) or of another day waits for the read. One read at a time, however many
views ask: under load, about one small read per `refresh_s`, never one per view.

An alert change that arrives while a read runs is applied again over the read's result when it
is newer than what the read found, so a read taken before the change never rolls it back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime

from alerts.lifecycle import AlertChange
from core.model import DeviceKind
from core.records import Alert, AlertQuery, AlertState, DisinfectionRecord
from dashboard_api.context import ApiContext
from dashboard_api.web.overview_tiles import MealVerdict

__all__ = [
    "MAX_OPEN_ALERTS",
    "NO_SERVICE",
    "OPEN",
    "OverviewFacts",
    "SiteFacts",
    "meals_today",
    "open_alerts",
]

log = logging.getLogger(__name__)

OPEN = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)
MAX_OPEN_ALERTS = 1000
NO_SERVICE = "no_service"  # a meal's word on a day the canteen does not serve


@dataclass(frozen=True, slots=True)
class SiteFacts:
    alerts: dict[int, Alert]  # open alerts by id
    meals: dict[str, list[MealVerdict]]  # per disinfection cabinet
    day: date  # the local day the verdicts are of


def open_alerts(context: ApiContext) -> list[Alert]:
    """The site's open alerts from the store (blocking: call in a thread)."""
    if context.alerts is None:
        return []
    query = AlertQuery(context.config.site.id, states=OPEN, limit=MAX_OPEN_ALERTS)
    return context.alerts.book.find(query)


def meals_today(context: ApiContext, now: datetime) -> dict[str, list[MealVerdict]]:
    """Per disinfection cabinet: each meal of the timetable with today's verdict, `pending`
    while the register has no line for it yet (its window has not closed, or is being
    judged). Blocking: call in a thread."""
    if context.alerts is None:
        return {}
    today = now.astimezone(context.config.site.zone).date()
    records: list[DisinfectionRecord] = context.alerts.registers.disinfection_records(
        context.config.site.id, today, today, None
    )
    by_line = {(r.device, r.meal): r.status.value for r in records}
    # A day the canteen does not serve (a weekend, holiday or vacation by the school calendar's
    # `meal_days`) has no meal to wait for: "not yet judged" there reads as a meal to come.
    calendar = context.config.calendar
    unjudged = "pending" if calendar.day_type(today) in calendar.meal_days else NO_SERVICE
    return {
        d.id: [
            MealVerdict(m.name, by_line.get((d.id, m.name), unjudged)) for m in context.config.meals
        ]
        for d in context.config.devices
        if d.kind is DeviceKind.DISINFECTION_CABINET
    }


class OverviewFacts:
    def __init__(self, context: ApiContext, *, refresh_s: float = 1.0, wait_s: float = 2.0):
        self._context = context
        self._refresh_s = refresh_s
        self._wait_s = wait_s
        self._facts: SiteFacts | None = None
        self._read_at = 0.0  # the loop's time of the last read
        self._reading: asyncio.Task[None] | None = None
        self._during_read: list[AlertChange] = []
        # Raised by each change of the facts: part of the overview's cache key.
        self.version = 0

    async def current(self) -> SiteFacts:
        """The facts, read again first when they are missing, too old or of another day."""
        loop = asyncio.get_running_loop()
        age = loop.time() - self._read_at
        today = self._context.clock.now().astimezone(self._context.config.site.zone).date()
        if self._facts is None or self._facts.day != today or age > self._wait_s:
            await self._read()
        elif age > self._refresh_s and self._reading is None:
            self._reading = loop.create_task(self._read_now(), name="overview-facts-read")
            self._reading.add_done_callback(self._read_done)
        assert self._facts is not None
        return self._facts

    def on_alert_change(self, change: AlertChange) -> None:
        """The live hub's alert listener (on the event loop)."""
        if self._reading is not None:
            self._during_read.append(change)
        if self._facts is not None and self._apply(self._facts.alerts, change.alert):
            self.version += 1

    async def _read(self) -> None:
        if self._reading is None:
            self._reading = asyncio.get_running_loop().create_task(
                self._read_now(), name="overview-facts-read"
            )
            self._reading.add_done_callback(self._read_done)
        try:
            await asyncio.shield(self._reading)
        except Exception:
            if self._facts is None:
                raise
            # Logged by `_read_done`; the page shows what was read last.

    async def _read_now(self) -> None:
        self._during_read = []
        now = self._context.clock.now()
        alerts, meals = await asyncio.to_thread(self._read_store, now)
        by_id = {a.id: a for a in alerts}
        for change in self._during_read:
            self._apply(by_id, change.alert)
        day = now.astimezone(self._context.config.site.zone).date()
        fresh = SiteFacts(by_id, meals, day)
        if fresh != self._facts:
            self.version += 1
        self._facts = fresh
        self._read_at = asyncio.get_running_loop().time()

    def _read_store(self, now: datetime) -> tuple[list[Alert], dict[str, list[MealVerdict]]]:
        return open_alerts(self._context), meals_today(self._context, now)

    def _read_done(self, task: asyncio.Task[None]) -> None:
        self._reading = None
        self._during_read = []
        if not task.cancelled() and task.exception() is not None:
            # The page keeps what it knows; the next view past `refresh_s` tries again.
            log.warning("overview: reading open alerts and verdicts failed: %s", task.exception())

    def _apply(self, alerts: dict[int, Alert], alert: Alert) -> bool:
        """The alert's new state into `alerts`, unless what is there is newer."""
        if alert.site != self._context.config.site.id:
            return False
        known = alerts.get(alert.id)
        if known is not None and known.updated_at > alert.updated_at:
            return False
        if alert.state in OPEN:
            alerts[alert.id] = alert
            return known != alert
        return alerts.pop(alert.id, None) is not None
