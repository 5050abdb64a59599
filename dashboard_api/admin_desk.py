"""What the admin pages work with, handed in by the composition root: people and tokens
(`People`), control limits (`LimitDesk`) and the audit trail they write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.admin_records import AuditEntry
from core.clock import Clock
from core.config import SiteConfig
from dashboard_api.auth import Auth
from dashboard_api.auth.people import AdminLog, People
from dashboard_api.limit_desk import LimitDesk, LimitsChanged, LimitStore

__all__ = ["AdminDesk", "AdminStore", "admin_desk"]


class AdminStore(AdminLog, LimitStore, Protocol):
    """`ingest.duckdb_admin.DuckDBAdminStore` provides it."""

    def audit_trail(self, subjects: Sequence[str], limit: int = 200) -> list[AuditEntry]: ...
    def record_login(self, name: str, at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class AdminDesk:
    people: People
    limits: LimitDesk
    store: AdminStore


def admin_desk(
    config: SiteConfig,
    store: AdminStore,
    auth: Auth,
    clock: Clock,
    rules: LimitsChanged | None,
) -> AdminDesk:
    """The desk, with every login recorded for the people page."""
    auth.login_listeners.append(store.record_login)
    return AdminDesk(People(auth, store), LimitDesk(config, store, clock, rules), store)
