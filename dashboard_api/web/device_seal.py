"""The device page's door-seal health: the last 30 local days of the rule's health points,
their learning status and a sparkline, kept in memory per device.

The seal rule writes a point at most once an hour per device (a learning point each clean hour,
a verdict per window), yet reading the 30 days from the register store was most of a device
page's cost (45 % of the service's samples with 20 clients on one page). With the live hub
running, the view is kept per device and read again when it is older than `MAX_AGE_S` (of the
injected clock: the simulator's fast clock ages it as fast as it writes points), when
the local day turns, when the device's alerts change (a seal alert) or at once after a re-learn
from the page. While one request reads it again, the others are answered with the kept view
(one read per device at a time, never twenty). Without the hub (tests, tools) each page reads
the store, as before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from alerts import registers as alert_registers
from core.model import Device
from core.records import SealHealthPoint
from dashboard_api.context import ApiContext

__all__ = ["MAX_AGE_S", "SEAL_DAYS", "SealMemory", "SealView", "read_seal", "spark"]

SEAL_DAYS = 30
# A new hourly point shows on the page within this: a small part of the hour it summarises.
MAX_AGE_S = 30.0


@dataclass(frozen=True, slots=True)
class SealView:
    learning: bool
    learned: int | None
    needed: int | None
    unit: str
    points: list[SealHealthPoint]
    spark: str  # SVG polyline points of health over the days shown
    # What the latest verdict rests on, in words per language (`alerts.seal_basis`), and
    # whether the compressor's cycle is seen at all, by a probe at a pace (else the words are
    # a caution).
    basis: dict[str, str] | None = None
    compressor_seen: bool = True
    # a cold cabinet's learning: days with meals seen, of how many (`alerts.registers`)
    served_days: float | None = None
    needed_days: float | None = None
    # the health under which an alert is raised, drawn dashed on the sparkline: a cold
    # cabinet's alert shows health at or under it (`alerts.rules.seal.health_from_evidence`)
    warning: float = 0.85

    @property
    def warning_y(self) -> float:
        """The warning line's height in the sparkline's 300 x 60 box (1 at the top)."""
        return round(60 - 60 * max(0.0, min(1.0, self.warning)), 1)

    @property
    def latest(self) -> SealHealthPoint | None:
        return self.points[-1] if self.points else None


def read_seal(context: ApiContext, device: Device, now: datetime) -> SealView | None:
    """The device's seal view from the register store; None for a device without a seal or
    a service without the alerts."""
    if context.alerts is None or not alert_registers.has_door_seal(device):
        return None
    today = now.astimezone(context.config.site.zone).date()
    health = alert_registers.seal_health(
        context.alerts.registers,
        context.config,
        device,
        today - timedelta(days=SEAL_DAYS - 1),
        today,
        now,
    )
    basis = health.basis
    return SealView(
        health.learning,
        health.learned,
        health.needed,
        health.unit,
        health.points,
        spark(health.points, now - timedelta(days=SEAL_DAYS), now),
        None if basis is None else basis.text(device.interval_s, context.config.site.zone),
        basis is None or (basis.compressor_seen and not basis.on_change),
        health.served_days,
        health.needed_days,
        context.config.rules_for(device).seal_warning_health,
    )


def spark(points: list[SealHealthPoint], start: datetime, end: datetime) -> str:
    """Health 0..1 over [start, end] as polyline points in a 300 x 60 box (1 at the top)."""
    span = (end - start).total_seconds() or 1.0
    out = []
    for p in points:
        x = 300 * (p.ts - start).total_seconds() / span
        y = 60 - 60 * max(0.0, min(1.0, p.health))
        out.append(f"{x:.1f},{y:.1f}")
    return " ".join(out)


@dataclass(frozen=True, slots=True)
class _Kept:
    key: tuple[date, int, int]  # local day, the device's alert version, re-learns seen
    read_at: datetime  # the clock's instant of the read
    view: SealView | None


class SealMemory:
    """Seal views kept per device (one per app); pages are made in worker threads."""

    def __init__(self, max_age_s: float = MAX_AGE_S) -> None:
        self._max_age_s = max_age_s
        self._kept: dict[str, _Kept] = {}
        self._relearned: dict[str, int] = {}
        self._reading: set[str] = set()
        self._lock = threading.Lock()
        self.reads = 0  # views read from the store: for tests and the bench

    def relearned(self, device: str) -> None:
        """The device's baseline was re-learned: its next page reads the store."""
        with self._lock:
            self._relearned[device] = self._relearned.get(device, 0) + 1

    def holds(
        self, context: ApiContext, device: Device, now: datetime, alerts_version: int
    ) -> bool:
        """`view` would answer from memory (no store read)."""
        if context.alerts is None or not alert_registers.has_door_seal(device):
            return True
        with self._lock:
            return self._usable(device.id, self._key(context, device, now, alerts_version), now)

    def view(
        self, context: ApiContext, device: Device, now: datetime, alerts_version: int
    ) -> SealView | None:
        with self._lock:
            key = self._key(context, device, now, alerts_version)
            if self._usable(device.id, key, now):
                return self._kept[device.id].view
            self._reading.add(device.id)
        try:
            view = read_seal(context, device, now)
            self.reads += 1
        finally:
            with self._lock:
                self._reading.discard(device.id)
        with self._lock:
            self._kept[device.id] = _Kept(key, now, view)
        return view

    def _key(
        self, context: ApiContext, device: Device, now: datetime, alerts_version: int
    ) -> tuple[date, int, int]:
        day = now.astimezone(context.config.site.zone).date()
        return (day, alerts_version, self._relearned.get(device.id, 0))

    def _usable(self, device: str, key: tuple[date, int, int], now: datetime) -> bool:
        """Kept for `key` and young, or being read again by another request."""
        kept = self._kept.get(device)
        if kept is None or kept.key != key:
            return False
        young = 0 <= (now - kept.read_at).total_seconds() < self._max_age_s
        return young or device in self._reading
