"""`LimitDesk`: an admin sets or clears a device's control limit over the site config.

A change is checked by the same bounds as the config (`core.limit_layers.override_problem`:
a fridge's high limit cannot be 80 °C, a low limit must stay below the high one, a freezer's
high limit stays at or below -12 °C), stored with its audit row in one transaction, laid over
the config the API reads (`SiteConfig.set_limit_override`), and handed to the running rules
through the alerts service, which rebuilds that device's rules on its own loop. After a
restart the composition root lays the stored overrides over the config again
(`apply_stored_overrides`) before the rules are built. The store keeps each limit's history
(`history`): the registers judge a past day by the limits in force that day.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from core.admin_records import AdminAction, AuditEntry, LimitOverride, LimitPeriod
from core.clock import Clock
from core.config import SiteConfig
from core.limit_layers import LimitRow, limit_rows, override_problem
from core.model import Device, Limits

__all__ = ["LimitDesk", "LimitRefusedError", "LimitStore", "apply_stored_overrides"]

log = logging.getLogger(__name__)

REASON_MAX = 300


class LimitStore(Protocol):
    """`ingest.duckdb_admin.DuckDBAdminStore` provides it."""

    def limit_overrides(self, site: str) -> list[LimitOverride]: ...
    def limit_history(
        self, site: str, device: str, start: datetime, end: datetime
    ) -> list[LimitPeriod]: ...
    def set_limit(self, override: LimitOverride, entry: AuditEntry) -> None: ...
    def clear_limit(self, site: str, device: str, field: str, entry: AuditEntry) -> None: ...


class LimitsChanged(Protocol):
    """The alerts service's hand-over (`alerts.AlertService.reset_limits_live`)."""

    async def reset_limits_live(self, device: str) -> None: ...


class LimitRefusedError(ValueError):
    """A change that may not be made: `field` names the form field, `message` what is wrong
    and what is allowed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def apply_stored_overrides(config: SiteConfig, stored: Sequence[LimitOverride]) -> list[str]:
    """Lay the stored overrides over `config`; one that the config no longer allows (the file
    changed since: another kind, stricter bounds) is left out, and the returned sentences say
    which and why (the service logs them)."""
    by_device: dict[str, dict[str, float]] = {}
    for row in stored:
        by_device.setdefault(row.device, {})[row.field] = row.value
    skipped: list[str] = []
    for device_id, fields in by_device.items():
        device = config.device(device_id)
        if device is None:
            skipped.append(f"limit override of {device_id!r} left out: no such device")
            continue
        override = Limits(**fields)
        problem = override_problem(config, device, override)
        if problem is not None:
            skipped.append(f"limit override {device_id}.{problem[0]} left out: {problem[1]}")
            continue
        config.set_limit_override(device_id, override)
    return skipped


class LimitDesk:
    def __init__(
        self,
        config: SiteConfig,
        store: LimitStore,
        clock: Clock,
        rules: LimitsChanged | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.rules = rules

    def rows(self, device: Device) -> list[LimitRow]:
        return limit_rows(self.config, device)

    def history(self, device: Device, start: datetime, end: datetime) -> list[LimitPeriod]:
        """The device's limits as admins set them over [start, end): what the registers judge
        a past day by (blocking: a store read)."""
        return self.store.limit_history(self.config.site.id, device.id, start, end)

    async def set(self, actor: str, device: Device, field: str, value: float, reason: str) -> None:
        _check_reason(reason)
        if not math.isfinite(value):
            raise LimitRefusedError("value", f"{value} is not a number")
        if field not in Limits.model_fields:
            raise LimitRefusedError("field", f"{field!r} is not a control limit")
        changed = self._override(device).model_copy(update={field: value})
        problem = override_problem(self.config, device, changed)
        if problem is not None:
            raise LimitRefusedError("value" if problem[0] == field else problem[0], problem[1])
        old = getattr(self.config.limits_for(device), field)
        now = self.clock.now()
        site = self.config.site.id
        entry = AuditEntry(
            now, actor, AdminAction.LIMIT_SET, f"{device.id}/{field}", _text(old), _text(value),
            reason,
        )  # fmt: skip
        row = LimitOverride(site, device.id, field, value, actor, now, reason)
        await run_in_threadpool(self.store.set_limit, row, entry)
        await self._apply(device, changed)

    async def clear(self, actor: str, device: Device, field: str, reason: str) -> None:
        _check_reason(reason)
        mine = self._override(device)
        if getattr(mine, field, None) is None:
            raise LimitRefusedError("field", f"{device.id} has no override of {field!r}")
        changed = mine.model_copy(update={field: None})
        old = getattr(self.config.limits_for(device), field)
        new = getattr(changed.over(self.config.configured_limits_for(device)), field)
        entry = AuditEntry(
            self.clock.now(), actor, AdminAction.LIMIT_CLEARED, f"{device.id}/{field}",
            _text(old), _text(new), reason,
        )  # fmt: skip
        site = self.config.site.id
        await run_in_threadpool(self.store.clear_limit, site, device.id, field, entry)
        await self._apply(device, changed)

    def _override(self, device: Device) -> Limits:
        return self.config.limit_overrides().get(device.id, Limits())

    async def _apply(self, device: Device, override: Limits) -> None:
        self.config.set_limit_override(device.id, override)
        if self.rules is not None:
            await self.rules.reset_limits_live(device.id)
        log.info("limits of %s now %s", device.id, override.model_dump(exclude_none=True))


def _check_reason(reason: str) -> None:
    if not reason.strip():
        raise LimitRefusedError("reason", "say why the limit changes (it goes to the audit trail)")
    if len(reason) > REASON_MAX:
        raise LimitRefusedError("reason", f"at most {REASON_MAX} characters, not {len(reason)}")


def _text(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"
