"""The broker connection's troubles over time (`LinkState`): unreachable since when, refused
why, and the disconnects that show another client using the gateway's client id. Read by the
health endpoint, written by the link (`gateway/link.py`)."""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["TAKEOVER_DISCONNECTS", "TAKEOVER_WINDOW_S", "LinkState"]

_REPEAT_LOG_S = 60.0  # an outage that lasts is logged again once a minute
# Takeover: this many disconnects by the broker within the window, each after it had accepted
# us. A broker restart gives one; a client fighting over our id gives one per its reconnect.
TAKEOVER_DISCONNECTS = 3
TAKEOVER_WINDOW_S = 120.0
# Only short-lived connections count: a keepalive timeout on a bad network comes after 1.5 x
# keepalive, while a client fighting over our id kicks us within its reconnect delay.
_TAKEOVER_SHORT_S = 20.0


class LinkState:
    """The connection's troubles over time, shared by paho's thread and the health endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0
        self._refusal: str | None = None
        self._drops: deque[float] = deque(maxlen=TAKEOVER_DISCONNECTS)
        self._takeover_logged = 0.0
        self._connected_at = 0.0

    def connected(self) -> None:
        with self._lock:
            self._unreachable_since = None
            self._refusal = None
            self._connected_at = time.monotonic()

    def refused(self, reason: str) -> None:
        with self._lock:
            self._refusal = reason

    def unreachable(self) -> bool:
        """Record a failed attempt; True when it is time to log it (first, then each minute)."""
        now = time.monotonic()
        with self._lock:
            if self._unreachable_since is None:
                self._unreachable_since = now
            if now - self._unreachable_logged < _REPEAT_LOG_S:
                return False
            self._unreachable_logged = now
            return True

    def dropped(self) -> bool:
        """Record a disconnect by the broker; True when it is time to log a takeover."""
        now = time.monotonic()
        with self._lock:
            if now - self._connected_at > _TAKEOVER_SHORT_S:
                return False
            self._drops.append(now)
            if not self._takeover(now) or now - self._takeover_logged < _REPEAT_LOG_S:
                return False
            self._takeover_logged = now
            return True

    def _takeover(self, now: float) -> bool:
        return (
            len(self._drops) == TAKEOVER_DISCONNECTS and now - self._drops[0] <= TAKEOVER_WINDOW_S
        )

    def faults(self, connected: bool, url: str, client_id: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            found = []
            if self._refusal is not None:
                found.append(f"broker {url} refuses the connection: {self._refusal}")
            elif self._unreachable_since is not None and not connected:
                lasted = now - self._unreachable_since
                found.append(f"broker {url} unreachable for {lasted:.0f} s")
            elif not connected:
                found.append(f"not connected to broker {url}")
            # Reported for as long as the last disconnects stay within the window.
            if (
                self._drops
                and self._takeover(self._drops[-1])
                and (now - self._drops[-1] <= TAKEOVER_WINDOW_S)
            ):
                found.append(
                    f"another client is using client id {client_id!r}: the broker dropped us "
                    f"{TAKEOVER_DISCONNECTS} times within {TAKEOVER_WINDOW_S:.0f} s"
                )
            return found
