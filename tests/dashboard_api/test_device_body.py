"""The device page's body is rendered once per device state and kept (`web.device_body`):
twenty people on one page are answered from one rendering, each with their own session's CSRF
token in the form; a new reading, an alert change, an admin's limit, another language, role,
metric or range, or the minute turning makes it again. On the canteen of `pages_site`, with the
live hub (the page's versions come from it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from alerts.lifecycle import AlertChange
from core.model import Limits
from core.records import AlertAction, AlertQuery, AlertState, RuleId
from dashboard_api import create_app
from dashboard_api.live import LiveHub
from dashboard_api.web.device_body import DeviceBodies
from tests.alerts.conftest import SITE, batch
from tests.dashboard_api.pages_site import NOON, STAFF, VIEWER, Site, page_site, signed_in

PAGE = "/devices/fridge-2"  # over temperature since 10:30: an open alert
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("device-body") / "site.duckdb")
    yield built
    built.close()


async def _app(site: Site) -> tuple[FastAPI, LiveHub]:
    hub = LiveHub(site.harness.config, site.harness.readings)
    await hub.ready()
    return create_app(replace(site.app.state.context, live=hub)), hub


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://school")


def _bodies(app: FastAPI) -> DeviceBodies:
    kept: DeviceBodies = app.state.device_bodies
    return kept


async def _page(client: httpx.AsyncClient, path: str = PAGE) -> str:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text[:400]
    return answer.text


async def test_many_people_one_rendering_each_with_their_own_token(site: Site) -> None:
    app, _ = await _app(site)
    async with _client(app) as one, _client(app) as two, _client(app) as viewer:
        await signed_in(one, STAFF)
        await signed_in(two, STAFF)
        await signed_in(viewer, VIEWER)
        first, second = await _page(one), await _page(two)
        assert _bodies(app).made == 1 and _bodies(app).used == 1
        tokens = [_CSRF.findall(html) for html in (first, second)]
        # The re-learn form's token (and the shell's logout form's) is the session's own.
        for html, found in zip((first, second), tokens, strict=True):
            meta = re.search(r'<meta name="csrf" content="([^"]+)">', html)
            assert meta is not None and set(found) == {meta.group(1)} and len(found) == 2
        assert tokens[0] != tokens[1]
        assert "<csrf-slot>" not in first
        shown = await _page(viewer)  # another role: its own body, without the form
        assert _bodies(app).made == 2 and 'data-testid="relearn-form"' not in shown
        assert 'data-testid="relearn-form"' in first
        await _page(viewer)
        assert _bodies(app).made == 2


async def test_what_changes_the_page_makes_it_again(site: Site) -> None:
    app, hub = await _app(site)
    async with _client(app) as client:
        await signed_in(client, VIEWER)
        await _page(client)
        made = _bodies(app).made
        # A new reading (the hub's values version).
        new = batch(("fridge-2", NOON - timedelta(seconds=5), {"temp_c": 11.7}))
        site.harness.readings.write(new)
        hub.on_batch(new)
        assert "11.7" in await _page(client)
        assert _bodies(app).made == made + 1
        # An alert acknowledged (the hub's alerts version).
        hot = RuleId.OVER_TEMPERATURE
        query = AlertQuery(SITE, states=(AlertState.FIRING,), device="fridge-2", rule=hot)
        (alert,) = site.harness.service.book.find(query)
        acked = site.harness.service.book.acknowledge(alert.id, STAFF)
        hub.on_alert_change(AlertChange(acked, AlertAction.ACKNOWLEDGED))
        assert "已确认" in await _page(client)
        assert _bodies(app).made == made + 2
        # An admin's limit (the band shown).
        config = site.harness.config
        config.set_limit_override("fridge-2", Limits(high_c=6.5))
        try:
            assert "6.5 °C" in await _page(client)
        finally:
            config.set_limit_override("fridge-2", Limits())
        assert _bodies(app).made == made + 3
        assert "6.5 °C" not in await _page(client)  # the config's band again
        assert _bodies(app).made == made + 4
        # Another language, another range (English kept by the cookie), the same again: kept.
        await _page(client, PAGE + "?lang=en")
        await _page(client, PAGE + "?range=7d")
        await _page(client, PAGE + "?range=7d")
        assert _bodies(app).made == made + 6


async def test_the_minute_turning_makes_it_again(site: Site) -> None:
    app, _ = await _app(site)
    async with _client(app) as client:
        await signed_in(client, VIEWER)
        before = await _page(client)
        await _page(client)
        assert _bodies(app).made == 1
        site.harness.clock.instant = NOON + timedelta(minutes=1)
        try:
            after = await _page(client)
        finally:
            site.harness.clock.instant = NOON
    assert _bodies(app).made == 2
    assert "12:00" in before and "12:01" in after
