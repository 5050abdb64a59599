"""What the alerts package needs of persistence, as protocols; the embedded implementation is
`ingest.duckdb_alerts.DuckDBAlertStore` (SQL stays in ingest's backends), which satisfies them
structurally: it persists the record types of `core.records` and imports nothing of alerts.

Methods are synchronous and may block: async callers run them in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from core.readings import ReadingBatch
from core.records import (
    Alert,
    AlertHistoryEntry,
    AlertQuery,
    DailyTemperature,
    DayWindow,
    DeliveryAttempt,
    DisinfectionRecord,
    OutboxEntry,
    OutboxState,
    RetentionRecord,
    RuleId,
    SealHealthPoint,
)

__all__ = [
    "AlertChanges",
    "AlertPersistence",
    "AlertStore",
    "DayWindow",
    "OutboxStore",
    "RegisterStore",
    "RuleStateStore",
]


class AlertChanges(Protocol):
    """The alert book's writes inside one transaction (`AlertStore.transaction`): what it reads
    there sees what it wrote; notices enqueued there are committed with the alerts."""

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None: ...

    def alert(self, site: str, alert_id: int) -> Alert | None: ...

    def create_alert(self, alert: Alert) -> Alert: ...

    def replace_alert(self, alert: Alert) -> None: ...

    def delete_alert(self, alert_id: int) -> None: ...

    def add_history(self, entry: AlertHistoryEntry) -> None: ...

    def enqueue(self, entry: OutboxEntry) -> bool:
        """A notice into the outbox; False (nothing changed) when its key is already there."""
        ...


class AlertStore(Protocol):
    def transaction(self) -> AbstractContextManager[AlertChanges]:
        """One transaction for a batch of alert changes and their notices: all or nothing."""
        ...

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None:
        """The alert of (device, rule) that is not closed, if any (there is at most one)."""
        ...

    def open_alerts(self, site: str) -> list[Alert]:
        """Every alert of the site that is not closed (the alert book's memory of them)."""
        ...

    def alert(self, site: str, alert_id: int) -> Alert | None: ...

    def create_alert(self, alert: Alert) -> Alert:
        """Store a new alert; its `id` is assigned here and returned."""
        ...

    def replace_alert(self, alert: Alert) -> None: ...

    def delete_alert(self, alert_id: int) -> None: ...

    def find_alerts(self, query: AlertQuery) -> list[Alert]: ...

    def add_history(self, entry: AlertHistoryEntry) -> None: ...

    def alert_history(self, alert_id: int) -> list[AlertHistoryEntry]: ...


class RegisterStore(Protocol):
    def save_disinfection(self, records: Sequence[DisinfectionRecord]) -> None:
        """Insert or replace by (site, device, meal, service date)."""
        ...

    def disinfection_records(
        self, site: str, first: date, last: date, device: str | None
    ) -> list[DisinfectionRecord]: ...

    def save_retention(self, records: Sequence[RetentionRecord]) -> None:
        """Insert or replace by (site, device, meal, service date)."""
        ...

    def retention_records(
        self, site: str, first: date, last: date, device: str | None
    ) -> list[RetentionRecord]: ...

    def save_seal_health(self, points: Sequence[SealHealthPoint]) -> None:
        """Insert or replace by (site, device, ts)."""
        ...

    def seal_health(
        self, site: str, device: str, start: datetime, end: datetime
    ) -> list[SealHealthPoint]: ...

    def daily_temperature_log(
        self,
        site: str,
        device: str,
        days: Sequence[DayWindow],
        low_c: float | None,
        high_c: float | None,
        max_gap_s: float,
    ) -> list[DailyTemperature]:
        """Per local day: min, max, mean, minutes out of band, completeness of `temp_c`.

        A reading stands for the time until the next one, at most `max_gap_s`: a longer silence
        is missing data, neither in nor out of band.
        """
        ...


class RuleStateStore(Protocol):
    def save_rule_state(self, site: str, states: Mapping[str, str]) -> None:
        """Replace the snapshot (JSON text) of the named rule states."""
        ...

    def load_rule_state(self, site: str) -> dict[str, str]: ...

    def readings_between(
        self, site: str, start: datetime, end: datetime, devices: Sequence[str] | None = None
    ) -> ReadingBatch:
        """Stored readings with start < ts <= end, oldest first (to replay after a restart);
        only those of `devices` when given."""
        ...


class AlertPersistence(AlertStore, RegisterStore, RuleStateStore, Protocol):
    """Everything the alerts package keeps, in one database beside the readings."""


class OutboxStore(Protocol):
    """The notification outbox and its delivery log (`alerts.notify.outbox` owns the rules;
    the embedded implementation is `ingest.duckdb_outbox.DuckDBOutboxStore`)."""

    def enqueue(self, entry: OutboxEntry) -> bool:
        """Persist a new entry; False (and nothing changed) when its key is already there."""
        ...

    def entry(self, key: str) -> OutboxEntry | None: ...

    def entries(self, state: OutboxState | None = None) -> list[OutboxEntry]:
        """Every entry (in one state), oldest first."""
        ...

    def due(self, channel: str, now: datetime, limit: int) -> list[OutboxEntry]:
        """Pending entries of `channel` due at `now`: critical first, then oldest first (a
        retried notice keeps its place before newer ones)."""
        ...

    def next_attempt_at(self, channel: str) -> datetime | None:
        """When the earliest pending entry of `channel` is due (None: nothing pending)."""
        ...

    def pending_channels(self) -> list[str]: ...

    def recover_sending(self, now: datetime, reason: str) -> int:
        """Entries left `sending` (by a process that died mid-send) become pending, due now."""
        ...

    def mark_sending(self, key: str, now: datetime) -> bool:
        """pending -> sending; False when the entry is no longer pending."""
        ...

    def finish_attempt(self, entry: OutboxEntry, attempt: DeliveryAttempt | None) -> None:
        """Store an attempt's outcome (state, attempts, next attempt, error, sent time) and its
        delivery log row, in one transaction."""
        ...

    def merge(self, digest: OutboxEntry, keys: Sequence[str]) -> int:
        """Persist `digest` and mark the pending entries `keys` merged into it, in one
        transaction; returns how many were merged."""
        ...

    def deliveries_for_alert(self, alert_id: int) -> list[DeliveryAttempt]:
        """The delivery log rows of every notice about `alert_id`, oldest first."""
        ...

    def deliveries_for_notice(self, key: str) -> list[DeliveryAttempt]: ...

    def prune(self, before: datetime) -> int:
        """Delete sent (and merged, their digest done) entries last changed before `before`;
        returns how many. The delivery log is kept."""
        ...

    def state_counts(self) -> dict[str, int]:
        """How many entries are in each state."""
        ...

    def oldest_pending(self) -> datetime | None:
        """When the oldest pending entry was made (None: nothing waits)."""
        ...

    def outcomes_since(self, since: datetime) -> dict[str, int]:
        """Delivery log rows at or after `since`, counted by outcome."""
        ...

    def attempt_times(self, channel: str, since: datetime) -> list[datetime]:
        """When `channel` was tried at or after `since`, oldest first (to restore its rate
        limit's window after a restart)."""
        ...
