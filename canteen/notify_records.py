"""What the notify side reads and writes beside its planner: the planner's saved state (a named
state in the rule-state table), the open alerts and what the outbox and their history recall
of each one's current round (`alerts.notify.recall`, read on start), the escalations the
planner made (ESCALATED rows in the alerts' history), what people did to tracked alerts since
the planner last heard of them, and the notices a person's step made untrue.

Withdrawn notices: a reminder says nobody acknowledged, an escalation that nobody acted. Once
someone acknowledged, resolved or closed the alert (by the API, its page or the signed link,
whichever process served it), those still waiting in the outbox (a receiver that asked to wait,
a service that was down) are withdrawn, never sent; the first notice and the resolved one stay
true and go out, the first saying who acted (`alerts.notify.outbox.settle`). A digest waiting
with it says the same of each alert acted on, and is withdrawn once every alert in it was
(unless one of them is a resolution: that is news). A notice on its way at that moment is
marked as well; should that attempt fail, the sender withdraws it (`outbox.withheld`).

Pruning keeps every notice about an open alert, whatever its age: they are what a restarted
planner recalls of the alert's round (who was told, the level, how many reminders), so an alert
firing longer than the retention is not told afresh after a restart.

All of it is blocking database work: the wiring calls it in a thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from alerts.lifecycle import RULE_ACTOR, AlertChange
from alerts.model import Alert, AlertAction, AlertHistoryEntry, AlertQuery, AlertState
from alerts.notify.model import Notice, NoticeKind, Settled
from alerts.notify.outbox import notice_of, settle
from alerts.notify.planner import Checkpoint, Escalation
from alerts.notify.recall import Recalled, level_note, recall
from alerts.store import AlertPersistence
from core.records import OutboxEntry, OutboxState
from ingest.duckdb_outbox import DuckDBOutboxStore

__all__ = ["PLANNER_STATE", "NotifyRecords", "history_row"]

log = logging.getLogger(__name__)

# The planner's snapshot, a named state beside the rules' (the rule engine ignores names it
# does not know; a device id cannot contain a colon).
PLANNER_STATE = "notify:planner"
# Open alerts read at start to line the restored timers up with the book.
_OPEN_STATES = tuple(state for state in AlertState if state.is_open)
_RECONCILE_LIMIT = 100_000
# What a person's step looks like to the planner, by the state it left the alert in.
_PERSON_ACTIONS = {
    AlertState.ACKNOWLEDGED: AlertAction.ACKNOWLEDGED,
    AlertState.RESOLVED: AlertAction.RESOLVED,
    AlertState.CLOSED: AlertAction.CLOSED,
}
_UNTRUE_AFTER_A_STEP = (NoticeKind.REMINDER.value, NoticeKind.ESCALATED.value)


def history_row(step: Escalation, state: AlertState) -> AlertHistoryEntry:
    """An escalation of the planner as the alert's history shows it."""
    note = level_note(step.level, step.told_before)
    return AlertHistoryEntry(step.alert_id, step.at, AlertAction.ESCALATED, state, RULE_ACTOR, note)


class NotifyRecords:
    def __init__(self, site: str, alerts: AlertPersistence, outbox: DuckDBOutboxStore) -> None:
        self._site = site
        self._alerts = alerts
        self._outbox = outbox

    # -- the planner's state ----------------------------------------------------------------

    def load_snapshot(self) -> dict[str, Any] | None:
        """The planner's saved state (None: none, or unreadable: logged)."""
        saved = self._alerts.load_rule_state(self._site).get(PLANNER_STATE)
        if saved is None:
            return None
        try:
            data = json.loads(saved)
        except ValueError as exc:
            log.error("notify: the planner's saved timers are not JSON (%s); starting afresh", exc)
            return None
        return data if isinstance(data, dict) else None

    def save_snapshot(self, checkpoint: Checkpoint) -> None:
        snapshot = json.dumps(checkpoint.snapshot(), ensure_ascii=False)
        self._alerts.save_rule_state(self._site, {PLANNER_STATE: snapshot})

    # -- start ------------------------------------------------------------------------------

    def open_alerts(self) -> tuple[list[Alert], dict[int, Recalled]]:
        """The open alerts, and what the records recall of each one's current round."""
        query = AlertQuery(site=self._site, states=_OPEN_STATES, limit=_RECONCILE_LIMIT)
        alerts = self._alerts.find_alerts(query)
        notices: dict[int, list[Notice]] = {}
        for entry in self._outbox.entries_for_alerts([alert.id for alert in alerts]):
            try:
                notice = notice_of(entry)
            except ValueError as exc:  # one unreadable row must not stop the start
                log.error("notify: outbox entry %s unreadable (%s); not recalled", entry.key, exc)
                continue
            for alert_id in entry.alert_ids:
                notices.setdefault(alert_id, []).append(notice)
        history = self._alerts.alert_history
        return alerts, {a.id: recall(a, history(a.id), notices.get(a.id, ())) for a in alerts}

    def open_alert_ids(self) -> list[int]:
        """The ids of the open alerts (their notices are kept however old: see the docstring)."""
        query = AlertQuery(site=self._site, states=_OPEN_STATES, limit=_RECONCILE_LIMIT)
        return [alert.id for alert in self._alerts.find_alerts(query)]

    # -- the planner's escalations ----------------------------------------------------------

    def record_escalations(self, escalations: Sequence[Escalation]) -> None:
        for step in escalations:
            alert = self._alerts.alert(self._site, step.alert_id)
            state = alert.state if alert is not None else AlertState.FIRING
            self._alerts.add_history(history_row(step, state))

    # -- people's steps ---------------------------------------------------------------------

    def people_changes(
        self, tracked: Collection[int], known: Mapping[int, AlertState]
    ) -> list[AlertChange]:
        """What people did to the `tracked` alerts since the planner heard of them (`known`).
        One query finds those still firing (nothing to tell); only the others are read one by
        one, so a tick costs the database little however many alerts are tracked."""
        if not tracked:
            return []
        still = AlertQuery(site=self._site, states=(AlertState.FIRING,), limit=len(tracked) + 100)
        firing = {alert.id for alert in self._alerts.find_alerts(still)}
        found: list[AlertChange] = []
        for alert_id in sorted(tracked):
            if alert_id in firing and known.get(alert_id) in (None, AlertState.FIRING):
                continue
            alert = self._alerts.alert(self._site, alert_id)
            if alert is None or alert.state is known.get(alert_id):
                continue
            action = _PERSON_ACTIONS.get(alert.state)
            if action is not None:
                found.append(AlertChange(alert, action))
        return found

    def withdraw(
        self, alerts: Sequence[Alert], closed: Collection[int], now: datetime
    ) -> list[str]:
        """Withdraw the waiting reminders and escalations of `alerts` someone acted on, and of
        the `closed` alert ids, and mark those alerts in the other notices still waiting (see
        the module docstring); the keys withdrawn or changed."""
        acted = [a for a in alerts if a.state in _PERSON_ACTIONS]
        keys: list[str] = []
        for alert in acted:
            keys += self._withdraw([alert.id], f"{_step_of(alert)} before it went out", now)
        if closed:
            keys += self._withdraw(sorted(closed), "closed before it went out", now)
        steps = {a.id: _settled_step(a, now) for a in acted}
        steps.update((i, Settled(AlertState.CLOSED.value, now)) for i in closed)
        return keys + self._settle(steps, now)

    def _withdraw(self, alert_ids: Sequence[int], why: str, now: datetime) -> list[str]:
        reason = f"withdrawn, not sent: its alert was {why}"
        keys = self._outbox.withdraw(alert_ids, _UNTRUE_AFTER_A_STEP, now, reason)
        for key in keys:
            log.info("notify: %s %s", key, reason)
        return keys

    def _settle(self, steps: Mapping[int, Settled], now: datetime) -> list[str]:
        """Mark the acted-on alerts in the notices still waiting; withdraw the digests left
        with nothing to act on."""
        if not steps:
            return []
        changed = self._outbox.revise_unsent(sorted(steps), partial(_settled, steps, now))
        for entry in changed:
            if entry.state is OutboxState.WITHDRAWN:
                log.info("notify: %s %s", entry.key, entry.last_error)
        return [entry.key for entry in changed]


def _settled(steps: Mapping[int, Settled], now: datetime, entry: OutboxEntry) -> OutboxEntry | None:
    try:
        return settle(entry, steps, now)
    except ValueError as exc:  # one unreadable notice must not stop the others
        log.error("notify: outbox entry %s unreadable (%s); left as it is", entry.key, exc)
        return None


def _by(alert: Alert) -> str | None:
    return {
        AlertState.ACKNOWLEDGED: alert.acknowledged_by,
        AlertState.RESOLVED: alert.resolved_by,
        AlertState.CLOSED: alert.closed_by,
    }.get(alert.state)


def _settled_step(alert: Alert, now: datetime) -> Settled:
    """The step as a waiting notice says it: when the book has it, and who (not the rules)."""
    at = {
        AlertState.ACKNOWLEDGED: alert.acknowledged_at,
        AlertState.RESOLVED: alert.resolved_at,
        AlertState.CLOSED: alert.closed_at,
    }.get(alert.state)
    by = _by(alert)
    return Settled(alert.state.value, at or now, None if by == RULE_ACTOR else by)


def _step_of(alert: Alert) -> str:
    """`acknowledged by wang`: the step that made the waiting notices untrue."""
    by = _by(alert)
    return f"{alert.state.value} by {by}" if by else alert.state.value
