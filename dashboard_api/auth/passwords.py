"""Password hashing (argon2id, argon2-cffi's defaults: RFC 9106's second recommended
parameter set), the rules a password and a name must meet, and random secrets with their
digests."""

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
    "check_password_rules",
    "check_principal_name",
    "digest",
    "hash_password",
    "new_secret",
    "password_matches",
]

# NIST SP 800-63B 5.1.1.2: at least 8 characters, accept at least 64, no composition rules.
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_NAME = 64

_HASHER = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs the same time as a wrong
# password and timing does not tell which names exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


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
