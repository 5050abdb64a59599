"""The alert book's memory of its open alerts: the one alert of each (device, rule) that is not
closed, so applying a finding reads no row the book wrote itself.

The book is the only writer of its site's alerts (`alerts.lifecycle`), under its lock, so what
it wrote is what the store holds: the memory is loaded once from the store and then follows the
book's own writes. Those writes go through `TrackedChanges`, which notes each change beside the
transaction; the notes become the memory only when the transaction committed (`settle`), and
are dropped when it rolled back (`discard`), so the memory never holds what the store does not.
"""

from __future__ import annotations

from collections.abc import Iterable

from alerts.model import Alert, AlertHistoryEntry, AlertState, RuleId
from alerts.store import AlertChanges
from core.records import OutboxEntry

__all__ = ["OpenAlerts", "TrackedChanges"]

_Key = tuple[str, RuleId]


class OpenAlerts:
    """Open alerts by (device, rule), with the uncommitted changes of one transaction on top."""

    def __init__(self, alerts: Iterable[Alert]) -> None:
        self._open: dict[_Key, Alert] = {}
        for alert in sorted(alerts, key=lambda a: a.id):
            self._open[(alert.device, alert.rule)] = alert  # the newest one wins, as in SQL
        self._noted: dict[_Key, Alert | None] = {}

    def __len__(self) -> int:
        return len(self._open)

    def get(self, device: str, rule: RuleId) -> Alert | None:
        key = (device, rule)
        if key in self._noted:
            return self._noted[key]
        return self._open.get(key)

    def note(self, alert: Alert) -> None:
        """`alert` was written in the open transaction (a closed one leaves the memory)."""
        self._noted[(alert.device, alert.rule)] = (
            None if alert.state is AlertState.CLOSED else alert
        )

    def note_deleted(self, alert_id: int) -> None:
        for key in (*self._noted, *self._open):
            found = self.get(*key)
            if found is not None and found.id == alert_id:
                self._noted[key] = None
                return

    def settle(self) -> None:
        """The transaction committed: its changes are the memory now."""
        for key, alert in self._noted.items():
            if alert is None:
                self._open.pop(key, None)
            else:
                self._open[key] = alert
        self._noted.clear()

    def discard(self) -> None:
        """The transaction rolled back: forget its changes."""
        self._noted.clear()


class TrackedChanges:
    """`AlertChanges` that notes every alert written into `OpenAlerts` (`alerts.store`)."""

    def __init__(self, tx: AlertChanges, memory: OpenAlerts | None) -> None:
        self._tx = tx
        self._memory = memory

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None:
        if self._memory is not None:
            return self._memory.get(device, rule)
        return self._tx.open_alert(site, device, rule)

    def alert(self, site: str, alert_id: int) -> Alert | None:
        return self._tx.alert(site, alert_id)

    def create_alert(self, alert: Alert) -> Alert:
        created = self._tx.create_alert(alert)
        if self._memory is not None:
            self._memory.note(created)
        return created

    def replace_alert(self, alert: Alert) -> None:
        self._tx.replace_alert(alert)
        if self._memory is not None:
            self._memory.note(alert)

    def delete_alert(self, alert_id: int) -> None:
        self._tx.delete_alert(alert_id)
        if self._memory is not None:
            self._memory.note_deleted(alert_id)

    def add_history(self, entry: AlertHistoryEntry) -> None:
        self._tx.add_history(entry)

    def enqueue(self, entry: OutboxEntry) -> bool:
        return self._tx.enqueue(entry)
