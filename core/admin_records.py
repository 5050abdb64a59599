"""What an admin changes, as stored: the audit trail of every change to people, tokens and
control limits (who, when, what, the value before and after, why), and a device's control
limit set by an admin over the site config (`LimitOverride`), and the history of those limits
(`LimitPeriod`): which value was in force when, so a register of a past day is judged with the
limits of that day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["AdminAction", "AuditEntry", "LimitOverride", "LimitPeriod"]


class AdminAction(StrEnum):
    USER_CREATED = "user.created"
    USER_ROLE = "user.role"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_PASSWORD_CHANGED = "user.password_changed"  # by the person, after a reset
    USER_SESSIONS_REVOKED = "user.sessions_revoked"
    TOKEN_CREATED = "token.created"  # by `canteen token create` (the web UI makes none)
    TOKEN_REVOKED = "token.revoked"
    LIMIT_SET = "limit.set"
    LIMIT_CLEARED = "limit.cleared"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change an admin made. `target` is a user, a token or `device/field`; `old` and `new`
    are the values as text (None where there is none: a new user has no old role)."""

    at: datetime
    actor: str
    action: AdminAction
    target: str
    old: str | None
    new: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class LimitOverride:
    """One control limit of one device, set by an admin; it wins over the site config."""

    site: str
    device: str
    field: str
    value: float
    set_by: str
    set_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class LimitPeriod:
    """One control limit of one device as an admin left it over [valid_from, valid_to):
    `value` set over the site config, or None when the admin went back to the config's value;
    `valid_to` None while it is still in force. Outside every period the config's value holds.
    """

    site: str
    device: str
    field: str
    value: float | None
    valid_from: datetime
    valid_to: datetime | None
    set_by: str
    reason: str
