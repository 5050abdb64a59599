"""The overview page through the real app: tiles with name, location, value and status for
each case the site of `pages_site` sets up at noon, in Chinese and English, without a session
(the login page), a refresh after a new reading, and the live script it loads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core.clock import StepClock
from core.records import Role
from dashboard_api import ApiContext, create_app
from dashboard_api.live import LiveHub
from tests.alerts.conftest import Harness, batch, school
from tests.dashboard_api.accounts import with_accounts
from tests.dashboard_api.pages_site import (
    NOON,
    PASSWORD,
    VIEWER,
    Site,
    page_site,
    signed_in,
    tile_of,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("overview") / "site.duckdb")
    yield built
    built.close()


@pytest.fixture
async def viewer(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with site.client() as client:
        yield await signed_in(client, VIEWER)


async def test_without_a_session_the_overview_sends_to_the_login_page(site: Site) -> None:
    async with site.client() as client:
        answer = await client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/"


async def test_each_tile_has_the_status_of_what_happened(viewer: httpx.AsyncClient) -> None:
    page = await viewer.get("/")
    assert page.status_code == 200
    statuses = {
        d: tile_of(page.text, d)[0]
        for d in ("fridge-1", "fridge-2", "fridge-3", "fridge-4", "freezer-1", "sample-1")
    }
    assert statuses == {
        "fridge-1": "ok",  # in band all morning
        "fridge-2": "alert",  # over-temperature firing since 11:00 (30 min after 10:30)
        "fridge-3": "alert",  # resolved but not closed: a food-safety alert still to close
        "fridge-4": "warning",  # above 8 °C for 5 min: pending, not yet 30
        "freezer-1": "offline",  # presence offline, although its last value is fine
        "sample-1": "stale",  # nothing for 2 h; it reports every 30 s
    }
    counts = dict(re.findall(r'data-testid="count-(\w+)">.*?<b>(\d+)</b>', page.text))
    assert counts == {"alert": "3", "offline": "1", "stale": "1", "warning": "1", "ok": "1"}


async def test_a_tile_shows_name_location_value_time_band_and_alerts(
    viewer: httpx.AsyncClient,
) -> None:
    page = (await viewer.get("/")).text
    _, tile = tile_of(page, "fridge-2")
    assert "冷藏柜 B" in tile and "备餐间" in tile and "冷藏柜" in tile
    assert re.search(r'data-testid="tile-value">9\.0</span>\s*<span class="tile-unit">°C', tile)
    assert ">11:59</time>" in tile  # the last reading, 03:59 UTC, in Asia/Shanghai
    assert "范围: 0–8 °C" in tile
    assert re.search(r'data-testid="tile-alerts" data-count="[12]"', tile)
    _, ok = tile_of(page, "fridge-1")
    assert "无未处理报警" in ok
    _, pending = tile_of(page, "fridge-4")
    assert "1 条待确认" in pending
    _, freezer = tile_of(page, "freezer-1")
    assert "≤ -12 °C" in freezer and 'data-online="false"' in freezer


async def test_a_disinfection_cabinet_shows_todays_verdict_per_meal(
    viewer: httpx.AsyncClient,
) -> None:
    _, tile = tile_of((await viewer.get("/")).text, "ir-1")
    meals = re.findall(r'data-meal="(\w+)" data-status="(\w+)">(\w+) <b>(\w+)</b>', tile)
    # Never heated: breakfast's window (07:00-07:40 + 90 min) has passed without a cycle;
    # lunch's window is still open at noon and dinner's is to come.
    assert meals == [
        ("breakfast", "missed", "早餐", "未消毒"),
        ("lunch", "pending", "午餐", "待判定"),
        ("dinner", "pending", "晚餐", "待判定"),
    ]
    assert "≥ 120 °C, 10 分钟" in tile


async def test_the_overview_in_english(viewer: httpx.AsyncClient) -> None:
    page = (await viewer.get("/?lang=en")).text
    assert '<html lang="en">' in page and "Overview · Test School" in page
    status, tile = tile_of(page, "sample-1")
    assert status == "stale" and "No recent data" in tile and "Sample fridge" in tile
    _, cabinet = tile_of(page, "ir-1")
    assert "breakfast <b>missed</b>" in cabinet and "≥ 120 °C, 10 min" in cabinet
    assert 'href="/" aria-current="page">Overview' in page
    _, one = tile_of(page, "fridge-3")  # its resolved over-temperature alert, not closed
    assert ">1 open alert</p>" in one and "7 devices" in page


async def test_a_refresh_shows_a_new_reading(site: Site, viewer: httpx.AsyncClient) -> None:
    """Without JavaScript the page is the store's state: a reading stored, a reload shows it
    (value, local time and the status it implies)."""
    at = NOON + timedelta(seconds=30)
    site.harness.readings.write(batch(("sample-1", at, {"temp_c": 5.25})))
    site.harness.clock.instant = at
    try:
        status, tile = tile_of((await viewer.get("/")).text, "sample-1")
    finally:
        site.harness.clock.instant = NOON
    assert status == "ok" and 'data-testid="tile-value">5.2' in tile and ">12:00</time>" in tile


async def test_tiles_carry_what_the_live_script_needs(viewer: httpx.AsyncClient) -> None:
    page = (await viewer.get("/")).text
    assert '<script src="/static/live.js" defer></script>' in page
    assert 'data-live="overview"' in page and "data-live-region" in page
    _, tile = tile_of(page, "fridge-1")
    for attribute in (
        'data-metric="temp_c"',
        'data-stale-after-ms="180000"',
        'data-reading-ms="',
        'data-fired="0"',
        'data-high="8.0"',
    ):
        assert attribute in tile, attribute
    script = (await viewer.get("/static/live.js")).text
    assert "new EventSource(url" in script and "/api/live" in script
    assert "http://" not in script and "https://" not in script  # no third-party code


async def test_with_the_live_hub_the_tiles_come_from_its_memory(site: Site) -> None:
    """The service runs a live hub: the overview reads every device's latest values from it
    (one read, not a query per device) and shows what the store shows; a batch the writer
    hands the hub after storing it is on the next page view."""
    context = site.app.state.context
    hub = LiveHub(context.config, context.store)
    app = create_app(replace(context, live=hub))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        await signed_in(client, VIEWER)
        from_hub = (await client.get("/")).text
        async with site.client() as plain:
            await signed_in(plain, VIEWER)
            from_store = (await plain.get("/")).text
        for device in ("fridge-1", "fridge-2", "fridge-4", "freezer-1", "ir-1"):
            assert tile_of(from_hub, device) == tile_of(from_store, device), device
        at = NOON - timedelta(seconds=10)
        readings = batch(("fridge-1", at, {"temp_c": 6.5}))
        site.harness.readings.write(readings)
        hub.on_batch(readings)
        status, tile = tile_of((await client.get("/")).text, "fridge-1")
    assert status == "ok" and 'data-testid="tile-value">6.5<' in tile and ">11:59</time>" in tile


async def test_empty_states_say_something(tmp_path: Path) -> None:
    """A site with no devices yet and no alerts service: the overview says what to do and the
    alert list says it has nothing, instead of blank pages."""
    path = tmp_path / "empty.duckdb"
    harness = Harness(path, school(devices=[]), StepClock(NOON))
    context = ApiContext(harness.config, harness.readings, harness.clock, lambda: {})
    context, accounts = with_accounts(context, path)
    accounts.person(VIEWER, Role.VIEWER, PASSWORD)
    try:
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
            await signed_in(client, VIEWER)
            overview = (await client.get("/")).text
            alerts = await client.get("/alerts")
            english = await client.get("/alerts/1?lang=en")
    finally:
        accounts.close()
        harness.close()
    assert "站点配置中还没有设备" in overview and "报警服务未运行" in overview
    assert alerts.status_code == 200 and "暂无未处理报警" in alerts.text
    assert english.status_code == 503 and "The alerts service is not running" in english.text
