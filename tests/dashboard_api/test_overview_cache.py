"""The overview and the device answers made from the live hub's memory: the same page and JSON
the store gives, kept while nothing changes, made again by a reading, a presence or alert
change, by time alone (a tile going stale) and, within the bounded interval, by a person's
step the hub is not told of. On the canteen of `pages_site` at noon, a real DuckDB file and
the real rules."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from alerts.lifecycle import AlertChange
from core.readings import PresenceChange
from core.records import AlertAction, AlertQuery, AlertState, FoodDecision
from dashboard_api import create_app
from dashboard_api.live import LiveHub
from dashboard_api.web.overview_cache import OverviewView
from dashboard_api.web.overview_facts import OverviewFacts
from tests.alerts.conftest import SITE, batch
from tests.dashboard_api.pages_site import NOON, STAFF, VIEWER, Site, page_site, signed_in, tile_of

_REGION = re.compile(r'<div id="overview-region" data-live-region>(.*?)\n  </div>\n</div>', re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("overview-cache") / "site.duckdb")
    yield built
    built.close()


def live_app(site: Site, *, refresh_s: float = 3600.0) -> tuple[FastAPI, LiveHub, OverviewView]:
    """The site's app with a live hub; its facts read again every `refresh_s` (by default
    never during a test, so what a test sees came from the hub's events)."""
    context = replace(
        site.app.state.context, live=LiveHub(site.harness.config, site.harness.readings)
    )
    app = create_app(context)
    facts = OverviewFacts(context, refresh_s=refresh_s, wait_s=refresh_s)
    app.state.overview_view = view = OverviewView(context, context.live, facts)
    return app, context.live, view


@pytest.fixture
async def live(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, LiveHub, OverviewView]]:
    app, hub, view = live_app(site)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        yield await signed_in(client, VIEWER), hub, view


def region(page: str) -> str:
    found = _REGION.search(page)
    assert found is not None, page[:2000]
    return found.group(1)


async def test_the_page_from_memory_is_the_page_from_the_store(
    site: Site, live: tuple[httpx.AsyncClient, LiveHub, OverviewView]
) -> None:
    client, _, _ = live
    async with site.client() as plain:
        await signed_in(plain, VIEWER)
        for lang in ("zh", "en"):
            from_store = (await plain.get(f"/?lang={lang}")).text
            from_memory = (await client.get(f"/?lang={lang}")).text
            assert region(from_memory) == region(from_store), lang
    assert tile_of(from_memory, "fridge-2")[0] == "alert"


async def test_nothing_changed_nothing_made_and_a_reading_shows_on_the_next_view(
    site: Site, live: tuple[httpx.AsyncClient, LiveHub, OverviewView]
) -> None:
    client, hub, view = live
    first = (await client.get("/")).text
    again = (await client.get("/")).text
    assert view.made == 1 and region(again) == region(first)
    readings = batch(("fridge-1", NOON - timedelta(seconds=5), {"temp_c": 6.75}))
    site.harness.readings.write(readings)
    hub.on_batch(readings)
    after = (await client.get("/")).text
    assert view.made == 2
    status, tile = tile_of(after, "fridge-1")
    assert status == "ok" and 'data-testid="tile-value">6.8<' in tile
    assert tile_of(after, "fridge-2") == tile_of(first, "fridge-2")  # untouched tiles kept


async def test_a_tile_turns_stale_by_time_alone(
    site: Site, live: tuple[httpx.AsyncClient, LiveHub, OverviewView]
) -> None:
    """fridge-1 reports every 60 s: 3 intervals after its last reading (11:59:55 at the
    latest) it is stale, with no event to say so."""
    client, _, _ = live
    assert tile_of((await client.get("/")).text, "fridge-1")[0] == "ok"
    site.harness.clock.instant = NOON + timedelta(minutes=3)
    try:
        page = (await client.get("/")).text
    finally:
        site.harness.clock.instant = NOON
    assert tile_of(page, "fridge-1")[0] == "stale"
    counts = dict(re.findall(r'data-testid="count-(\w+)">.*?<b>(\d+)</b>', page))
    assert counts["stale"] == "3"  # with sample-1 and fridge-4 (its last reading 11:59)


async def test_presence_and_an_alert_from_the_rules_show_at_once(
    site: Site, live: tuple[httpx.AsyncClient, LiveHub, OverviewView]
) -> None:
    client, hub, _ = live
    (await client.get("/")).raise_for_status()
    hub.on_presence([PresenceChange(SITE, "fridge-1", False, NOON)])
    assert tile_of((await client.get("/")).text, "fridge-1")[0] == "offline"
    hub.on_presence([PresenceChange(SITE, "fridge-1", True, NOON)])
    firing = site.harness.service.book.find(
        AlertQuery(SITE, device="fridge-2", states=(AlertState.FIRING,))
    )
    assert firing
    # As the rules tell it: fridge-2's alerts resolved, then closed (not in the store: only
    # the hub's events can make the page say so).
    for alert in firing:
        resolved = replace(alert, state=AlertState.RESOLVED, updated_at=NOON)
        hub.on_alert_change(AlertChange(resolved, AlertAction.RESOLVED))
    assert tile_of((await client.get("/")).text, "fridge-2")[0] == "alert"
    for alert in firing:
        closed = replace(alert, state=AlertState.CLOSED, updated_at=NOON + timedelta(seconds=1))
        hub.on_alert_change(AlertChange(closed, AlertAction.CLOSED))
    page = (await client.get("/")).text
    assert tile_of(page, "fridge-2")[0] == "warning"  # 9 °C, out of band, no alert open
    assert tile_of(page, "fridge-1")[0] == "ok"


async def test_the_device_answers_from_memory_match_the_store_and_carry_etags(
    site: Site, live: tuple[httpx.AsyncClient, LiveHub, OverviewView]
) -> None:
    client, hub, _ = live
    async with site.client() as plain:
        await signed_in(plain, VIEWER)
        for path in ("/api/devices", "/api/devices/fridge-1/latest", "/api/devices/ir-1/latest"):
            assert (await client.get(path)).json() == (await plain.get(path)).json(), path
    listed = await client.get("/api/devices")
    tag = listed.headers["etag"]
    unchanged = await client.get("/api/devices", headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    hub.on_presence([PresenceChange(SITE, "fridge-1", False, NOON)])
    changed = await client.get("/api/devices", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert {d["id"]: d["online"] for d in changed.json()}["fridge-1"] is False
    latest = await client.get("/api/devices/fridge-4/latest")
    readings = batch(("fridge-4", NOON, {"temp_c": 7.5}))
    site.harness.readings.write(readings)
    hub.on_batch(readings)
    fresh = await client.get(
        "/api/devices/fridge-4/latest", headers={"If-None-Match": latest.headers["etag"]}
    )
    assert fresh.status_code == 200
    assert fresh.json()["values"] == [
        {"metric": "temp_c", "unit": "°C", "ts": "2026-11-23T12:00:00+08:00", "value": 7.5}
    ]
    missing = await client.get("/api/devices/nope/latest")
    assert missing.status_code == 404 and "no device 'nope'" in missing.text


async def test_a_persons_step_shows_within_the_bounded_interval(site: Site) -> None:
    """Closing an alert is not announced to the hub: the facts are read again at a bounded
    interval (here every view), and the page follows the store. Last: it closes an alert."""
    app, _, _ = live_app(site, refresh_s=0.0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        await signed_in(client, STAFF)
        assert tile_of((await client.get("/")).text, "fridge-3")[0] == "alert"
        [resolved] = site.harness.service.book.find(
            AlertQuery(SITE, device="fridge-3", states=(AlertState.RESOLVED,))
        )
        site.harness.service.book.close(
            resolved.id, STAFF, "moved the food", FoodDecision.KEPT, "below 8 °C within 40 min"
        )
        status, tile = tile_of((await client.get("/")).text, "fridge-3")
    assert status == "ok" and 'data-count="0"' in tile
