"""Login, sessions, roles, CSRF and bearer tokens, through the real app on a real DuckDB file
(argon2 hashes, stored sessions) with the test's clock: what a cook with a phone, a manager
and a machine see."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core.clock import StepClock
from core.config import AuthSettings
from core.records import Role, RuleId
from dashboard_api.auth import Auth
from tests.dashboard_api.accounts import QUICK_HASHING, Accounts, bearer, log_in, session_csrf
from tests.dashboard_api.conftest import close_wired, wired_app

PASSWORD = "correct horse battery"


class Site:
    """The app with people and tokens; `harness` runs the real alert rules (one resolved
    over-temperature alert on fridge-1), `clock` is the one every part reads."""

    def __init__(self, path: Path, settings: AuthSettings | None = None) -> None:
        self.app, self.harness = wired_app(path)
        self.accounts: Accounts = self.app.state.accounts
        if settings is not None:
            # Settings under test: the same store under an Auth with other limits.
            auth = Auth(self.accounts.store, settings, self.clock)
            self.app.state.context = replace(self.app.state.context, auth=auth)
        self.accounts.person("王老师", Role.STAFF, PASSWORD)

    @property
    def clock(self) -> StepClock:
        return self.harness.clock

    def close(self) -> None:
        close_wired(self.app, self.harness)


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    built = Site(tmp_path / "auth.duckdb", getattr(request, "param", None))
    yield built
    built.close()


@pytest.fixture
async def browser(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        yield client


async def test_log_in_see_the_shell_and_log_out(browser: httpx.AsyncClient) -> None:
    first = await browser.get("/alerts?state=all")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/alerts?state=all"
    answer = await log_in(browser, "王老师", PASSWORD, next_path="/alerts?state=all")
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts?state=all"
    cookie = answer.headers["set-cookie"].lower()
    assert "canteen_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    page = await browser.get("/")
    assert page.status_code == 200 and "王老师" in page.text and "值班人员" in page.text
    csrf = await session_csrf(browser)
    out = await browser.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login?bye=1"
    assert "已退出登录" in (await browser.get("/login?bye=1")).text
    assert (await browser.get("/")).status_code == 303
    assert (await browser.get("/api/devices")).status_code == 401


async def test_a_logged_out_session_key_is_dead_on_the_server(
    browser: httpx.AsyncClient,
) -> None:
    await log_in(browser, "王老师", PASSWORD)
    key = browser.cookies["canteen_session"]
    await browser.post("/logout", data={"csrf": await session_csrf(browser)})
    browser.cookies.set("canteen_session", key, domain="school.local")
    assert (await browser.get("/api/devices")).status_code == 401


async def test_the_cookie_is_secure_over_https(site: Site) -> None:
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://school") as client:
        answer = await log_in(client, "王老师", PASSWORD)
    assert "secure" in answer.headers["set-cookie"].lower()


@pytest.mark.parametrize("name", ["王老师", "nobody"])
async def test_a_wrong_password_or_name_says_the_same(
    browser: httpx.AsyncClient, name: str
) -> None:
    answer = await log_in(browser, name, "not the password")
    assert answer.status_code == 401
    assert "用户名或密码不正确" in answer.text
    assert "canteen_session" not in answer.headers.get("set-cookie", "")


async def test_five_failures_lock_the_account_for_a_while(
    browser: httpx.AsyncClient, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dashboard_api.auth.throttle")
    harness = site.harness
    for _ in range(4):
        assert (await log_in(browser, "王老师", "guess")).status_code == 401
    locked = await log_in(browser, "王老师", "guess")
    # 12:00 local + 15 min lockout (AuthSettings.login_lockout_min).
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.text and "12:15" in locked.text
    assert "login locked: account '王老师'" in caplog.text  # the office can see who was guessed
    # While locked, the right password is refused too, and the page still says why.
    still = await log_in(browser, "王老师", PASSWORD)
    assert still.status_code == 429 and "12:15" in still.text
    english = await browser.post("/login?lang=en", data={})
    assert english.status_code == 403  # no login form token: the form had expired
    harness.clock.instant += timedelta(minutes=16)
    assert (await log_in(browser, "王老师", PASSWORD)).status_code == 303


@pytest.mark.parametrize(
    "site", [QUICK_HASHING.model_copy(update={"login_max_failures": 2})], indirect=True
)
async def test_one_address_guessing_many_names_is_stopped(browser: httpx.AsyncClient) -> None:
    # The address limit is 4 x the account's (a school's staff share one NAT address): 8 here.
    for index in range(7):
        assert (await log_in(browser, f"user{index}", "guess")).status_code == 401
    assert (await log_in(browser, "user7", "guess")).status_code == 429
    assert (await log_in(browser, "王老师", PASSWORD)).status_code == 429


async def test_sessions_expire_when_idle_and_after_a_week(
    browser: httpx.AsyncClient, site: Site
) -> None:
    harness = site.harness
    await log_in(browser, "王老师", PASSWORD)
    harness.clock.instant += timedelta(hours=7, minutes=59)
    assert (await browser.get("/api/devices")).status_code == 200
    harness.clock.instant += timedelta(hours=8, minutes=1)
    assert (await browser.get("/api/devices")).status_code == 401  # idle 8 h 1 min
    await log_in(browser, "王老师", PASSWORD)
    for _ in range(7 * 24 // 6 + 1):  # busy every 6 h for a week: never idle, still ends
        harness.clock.instant += timedelta(hours=6)
        answer = await browser.get("/api/devices")
    assert answer.status_code == 401
    assert (await browser.get("/")).headers["location"] == "/login?next=/"


async def test_a_disabled_person_or_new_password_ends_the_sessions(
    browser: httpx.AsyncClient, site: Site
) -> None:
    accounts = site.accounts
    await log_in(browser, "王老师", PASSWORD)
    accounts.auth.set_password("王老师", "a new long password")
    assert (await browser.get("/api/devices")).status_code == 401
    await log_in(browser, "王老师", "a new long password")
    accounts.auth.set_disabled("王老师", True)
    assert (await browser.get("/api/devices")).status_code == 401
    assert (await log_in(browser, "王老师", "a new long password")).status_code == 401


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "x"],
)
async def test_next_is_followed_only_to_a_local_path(
    browser: httpx.AsyncClient, target: str
) -> None:
    answer = await log_in(browser, "王老师", PASSWORD, next_path=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


async def test_a_form_without_its_csrf_token_gets_a_403_page(browser: httpx.AsyncClient) -> None:
    await log_in(browser, "王老师", PASSWORD)
    refused = await browser.post("/logout", data={"csrf": "forged"})
    assert refused.status_code == 403 and "安全令牌" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    assert (await browser.get("/api/devices")).status_code == 200  # still logged in


async def test_a_browser_api_call_needs_the_csrf_header(
    browser: httpx.AsyncClient, site: Site
) -> None:
    harness = site.harness
    [alert] = harness.alerts(RuleId.OVER_TEMPERATURE)
    await log_in(browser, "王老师", PASSWORD)
    path = f"/api/alerts/{alert.id}/acknowledge"
    refused = await browser.post(path, json={"note": "seen"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["message"]
    forged = await browser.post(path, json={}, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    csrf = await session_csrf(browser)
    answer = await browser.post(path, json={}, headers={"X-CSRF-Token": csrf})
    # The alert was resolved by the rules: acknowledging is refused by its state (409), past
    # the login and the CSRF check; closing it is the lifecycle step left.
    assert answer.status_code == 409
    closing = {
        "corrective_action": "gasket re-seated",
        "food_decision": "kept",
        "food_reason": "food stayed below 8 °C",
    }
    closed = await browser.post(
        f"/api/alerts/{alert.id}/close", json=closing, headers={"X-CSRF-Token": csrf}
    )
    assert closed.status_code == 200 and closed.json()["closed_by"] == "王老师"
    history = (await browser.get(f"/api/alerts/{alert.id}")).json()["history"]
    assert history[-1]["action"] == "closed" and history[-1]["actor"] == "王老师"


async def test_roles_and_tokens_on_the_lifecycle(browser: httpx.AsyncClient, site: Site) -> None:
    harness, accounts = site.harness, site.accounts
    [alert] = harness.alerts(RuleId.OVER_TEMPERATURE)
    path = f"/api/alerts/{alert.id}/close"
    closing = {"corrective_action": "moved", "food_decision": "kept", "food_reason": "cold"}
    nobody = await browser.post(path, json=closing)
    assert nobody.status_code == 401 and nobody.headers["www-authenticate"] == "Bearer"
    wall = accounts.token("wall-display", Role.VIEWER)
    assert (await browser.get("/api/alerts", headers=wall)).status_code == 200
    low = await browser.post(path, json=closing, headers=wall)
    assert low.status_code == 403
    assert low.json()["message"] == "this needs the role staff; 'wall-display' has viewer"
    assert (await browser.get("/api/alerts", headers=bearer("ctk_unknown"))).status_code == 401
    old = accounts.token("bms-bridge", Role.STAFF)
    new = accounts.token("bms-bridge", Role.STAFF)  # created again: the old one stops working
    assert (await browser.get("/api/devices", headers=old)).status_code == 401
    with_by = await browser.post(path, json={**closing, "by": "someone else"}, headers=new)
    assert with_by.status_code == 422 and "`by` is no longer accepted" in with_by.text
    closed = await browser.post(path, json=closing, headers=new)  # no CSRF: not a browser
    assert closed.status_code == 200 and closed.json()["closed_by"] == "bms-bridge"
    assert harness.store.alert_history(alert.id)[-1].actor == "bms-bridge"


async def test_health_and_docs_are_public(browser: httpx.AsyncClient) -> None:
    assert (await browser.get("/api/health")).status_code == 200
    assert (await browser.get("/openapi.json")).status_code == 200
    assert (await browser.get("/docs")).status_code == 200
    assert (await browser.get("/redoc")).status_code == 404
