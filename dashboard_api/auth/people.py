"""`People`: what an admin does to people and tokens from the web UI, each change written to
the audit trail (who, when, what, before and after).

The rules: a new person's name and password meet the same rules as `canteen user add`; the
last enabled admin can be neither demoted nor disabled (nobody could manage people any more);
an admin cannot disable themselves (they would be locked out mid-change). A reset password is
random, shown once to the admin, and ends the person's sessions. A password an admin gave,
at creation or by a reset, is temporary: the person must choose their own at the next login
(`choose_password`, audited in their name) before anything else opens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from core.admin_records import AdminAction, AuditEntry
from core.records import ApiToken, Role, User
from dashboard_api.auth.errors import AuthError
from dashboard_api.auth.service import Auth, SessionGrant

__all__ = ["TEMPORARY_PASSWORD", "AdminLog", "People", "PeopleConflictError", "PersonRow"]

# 12 random bytes: 16 URL-safe characters, above the 8 the password rules ask (NIST SP 800-63B).
_RESET_BYTES = 12
# The audit row's note (its reason column) when the password in use is one the person did not
# choose (an admin typed it, or a reset drew it): the trail names it in the reader's language.
# Rows written before this note carried the reset's "change at next login" as the new value.
TEMPORARY_PASSWORD = "temporary_password"


class PeopleConflictError(AuthError):
    """A change refused for the state it would leave: no enabled admin, or an admin locked out
    by their own hand (answered 409, not 422: the request itself is well formed)."""


class AdminLog(Protocol):
    """Where the changes are written (`ingest.duckdb_admin.DuckDBAdminStore` provides it)."""

    def audit(self, entry: AuditEntry) -> None: ...
    def last_logins(self) -> dict[str, datetime]: ...


@dataclass(frozen=True, slots=True)
class PersonRow:
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login: datetime | None
    # The password in use is one an admin gave (a new person, a reset): not yet their own.
    must_change_password: bool = False


class People:
    def __init__(self, auth: Auth, log: AdminLog) -> None:
        self.auth = auth
        self.log = log

    def people(self) -> list[PersonRow]:
        logins = self.log.last_logins()
        return [
            PersonRow(
                u.name, u.role, u.disabled, u.created_at, logins.get(u.name), u.must_change_password
            )
            for u in self.auth.store.users()
        ]

    def tokens(self) -> list[ApiToken]:
        return self.auth.store.tokens()

    def create(self, actor: str, name: str, role: Role, password: str) -> User:
        """The admin chose the first password, so it is temporary: the person replaces it at
        their first login (as after a reset) and the admin never knows the one in use."""
        user = self.auth.add_user(name, role, password, must_change=True)
        self._audit(actor, AdminAction.USER_CREATED, name, None, role.value, TEMPORARY_PASSWORD)
        return user

    def set_role(self, actor: str, name: str, role: Role) -> User:
        user = self._user(name)
        if user.role is role:
            return user
        if user.role is Role.ADMIN and not user.disabled:
            self._keep_an_admin(name, "demoted")
        changed = replace(user, role=role)
        self.auth.store.update_user(changed)
        self.auth.recall.forget()
        self._audit(actor, AdminAction.USER_ROLE, name, user.role.value, role.value)
        return changed

    def set_disabled(self, actor: str, name: str, disabled: bool) -> User:
        user = self._user(name)
        if user.disabled == disabled:
            return user
        if disabled and name == actor:
            raise PeopleConflictError("you cannot disable yourself; another admin can")
        if disabled and user.role is Role.ADMIN:
            self._keep_an_admin(name, "disabled")
        changed = self.auth.set_disabled(name, disabled)
        action = AdminAction.USER_DISABLED if disabled else AdminAction.USER_ENABLED
        self._audit(actor, action, name, str(user.disabled).lower(), str(disabled).lower())
        return changed

    def reset_password(self, actor: str, name: str) -> str:
        """A new random password, returned once (only its hash is kept); sessions end."""
        password = secrets.token_urlsafe(_RESET_BYTES)
        self.auth.set_password(name, password, must_change=True)
        self._audit(actor, AdminAction.USER_PASSWORD_RESET, name, None, None, TEMPORARY_PASSWORD)
        return password

    def choose_password(self, name: str, password: str) -> SessionGrant:
        """`name`'s own password after a reset (see `Auth.choose_password`), audited."""
        grant = self.auth.choose_password(name, password)
        self._audit(name, AdminAction.USER_PASSWORD_CHANGED, name, None, None)
        return grant

    def revoke_sessions(self, actor: str, name: str) -> None:
        self._user(name)
        self.auth.store.end_sessions_of(name)
        self.auth.recall.forget()
        self._audit(actor, AdminAction.USER_SESSIONS_REVOKED, name, None, None)

    def revoke_token(self, actor: str, name: str) -> None:
        token = next((t for t in self.auth.store.tokens() if t.name == name), None)
        if token is None:
            known = ", ".join(t.name for t in self.auth.store.tokens()) or "none"
            raise AuthError(f"no API token {name!r}; known tokens: {known}")
        if token.disabled:
            return
        self.auth.store.save_token(replace(token, disabled=True))
        self.auth.recall.forget()
        self._audit(actor, AdminAction.TOKEN_REVOKED, f"token:{name}", "active", "revoked")

    def _user(self, name: str) -> User:
        user = self.auth.store.user(name)
        if user is None:
            raise AuthError(f"no user {name!r}")
        return user

    def _keep_an_admin(self, name: str, what: str) -> None:
        admins = [u for u in self.auth.store.users() if u.role is Role.ADMIN and not u.disabled]
        if [u.name for u in admins] == [name]:
            raise PeopleConflictError(
                f"{name!r} is the last enabled admin and cannot be {what}; make another "
                "person admin first"
            )

    def _audit(
        self,
        actor: str,
        action: AdminAction,
        target: str,
        old: str | None,
        new: str | None,
        note: str = "",
    ) -> None:
        at = self.auth.clock.now()
        self.log.audit(AuditEntry(at, actor, action, target, old, new, note))
