"""The login rate limit: failures counted per account and per client address in a sliding
window; past the limit, logins are refused until the lockout has passed, without checking the
password (so a locked account cannot be guessed either).

The address limit is four times the account's: a school's staff usually reach the service
through one NAT address, and one person's typos must not lock out the whole kitchen, while a
guessing run across many names from one address is still stopped.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock
from core.config import AuthSettings

__all__ = ["LoginThrottle"]

log = logging.getLogger(__name__)

ADDRESS_FACTOR = 4
_MAX_RECORDS = 10_000


@dataclass(slots=True)
class _Record:
    failures: deque[datetime]
    locked_until: datetime | None = None


class LoginThrottle:
    def __init__(self, settings: AuthSettings, clock: Clock) -> None:
        self._clock = clock
        self._window = timedelta(minutes=settings.login_window_min)
        self._lockout = timedelta(minutes=settings.login_lockout_min)
        self._limits = {"account": settings.login_max_failures}
        self._limits["address"] = settings.login_max_failures * ADDRESS_FACTOR
        self._records: dict[tuple[str, str], _Record] = {}

    def locked_until(self, account: str, address: str) -> datetime | None:
        """When the later of the two locks ends, or None when neither holds."""
        now = self._clock.now()
        ends = [
            record.locked_until
            for record in (self._get("account", account), self._get("address", address))
            if record is not None and record.locked_until is not None and record.locked_until > now
        ]
        return max(ends) if ends else None

    def failed(self, account: str, address: str) -> None:
        now = self._clock.now()
        if len(self._records) >= _MAX_RECORDS:
            self._forget_stale(now)
        for kind, key in (("account", account), ("address", address)):
            record = self._records.setdefault((kind, key.casefold()), _Record(deque()))
            record.failures.append(now)
            while record.failures and record.failures[0] <= now - self._window:
                record.failures.popleft()
            log.warning(
                "login failed: %s %r, %d of %d failures in %s",
                kind, key, len(record.failures), self._limits[kind], self._window,
            )  # fmt: skip
            if len(record.failures) >= self._limits[kind]:
                record.locked_until = now + self._lockout
                record.failures.clear()
                log.warning("login locked: %s %r until %s", kind, key, record.locked_until)

    def succeeded(self, account: str) -> None:
        self._records.pop(("account", account.casefold()), None)

    def _forget_stale(self, now: datetime) -> None:
        """Bound the memory a run of random names can take: keep locks and recent failures."""
        for key, record in list(self._records.items()):
            recent = record.failures and record.failures[-1] > now - self._window
            if not recent and (record.locked_until is None or record.locked_until <= now):
                del self._records[key]

    def _get(self, kind: str, key: str) -> _Record | None:
        return self._records.get((kind, key.casefold()))
