"""The signed acknowledge link's page through the real app: a link shows the alert (device by
name and place) with a confirm button and changes nothing on GET; the confirm acknowledges in
the link holder's name when nobody is logged in and in the person's name when someone is (with
the session's CSRF field); a second confirm shows who acknowledged; an expired, altered or
foreign link, a form without its check field, a viewer, and links switched off are pages that
say so, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alerts.notify.links import sign
from core.clock import StepClock
from core.records import Alert, AlertState, Role, RuleId
from dashboard_api import ApiContext, create_app
from tests.alerts.conftest import Harness, school, series
from tests.dashboard_api.accounts import Accounts, with_accounts
from tests.dashboard_api.pages_site import MIDNIGHT, NOON, PASSWORD, form_csrf, signed_in

SECRET = "ack-page-secret-0123456789abcdef"
STAFF = "王师傅"
VIEWER = "李老师"
NOTIFY = {
    "public_url": "http://school/",
    "link_secret": SECRET,
    "channels": {"kitchen": {"type": "wecom", "key": "k"}},
}
DEVICES = [
    {
        "id": f"fridge-{i}",
        "kind": "fridge",
        "building": "canteen",
        "name": f"冷藏柜 {i}",
        "location": "备餐间",
        "interval_s": 60,
    }
    for i in (1, 2, 3)
]


@dataclass
class Site:
    app: FastAPI
    harness: Harness
    accounts: Accounts

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://school"
        )

    def alert(self, device: str) -> Alert:
        (found,) = self.harness.alerts(rule=RuleId.OVER_TEMPERATURE, device=device)
        return found

    def link(self, device: str, hours: float = 24, audience: str = "kitchen") -> str:
        expires = self.harness.clock.now() + timedelta(hours=hours)
        return f"/ack/{sign(self.alert(device).id, audience, expires, SECRET)}"


def build(path: Path, notify: dict[str, object]) -> Site:
    harness = Harness(
        path, school(devices=DEVICES, rules={"judge_on": "air"}, notify=notify), StepClock(MIDNIGHT)
    )
    # Each fridge at 9 °C from 10:00: an over-temperature alert firing at noon.
    six = MIDNIGHT + timedelta(hours=6)
    rows = []
    for device in ("fridge-1", "fridge-2", "fridge-3"):
        rows += series(
            device, six, 60, [9.0 if m >= 240 else 4.0 + 0.1 * (m % 3) for m in range(360)]
        )
    harness.feed(sorted(rows, key=lambda row: row[1]))
    harness.clock.instant = NOON
    context = ApiContext(
        harness.config, harness.readings, harness.clock, lambda: {}, alerts=harness.service
    )
    context, accounts = with_accounts(context, path)
    accounts.person(VIEWER, Role.VIEWER, PASSWORD)
    accounts.person(STAFF, Role.STAFF, PASSWORD)
    return Site(create_app(context), harness, accounts)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = build(tmp_path_factory.mktemp("ack") / "ack.duckdb", NOTIFY)
    yield built
    built.accounts.close()
    built.harness.close()


async def test_the_link_shows_the_alert_and_acknowledges_as_its_holder(site: Site) -> None:
    link = site.link("fridge-1")
    async with site.client() as browser:
        page = await browser.get(link)
        assert page.status_code == 200, page.text
        assert "冷藏柜 1" in page.text and "备餐间" in page.text
        assert 'data-testid="ack-form"' in page.text and "via wecom link (kitchen)" in page.text
        assert site.alert("fridge-1").state is AlertState.FIRING  # a GET changes nothing
        done = await browser.post(link, data={"csrf": form_csrf(page.text)})
    assert done.status_code == 200 and 'data-testid="ack-done"' in done.text, done.text
    acked = site.alert("fridge-1")
    assert acked.state is AlertState.ACKNOWLEDGED
    assert acked.acknowledged_by == "via wecom link (kitchen)"
    history = site.harness.service.book.history(acked.id)
    assert history[-1].actor == "via wecom link (kitchen)"

    async with site.client() as browser:
        again = await browser.get(link)
        assert 'data-testid="ack-by"' in again.text and 'data-testid="ack-form"' not in again.text
        twice = await browser.post(link, data={"csrf": form_csrf(page.text)})
    assert twice.status_code == 409 and "already acknowledged" in twice.text, twice.text


async def test_a_logged_in_person_acknowledges_in_their_own_name(site: Site) -> None:
    link = site.link("fridge-2")
    async with site.client() as browser:
        await signed_in(browser, STAFF)
        page = await browser.get(link)
        assert STAFF in page.text
        # The session's form needs the session's CSRF token, not the link's check field.
        refused = await browser.post(link, data={"csrf": "not-the-token"})
        assert refused.status_code == 403
        assert site.alert("fridge-2").state is AlertState.FIRING
        done = await browser.post(link, data={"csrf": form_csrf(page.text)})
    assert done.status_code == 200, done.text
    assert site.alert("fridge-2").acknowledged_by == STAFF


async def test_a_viewer_cannot_acknowledge_through_the_link(site: Site) -> None:
    link = site.link("fridge-3")
    async with site.client() as browser:
        await signed_in(browser, VIEWER)
        page = await browser.get(f"{link}?lang=en")
        assert 'data-testid="ack-form"' not in page.text
        assert "has the role viewer and cannot acknowledge" in page.text
        token_page = await browser.get("/")
        refused = await browser.post(link, data={"csrf": form_csrf(token_page.text)})
    assert refused.status_code == 403, refused.text
    assert site.alert("fridge-3").state is AlertState.FIRING


async def test_a_form_without_its_check_field_is_refused(site: Site) -> None:
    async with site.client() as browser:
        for data in ({}, {"csrf": "forged"}):
            answer = await browser.post(site.link("fridge-3"), data=data)
            assert answer.status_code == 403, answer.text
            assert 'data-reason="ack.form_key"' in answer.text
    assert site.alert("fridge-3").state is AlertState.FIRING


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_bad_links_are_pages_that_say_why(site: Site, lang: str) -> None:
    alert_id = site.alert("fridge-3").id
    now = site.harness.clock.now()
    expired = f"/ack/{sign(alert_id, 'kitchen', now - timedelta(minutes=1), SECRET)}"
    other_key = f"/ack/{sign(alert_id, 'kitchen', now + timedelta(hours=1), 'x' * 32)}"
    valid = site.link("fridge-3")
    altered = valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBB")
    unknown = f"/ack/{sign(987654, 'kitchen', now + timedelta(hours=1), SECRET)}"
    cases = {
        expired: (410, "ack.expired"),
        other_key: (400, "ack.tampered"),
        altered: (400, "ack.tampered"),
        "/ack/not-a-token": (400, "ack.malformed"),
        "/ack/v1.!!!.***": (400, "ack.tampered"),
        "/ack/" + "v1." + "A" * 600: (400, "ack.malformed"),
    }
    async with site.client() as browser:
        for path, (status, reason) in cases.items():
            for method in ("GET", "POST"):
                answer = await browser.request(method, f"{path}?lang={lang}", data={"csrf": "x"})
                assert answer.status_code == status, (path, method, answer.text)
                assert f'data-reason="{reason}"' in answer.text, (path, answer.text)
        gone = await browser.get(unknown)
        assert gone.status_code == 404 and 'data-reason="ack.unknown_alert"' in gone.text
    expired_page = await site.client().get(f"{expired}?lang=en")
    assert "expired at" in expired_page.text and f"#{alert_id}" in expired_page.text


async def test_links_switched_off_are_a_404_page(tmp_path: Path) -> None:
    built = build(tmp_path / "off.duckdb", {"channels": {"kitchen": {"type": "wecom", "key": "k"}}})
    try:
        async with built.client() as browser:
            answer = await browser.get(built.link("fridge-1"))
        assert answer.status_code == 404 and 'data-reason="ack.disabled"' in answer.text
    finally:
        built.accounts.close()
        built.harness.close()


async def test_the_delivery_log_says_notifications_are_not_configured(site: Site) -> None:
    alert_id = site.alert("fridge-1").id
    async with site.client() as api:
        answer = await api.get(
            f"/api/alerts/{alert_id}/deliveries", headers=site.accounts.token("log-reader")
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"] == [] and "not configured" in answer.json()["notifications"]
        bad = await api.get("/api/alerts/0/deliveries", headers=site.accounts.token("reader-2"))
        assert bad.status_code == 422, bad.text
