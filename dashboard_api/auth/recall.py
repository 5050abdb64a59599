"""`Recall`: who a session cookie or a bearer token stood for, remembered for a moment.

Every API call and page view asks who is calling; answering from the user store costs a DuckDB
read in a worker thread per request, which under 20 concurrent clients cost more than a chart
answered from memory. An answer is kept for `RECALL_S` seconds of the injected clock, and
forgotten at once when this process changes people, roles, sessions or tokens (`Auth` and the
admin pages call `forget`). A change made by another process (the `canteen user` command) is
seen within `RECALL_S`. A session's answer is also never used past the session's own expiry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.clock import Clock

if TYPE_CHECKING:
    from dashboard_api.auth.service import Person

__all__ = ["RECALL_S", "Recall"]

RECALL_S = 2.0
# Unknown tokens are remembered too (a client retrying a revoked token); past this many entries
# all are dropped, so random guesses cannot grow memory.
_MAX_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class _Kept:
    person: Person | None
    until: datetime


class Recall:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def get(self, key: str) -> tuple[bool, Person | None]:
        """(True, person or None) when `key` (a credential's digest) was answered moments ago."""
        kept = self._kept.get(key)
        if kept is None or self._clock.now() >= kept.until:
            return False, None
        return True, kept.person

    def generation(self) -> int:
        return self._generation

    def keep(
        self, key: str, person: Person | None, generation: int, expires: datetime | None = None
    ) -> None:
        """Remember an answer looked up while `generation` was current (an answer read before a
        `forget` that raced it is not kept); never past `expires`."""
        until = self._clock.now() + timedelta(seconds=RECALL_S)
        if expires is not None:
            until = min(until, expires)
        with self._lock:
            if generation != self._generation:
                return
            if len(self._kept) >= _MAX_ENTRIES:
                self._kept.clear()
            self._kept[key] = _Kept(person, until)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._kept.clear()
