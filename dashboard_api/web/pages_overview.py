"""The overview at `/`: the site's buildings with their devices as tiles.

A tile shows the device's name and location, its main value with unit and the local time of
the reading, its band, a status and its open alerts; a disinfection cabinet's tile adds today's
verdict per meal from the disinfection register (`overview_tiles` makes a tile and its status).
`static/live.js` keeps the tiles current from `/api/live` and derives the status with the same
rule as `tile_status` (the tile carries the facts as data attributes); without JavaScript a
reload shows the current state.

With the live hub running (the service), the page is made from memory and its region kept
while nothing changes (`overview_cache`); without it (tests, tools) each view reads the store.
The page around the region (who is logged in, the server's time for live.js) is made per view.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from dashboard_api.context import ApiContext
from dashboard_api.deps import Context, PageViewer
from dashboard_api.live import LiveHub
from dashboard_api.web.i18n import Language, language_of
from dashboard_api.web.overview_cache import STATUSES, OverviewView, region_html, tile_html
from dashboard_api.web.overview_facts import OverviewFacts, meals_today, open_alerts
from dashboard_api.web.overview_tiles import (
    STALE_INTERVALS,
    Tile,
    band_text,
    build_tiles,
    decimals,
    main_metric,
    tile_status,
)
from dashboard_api.web.pages_common import shared
from dashboard_api.web.render import render
from ingest.store import LatestValue

__all__ = [
    "STALE_INTERVALS",
    "Tile",
    "band_text",
    "decimals",
    "main_metric",
    "overview_view",
    "router",
    "tile_status",
]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, person: PageViewer, context: Context) -> HTMLResponse:
    lang = language_of(request)
    now = context.clock.now()
    if context.live is not None:
        region = await overview_view(request, context, context.live).region_bytes(lang, now)
    else:
        made = await run_in_threadpool(_region_from_store, context, lang, now)
        region = made.encode()
    page = render(
        request,
        "overview.html",
        {
            "region": _SLOT,
            "statuses": STATUSES,
            "today": now.astimezone(context.config.site.zone).date(),
            "now_ms": int(now.timestamp() * 1000),
            **shared(request, "/"),
            "stale_intervals": STALE_INTERVALS,
        },
    )
    return _with_region(page, region)


# Where the region goes: the page around it (who is logged in, the server's time for live.js)
# is made per view, small; the region (200 tiles, about 220 kB) is kept encoded and joined in
# as bytes, not passed through the template and encoded again for every view.
_SLOT = Markup("<!--overview-region-->")
_SLOT_BYTES = str(_SLOT).encode()


def _with_region(page: HTMLResponse, region: bytes) -> HTMLResponse:
    head, found, tail = bytes(page.body).partition(_SLOT_BYTES)
    if not found:
        raise RuntimeError("overview.html lost its region slot")
    page.body = b"".join((head, region, tail))
    page.headers["content-length"] = str(len(page.body))
    return page


def overview_view(request: Request, context: ApiContext, hub: LiveHub) -> OverviewView:
    """The app's cached overview, made on first use (one per app, as the hub is)."""
    view: OverviewView | None = getattr(request.app.state, "overview_view", None)
    if view is None:
        view = OverviewView(context, hub, OverviewFacts(context))
        request.app.state.overview_view = view
    return view


def _region_from_store(context: ApiContext, lang: Language, now: datetime) -> str:
    site = context.config.site.id
    latest: dict[str, list[LatestValue]] = {
        d.id: context.store.latest(site, d.id) for d in context.config.devices
    }
    presence = {p.device: p.online for p in context.store.presence(site)}
    alerts = open_alerts(context)
    tiles = build_tiles(context, alerts, meals_today(context, now), now, latest, presence)
    return region_html(context, tiles, alerts, lang, lambda t: tile_html(t, lang, context, now))
