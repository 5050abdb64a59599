"""A password an admin gave (a reset, or the first one of a person the admin added) must be
replaced at the next login: the person's session opens only /password (pages are sent there,
the JSON API answers 403 saying why), which takes a new password meeting the rules, typed
twice, not the handed-over one; then every old session ends,
this browser gets a fresh one, the change is in the audit trail in the person's name, and the
next login is an ordinary one. Machines' tokens are never affected. A users table of schema
version 1 gains the flag with every existing person unaffected."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import duckdb
import httpx
import pytest

from core.admin_records import AdminAction
from core.records import Role
from dashboard_api.auth.people import TEMPORARY_PASSWORD
from dashboard_api.deps import SESSION_COOKIE
from ingest import duckdb_schema
from ingest.duckdb_users import DuckDBUserStore
from ingest.migrations import migrate
from tests.dashboard_api.accounts import log_in
from tests.dashboard_api.test_pages_admin import (
    ADMIN,
    VIEWER,
    Site,
    admin_site,
    csrf_of,
    text_of,
)

NEW = "a kitchen of my own 7"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = admin_site(tmp_path / "site.duckdb")
    yield built
    built.close()


async def reset_by_admin(site: Site, name: str) -> str:
    async with site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin)
        reset = await admin.post(f"/admin/users/{name}/password", data={"csrf": csrf})
    found = re.search(r'data-testid="one-time-value">([^<]+)<', reset.text)
    assert found is not None, reset.text
    return unescape(found.group(1))


async def password_csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/password")
    assert page.status_code == 200 and 'data-testid="password-form"' in page.text, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_a_reset_password_opens_only_the_password_page_until_changed(site: Site) -> None:
    token = site.accounts.token("kitchen-tablet", Role.STAFF)
    given = await reset_by_admin(site, VIEWER)
    async with site.browser(None) as viewer:
        assert (await log_in(viewer, VIEWER, given, "/alerts")).status_code == 303
        for path in ("/", "/alerts", "/registers", "/devices/fridge-1"):
            turned = await viewer.get(path)
            assert (turned.status_code, turned.headers["location"]) == (303, "/password"), path
        api = await viewer.get("/api/alerts")
        assert api.status_code == 403
        assert "choose a new one on the page /password" in api.json()["message"]
        # A machine's token is someone else: it works as before.
        assert (await viewer.get("/api/alerts", headers=token)).status_code == 200
        page = await viewer.get("/password")
        assert "管理员设置的临时密码" in text_of(page.text)
        assert 'class="nav"' not in page.text  # no links that would only lead back here
        csrf = await password_csrf(viewer)

        refusals = {
            "新密码只有 5 个字符，至少需要 8 个。": {"password": "short", "repeat": "short"},
            "两次输入的新密码不一致。": {"password": NEW, "repeat": NEW + "!"},
            "请设置新的密码，不能沿用管理员给您的密码。": {"password": given, "repeat": given},
        }
        for words, fields in refusals.items():
            refused = await viewer.post("/password", data={"csrf": csrf, **fields})
            assert refused.status_code == 422 and words in text_of(refused.text), refused.text
        without_csrf = await viewer.post("/password", data={"password": NEW, "repeat": NEW})
        assert without_csrf.status_code == 403
        assert (await viewer.get("/")).status_code == 303  # still nothing else

        old_cookie = viewer.cookies[SESSION_COOKIE]
        done = await viewer.post("/password", data={"csrf": csrf, "password": NEW, "repeat": NEW})
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert viewer.cookies[SESSION_COOKIE] != old_cookie  # a fresh session
        assert (await viewer.get("/alerts")).status_code == 200
        assert (await viewer.get("/password")).status_code == 303  # nothing left to change
    # The session opened with the handed-over password is gone.
    async with site.browser(None) as stale:
        stale.cookies.set(SESSION_COOKIE, old_cookie)
        assert (await stale.get("/api/alerts")).status_code == 401
    async with site.browser(None) as again:
        assert (await log_in(again, VIEWER, given)).status_code != 303
        assert (await log_in(again, VIEWER, NEW, "/alerts")).status_code == 303
        assert (await again.get("/alerts")).status_code == 200

    trail = site.admin.audit_trail(("user",))
    assert [(e.actor, e.action, e.target, e.new, e.reason) for e in trail[:2]] == [
        (VIEWER, AdminAction.USER_PASSWORD_CHANGED, VIEWER, None, ""),
        (ADMIN, AdminAction.USER_PASSWORD_RESET, VIEWER, None, TEMPORARY_PASSWORD),
    ]


async def test_others_and_logout_are_not_held_by_a_reset(site: Site) -> None:
    given = await reset_by_admin(site, VIEWER)
    async with site.browser(ADMIN) as admin:  # the admin's own session is not affected
        assert (await admin.get("/")).status_code == 200
        assert (await admin.get("/password")).status_code == 303  # nothing to change
    async with site.browser(None) as viewer:
        assert (await log_in(viewer, VIEWER, given)).status_code == 303
        csrf = await password_csrf(viewer)
        out = await viewer.post("/logout", data={"csrf": csrf})
        assert (out.status_code, out.headers["location"]) == (303, "/login?bye=1")
        assert (await viewer.get("/password")).status_code == 303  # to the login page
    # Logged out without changing it: the next login asks again.
    async with site.browser(None) as viewer:
        assert (await log_in(viewer, VIEWER, given)).status_code == 303
        assert (await viewer.get("/")).headers["location"] == "/password"


async def test_a_person_an_admin_added_chooses_their_own_password_at_first_login(
    site: Site,
) -> None:
    """The admin typed the first password, so the admin knows it: like a reset, it opens only
    /password until the person has chosen their own; the people list says so meanwhile."""
    given = "from the office 9"
    async with site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin)
        added = await admin.post(
            "/admin/users",
            data={"csrf": csrf, "name": "陈会计", "role": "staff", "password": given},
        )
        assert added.status_code == 303, added.text
        listed = (await admin.get("/admin/users")).text
        assert 'data-testid="must-change-陈会计"' in listed
        assert "待本人设置密码" in text_of(listed)
    async with site.browser(None) as newcomer:
        assert (await log_in(newcomer, "陈会计", given, "/alerts")).status_code == 303
        assert (await newcomer.get("/alerts")).headers["location"] == "/password"
        assert (await newcomer.get("/api/alerts")).status_code == 403
        csrf = await password_csrf(newcomer)
        same = await newcomer.post(
            "/password", data={"csrf": csrf, "password": given, "repeat": given}
        )
        assert same.status_code == 422
        done = await newcomer.post("/password", data={"csrf": csrf, "password": NEW, "repeat": NEW})
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert (await newcomer.get("/alerts")).status_code == 200
    async with site.browser(ADMIN) as admin:
        assert 'data-testid="must-change-陈会计"' not in (await admin.get("/admin/users")).text
    trail = site.admin.audit_trail(("user",))
    assert [(e.actor, e.action, e.target, e.new, e.reason) for e in trail[:2]] == [
        ("陈会计", AdminAction.USER_PASSWORD_CHANGED, "陈会计", None, ""),
        (ADMIN, AdminAction.USER_CREATED, "陈会计", "staff", TEMPORARY_PASSWORD),
    ]
    # The trail says so in the reader's language, on the created row (newest first).
    async with site.browser(ADMIN) as admin:
        for lang, words in (("zh", "临时密码"), ("en", "temporary password")):
            page = (await admin.get(f"/admin/users?lang={lang}")).text
            changed, created = (r.split("</tr>")[0] for r in page.split('"trail-row"')[1:3])
            assert "陈会计" in created and words in text_of(created)
            assert 'data-testid="trail-note"' in created and words not in text_of(changed)


def test_a_users_table_of_version_1_gains_the_flag_for_nobody(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, "users", duckdb_schema.USERS, target=str(path))
    con.execute(
        "INSERT INTO users VALUES ('老周', 'staff', 'argon2-hash', false, "
        "TIMESTAMP '2026-01-05 08:00:00', TIMESTAMP '2026-01-05 08:00:00')"
    )
    con.close()
    store = DuckDBUserStore(path)
    try:
        user = store.user("老周")
        assert user is not None and user.must_change_password is False
        assert user.role is Role.STAFF
    finally:
        store.close()
