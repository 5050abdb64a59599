"""A person's step on an alert reaches the live hub, as the rules' changes do: acknowledged
through the signed link, on the alert's page and through the JSON API, each is an `alert`
event to a connected dashboard and changes the overview's open alerts at once; a refused step
sends nothing. (The browser test `tests/browser/test_live_and_alerts.py` watches a second page
follow without a reload.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from core.records import AlertState, Role
from dashboard_api.live import LiveEvent, LiveHub
from dashboard_api.live_stream import Subscriber
from dashboard_api.web.overview_facts import OverviewFacts
from tests.alerts.conftest import series
from tests.dashboard_api.pages_site import NOON, form_csrf, signed_in
from tests.dashboard_api.test_ack_page import NOTIFY, STAFF, Site, build


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = build(tmp_path / "steps.duckdb", NOTIFY)
    yield built
    built.accounts.close()
    built.harness.close()


def with_hub(site: Site) -> LiveHub:
    context = site.app.state.context
    hub = LiveHub(context.config, context.store, flush_s=0)
    site.app.state.context = replace(context, live=hub)
    return hub


async def alert_events(hub: LiveHub, subscriber: Subscriber) -> list[LiveEvent]:
    events = await subscriber.next_events(hub, 2.0)
    assert events is not None, "no event reached the dashboard"
    return [e for e in events if e.kind == "alert"]


async def test_each_way_of_acknowledging_is_pushed_to_open_dashboards(site: Site) -> None:
    hub = with_hub(site)
    dashboard = await hub.subscribe()
    ids = {d: site.alert(d).id for d in ("fridge-1", "fridge-2", "fridge-3")}

    # The signed link, nobody logged in.
    async with site.client() as browser:
        link = site.link("fridge-1")
        page = await browser.get(link)
        done = await browser.post(link, data={"csrf": form_csrf(page.text)})
        assert done.status_code == 200, done.text
    (event,) = await alert_events(hub, dashboard)
    assert event.data["device"] == "fridge-1"
    assert event.data["alert"]["id"] == ids["fridge-1"]
    assert event.data["alert"]["state"] == "acknowledged"
    assert event.data["alert"]["action"] == "acknowledged"

    # The alert's page, as a staff member.
    async with site.client() as browser:
        await signed_in(browser, STAFF)
        page = await browser.get(f"/alerts/{ids['fridge-2']}")
        acked = await browser.post(
            f"/alerts/{ids['fridge-2']}/acknowledge", data={"csrf": form_csrf(page.text)}
        )
        assert acked.status_code == 303, acked.text
    (event,) = await alert_events(hub, dashboard)
    assert (event.data["device"], event.data["alert"]["state"]) == ("fridge-2", "acknowledged")

    # The JSON API with a machine's token.
    async with site.client() as api:
        token = site.accounts.token("kitchen-tablet", Role.STAFF)
        answer = await api.post(
            f"/api/alerts/{ids['fridge-3']}/acknowledge", json={}, headers=token
        )
        assert answer.status_code == 200, answer.text
        # Refused (already acknowledged): nothing is pushed.
        again = await api.post(f"/api/alerts/{ids['fridge-3']}/acknowledge", json={}, headers=token)
        assert again.status_code == 409
    (event,) = await alert_events(hub, dashboard)
    assert (event.data["device"], event.data["alert"]["state"]) == ("fridge-3", "acknowledged")
    assert await dashboard.next_events(hub, 0.3) is None


async def test_a_close_by_a_person_leaves_the_overview_s_open_alerts_at_once(site: Site) -> None:
    hub = with_hub(site)
    # Read once, then not again for an hour: only a pushed change can move them.
    facts = OverviewFacts(site.app.state.context, refresh_s=3600, wait_s=3600)
    hub.add_alert_listener(facts.on_alert_change)
    await hub.ready()
    alert = site.alert("fridge-1")
    assert alert.id in (await facts.current()).alerts
    # Back in band for half an hour: the rules resolve the alert; a person closes it.
    site.harness.feed(series("fridge-1", NOON, 60, [4.0] * 30))
    site.harness.clock.instant = NOON + timedelta(minutes=30)
    assert site.alert("fridge-1").state is AlertState.RESOLVED
    closure = {
        "corrective_action": "门封条已更换",
        "food_decision": "kept",
        "food_reason": "食品中心温度未超过 8 °C",
    }
    async with site.client() as api:
        token = site.accounts.token("kitchen-tablet", Role.STAFF)
        answer = await api.post(f"/api/alerts/{alert.id}/close", json=closure, headers=token)
        assert answer.status_code == 200, answer.text
    await asyncio.sleep(0)  # the step was handed from the route's thread to the loop
    assert alert.id not in (await facts.current()).alerts
