"""Errors of the auth package: `AuthError` is the base; each carries a sentence a person can
act on (the CLI prints it, the login page shows it)."""

from __future__ import annotations

from datetime import datetime

__all__ = ["AuthError", "CredentialsError", "LockedOutError"]


class AuthError(Exception):
    """A refused account operation (bad name, weak password, unknown user...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CredentialsError(AuthError):
    """Name or password wrong, or the account disabled: deliberately not saying which."""


class LockedOutError(AuthError):
    """Too many failed logins for this account or from this address; try again at `until`."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until
