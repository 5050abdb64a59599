"""Who is asking, answered from memory for a moment: no store read per request, and every change
made in this process (revoked token, disabled person, role, logout) seen by the next request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core import ManualClock
from core.records import ApiToken, LoginSession, Role
from dashboard_api import ApiContext, create_app
from dashboard_api.auth import Auth
from dashboard_api.auth.people import People
from dashboard_api.auth.recall import RECALL_S
from ingest import DuckDBStore
from ingest.duckdb_users import DuckDBUserStore
from tests.conftest import site_config
from tests.dashboard_api.accounts import QUICK_HASHING, bearer, log_in

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


class CountingUserStore(DuckDBUserStore):
    """The real store, counting the reads a request's "who is this" makes."""

    reads = 0

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        self.reads += 1
        return super().token_by_hash(token_hash)

    def session(self, key_hash: str) -> LoginSession | None:
        self.reads += 1
        return super().session(key_hash)


@pytest.fixture
def parts(tmp_path: Path) -> tuple[ApiContext, CountingUserStore, ManualClock]:
    clock = ManualClock(NOW)
    store = DuckDBStore(tmp_path / "api.duckdb")
    users = CountingUserStore(tmp_path / "users.duckdb")
    auth = Auth(users, QUICK_HASHING, clock)
    context = ApiContext(site_config("canteen/v1"), store, clock, lambda: {}, auth=auth)
    return context, users, clock


def client(context: ApiContext) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(context)), base_url="http://t"
    )


async def test_a_token_is_read_once_then_recalled_until_the_moment_passes(
    parts: tuple[ApiContext, CountingUserStore, ManualClock],
) -> None:
    context, users, clock = parts
    assert context.auth is not None
    headers = bearer(context.auth.create_token("wall", Role.VIEWER))
    async with client(context) as api:
        for _ in range(5):
            assert (await api.get("/api/devices", headers=headers)).status_code == 200
        assert users.reads == 1
        await clock.advance(RECALL_S)
        assert (await api.get("/api/devices", headers=headers)).status_code == 200
        assert users.reads == 2


async def test_a_change_from_another_process_is_seen_within_the_moment(
    parts: tuple[ApiContext, CountingUserStore, ManualClock], tmp_path: Path
) -> None:
    context, users, clock = parts
    assert context.auth is not None
    headers = bearer(context.auth.create_token("wall", Role.VIEWER))
    async with client(context) as api:
        assert (await api.get("/api/devices", headers=headers)).status_code == 200
        # `canteen token revoke` run by hand writes the file behind this process's back.
        token = next(t for t in users.tokens() if t.name == "wall")
        users.save_token(ApiToken(token.name, token.role, token.token_hash, token.created_at, True))
        await clock.advance(RECALL_S)
        assert (await api.get("/api/devices", headers=headers)).status_code == 401


async def test_changes_made_here_are_seen_by_the_next_request(
    parts: tuple[ApiContext, CountingUserStore, ManualClock],
) -> None:
    context, _users, _clock = parts
    auth = context.auth
    assert auth is not None
    people = People(auth, _NoLog())
    headers = bearer(auth.create_token("wall", Role.STAFF))
    auth.add_user("cook", Role.STAFF, "correct horse battery")
    async with client(context) as api, client(context) as browser:
        assert (await api.get("/api/devices", headers=headers)).status_code == 200
        people.revoke_token("admin", "wall")
        assert (await api.get("/api/devices", headers=headers)).status_code == 401

        assert (await log_in(browser, "cook", "correct horse battery")).status_code == 303
        assert (await browser.get("/api/devices")).status_code == 200
        people.set_role("admin", "cook", Role.VIEWER)
        # Role changes take effect at once: the cached staff answer is gone.
        assert (await browser.get("/api/devices")).status_code == 200
        known, person = auth.recalled("session", browser.cookies.get("canteen_session"))
        assert known and person is not None and person.role is Role.VIEWER
        people.revoke_sessions("admin", "cook")
        assert (await browser.get("/api/devices")).status_code == 401


class _NoLog:
    def audit(self, entry: object) -> None:
        pass

    def last_logins(self) -> dict[str, datetime]:
        return {}
