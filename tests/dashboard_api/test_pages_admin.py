"""The admin pages as an admin, a staff member and a viewer use them: people and tokens managed
with an audit trail, and a device's control limits changed over the site config, checked by the
config's bounds, applied to the running rules at once and again after a restart. Real rules on a
real DuckDB file, real argon2 logins through the login form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest

from core.admin_records import AdminAction, AuditEntry, LimitOverride
from core.clock import StepClock
from core.records import Role, RuleId
from dashboard_api import ApiContext, create_app
from dashboard_api.admin_desk import admin_desk
from dashboard_api.limit_desk import apply_stored_overrides
from ingest.duckdb_admin import DuckDBAdminStore
from tests.alerts.conftest import MIDNIGHT, SITE, Harness, school, series
from tests.dashboard_api.accounts import Accounts, bearer, log_in, with_accounts

ADMIN, STAFF, VIEWER = "赵校长", "王师傅", "李老师"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    harness: Harness
    accounts: Accounts
    admin: DuckDBAdminStore
    context: ApiContext

    @asynccontextmanager
    async def browser(self, name: str | None) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=create_app(self.context))
        async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
            if name is not None:
                assert (await log_in(client, name, PASSWORD)).status_code == 303
            yield client

    def close(self) -> None:
        self.admin.close()
        self.accounts.close()
        self.harness.close()


def admin_site(path: Path) -> Site:
    """A site with an admin desk and three people (admin, staff, viewer); an hour of fridge-1
    in band from MIDNIGHT."""
    harness = Harness(path, school(rules={"judge_on": "air"}), StepClock(MIDNIGHT))
    harness.feed(series("fridge-1", MIDNIGHT, 60, [4.0 + 0.1 * (m % 3) for m in range(60)]))
    context = ApiContext(
        harness.config, harness.readings, harness.clock, lambda: {}, alerts=harness.service
    )
    context, accounts = with_accounts(context, path)
    store = DuckDBAdminStore(path)
    assert context.auth is not None
    desk = admin_desk(harness.config, store, context.auth, harness.clock, harness.service)
    context = replace(context, admin=desk)
    for name, role in ((ADMIN, Role.ADMIN), (STAFF, Role.STAFF), (VIEWER, Role.VIEWER)):
        accounts.person(name, role, PASSWORD)
    return Site(harness, accounts, store, context)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = admin_site(tmp_path / "site.duckdb")
    yield built
    built.close()


async def csrf_of(client: httpx.AsyncClient, page: str = "/admin/users") -> str:
    found = _CSRF.search((await client.get(page)).text)
    assert found is not None
    return found.group(1)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def refusal(html: str) -> str:
    found = re.search(r'data-testid="admin-refusal"[^>]*>(.*?)</div>', html, re.S)
    assert found is not None, html
    return text_of(found.group(1))


def row(html: str, testid: str) -> str:
    found = re.search(rf'<tr data-testid="{testid}"(.*?)</tr>', html, re.S)
    assert found is not None, testid
    return found.group(0)


async def test_only_admins_reach_the_pages_and_every_form_needs_its_csrf(site: Site) -> None:
    async with site.browser(None) as nobody:
        answer = await nobody.get("/admin/users")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    for name in (STAFF, VIEWER):
        async with site.browser(name) as client:
            for page in ("/admin/users", "/admin/thresholds"):
                answer = await client.get(page)
                assert answer.status_code == 403 and "仅限管理员" in answer.text
            home = (await client.get("/")).text
            assert 'data-testid="nav-admin"' not in home
            csrf = _CSRF.search(home)
            assert csrf is not None
            post = await client.post(
                "/admin/users", data={"csrf": csrf.group(1), "name": "x", "role": "admin"}
            )
            assert post.status_code == 403
    async with site.browser(ADMIN) as admin:
        assert 'data-testid="nav-admin"' in (await admin.get("/")).text
        forged = await admin.post(
            "/admin/users", data={"name": "mallory", "role": "admin", "password": PASSWORD * 2}
        )
        assert forged.status_code == 403
    assert site.accounts.store.user("mallory") is None


async def test_an_admin_adds_a_person_and_changes_them_with_an_audit_trail(site: Site) -> None:
    async with site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin)
        short = await admin.post(
            "/admin/users",
            data={"csrf": csrf, "name": "陈会计", "role": "viewer", "password": "short"},
        )
        assert short.status_code == 422
        assert "the password has 5 characters; at least 8 are needed" in refusal(short.text)
        bad_role = await admin.post(
            "/admin/users",
            data={"csrf": csrf, "name": "陈会计", "role": "boss", "password": PASSWORD},
        )
        assert bad_role.status_code == 422
        assert "'boss' is not a role; expected one of viewer, staff, admin" in refusal(
            bad_role.text
        )
        made = await admin.post(
            "/admin/users",
            data={"csrf": csrf, "name": "陈会计", "role": "viewer", "password": PASSWORD},
        )
        assert made.status_code == 303
        staff = await admin.post("/admin/users/陈会计/role", data={"csrf": csrf, "role": "staff"})
        assert staff.status_code == 303
        page = (await admin.get("/admin/users")).text
    assert 'data-role="staff"' in row(page, "person-陈会计")
    # The admin logged in through the form at the clock's instant: the last of the 60 readings
    # fed from local midnight, 00:59 in the site's zone.
    assert "2026-11-23 00:59" in text_of(row(page, f"person-{ADMIN}"))
    assert "从未" in text_of(row(page, "person-陈会计"))
    trail = site.admin.audit_trail(("user",))
    assert [(e.actor, e.action, e.target, e.old, e.new) for e in trail] == [
        (ADMIN, AdminAction.USER_ROLE, "陈会计", "viewer", "staff"),
        (ADMIN, AdminAction.USER_CREATED, "陈会计", None, "viewer"),
    ]
    assert "改角色" in text_of(page.split('data-testid="admin-trail"')[1])


async def test_the_last_admin_can_be_neither_demoted_nor_disabled(site: Site) -> None:
    async with site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin)
        demote = await admin.post(
            f"/admin/users/{ADMIN}/role", data={"csrf": csrf, "role": "staff"}
        )
        assert demote.status_code == 409
        assert f"'{ADMIN}' is the last enabled admin and cannot be demoted" in refusal(demote.text)
        myself = await admin.post(
            f"/admin/users/{ADMIN}/disabled", data={"csrf": csrf, "disabled": "true"}
        )
        assert myself.status_code == 409 and "cannot disable yourself" in refusal(myself.text)
        # With a second admin, the first may step down.
        await admin.post(f"/admin/users/{STAFF}/role", data={"csrf": csrf, "role": "admin"})
        ok = await admin.post(f"/admin/users/{ADMIN}/role", data={"csrf": csrf, "role": "staff"})
        assert ok.status_code == 303
        # Now a staff member: the page is closed to them at once.
        assert (await admin.get("/admin/users")).status_code == 403
    async with site.browser(STAFF) as new_admin:
        csrf = await csrf_of(new_admin)
        last = await new_admin.post(
            f"/admin/users/{STAFF}/role", data={"csrf": csrf, "role": "viewer"}
        )
        assert last.status_code == 409


async def test_disable_reset_and_log_out_everywhere_end_the_persons_sessions(site: Site) -> None:
    async with site.browser(VIEWER) as viewer, site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin)
        assert (await viewer.get("/")).status_code == 200
        await admin.post(f"/admin/users/{VIEWER}/sessions", data={"csrf": csrf})
        assert (await viewer.get("/")).status_code == 303  # back to the login page
        assert (await log_in(viewer, VIEWER, PASSWORD)).status_code == 303
        off = await admin.post(
            f"/admin/users/{VIEWER}/disabled", data={"csrf": csrf, "disabled": "true"}
        )
        assert off.status_code == 303
        assert (await viewer.get("/")).status_code == 303
        assert (await log_in(viewer, VIEWER, PASSWORD)).status_code != 303
        await admin.post(
            f"/admin/users/{VIEWER}/disabled", data={"csrf": csrf, "disabled": "false"}
        )
        reset = await admin.post(f"/admin/users/{VIEWER}/password", data={"csrf": csrf})
        assert reset.status_code == 200 and "no-store" in reset.headers["cache-control"]
        found = re.search(r'data-testid="one-time-value">([^<]+)<', reset.text)
        assert found is not None and len(found.group(1)) >= 16
        one_time = unescape(found.group(1))
        assert one_time not in (await admin.get("/admin/users")).text  # shown once
        assert (await log_in(viewer, VIEWER, PASSWORD)).status_code != 303
        assert (await log_in(viewer, VIEWER, one_time)).status_code == 303
    actions = [e.action for e in site.admin.audit_trail(("user",))]
    assert actions == [
        AdminAction.USER_PASSWORD_RESET,
        AdminAction.USER_ENABLED,
        AdminAction.USER_DISABLED,
        AdminAction.USER_SESSIONS_REVOKED,
    ]


async def test_a_revoked_token_stops_working(site: Site) -> None:
    headers = site.accounts.token("kitchen-tablet", Role.STAFF)
    async with site.browser(None) as machine:
        assert (await machine.get("/api/devices", headers=headers)).status_code == 200
    async with site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin)
        assert 'data-disabled="false"' in row(
            (await admin.get("/admin/users")).text, "token-kitchen-tablet"
        )
        answer = await admin.post("/admin/tokens/kitchen-tablet/revoke", data={"csrf": csrf})
        assert answer.status_code == 303
        unknown = await admin.post("/admin/tokens/nope/revoke", data={"csrf": csrf})
        assert unknown.status_code == 422 and "no API token 'nope'" in refusal(unknown.text)
    async with site.browser(None) as machine:
        assert (await machine.get("/api/devices", headers=headers)).status_code == 401
    [entry] = site.admin.audit_trail(("token",))
    assert (entry.target, entry.old, entry.new) == ("token:kitchen-tablet", "active", "revoked")
    assert bearer("x")  # the helper stays in use for other tests


async def set_limit(
    client: httpx.AsyncClient, device: str, field: str, value: str, reason: str = "冷藏柜换新"
) -> httpx.Response:
    csrf = await csrf_of(client, "/admin/thresholds")
    data = {"csrf": csrf, "action": "set", "value": value, "reason": reason}
    return await client.post(f"/admin/thresholds/{device}/{field}", data=data)


async def test_limits_outside_the_configs_bounds_are_refused_with_what_is_allowed(
    site: Site,
) -> None:
    async with site.browser(ADMIN) as admin:
        page = (await admin.get("/admin/thresholds")).text
        high = row(page, "limit-fridge-1-high_c")
        assert 'data-source="default"' in high and 'data-value="8"' in high
        assert "0 … 8 °C" in text_of(high)
        cases = [
            ("fridge-1", "high_c", "80", "80 °C is not allowed for a fridge; expected 0..8 °C"),
            ("fridge-1", "low_c", "8", "8 °C must be below high_c (8 °C)"),
            ("freezer-1", "high_c", "5", "5 °C is not allowed for a freezer; expected -40..-12 °C"),
            ("fridge-1", "high_c", "warm", "'warm' is not a number"),
            ("fridge-1", "high_c", "nan", "nan is not a number"),
            ("fridge-1", "target_c", "120", "not a limit of a fridge"),
        ]
        for device, field, value, message in cases:
            answer = await set_limit(admin, device, field, value)
            assert answer.status_code == 422, (device, field, value)
            assert message in refusal(answer.text), refusal(answer.text)
        no_reason = await set_limit(admin, "fridge-1", "high_c", "5", reason=" ")
        assert no_reason.status_code == 422 and "say why" in refusal(no_reason.text)
        unknown = await set_limit(admin, "fridge-9", "high_c", "5")
        assert unknown.status_code == 404
    assert site.admin.limit_overrides(SITE) == [] and site.admin.audit_trail(("limit",)) == []


async def test_an_override_judges_the_next_readings_and_is_audited_and_cleared(site: Site) -> None:
    """6 °C is inside the default 0-8 °C: no alert. With the high limit set to 5 °C, 45 min at
    6 °C is an excursion longer than the 30 min the fridge may be out (alert_after_min)."""
    harness = site.harness
    start = MIDNIGHT + timedelta(hours=1)
    harness.feed(series("fridge-1", start, 60, [6.0 + 0.1 * (m % 2) for m in range(45)]))
    assert harness.alerts(RuleId.OVER_TEMPERATURE, "fridge-1") == []
    async with site.browser(ADMIN) as admin:
        answer = await set_limit(admin, "fridge-1", "high_c", "5", reason="新冷藏柜按 5 °C 管理")
        assert answer.status_code == 303
        page = (await admin.get("/admin/thresholds")).text
        high = row(page, "limit-fridge-1-high_c")
        assert 'data-source="override"' in high and 'data-value="5"' in high
        device_page = (await admin.get("/devices/fridge-1")).text
        assert "管理员已调整此设备的限值" in device_page
    later = start + timedelta(minutes=45)
    harness.feed(series("fridge-1", later, 60, [6.0 + 0.1 * (m % 2) for m in range(45)]))
    [alert] = harness.alerts(RuleId.OVER_TEMPERATURE, "fridge-1")
    assert alert.fired_at is not None and alert.fired_at >= later
    [entry] = site.admin.audit_trail(("limit",))
    assert (entry.actor, entry.target, entry.old, entry.new, entry.reason) == (
        ADMIN, "fridge-1/high_c", "8", "5", "新冷藏柜按 5 °C 管理",
    )  # fmt: skip
    async with site.browser(ADMIN) as admin:
        csrf = await csrf_of(admin, "/admin/thresholds")
        data = {"csrf": csrf, "action": "clear", "value": "", "reason": "恢复"}
        assert (await admin.post("/admin/thresholds/fridge-1/high_c", data=data)).status_code == 303
        high = row((await admin.get("/admin/thresholds")).text, "limit-fridge-1-high_c")
        assert 'data-source="default"' in high and 'data-value="8"' in high
    assert site.admin.limit_overrides(SITE) == []
    assert site.harness.config.limits_for(site.harness.config.devices[0]).high_c == 8.0


def test_stored_overrides_are_laid_over_the_config_after_a_restart(site: Site) -> None:
    now = site.harness.clock.now()

    def entry(target: str) -> AuditEntry:
        return AuditEntry(now, ADMIN, AdminAction.LIMIT_SET, target, None, None, "test")

    for device, field, value in (
        ("fridge-1", "high_c", 5.0),
        ("freezer-1", "high_c", -20.0),
        ("fridge-gone", "high_c", 5.0),  # removed from the file since
        ("sample-1", "low_c", 9.0),  # out of bounds (a hand-edited database)
    ):
        override = LimitOverride(SITE, device, field, value, ADMIN, now, "test")
        site.admin.set_limit(override, entry(f"{device}/{field}"))
    fresh = school(rules={"judge_on": "air"})  # the file as the service reads it on start
    skipped = apply_stored_overrides(fresh, site.admin.limit_overrides(SITE))
    assert skipped == [
        "limit override of 'fridge-gone' left out: no such device",
        "limit override sample-1.low_c left out: 9 °C is not allowed for a sample fridge; "
        "expected -5..8 °C (a fridge keeps food from freezing)",
    ]
    by_id = {d.id: fresh.limits_for(d) for d in fresh.devices}
    assert by_id["fridge-1"].high_c == 5.0 and by_id["fridge-1"].low_c == 0.0
    assert by_id["freezer-1"].high_c == -20.0 and by_id["sample-1"].low_c == 0.0
