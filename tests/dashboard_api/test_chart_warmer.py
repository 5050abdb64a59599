"""The chart warmer: every device's preset charts (the page's 24 h and week at the desktop
size, and any preset a person asked for) drawn before anyone opens them, redrawn when the
device's data changes; a request then finds the picture kept, the same bytes as a chart drawn
fresh, and a picture of old data is never served after new data arrived. On the canteen of
`pages_site` (a real DuckDB file, the real rules), its own copy for this module."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from core.model import Device
from dashboard_api import create_app
from dashboard_api.chart_cache import ChartCache, ChartKey
from dashboard_api.chart_warmer import LOAD_STEP_S, WARM_RANGES, YIELD_MAX_S, ChartWarmer
from dashboard_api.context import ApiContext
from dashboard_api.in_flight import InFlight, RequestsInFlight
from dashboard_api.live import LiveHub
from dashboard_api.routes.charts import chart_job
from dashboard_api.web.i18n import Language
from tests.alerts.conftest import batch
from tests.conftest import wait_for
from tests.dashboard_api.pages_site import NOON, VIEWER, Site, page_site, signed_in

# The desktop chart's <img>, and the phone's <source> before it.
_WIDE = r'<img src="(/api/devices/{device}/chart\.svg\?[^"]+)" data-testid="chart"'
_NARROW = r'<source media="[^"]+" srcset="(/api/devices/{device}/chart\.svg\?[^"]+)"'


@dataclass
class Warm:
    client: httpx.AsyncClient  # the app with the hub, its cache and this warmer
    fresh: httpx.AsyncClient  # the app without a hub: every chart drawn for its request
    hub: LiveHub
    cache: ChartCache
    warmer: ChartWarmer

    async def page_chart(self, device: str, params: dict[str, str], *, narrow: bool = False) -> str:
        page = await self.client.get(f"/devices/{device}", params=params)
        assert page.status_code == 200, page.text[:500]
        pattern = (_NARROW if narrow else _WIDE).format(device=re.escape(device))
        found = re.search(pattern, page.text)
        assert found is not None, page.text[:2000]
        return html.unescape(found.group(1))

    async def served(self, url: str) -> bytes:
        """The chart from the warm app, checked against the same chart drawn fresh."""
        kept, fresh = await self.client.get(url), await self.fresh.get(url)
        assert kept.status_code == fresh.status_code == 200, (kept.text, fresh.text)
        assert kept.content == fresh.content
        return kept.content


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("chart-warmer") / "site.duckdb")
    yield built
    built.close()


@pytest.fixture
async def warm(site: Site) -> AsyncIterator[Warm]:
    context = replace(
        site.app.state.context, live=LiveHub(site.harness.config, site.harness.readings)
    )
    app = create_app(context)
    assert context.live is not None and isinstance(app.state.chart_warmer, ChartWarmer)
    cache: ChartCache = app.state.chart_cache
    # No rest between drawings here: the share bounds CPU, not what is drawn.
    app.state.chart_warmer = warmer = ChartWarmer(context, cache, chart_job, share=1.0)
    await context.live.ready()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client,
        site.client() as fresh,
    ):
        await signed_in(client, VIEWER)
        await signed_in(fresh, VIEWER)
        yield Warm(client, fresh, context.live, cache, warmer)


def reporting(site: Site, hub: LiveHub) -> list[str]:
    return [d.id for d in site.harness.config.devices if hub.values_of(d.id)]


async def test_each_devices_presets_are_drawn_before_anyone_asks(site: Site, warm: Warm) -> None:
    week = await warm.page_chart("fridge-1", {"range": "7d"})
    only_kept = {"Cache-Control": "only-if-cached"}
    before = await warm.client.get(week, headers=only_kept)
    assert before.status_code == 504 and before.headers["x-chart-cache"] == "miss"
    assert warm.cache.drawn == 0  # asking whether it is kept draws nothing
    drawn = await warm.warmer.sweep()
    kept = await warm.client.get(week, headers=only_kept)
    assert kept.status_code == 200 and kept.headers["x-chart-cache"] == "hit"
    devices = reporting(site, warm.hub)
    assert devices and drawn == len(devices) * len(WARM_RANGES) == warm.warmer.drawn
    assert await warm.warmer.sweep() == 0  # nothing changed: nothing drawn again
    for params in ({}, {"range": "7d"}):  # the page opens on 24 h; the week
        url = await warm.page_chart("fridge-1", params)
        await warm.served(url)
    assert warm.cache.drawn == drawn  # the requests drew nothing


async def test_new_data_is_drawn_again_and_the_old_picture_never_served(
    site: Site, warm: Warm
) -> None:
    await warm.warmer.sweep()
    url = await warm.page_chart("fridge-1", {"range": "7d"})
    before = await warm.served(url)
    new = batch(("fridge-1", NOON - timedelta(seconds=20), {"temp_c": 9.5}))
    site.harness.readings.write(new)
    warm.hub.on_batch(new)
    # Asked before the warmer ran again: drawn for the request, never the old picture.
    assert await warm.served(url) != before
    # The warmer redraws the device's other preset only: the week was drawn just now.
    assert await warm.warmer.sweep() == len(WARM_RANGES) - 1
    late = batch(("fridge-1", NOON - timedelta(hours=30), {"temp_c": 15.0}))
    site.harness.readings.write(late)
    warm.hub.on_batch(late)
    drawn = warm.cache.drawn
    # The device's data version moved: both presets are drawn again (the version is the
    # device's, not the window's).
    assert await warm.warmer.sweep() == len(WARM_RANGES)
    after_late = await warm.served(url)
    assert after_late != before and warm.cache.drawn == drawn + len(WARM_RANGES)


async def test_a_preset_someone_asked_for_is_kept_warm_and_other_windows_are_not(
    site: Site, warm: Warm
) -> None:
    phone = await warm.page_chart("fridge-2", {"range": "30d", "lang": "en"}, narrow=True)
    assert "width=360" in phone and "lang=en" in phone
    custom = (
        "/api/devices/fridge-2/chart.svg?metric=temp_c&start=2026-11-20T08:00&end=2026-11-21T08:00"
    )
    await warm.served(phone)
    await warm.served(custom)
    await warm.warmer.sweep()
    new = batch(("fridge-2", NOON - timedelta(seconds=10), {"temp_c": 3.1}))
    site.harness.readings.write(new)
    warm.hub.on_batch(new)
    # fridge-2's two defaults and the phone's month in English; not the custom window.
    assert await warm.warmer.sweep() == len(WARM_RANGES) + 1
    drawn = warm.cache.drawn
    await warm.served(phone)
    assert warm.cache.drawn == drawn


async def test_a_chart_that_cannot_be_drawn_is_logged_once_and_others_go_on(
    site: Site, warm: Warm, caplog: pytest.LogCaptureFixture
) -> None:
    context: ApiContext = warm.warmer._context

    def failing_for_fridge_3(
        ctx: ApiContext,
        device: Device,
        metric: str,
        window: tuple[datetime, datetime],
        size: tuple[int, int],
        lang: Language,
    ) -> tuple[ChartKey, Callable[[], bytes]]:
        key, draw = chart_job(ctx, device, metric, window, size, lang)
        if device.id != "fridge-3":
            return key, draw

        def broken() -> bytes:
            raise RuntimeError("the store went away")

        return key, broken

    warmer = ChartWarmer(context, ChartCache(), failing_for_fridge_3, share=1.0)
    with caplog.at_level(logging.ERROR, logger="dashboard_api.chart_warmer"):
        drawn = await warmer.sweep()
        assert await warmer.sweep() == 0
    devices = reporting(site, warm.hub)
    assert drawn == (len(devices) - 1) * len(WARM_RANGES)
    failures = [r for r in caplog.records if "fridge-3" in r.getMessage()]
    assert len(failures) == len(WARM_RANGES)  # once per chart, not again on the next sweep


async def test_the_share_is_a_fraction_of_one_cpu(warm: Warm) -> None:
    for share in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="share must be in"):
            ChartWarmer(warm.warmer._context, warm.cache, chart_job, share=share)


async def test_the_warmer_holds_back_while_requests_are_answered(warm: Warm) -> None:
    """Busy: no drawing starts for up to `YIELD_MAX_S`; once the app is idle it goes on."""
    answering = [True]
    warmer = ChartWarmer(
        warm.warmer._context, ChartCache(), chart_job, share=1.0, busy=lambda: answering[0]
    )
    sweeping = asyncio.create_task(warmer.sweep())
    await asyncio.sleep(YIELD_MAX_S / 2)
    assert warmer.drawn == 0
    answering[0] = False
    assert await asyncio.wait_for(sweeping, 60) == warmer.drawn > 0


async def test_the_app_counts_requests_in_flight_but_not_live_streams(warm: Warm) -> None:
    gauge = RequestsInFlight()
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(gauge.count)

    counted = InFlight(app, gauge)
    for path, during in (("/api/devices", 1), ("/api/live", 0)):
        await counted({"type": "http", "path": path}, _never, _never)
        assert seen[-1] == during and gauge.count == 0 and not gauge


async def _never() -> Message:
    raise AssertionError("not called")


async def test_the_warmer_goes_last_while_the_process_keeps_a_core_busy(warm: Warm) -> None:
    """A thread spending the interpreter's core (ingest and the rules at thousands of readings
    a second) holds each drawing back, at most `YIELD_MAX_S`; idle, nothing is held."""
    context = warm.warmer._context
    idle = ChartWarmer(context, ChartCache(), chart_job, share=1.0)
    assert await idle.sweep() > 0
    assert idle.held_for_load_s == 0
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    # A tenth of a core: the spinning thread gets that much on a machine other jobs keep busy
    # (with 0.7, a run beside a parallel test suite saw the process below it and held nothing).
    busy = ChartWarmer(context, ChartCache(), chart_job, share=1.0, loaded_share=0.1)
    spinner = threading.Thread(target=spin, name="busy-core")
    spinner.start()
    sweeping = asyncio.create_task(busy.sweep())
    try:
        await wait_for(lambda: busy.drawn >= 3, "three charts drawn, held back but not starved")
    finally:
        stop.set()
        spinner.join()
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
    assert 0 < busy.held_for_load_s <= busy.drawn * (YIELD_MAX_S + LOAD_STEP_S)
