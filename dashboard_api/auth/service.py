"""`Auth`: log in and out, find the person behind a session cookie or a bearer token, and
manage people and tokens (the `canteen user` and `canteen token` commands)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from core.clock import Clock
from core.config import AuthSettings
from core.records import ApiToken, LoginSession, Role, User
from dashboard_api.auth.errors import AuthError, CredentialsError, LockedOutError
from dashboard_api.auth.passwords import (
    Passwords,
    check_password_rules,
    check_principal_name,
    digest,
    new_secret,
)
from dashboard_api.auth.recall import Recall
from dashboard_api.auth.store import UserStore
from dashboard_api.auth.throttle import LoginThrottle

__all__ = ["Auth", "Person", "SessionGrant"]

log = logging.getLogger(__name__)

# A session's last_seen is written at most this often: a page view should not cost a write.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Person:
    """Who a request acts for: a logged-in person (with the session's CSRF token) or a
    machine's token. `name` is what lifecycle records show as the actor."""

    name: str
    role: Role
    via: Literal["session", "token"]
    csrf: str | None = None
    # A session of a person whose password an admin reset: only the password page opens
    # (`dashboard_api.deps` turns everything else away) until they choose a new one.
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A new login: `key` goes into the cookie (only its digest is stored)."""

    key: str
    person: Person
    max_age_s: int


class Auth:
    def __init__(self, store: UserStore, settings: AuthSettings, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.throttle = LoginThrottle(settings, clock)
        self.passwords = Passwords(settings.password_memory_mib, settings.password_passes)
        self._idle = timedelta(hours=settings.session_idle_h)
        self._max_age = timedelta(days=settings.session_max_days)
        # Told (name, when) of every successful login: the admin pages show the last one.
        self.login_listeners: list[Callable[[str, datetime], None]] = []
        self.recall = Recall(clock)

    # -- logging in and out -----------------------------------------------------------------

    def login(self, name: str, password: str, address: str) -> SessionGrant:
        """A new session, or `LockedOutError` / `CredentialsError` (never saying which of name and
        password was wrong)."""
        until = self.throttle.locked_until(name, address)
        if until is not None:
            raise LockedOutError("too many failed logins", until)
        user = self.store.user(name)
        usable = user is not None and not user.disabled
        if not self.passwords.matches(user.password_hash if usable and user else None, password):
            self.throttle.failed(name, address)
            until = self.throttle.locked_until(name, address)
            if until is not None:
                raise LockedOutError("too many failed logins", until)
            raise CredentialsError("wrong name or password")
        assert user is not None
        self.throttle.succeeded(name)
        if self.passwords.outdated(user.password_hash):
            # The configured cost changed since this hash was made: the password is at hand
            # only now, so the hash is made again at the new cost (the same password: its
            # change time and the person's sessions stay).
            # A store that cannot take the write does not stop the login: the old hash still
            # opens, and the next login tries again.
            try:
                remade = self.passwords.hash(password)
                self.store.replace_password_hash(user.name, user.password_hash, remade)
                log.info("login: %r's password hash remade at the configured cost", user.name)
            except Exception:
                log.exception("login: %r's password hash could not be remade", user.name)
        log.info("login: %r (%s) from %s", user.name, user.role.value, address)
        grant = self._open_session(user)
        for listener in self.login_listeners:
            try:
                listener(user.name, self.clock.now())
            except Exception:
                log.exception("login listener %r failed", listener)
        return grant

    def logout(self, key: str | None) -> None:
        if key:
            self.store.end_session(digest(key))
            self.recall.forget()

    def recalled(
        self, via: Literal["session", "token"], secret: str | None
    ) -> tuple[bool, Person | None]:
        """(True, answer) when this credential was looked up moments ago (see `Recall`)."""
        if not secret:
            return True, None
        return self.recall.get(f"{via}:{digest(secret)}")

    def session_person(self, key: str | None) -> Person | None:
        """The person of a session cookie, or None when it is unknown, expired (idle or
        absolute) or its person disabled; an expired one is deleted."""
        if not key:
            return None
        key_hash = digest(key)
        generation = self.recall.generation()
        session = self.store.session(key_hash)
        if session is None:
            self.recall.keep(f"session:{key_hash}", None, generation)
            return None
        now = self.clock.now()
        user = self.store.user(session.user)
        if self._expired(session, now) or user is None or user.disabled:
            self.store.end_session(key_hash)
            return None
        if now - session.last_seen >= _TOUCH_EVERY:
            self.store.touch_session(key_hash, now)
        person = Person(user.name, user.role, "session", session.csrf, user.must_change_password)
        expires = min(now + self._idle, session.created_at + self._max_age)
        self.recall.keep(f"session:{key_hash}", person, generation, expires)
        return person

    def token_person(self, token: str | None) -> Person | None:
        if not token:
            return None
        token_hash = digest(token)
        generation = self.recall.generation()
        found = self.store.token_by_hash(token_hash)
        person = (
            None if found is None or found.disabled else Person(found.name, found.role, "token")
        )
        self.recall.keep(f"token:{token_hash}", person, generation)
        return person

    def _open_session(self, user: User) -> SessionGrant:
        now = self.clock.now()
        # Expired sessions are swept when someone logs in: rare enough, and keeps the table small.
        self.store.end_sessions_before(now - self._max_age, now - self._idle)
        key, csrf = new_secret(), new_secret()
        self.store.add_session(LoginSession(digest(key), user.name, csrf, now, now))
        person = Person(user.name, user.role, "session", csrf)
        return SessionGrant(key, person, int(self._max_age.total_seconds()))

    def _expired(self, session: LoginSession, now: datetime) -> bool:
        return now - session.last_seen > self._idle or now - session.created_at > self._max_age

    # -- people and tokens (the CLI) --------------------------------------------------------

    def add_user(self, name: str, role: Role, password: str, *, must_change: bool = False) -> User:
        """A new person; with `must_change` (a password someone else chose for them: an admin
        on the web page, an operator's `canteen user add --temporary`) they must choose their
        own at the first login."""
        check_principal_name(name)
        check_password_rules(password)
        if self._token_named(name):
            raise AuthError(f"{name!r} already names an API token; choose another name")
        now = self.clock.now()
        user = User(name, role, self.passwords.hash(password), False, now, now, must_change)
        if not self.store.add_user(user):
            raise AuthError(f"a user {name!r} already exists; change it with `canteen user passwd`")
        return user

    def set_password(self, name: str, password: str, *, must_change: bool = False) -> User:
        """A new password ends every session of that person; with `must_change` (an admin's
        reset) they must choose their own at the next login."""
        check_password_rules(password)
        user = self._existing(name)
        changed = replace(
            user,
            password_hash=self.passwords.hash(password),
            password_changed_at=self.clock.now(),
            must_change_password=must_change,
        )
        self.store.update_user(changed)
        self.store.end_sessions_of(name)
        self.recall.forget()
        return changed

    def choose_password(self, name: str, password: str) -> SessionGrant:
        """The person's own new password after a reset: it meets the rules and is not the one
        they were given; every session ends (the one in use too) and a new one is opened, so
        a session opened with the given password does not outlive it."""
        user = self._existing(name)
        if self.passwords.matches(user.password_hash, password):
            raise AuthError("choose a new password, not the one you were given")
        changed = self.set_password(name, password)
        return self._open_session(changed)

    def set_disabled(self, name: str, disabled: bool) -> User:
        """A disabled person cannot log in and their sessions end now."""
        user = replace(self._existing(name), disabled=disabled)
        self.store.update_user(user)
        if disabled:
            self.store.end_sessions_of(name)
        self.recall.forget()
        return user

    def create_token(self, name: str, role: Role) -> str:
        """A new bearer token (shown once; only its digest is kept). Creating it again under
        the same name replaces the old one, which stops working."""
        check_principal_name(name, "token name")
        if self.store.user(name) is not None:
            raise AuthError(f"{name!r} already names a user; a token needs its own name")
        token = "ctk_" + new_secret()
        self.store.save_token(ApiToken(name, role, digest(token), self.clock.now(), False))
        self.recall.forget()
        return token

    def _existing(self, name: str) -> User:
        user = self.store.user(name)
        if user is None:
            known = ", ".join(u.name for u in self.store.users()) or "none yet"
            raise AuthError(f"no user {name!r}; known users: {known}")
        return user

    def _token_named(self, name: str) -> bool:
        return any(t.name == name for t in self.store.tokens())
