"""Where the rules' findings go: the alert book (one open alert per device and rule), the
registers (disinfection, sample retention, door-seal health) and whoever listens to alert
changes (notifications, the live dashboard). Runs wherever its caller runs: the alerts
service's own worker thread live, the caller's thread in `canteen eval` and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from alerts.engine import EngineOutput
from alerts.lifecycle import AlertBook, AlertChange
from alerts.model import DisinfectionRecord, RetentionRecord, SealHealthPoint
from alerts.store import RegisterStore, RuleStateStore

__all__ = ["ChangeListener", "FindingsOut"]

log = logging.getLogger(__name__)

ChangeListener = Callable[[AlertChange], None]
R = TypeVar("R", DisinfectionRecord, RetentionRecord)


class FindingsOut:
    def __init__(
        self, book: AlertBook, registers: RegisterStore, states: RuleStateStore, site: str
    ) -> None:
        self._book = book
        self._registers = registers
        self._states = states
        self._site = site
        self.listeners: list[ChangeListener] = []

    def flush(self, output: EngineOutput) -> list[AlertChange]:
        """Apply findings to the alert book and write register records."""
        changes = self._book.apply(output.findings)
        disinfection = [r for r in output.records if isinstance(r, DisinfectionRecord)]
        retention = [r for r in output.records if isinstance(r, RetentionRecord)]
        seal = [r for r in output.records if isinstance(r, SealHealthPoint)]
        if disinfection:
            self._registers.save_disinfection(_last_per_key(disinfection))
        if retention:
            self._registers.save_retention(_last_per_key(retention))
        if seal:
            self._registers.save_seal_health(seal)
        for change in changes:
            for listener in self.listeners:
                try:
                    listener(change)
                except Exception:
                    log.exception("alert change listener %r failed", listener)
        return changes

    def persist(
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
            self._states.save_rule_state(self._site, states)
        return changes


def _last_per_key(records: list[R]) -> list[R]:
    """Only the newest line per (device, meal, date): a window written three times in one
    flush needs one write."""
    latest: dict[tuple[str, str, str], R] = {}
    for record in records:
        latest[(record.device, record.meal, record.service_date.isoformat())] = record
    return list(latest.values())
