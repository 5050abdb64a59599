"""Password hashing (argon2id at the cost `AuthSettings` names; its defaults are RFC 9106's
second recommended parameter set), the rules a password and a name must meet, and random
secrets with their digests."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard_api.auth.errors import AuthError

__all__ = [
    "MAX_NAME",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "Passwords",
    "check_password_rules",
    "check_principal_name",
    "digest",
    "new_secret",
]

# NIST SP 800-63B 5.1.1.2: at least 8 characters, accept at least 64, no composition rules.
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_NAME = 64


class Passwords:
    """argon2id hashes made with `memory_mib` MiB and `passes` passes (4 lanes, RFC 9106's
    option). A hash is checked at the cost written in it, so hashes made at another cost
    still match; `outdated` tells which to make again."""

    def __init__(self, memory_mib: int, passes: int) -> None:
        self._hasher = PasswordHasher(time_cost=passes, memory_cost=memory_mib * 1024)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def matches(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` is the one hashed; with no hash (an unknown name) a dummy at the
        same cost is checked, so a wrong name takes as long as a wrong password and timing
        does not tell which names exist. The dummy is made at the first unknown name."""
        if password_hash is None and self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        try:
            checked = self._hasher.verify(password_hash or self._dummy or "", password)
        except (VerificationError, InvalidHashError):
            return False
        return checked and password_hash is not None

    def outdated(self, password_hash: str) -> bool:
        """Whether the hash was made at another cost than the configured one."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(
            f"the password has {len(password)} characters; at least {MIN_PASSWORD} are needed"
        )
    if len(password) > MAX_PASSWORD:
        raise AuthError(f"the password is longer than {MAX_PASSWORD} characters")


def check_principal_name(name: str, what: str = "user name") -> None:
    """A person's or a token's name: it is written into every record it acts on."""
    if not 1 <= len(name) <= MAX_NAME:
        raise AuthError(f"a {what} has 1 to {MAX_NAME} characters, not {len(name)}")
    if name != name.strip() or any(c.isspace() and c != " " for c in name):
        raise AuthError(f"a {what} may not start or end with a space or hold a tab or line break")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise AuthError(f"a {what} may not contain control characters")


def new_secret() -> str:
    """256 random bits, URL-safe: a session key, a CSRF token or a bearer token."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a random secret: its SHA-256 (the secret is unguessable, so a slow
    hash adds nothing but latency on every request)."""
    return hashlib.sha256(secret.encode()).hexdigest()
