"""`BridgeRoster`: which devices each bridge carries, so a bridge's death takes its devices
offline (topics: `core/topics.py`).

A bridge publishes a retained member list (`bridges/{bridge}/devices`, a JSON list of our
device ids) and a retained status whose Last Will is `offline`. Bridges need no entry in the
site config: the roster learns them from these messages, and a list naming a device the config
does not have is refused whole (dead-lettered), like any message. What it does:

- bridge `offline` (its will, or a clean stop): every member goes offline;
- a member list arriving for a bridge already known offline: those members go offline;
- a member's own `online` while its bridge is offline is stale (the broker kept it from before
  the bridge died; only the bridge could have sent it), so it counts as `offline`;
- bridge `online`: nothing by itself; the bridge then announces each member's presence.

A device belongs to one bridge: a newer list that names it takes it from the bridge before.
The bridge's own presence is logged, not stored: the presence table holds devices.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from core.readings import PresenceChange
from gateway.codec import decode_json
from gateway.errors import PayloadError

__all__ = ["BridgeRoster"]

log = logging.getLogger(__name__)

# Bridges remembered at most; more is not a site but a misbehaving client (memory stays bounded).
MAX_BRIDGES = 10_000


@dataclass(slots=True)
class _Bridge:
    members: frozenset[str] = frozenset()
    online: bool | None = None  # None until its status is seen


class BridgeRoster:
    def __init__(self, site: str, devices: Collection[str]) -> None:
        self._site = site
        self._devices = frozenset(devices)
        self._bridges: dict[str, _Bridge] = {}
        self._bridge_of: dict[str, str] = {}

    def blocks(self, device: str) -> bool:
        """True while the device's bridge is known offline: its own `online` is stale."""
        bridge = self._bridge_of.get(device)
        return bridge is not None and self._bridges[bridge].online is False

    def status(self, bridge: str, online: bool, at: datetime) -> list[PresenceChange]:
        """A bridge's status: `offline` takes every member offline."""
        state = self._bridge(bridge)
        if state.online is not online:
            log.info("bridge %s of site %s is %s", bridge, self._site, _word(online))
        state.online = online
        if online:
            return []
        return [PresenceChange(self._site, d, False, at) for d in sorted(state.members)]

    def members(self, bridge: str, payload: bytes, at: datetime) -> list[PresenceChange]:
        """A bridge's member list; refused whole if it is not a list of this site's devices."""
        members = self._parse_members(bridge, payload)
        state = self._bridge(bridge)
        for device in state.members - members:
            self._bridge_of.pop(device, None)
        for device in members:
            previous = self._bridge_of.get(device)
            if previous is not None and previous != bridge:
                moved = self._bridges[previous]
                moved.members = moved.members - {device}
            self._bridge_of[device] = bridge
        state.members = members
        if state.online is False:
            return [PresenceChange(self._site, d, False, at) for d in sorted(members)]
        return []

    def _bridge(self, bridge: str) -> _Bridge:
        state = self._bridges.get(bridge)
        if state is None:
            if len(self._bridges) >= MAX_BRIDGES:
                raise PayloadError(
                    f"bridge {bridge!r}: more than {MAX_BRIDGES} bridges on site "
                    f"{self._site!r}; refusing to track another"
                )
            state = self._bridges[bridge] = _Bridge()
        return state

    def _parse_members(self, bridge: str, payload: bytes) -> frozenset[str]:
        doc = decode_json(payload)
        if not isinstance(doc, list) or not all(isinstance(d, str) for d in doc):
            raise PayloadError(
                f"bridge {bridge!r}: the member list must be a JSON list of device ids"
            )
        unknown = sorted(set(doc) - self._devices)
        if unknown:
            shown = ", ".join(repr(d) for d in unknown[:10])
            raise PayloadError(
                f"bridge {bridge!r} lists {len(unknown)} device(s) not in the config of site "
                f"{self._site!r}: {shown}",
                code="unknown_device",
            )
        return frozenset(doc)


def _word(online: bool) -> str:
    return "online" if online else "offline"
