"""Where each of a device's control limits comes from, and an admin's change checked against
the same bounds as the site config (`core.limit_bounds`).

A limit is laid over in this order (`SiteConfig.limits_for`): the built-in default of the
device's kind (and of its disinfection method), the site config's `limits: {kind: ...}`, the
device's own `limits:` in the site config, then an admin's override from the web UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.config import SiteConfig
from core.limit_bounds import LimitBound, bounds_for, limit_problem
from core.model import Device, Limits

__all__ = ["LimitRow", "LimitSource", "adjustable", "limit_rows", "override_problem"]


class LimitSource(StrEnum):
    DEFAULT = "default"  # built into the service for the kind (and method)
    SITE_KIND = "site_kind"  # the site config's `limits:` for the kind
    SITE_DEVICE = "site_device"  # the device's own `limits:` in the site config
    OVERRIDE = "override"  # set by an admin in the web UI


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One control limit of a device: the value in force, where it comes from, the value the
    config alone gives (what clearing the override returns to) and what may be set."""

    field: str
    value: float | None
    source: LimitSource
    configured: float | None
    bound: LimitBound


def adjustable(device: Device) -> dict[str, LimitBound]:
    """The limits an admin may set on this device, with their bounds (none for a meter)."""
    return bounds_for(device.kind, device.method)


def limit_rows(config: SiteConfig, device: Device) -> list[LimitRow]:
    configured = config.configured_limits_for(device)
    in_force = config.limits_for(device)
    admin = config.limit_overrides().get(device.id, Limits()).model_dump(exclude_none=True)
    kind = config.limits.get(device.kind, Limits()).model_dump(exclude_none=True)
    own = device.limits.model_dump(exclude_none=True)
    rows = []
    for field, bound in adjustable(device).items():
        if field in admin:
            source = LimitSource.OVERRIDE
        elif field in own:
            source = LimitSource.SITE_DEVICE
        elif field in kind:
            source = LimitSource.SITE_KIND
        else:
            source = LimitSource.DEFAULT
        value, base = getattr(in_force, field), getattr(configured, field)
        rows.append(LimitRow(field, value, source, base, bound))
    return rows


def override_problem(
    config: SiteConfig, device: Device, override: Limits
) -> tuple[str, str] | None:
    """(field, what is wrong and what is allowed) when `override` (all the admin's fields for
    the device) laid over the config's limits leaves one out of its bounds, or sets a field
    this device has no bound for; None when it may be applied."""
    fields = override.model_dump(exclude_none=True)
    allowed = adjustable(device)
    for field in fields:
        if field not in allowed:
            names = ", ".join(allowed) or "none"
            return field, f"not a limit of a {device.kind.value}; it has {names}"
    merged = override.over(config.configured_limits_for(device))
    return limit_problem(merged, device.kind, device.method, changed=fields)
