"""The alert lifecycle: pending → firing → acknowledged → resolved → closed, one open alert per
(device, rule), persisted through an `AlertStore` so a restart keeps every open alert.

Rules move alerts by their findings (pending, firing, cleared); people move them by
acknowledging, resolving and closing. A condition that comes back while its alert is resolved
but not yet closed fires the same alert again (its `occurrences` count up): that, with the
rules' hysteresis, is what keeps a flapping fridge from filling the list.

`AlertBook` serialises all of this under one lock: the engine applies findings from the event
loop's worker thread while the API acts from its own threads. A batch of findings is applied in
one store transaction; with a `Notifier` (the notifications), the notices about what changed are
planned inside it and committed with the alerts, then handed to their senders at once: the
shortest path from a finding to a message that still persists every notice before it is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from alerts.errors import AlertNotFoundError, TransitionError
from alerts.model import (
    FOOD_SAFETY_RULES,
    Alert,
    AlertAction,
    AlertHistoryEntry,
    AlertQuery,
    AlertState,
    Finding,
    FoodDecision,
    Phase,
)
from alerts.open_alerts import OpenAlerts, TrackedChanges
from alerts.pace import BookTimes
from alerts.refusals import blank_to_none, require_food_closure, require_state, when
from alerts.store import AlertChanges, AlertStore
from core.clock import Clock, utc_from_ms
from core.records import OutboxEntry

__all__ = ["RULE_ACTOR", "AlertBook", "AlertChange", "Notifier", "PlannedNotices"]

RULE_ACTOR = "rule"  # the actor recorded in the history when a rule, not a person, acted

_ACTIVE = (AlertState.FIRING, AlertState.ACKNOWLEDGED)


@dataclass(frozen=True, slots=True)
class AlertChange:
    alert: Alert
    action: AlertAction


@dataclass(frozen=True, slots=True)
class PlannedNotices:
    """What a `Notifier` planned for a batch of changes: outbox entries and history steps
    (escalations), written in the batch's transaction."""

    entries: Sequence[OutboxEntry] = ()
    history: Sequence[AlertHistoryEntry] = field(default_factory=tuple)


class Notifier(Protocol):
    """Plans the notices about alert changes inside the book's transaction (called from the
    thread applying findings, under the book's lock)."""

    def plan(self, changes: Sequence[AlertChange]) -> PlannedNotices:
        """The notices and history steps for `changes`; may update the planner's state."""
        ...

    def committed(self, added: Sequence[OutboxEntry]) -> None:
        """The transaction committed; `added` are the entries that were new: send them."""
        ...

    def abandoned(self) -> None:
        """The transaction rolled back after `plan`: forget what it planned."""
        ...


class AlertBook:
    def __init__(
        self, store: AlertStore, site: str, clock: Clock, notifier: Notifier | None = None
    ) -> None:
        self._store = store
        self._site = site
        self._clock = clock
        self._lock = threading.Lock()
        self._notifier = notifier
        self._remembered: OpenAlerts | None = None  # loaded at the first batch of findings
        self.times = BookTimes()

    def set_notifier(self, notifier: Notifier | None) -> None:
        """Plan notices inside each batch's transaction from now on (None: stop)."""
        with self._lock:
            self._notifier = notifier

    # -- rules ------------------------------------------------------------------------------

    def apply(self, findings: Iterable[Finding]) -> list[AlertChange]:
        """Move alerts by the rules' findings, in order, in one transaction with the notices
        about them; returns what changed. Each step's time goes to `times` (alerts.pace)."""
        batch = list(findings)
        if not batch:
            return []
        begun, begun_cpu = time.perf_counter(), time.thread_time()
        with self._lock:
            stamps = [time.perf_counter()]
            memory = self._memory()
            notifier, planned = self._notifier, False
            try:
                with self._store.transaction() as store_tx:
                    tx = TrackedChanges(store_tx, memory)
                    changes = [c for f in batch if (c := self._apply_one(tx, f)) is not None]
                    stamps.append(time.perf_counter())
                    added: list[OutboxEntry] = []
                    if notifier is not None and changes:
                        notices = notifier.plan(changes)  # undoes itself when it raises
                        planned = True
                        stamps.append(time.perf_counter())
                        added = _write_plan(tx, notices)
                    stamps.extend([time.perf_counter()] * (4 - len(stamps)))
            except BaseException:
                memory.discard()
                if notifier is not None and planned:
                    notifier.abandoned()
                raise
            memory.settle()
            stamps.append(time.perf_counter())
            if notifier is not None and planned:
                notifier.committed(added)
        if changes:
            steps = [b - a for a, b in zip([begun, *stamps], stamps, strict=False)]
            self.times.batch(steps, time.thread_time() - begun_cpu)
        return changes

    def _memory(self) -> OpenAlerts:
        """The open alerts, read from the store once (under the lock)."""
        if self._remembered is None:
            self._remembered = OpenAlerts(self._store.open_alerts(self._site))
        return self._remembered

    def _apply_one(self, tx: AlertChanges, finding: Finding) -> AlertChange | None:
        current = tx.open_alert(self._site, finding.device, finding.rule)
        at = utc_from_ms(finding.at_ms)
        if current is not None and current.last_finding_at and at < current.last_finding_at:
            return None  # replayed after a restart: already applied
        if finding.phase is Phase.CLEARED:
            return self._clear(tx, current, finding, at)
        if current is None:
            return self._open(tx, finding, at)
        if finding.phase is Phase.PENDING:
            return None  # already pending or beyond; a resolved alert waits for a firing
        return self._fire(tx, current, finding, at)

    def _open(self, tx: AlertChanges, finding: Finding, at: datetime) -> AlertChange:
        firing = finding.phase is Phase.FIRING
        alert = tx.create_alert(
            Alert(
                id=0,
                site=self._site,
                device=finding.device,
                rule=finding.rule,
                severity=finding.severity,
                state=AlertState.FIRING if firing else AlertState.PENDING,
                food_safety=finding.rule in FOOD_SAFETY_RULES,
                condition_active=not finding.latched,
                pending_since=utc_from_ms(finding.since_ms),
                message=finding.message,
                evidence=dict(finding.evidence),
                updated_at=at,
                fired_at=at if firing else None,
                last_finding_at=at,
            )
        )
        return _record(tx, alert, AlertAction.FIRED if firing else AlertAction.PENDING, at)

    def _fire(
        self, tx: AlertChanges, alert: Alert, finding: Finding, at: datetime
    ) -> AlertChange | None:
        fresh = _refreshed(alert, finding, at)
        if alert.state is AlertState.PENDING:
            return _save(
                tx, replace(fresh, state=AlertState.FIRING, fired_at=at), AlertAction.FIRED, at
            )
        if alert.state is AlertState.RESOLVED or finding.latched:
            if finding.latched and dict(finding.evidence) == dict(alert.evidence):
                return None
            again = replace(
                fresh,
                state=AlertState.FIRING,
                occurrences=alert.occurrences + 1,
                acknowledged_at=None,
                acknowledged_by=None,
                resolved_at=None,
                resolved_by=None,
            )
            return _save(tx, again, AlertAction.REFIRED, at)
        if finding.severity.rank > alert.severity.rank:
            # A worse verdict needs someone to look again, even if the warning was acknowledged.
            return _save(tx, replace(fresh, state=AlertState.FIRING), AlertAction.ESCALATED, at)
        tx.replace_alert(fresh)
        return None

    def _clear(
        self, tx: AlertChanges, alert: Alert | None, finding: Finding, at: datetime
    ) -> AlertChange | None:
        if alert is None:
            return None
        if alert.state is AlertState.PENDING:
            # It never fired: nobody was told, so nothing is left to show.
            tx.delete_alert(alert.id)
            return None
        if alert.state in _ACTIVE:
            actor = finding.actor or RULE_ACTOR
            resolved = replace(
                alert,
                state=AlertState.RESOLVED,
                condition_active=False,
                resolved_at=at,
                resolved_by=actor,
                evidence={**alert.evidence, **finding.evidence},
                updated_at=at,
                last_finding_at=at,
            )
            return _save(tx, resolved, AlertAction.RESOLVED, at, actor, finding.note)
        tx.replace_alert(replace(alert, condition_active=False, last_finding_at=at))
        return None

    # -- people -----------------------------------------------------------------------------

    def acknowledge(self, alert_id: int, by: str, note: str | None = None) -> Alert:
        with self._lock:
            alert = self._get(alert_id)
            if alert.state is AlertState.ACKNOWLEDGED:
                raise TransitionError(
                    f"alert {alert_id} was already acknowledged by {alert.acknowledged_by} at "
                    f"{when(alert.acknowledged_at)}",
                    alert_id=alert_id,
                    device=alert.device,
                )
            require_state(alert, (AlertState.FIRING,), "acknowledged")
            now = self._clock.now()
            acked = replace(
                alert,
                state=AlertState.ACKNOWLEDGED,
                acknowledged_at=now,
                acknowledged_by=by,
                note=note or alert.note,
                updated_at=now,
            )
            return self._person_step(acked, AlertAction.ACKNOWLEDGED, now, by, note)

    def resolve(self, alert_id: int, by: str, note: str | None = None) -> Alert:
        with self._lock:
            alert = self._get(alert_id)
            require_state(alert, _ACTIVE, "resolved")
            if alert.condition_active:
                raise TransitionError(
                    f"alert {alert_id} cannot be resolved by hand: its condition is still "
                    f"present ({alert.message.en}); it resolves by itself when the condition "
                    "clears",
                    alert_id=alert_id,
                    device=alert.device,
                )
            now = self._clock.now()
            done = replace(
                alert, state=AlertState.RESOLVED, resolved_at=now, resolved_by=by, updated_at=now
            )
            return self._person_step(done, AlertAction.RESOLVED, now, by, note)

    def close(
        self,
        alert_id: int,
        by: str,
        corrective_action: str | None = None,
        food_decision: FoodDecision | None = None,
        food_reason: str | None = None,
        note: str | None = None,
    ) -> Alert:
        with self._lock:
            alert = self._get(alert_id)
            require_state(alert, (AlertState.RESOLVED,), "closed")
            if alert.food_safety:
                require_food_closure(alert, corrective_action, food_decision, food_reason)
            now = self._clock.now()
            closed = replace(
                alert,
                state=AlertState.CLOSED,
                closed_at=now,
                closed_by=by,
                corrective_action=blank_to_none(corrective_action),
                food_decision=food_decision,
                food_reason=blank_to_none(food_reason),
                note=note or alert.note,
                updated_at=now,
            )
            return self._person_step(closed, AlertAction.CLOSED, now, by, note)

    # -- reading ----------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        return self._get(alert_id)

    def find(self, query: AlertQuery) -> list[Alert]:
        return self._store.find_alerts(query)

    def history(self, alert_id: int) -> list[AlertHistoryEntry]:
        self._get(alert_id)
        return self._store.alert_history(alert_id)

    # -- plumbing ---------------------------------------------------------------------------

    def _get(self, alert_id: int) -> Alert:
        alert = self._store.alert(self._site, alert_id)
        if alert is None:
            raise AlertNotFoundError(f"no alert {alert_id} at site {self._site}", alert_id=alert_id)
        return alert

    def _person_step(
        self, alert: Alert, action: AlertAction, at: datetime, by: str, note: str | None
    ) -> Alert:
        memory = self._remembered
        try:
            with self._store.transaction() as tx:
                saved = _save(TrackedChanges(tx, memory), alert, action, at, by, note).alert
        except BaseException:
            if memory is not None:
                memory.discard()
            raise
        if memory is not None:
            memory.settle()
        return saved


def _save(
    tx: AlertChanges,
    alert: Alert,
    action: AlertAction,
    at: datetime,
    actor: str = RULE_ACTOR,
    note: str | None = None,
) -> AlertChange:
    tx.replace_alert(alert)
    return _record(tx, alert, action, at, actor, note)


def _record(
    tx: AlertChanges,
    alert: Alert,
    action: AlertAction,
    at: datetime,
    actor: str = RULE_ACTOR,
    note: str | None = None,
) -> AlertChange:
    tx.add_history(AlertHistoryEntry(alert.id, at, action, alert.state, actor, note))
    return AlertChange(alert, action)


def _write_plan(tx: AlertChanges, planned: PlannedNotices) -> list[OutboxEntry]:
    """The planned history steps and notices into the transaction; the entries that were new."""
    for entry in planned.history:
        tx.add_history(entry)
    return [entry for entry in planned.entries if tx.enqueue(entry)]


def _refreshed(alert: Alert, finding: Finding, at: datetime) -> Alert:
    """The alert with the finding's latest severity, text and evidence."""
    return replace(
        alert,
        severity=finding.severity,
        message=finding.message,
        evidence=dict(finding.evidence),
        condition_active=not finding.latched,
        updated_at=at,
        last_finding_at=at,
    )
