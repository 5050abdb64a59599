"""The chart cache: with the live hub, `chart.svg` is drawn once per state of what it shows and
served from memory after; the same bytes as a chart drawn fresh (an app without a hub), drawn
again by a new reading, a late reading, a limit override and an alert the rules announce; weak
ETags and 304s; one drawing for many identical requests at once; bounded by bytes. On the
canteen of `pages_site` (a real DuckDB file and the real rules), its own copy for this module,
since the tests change its readings, limits and alerts."""

from __future__ import annotations

import asyncio
import html
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from alerts.lifecycle import AlertChange
from core.model import Limits
from dashboard_api import create_app
from dashboard_api.chart_cache import ChartCache, preset_window, snapped_end
from dashboard_api.live import LiveHub
from tests.alerts.conftest import batch
from tests.dashboard_api.pages_site import NOON, VIEWER, Site, page_site, signed_in

URL = "/api/devices/fridge-1/chart.svg"
MORNING = {"metric": "temp_c", "start": (NOON - timedelta(hours=6)).isoformat()}
MORNING["end"] = NOON.isoformat()


@dataclass
class Live:
    client: httpx.AsyncClient  # the app with the hub (and its cache)
    fresh: httpx.AsyncClient  # the app without a hub: every chart drawn for its request
    hub: LiveHub
    cache: ChartCache

    async def both(self, params: dict[str, str]) -> tuple[bytes, bytes]:
        """The chart from the cached app and drawn fresh, both 200."""
        cached = await self.client.get(URL, params=params)
        fresh = await self.fresh.get(URL, params=params)
        assert cached.status_code == fresh.status_code == 200, (cached.text, fresh.text)
        return cached.content, fresh.content


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("chart-cache") / "site.duckdb")
    yield built
    built.close()


def live_app(site: Site, cache: ChartCache) -> tuple[FastAPI, LiveHub]:
    context = replace(
        site.app.state.context, live=LiveHub(site.harness.config, site.harness.readings)
    )
    app = create_app(context)
    app.state.chart_cache = cache
    assert context.live is not None
    return app, context.live


@pytest.fixture
async def live(site: Site) -> AsyncIterator[Live]:
    cache = ChartCache()
    app, hub = live_app(site, cache)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://school") as client,
        site.client() as fresh,
    ):
        await signed_in(client, VIEWER)
        await signed_in(fresh, VIEWER)
        yield Live(client, fresh, hub, cache)


def alert_markers(svg: bytes) -> int:
    return svg.count(b'class="marker alert"')


async def test_the_kept_chart_is_the_chart_drawn_fresh(live: Live) -> None:
    windows: list[dict[str, str]] = [
        MORNING,
        {**MORNING, "lang": "en", "width": "600"},
        {"metric": "temp_c"},  # the last 24 h up to now, snapped to the step
        {**MORNING, "width": "900", "height": "300"},
    ]
    drawn: list[bytes] = []
    for params in windows:
        cached, fresh = await live.both(params)
        assert cached == fresh, params
        drawn.append(cached)
        again = await live.client.get(URL, params=params)
        assert again.content == cached, params
    assert live.cache.drawn == len(windows) and len(live.cache) == len(windows)
    assert b'class="series"' in drawn[0] and b'class="series"' in drawn[2]


async def test_now_is_snapped_to_the_step_and_moves_with_it(site: Site, live: Live) -> None:
    """A day at 720 columns is drawn at 2-min steps: asked again 30 s later, the same
    window (no drawing); asked after the step ends, a new one."""
    clock = site.harness.clock
    assert snapped_end(NOON + timedelta(seconds=1), 120) == NOON + timedelta(minutes=2)
    assert snapped_end(NOON, 120) == NOON
    try:
        clock.instant = NOON + timedelta(seconds=10)
        first = await live.client.get(URL, params={"metric": "temp_c"})
        clock.instant = NOON + timedelta(seconds=100)
        same = await live.client.get(URL, params={"metric": "temp_c"})
        assert same.headers["etag"] == first.headers["etag"] and live.cache.drawn == 1
        clock.instant = NOON + timedelta(seconds=130)
        later = await live.client.get(URL, params={"metric": "temp_c"})
        assert later.headers["etag"] != first.headers["etag"] and live.cache.drawn == 2
    finally:
        clock.instant = NOON


async def test_the_hubs_first_seed_does_not_make_kept_charts_stale(live: Live) -> None:
    """The hub seeds its latest values on first use, raising every device's version: the
    chart route has it seeded before it takes the version, so the overview's first
    `/latest` after a chart does not make the chart drawn again."""
    first = await live.client.get(URL, params=MORNING)
    assert (await live.client.get("/api/devices/fridge-1/latest")).status_code == 200
    again = await live.client.get(URL, params=MORNING)
    assert again.headers["etag"] == first.headers["etag"] and live.cache.drawn == 1


async def test_the_device_page_asks_one_chart_url_per_step(site: Site, live: Live) -> None:
    """A week at the page's 960 px (880 columns) is drawn at 10-min steps, and its window
    moves on by whole steps of at least a 288th of the week (35 min): 40 min. The page opened
    at 12:00:10 and 12:38:20 embeds the same chart URL, ending 12:40; at 12:41:40 the next."""
    clock = site.harness.clock
    found = re.compile(r'<img src="(/api/devices/fridge-1/chart\.svg\?[^"]+)" data-testid="chart"')

    async def chart_url(after_s: int) -> str:
        clock.instant = NOON + timedelta(seconds=after_s)
        page = await live.client.get("/devices/fridge-1", params={"range": "7d"})
        assert page.status_code == 200
        match = found.search(page.text)
        assert match is not None, page.text[:2000]
        return html.unescape(match.group(1))

    try:
        first, same, later = await chart_url(10), await chart_url(2300), await chart_url(2500)
    finally:
        clock.instant = NOON
    assert first == same != later
    end_ms = int((NOON + timedelta(minutes=40)).timestamp() * 1000)
    assert f"end={end_ms}" in first and f"start={end_ms - 7 * 86_400_000}" in first
    assert (await live.client.get(first)).status_code == 200


async def test_etag_gives_304_until_the_picture_changes(site: Site, live: Live) -> None:
    first = await live.client.get(URL, params=MORNING)
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and first.headers["cache-control"] == "private, no-cache"
    assert first.headers["content-type"] == "image/svg+xml"
    held = await live.client.get(URL, params=MORNING, headers={"If-None-Match": tag})
    assert held.status_code == 304 and held.content == b"" and held.headers["etag"] == tag
    other = await live.client.get(
        URL, params={**MORNING, "lang": "en"}, headers={"If-None-Match": tag}
    )
    assert other.status_code == 200 and other.headers["etag"] != tag
    readings = batch(("fridge-1", NOON - timedelta(minutes=1, seconds=30), {"temp_c": 5.5}))
    site.harness.readings.write(readings)
    live.hub.on_batch(readings)
    changed = await live.client.get(URL, params=MORNING, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


async def test_a_new_and_a_late_reading_each_give_a_new_picture(site: Site, live: Live) -> None:
    before, _ = await live.both(MORNING)
    new = batch(("fridge-1", NOON - timedelta(seconds=20), {"temp_c": 7.5}))
    site.harness.readings.write(new)
    live.hub.on_batch(new)
    after_new, fresh = await live.both(MORNING)
    assert after_new == fresh and after_new != before
    # Three hours back: older than the tile's latest value, still inside the window.
    late = batch(("fridge-1", NOON - timedelta(hours=3, seconds=-30), {"temp_c": 14.0}))
    version = live.hub.version_of("fridge-1")
    site.harness.readings.write(late)
    live.hub.on_batch(late)
    assert live.hub.version_of("fridge-1") > version
    assert live.hub.values_of("fridge-1")["temp_c"][1] == 7.5  # the tile keeps the newest
    after_late, fresh = await live.both(MORNING)
    assert after_late == fresh and after_late != after_new
    assert live.cache.drawn == 3


async def test_a_limit_override_gives_a_new_picture(site: Site, live: Live) -> None:
    config = site.harness.config
    before, _ = await live.both(MORNING)
    config.set_limit_override("fridge-1", Limits(high_c=6.5))
    try:
        overridden, fresh = await live.both(MORNING)
        assert overridden == fresh and overridden != before
        assert b"6.5" in overridden
    finally:
        config.set_limit_override("fridge-1", Limits())
    cleared, _ = await live.both(MORNING)
    assert cleared == before


async def test_an_alert_the_rules_announce_gives_a_new_picture(site: Site, live: Live) -> None:
    """fridge-1 at 9 °C for an hour after noon, seen by the rules but not stored: only the
    alert changes what the chart of noon to 14:00 shows."""
    window = {
        "metric": "temp_c",
        "start": NOON.isoformat(),
        "end": (NOON + timedelta(hours=2)).isoformat(),
    }
    before, _ = await live.both(window)
    told: list[AlertChange] = []
    site.harness.service.add_change_listener(told.append)
    hot = [("fridge-1", NOON + timedelta(minutes=m), {"temp_c": 9.0}) for m in range(1, 61)]
    try:
        site.harness.feed(hot, store=False)
    finally:
        site.harness.clock.instant = NOON
    assert any(c.alert.device == "fridge-1" for c in told), told
    # Not yet told: the kept picture stands (the hub is how the cache learns of alerts).
    assert (await live.client.get(URL, params=window)).content == before
    for change in told:
        live.hub.on_alert_change(change)
    after, fresh = await live.both(window)
    assert after == fresh and alert_markers(after) > alert_markers(before)


async def test_identical_requests_at_once_make_one_drawing(site: Site, live: Live) -> None:
    params = {**MORNING, "width": "1000"}
    answers = await asyncio.gather(*(live.client.get(URL, params=params) for _ in range(12)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert live.cache.drawn == 1


async def test_the_cache_is_bounded_by_bytes(site: Site) -> None:
    app, _ = live_app(site, ChartCache())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        await signed_in(client, VIEWER)
        # As kept: compressed, the bytes the client received before decoding them.
        one = (await client.get(URL, params=MORNING)).num_bytes_downloaded
        small = ChartCache(max_bytes=one + one // 2)  # room for one chart of this size
        app.state.chart_cache = small
        await client.get(URL, params=MORNING)
        await client.get(URL, params={**MORNING, "lang": "en"})
        assert len(small) == 1 and small.evicted == 1 and small.size <= small.max_bytes
        await client.get(URL, params=MORNING)  # evicted: drawn again
        assert small.drawn == 3


async def test_a_chart_is_sent_compressed_and_plain_to_a_client_without_gzip(live: Live) -> None:
    packed = await live.client.get(URL, params=MORNING)
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.num_bytes_downloaded * 3 < len(packed.content)  # SVG's numbers repeat
    for refusing in ("identity", "gzip;q=0, br", "deflate"):
        plain = await live.client.get(URL, params=MORNING, headers={"Accept-Encoding": refusing})
        assert "content-encoding" not in plain.headers, refusing
        assert plain.content == packed.content and plain.headers["etag"] == packed.headers["etag"]
    assert live.cache.drawn == 1
    fresh = await live.fresh.get(URL, params={**MORNING}, headers={"Accept-Encoding": "identity"})
    assert fresh.content == packed.content and "content-encoding" not in fresh.headers


# -- the cache on its own ---------------------------------------------------------------------


async def test_least_recently_used_goes_first_and_an_oversized_chart_is_not_kept() -> None:
    cache = ChartCache(max_bytes=250)
    for key in ("a", "b"):
        await cache.get((key,), lambda: b"x" * 100)
    await cache.get(("a",), lambda: b"never drawn")  # a is used again: b is the oldest
    await cache.get(("c",), lambda: b"y" * 100)
    assert ("a",) in cache and ("c",) in cache and ("b",) not in cache
    assert cache.size == 200 and cache.drawn == 3 and cache.evicted == 1
    assert await cache.get(("big",), lambda: b"z" * 300) == b"z" * 300
    assert ("big",) not in cache and cache.size == 200
    with pytest.raises(ValueError, match="max_bytes"):
        ChartCache(max_bytes=0)


async def test_a_failed_drawing_reaches_every_waiter_and_is_not_kept() -> None:
    cache = ChartCache()
    gate = threading.Event()

    def failing() -> bytes:
        gate.wait(5)
        raise RuntimeError("store closed")

    first = asyncio.ensure_future(cache.get(("k",), failing))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(cache.get(("k",), lambda: b"not drawn: the first is"))
    await asyncio.sleep(0.05)
    gate.set()
    for waiter in (first, second):
        with pytest.raises(RuntimeError, match="store closed"):
            await waiter
    assert cache.drawn == 1 and ("k",) not in cache
    assert await cache.get(("k",), lambda: b"drawn again") == b"drawn again"


async def test_a_client_that_goes_away_does_not_cancel_the_drawing_others_wait_for() -> None:
    cache = ChartCache()
    gate = threading.Event()

    def slow() -> bytes:
        gate.wait(5)
        return b"<svg/>"

    first = asyncio.ensure_future(cache.get(("k",), slow))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(cache.get(("k",), lambda: b"not drawn: the first is"))
    await asyncio.sleep(0.05)
    first.cancel()  # its client disconnected
    gate.set()
    assert await second == b"<svg/>"
    assert first.cancelled() and cache.drawn == 1 and ("k",) in cache


def test_snapped_end_is_a_whole_step_not_before_now() -> None:
    at = datetime(2026, 11, 23, 4, 0, 1, tzinfo=UTC)
    assert snapped_end(at, 600) == datetime(2026, 11, 23, 4, 10, tzinfo=UTC)
    assert snapped_end(at.replace(second=0), 600) == at.replace(second=0)


def test_a_preset_window_moves_on_by_a_288th_of_its_span_in_whole_steps() -> None:
    at = datetime(2026, 11, 23, 4, 0, 1, tzinfo=UTC)
    # A day at 880 columns: 1-min steps, moved on by 5 min; a week: 10-min steps, by 40 min.
    day_start, day_end = preset_window(at, timedelta(days=1), 960)
    assert day_end == datetime(2026, 11, 23, 4, 5, tzinfo=UTC)
    assert day_end - day_start == timedelta(days=1)
    assert preset_window(at.replace(minute=4, second=59), timedelta(days=1), 960)[1] == day_end
    week_end = preset_window(at, timedelta(days=7), 960)[1]
    assert week_end == datetime(2026, 11, 23, 4, 40, tzinfo=UTC)
    # A phone's hour (280 columns: 12-s steps) moves on by whole steps of at least 12.5 s: 24 s.
    assert preset_window(at, timedelta(hours=1), 360)[1] == datetime(
        2026, 11, 23, 4, 0, 24, tzinfo=UTC
    )
