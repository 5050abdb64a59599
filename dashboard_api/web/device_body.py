"""The device page's body, rendered once per device state and kept.

Under 20 clients on one device page (200 devices), rendering its body per request set the
page's tail (p99 141 ms against the overview's 39 ms, whose region is kept the same way): the
latest values, open alerts and seal view were already in memory, the template was not. So the
body is kept per page asked for (`BodySlot`: device, metric, range, language, role) with the
state it was made from (`BodyState`): the live hub's version of the device's latest values and
of its alerts, an admin's override of its limits (the config's are fixed), its seal view
(the kept object: `SealMemory` makes a new one when it reads again), the chart windows the page
links to and the local minute its period is shown in. Any of these changing makes it again.

Only the session's CSRF token differs between two people of the same role: the body is kept
with a slot (`CSRF_SLOT`, a tag autoescaping never lets data produce) and the token is put in
per answer. Pages that show a one-off notice (a re-learn done or refused) and custom periods
(their "later" link follows the clock) are rendered per request, as is every page without
the live hub (no versions to key on).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from core.model import Limits
from dashboard_api.web.device_seal import SealView
from dashboard_api.web.render import fragment

__all__ = [
    "CSRF_SLOT",
    "BodySlot",
    "BodyState",
    "DeviceBodies",
    "local_time",
    "render_body",
    "with_csrf",
]

# Autoescaping turns "<" in any data into "&lt;": only the template can write this tag.
CSRF_SLOT = Markup("<csrf-slot>")
# Kept bodies (10-20 kB each): two languages and three roles of a 200-device site's default
# page fit, a person's other metrics and ranges take turns.
MAX_BODIES = 1024


@dataclass(frozen=True, slots=True)
class BodySlot:
    """Which page: one kept body each."""

    device: str
    metric: str
    range: str
    lang: str
    role: str


@dataclass(frozen=True, slots=True)
class BodyState:
    """What the body was made from; a body is used again only for an equal state (and the
    very same seal view)."""

    values_version: int
    alerts_version: int
    limits: Limits | None  # an admin's override of the device's limits (the config's are fixed)
    chart_windows: tuple[tuple[datetime, datetime], ...]  # the wide and narrow charts'
    minute: datetime  # the period's end as shown (local minutes)


@dataclass(frozen=True, slots=True)
class _Kept:
    state: BodyState
    seal: SealView | None
    html: str


class DeviceBodies:
    """Kept device-page bodies, least recently used dropped beyond `max_bodies`. Used from the
    event loop and from worker threads (a page made off the loop): a lock guards the dict."""

    def __init__(self, max_bodies: int = MAX_BODIES) -> None:
        self.max_bodies = max_bodies
        self.made = 0  # bodies rendered (misses), for tests and the bench
        self.used = 0  # bodies answered from memory
        self._kept: OrderedDict[BodySlot, _Kept] = OrderedDict()
        self._lock = threading.Lock()

    def body(
        self,
        slot: BodySlot,
        state: BodyState,
        seal: SealView | None,
        variables: Callable[[], Mapping[str, Any]],
        csrf: str,
    ) -> Markup:
        """The body of `slot` in `state`, rendered from `variables()` unless kept (so they are
        made only then); with `csrf`."""
        with self._lock:
            kept = self._kept.get(slot)
            if kept is not None and kept.state == state and kept.seal is seal:
                self._kept.move_to_end(slot)
                self.used += 1
                return with_csrf(kept.html, csrf)
        html = render_body(variables())
        with self._lock:
            self.made += 1
            self._kept[slot] = _Kept(state, seal, html)
            self._kept.move_to_end(slot)
            while len(self._kept) > self.max_bodies:
                self._kept.popitem(last=False)
        return with_csrf(html, csrf)


def local_time(zone: ZoneInfo) -> Callable[..., str]:
    """The template's `local(instant, "%Y-%m-%d %H:%M")`, as the page shell has it: an aware
    UTC instant in the site's zone ("" for None)."""

    def local(instant: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "" if instant is None else instant.astimezone(zone).strftime(fmt)

    return local


def render_body(variables: Mapping[str, Any]) -> str:
    return fragment("_device_body.html", {**variables, "csrf_slot": CSRF_SLOT})


def with_csrf(html: str, csrf: str) -> Markup:
    return Markup(html.replace(CSRF_SLOT, str(escape(csrf))))
