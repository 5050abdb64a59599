"""The device page with the live hub: its latest values come from the hub's memory and its
open alerts are read once per change of the device's alerts the hub is told of, so a new
reading and a new alert show at once and nothing older is shown after the hub knows. On the
canteen of `pages_site` (a real DuckDB file, the real rules), its own copy for this module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from alerts.lifecycle import AlertChange
from core.records import SealHealthPoint
from dashboard_api import create_app
from dashboard_api.live import LiveHub
from dashboard_api.web.device_seal import SealMemory
from tests.alerts.conftest import SITE, batch
from tests.dashboard_api.pages_site import NOON, VIEWER, Site, page_site, signed_in

PAGE = "/devices/fridge-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("device-memory") / "site.duckdb")
    yield built
    built.close()


@pytest.fixture
async def hub(site: Site) -> LiveHub:
    live = LiveHub(site.harness.config, site.harness.readings)
    await live.ready()
    return live


@pytest.fixture
async def client(site: Site, hub: LiveHub) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(site.app.state.context, live=hub))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as http:
        await signed_in(http, VIEWER)
        yield http


async def page(client: httpx.AsyncClient) -> str:
    answer = await client.get(PAGE)
    assert answer.status_code == 200, answer.text[:500]
    return answer.text


async def test_a_new_reading_shows_from_the_hub(
    site: Site, hub: LiveHub, client: httpx.AsyncClient
) -> None:
    assert "13.6" not in await page(client)
    new = batch(("fridge-1", NOON - timedelta(seconds=5), {"temp_c": 13.6}))
    site.harness.readings.write(new)
    hub.on_batch(new)
    assert "13.6" in await page(client)
    # Without the hub the page reads the store: the same value.
    async with site.client() as plain:
        await signed_in(plain, VIEWER)
        assert "13.6" in (await plain.get(PAGE)).text


async def test_open_alerts_are_read_again_when_the_hub_is_told_of_a_change(
    site: Site, hub: LiveHub, client: httpx.AsyncClient
) -> None:
    assert 'data-testid="no-open-alerts"' in await page(client)
    told: list[AlertChange] = []
    site.harness.service.add_change_listener(told.append)
    hot = [("fridge-1", NOON + timedelta(minutes=m), {"temp_c": 9.0}) for m in range(1, 61)]
    try:
        site.harness.feed(hot, store=False)
    finally:
        site.harness.clock.instant = NOON
    ours = [c for c in told if c.alert.device == "fridge-1"]
    assert ours, told
    version = hub.alerts_version_of("fridge-1")
    for change in told:
        hub.on_alert_change(change)
    assert hub.alerts_version_of("fridge-1") == version + len(ours)
    shown = await page(client)
    assert 'data-testid="no-open-alerts"' not in shown
    assert f'href="/alerts/{ours[-1].alert.id}"' in shown


async def test_seal_health_is_kept_for_half_a_minute_and_read_again_after_a_relearn(
    site: Site, hub: LiveHub
) -> None:
    """With the hub the seal view is read once and kept: a point written meanwhile shows once
    the view is 30 s old on the service's clock, or at once after the baseline is re-learned
    (the page's form tells the memory)."""
    app = create_app(replace(site.app.state.context, live=hub))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as client:
        await signed_in(client, VIEWER)
        await _seal_kept_then_read(site, client, app.state)


async def _seal_kept_then_read(site: Site, client: httpx.AsyncClient, state: Any) -> None:
    sample = "/devices/sample-1"
    first = (await client.get(sample)).text
    memory: SealMemory = state.seal_memory
    reads = memory.reads
    point = SealHealthPoint(SITE, "sample-1", NOON - timedelta(hours=1), 0.37, {"health": 0.37})
    site.harness.store.save_seal_health([point])
    try:
        kept = (await client.get(sample)).text
        assert "37%" not in kept and memory.reads == reads
        assert ('data-testid="seal-learning"' in kept) == ('data-testid="seal-learning"' in first)
        site.harness.clock.instant = NOON + timedelta(seconds=31)
        assert "当前健康度 37%" in (await client.get(sample)).text
        assert memory.reads == reads + 1
        site.harness.store.save_seal_health(
            [replace(point, health=0.52, evidence={"health": 0.52})]
        )
        assert "当前健康度 37%" in (await client.get(sample)).text
        memory.relearned("sample-1")
        assert "当前健康度 52%" in (await client.get(sample)).text
        assert memory.reads == reads + 2
    finally:
        site.harness.clock.instant = NOON
