"""What the API reads: the site config, the store, the clock, a live status probe, the people
who may ask (`auth`) and the alerts service, handed in by the composition root so the API
holds no business rules and opens nothing itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from alerts.calibration import CalibrationStore
from alerts.lifecycle import AlertBook, AlertChange
from alerts.store import RegisterStore
from core.clock import Clock
from core.config import SiteConfig
from core.records import DeliveryAttempt
from dashboard_api.admin_desk import AdminDesk
from dashboard_api.auth import Auth
from dashboard_api.live import LiveHub
from ingest.store import SiteStore

__all__ = ["AlertsDesk", "ApiContext", "DeliveryLog"]


class AlertsDesk(Protocol):
    """What the API needs of the alerts service (`alerts.AlertService` provides it)."""

    @property
    def book(self) -> AlertBook:
        """The alert lifecycle: find, read, acknowledge, resolve, close."""
        ...

    @property
    def registers(self) -> RegisterStore:
        """The registers and logs the rules write, for reading."""
        ...

    async def relearn_seal_live(self, device: str, by: str, reason: str) -> list[AlertChange]:
        """Learn a device's door-seal baseline afresh. Awaited: it runs where the rules run
        and saves their state before it returns, so a request never holds up the rules."""
        ...


class DeliveryLog(Protocol):
    """The notifications' delivery log (`alerts.store.OutboxStore` provides it)."""

    def deliveries_for_alert(self, alert_id: int) -> list[DeliveryAttempt]: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    config: SiteConfig
    store: SiteStore
    clock: Clock
    # Runtime figures the API reports but does not own (broker link, counters).
    status: Callable[[], Mapping[str, object]]
    # None: the service runs without alerts; their routes answer 503.
    alerts: AlertsDesk | None = None
    # None: no calibration register; its routes and the register documents answer 503.
    calibration: CalibrationStore | None = None
    # None: no live updates; /api/live answers 503.
    live: LiveHub | None = None
    # Who may ask: people, sessions, tokens. None: nobody can log in, and every route but
    # /api/health, /docs and the login page answers 401 (closed, never open).
    auth: Auth | None = None
    # None: no notification channels configured; the delivery log answers 503.
    deliveries: DeliveryLog | None = None
    # None: no admin pages (people, control limits); they answer 503.
    admin: AdminDesk | None = None
