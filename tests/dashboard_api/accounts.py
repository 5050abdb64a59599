"""People and tokens for API tests: a real `Auth` on the test's DuckDB file (argon2 hashes,
stored sessions), so a test calls the API as a logged-in person or a machine would."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import httpx

from core.clock import SystemClock
from core.config import AuthSettings
from core.records import Role
from dashboard_api import ApiContext
from dashboard_api.auth import Auth
from ingest.duckdb_users import DuckDBUserStore

__all__ = [
    "QUICK_HASHING",
    "Accounts",
    "bearer",
    "log_in",
    "session_csrf",
    "token_in",
    "with_accounts",
]

# Passwords hashed at the least cost `AuthSettings` allows: the tests add people and log in
# hundreds of times, and the hash is argon2id all the same.
QUICK_HASHING = AuthSettings(password_memory_mib=19, password_passes=2)


class Accounts:
    """`Auth` over its own user store on `path` (close it with `close()`)."""

    def __init__(self, path: Path, context: ApiContext, settings: AuthSettings | None = None):
        self.store = DuckDBUserStore(path)
        self.auth = Auth(self.store, settings or QUICK_HASHING, context.clock)

    def person(self, name: str, role: Role, password: str = "correct horse battery") -> str:
        """A new person who logs in with `password` (returned)."""
        self.auth.add_user(name, role, password)
        return password

    def token(self, name: str = "kitchen-tablet", role: Role = Role.STAFF) -> dict[str, str]:
        """Headers that carry a new bearer token named `name` with `role`."""
        return bearer(self.auth.create_token(name, role))

    def close(self) -> None:
        self.store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def with_accounts(
    context: ApiContext, path: Path, settings: AuthSettings | None = None
) -> tuple[ApiContext, Accounts]:
    """`context` with the people and tokens of the database at `path`."""
    accounts = Accounts(path, context, settings)
    return replace(context, auth=accounts.auth), accounts


_HIDDEN_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
_META_CSRF = re.compile(r'<meta name="csrf" content="([^"]*)">')


async def log_in(
    client: httpx.AsyncClient, name: str, password: str, next_path: str = "/"
) -> httpx.Response:
    """Log in through the login form as a browser does (its CSRF cookie and field)."""
    form = await client.get("/login")
    found = _HIDDEN_CSRF.search(form.text)
    assert found is not None, form.text
    return await client.post(
        "/login",
        data={"name": name, "password": password, "csrf": found.group(1), "next": next_path},
    )


async def session_csrf(client: httpx.AsyncClient) -> str:
    """The session's CSRF token, as a page hands it to its scripts."""
    page = await client.get("/")
    found = _META_CSRF.search(page.text)
    assert found is not None and found.group(1), page.text
    return found.group(1)


def token_in(path: Path, name: str = "test-client", role: Role = Role.VIEWER) -> dict[str, str]:
    """Headers with a new token kept in the database file at `path` (made as `canteen token
    create` does, before a service opens the file)."""
    store = DuckDBUserStore(path)
    try:
        return bearer(Auth(store, QUICK_HASHING, SystemClock()).create_token(name, role))
    finally:
        store.close()
