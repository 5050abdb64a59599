"""The overview's live region (status counts, site alerts, buildings and tiles) as HTML, made
from memory and kept while nothing it shows has changed.

Twenty people opening the overview at once, or two hundred browsers refetching it after an
alert, must not each ask the store and render 200 tiles. The region is made from the live
hub's latest values and presence (memory) and the open alerts and verdicts of `OverviewFacts`
(memory, read again at a bounded interval), and kept per language under a key of the hub's and
the facts' versions and the local day. It is also made again once a tile's status would change
with time alone (a fresh reading goes stale): the instant the earliest tile does.

Made again, only the tiles whose facts changed are rendered again; the others' HTML is kept
per device and language.

`region_html` is the one way the region is made: the service without a live hub (tests,
tools) calls it with what it read from the store, and gets the same HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from markupsafe import Markup

from core.records import Alert
from dashboard_api.context import ApiContext
from dashboard_api.live import LiveHub
from dashboard_api.web.i18n import CATALOGUE, Language, translator
from dashboard_api.web.overview_facts import OverviewFacts
from dashboard_api.web.overview_tiles import MealVerdict, Tile, build_tiles, tile_texts
from dashboard_api.web.render import fragment
from ingest.store import LatestValue

__all__ = ["STATUSES", "OverviewView", "region_html", "tile_html"]

# Most urgent first: the order of the counts above the tiles.
STATUSES = ("alert", "offline", "stale", "warning", "ok")


def tile_html(tile: Tile, lang: Language, context: ApiContext, now: datetime) -> str:
    words = CATALOGUE[lang]
    texts = {tile.device.id: tile_texts(tile, words, lang, context, now)}
    return fragment("_tile.html", {"tile": tile, "texts": texts, "t": translator(lang)})


def region_html(
    context: ApiContext,
    tiles: Sequence[Tile],
    alerts: Sequence[Alert],
    lang: Language,
    html_of: Callable[[Tile], str],
) -> str:
    """The region of `tiles` (each made by `html_of`) and the site's own alerts."""
    counts = dict.fromkeys(STATUSES, 0)
    for tile in tiles:
        counts[tile.status] += 1
    site = context.config.site.id
    buildings = []
    for building in context.config.buildings:
        shown = [Markup(html_of(t)) for t in tiles if t.device.building == building.id]
        if shown:
            buildings.append((building, shown))
    return fragment(
        "_overview_region.html",
        {
            "t": translator(lang),
            "lang": lang,
            "counts": counts,
            "alerts_running": context.alerts is not None,
            "site_alerts": [a for a in alerts if a.device == site],
            "buildings": buildings,
        },
    )


@dataclass(frozen=True, slots=True)
class _Region:
    key: tuple[int, int, date]
    until: datetime | None  # when a tile turns stale by time alone
    html: str
    encoded: bytes


class OverviewView:
    """The cached region of one app's overview; made on the event loop."""

    def __init__(self, context: ApiContext, hub: LiveHub, facts: OverviewFacts) -> None:
        self._context = context
        self._hub = hub
        self.facts = facts
        hub.add_alert_listener(facts.on_alert_change)
        self._regions: dict[Language, _Region] = {}
        self._tiles: dict[tuple[str, Language], tuple[tuple[object, ...], str]] = {}
        self._latest: dict[str, tuple[int, list[LatestValue]]] = {}
        self.made = 0  # regions made (not taken from the cache): for tests and the bench

    async def region(self, lang: Language, now: datetime) -> str:
        return (await self._region(lang, now)).html

    async def region_bytes(self, lang: Language, now: datetime) -> bytes:
        """`region` encoded (UTF-8), once per region made."""
        return (await self._region(lang, now)).encoded

    async def _region(self, lang: Language, now: datetime) -> _Region:
        await self._hub.ready()
        facts = await self.facts.current()
        key = (self._hub.version, self.facts.version, facts.day)
        kept = self._regions.get(lang)
        if kept is not None and kept.key == key and (kept.until is None or now < kept.until):
            return kept
        alerts = list(facts.alerts.values())
        tiles = self._tiles_at(alerts, facts.meals, now)
        day = now.astimezone(self._context.config.site.zone).date()
        html = region_html(
            self._context, tiles, alerts, lang, lambda t: self._tile_html(t, lang, day, now)
        )
        until = min((at for t in tiles if (at := t.turns_stale_at()) is not None), default=None)
        region = self._regions[lang] = _Region(key, until, html, html.encode())
        self.made += 1
        return region

    def _tiles_at(
        self, alerts: list[Alert], meals: Mapping[str, list[MealVerdict]], now: datetime
    ) -> list[Tile]:
        latest: dict[str, list[LatestValue]] = {}
        presence: dict[str, bool] = {}
        for device in self._context.config.devices:
            latest[device.id] = self._latest_of(device.id)
            seen = self._hub.presence_of(device.id)
            if seen is not None:
                presence[device.id] = seen[0]
        return build_tiles(self._context, alerts, meals, now, latest, presence)

    def _latest_of(self, device: str) -> list[LatestValue]:
        version = self._hub.version_of(device)
        kept = self._latest.get(device)
        if kept is None or kept[0] != version:
            values = self._hub.values_of(device)
            kept = (
                version,
                [
                    LatestValue(metric, datetime.fromtimestamp(ts / 1000, UTC), value)
                    for metric, (ts, value) in sorted(values.items())
                ],
            )
            self._latest[device] = kept
        return kept[1]

    def _tile_html(self, tile: Tile, lang: Language, day: date, now: datetime) -> str:
        fingerprint = (*tile.fingerprint, day)
        kept = self._tiles.get((tile.device.id, lang))
        if kept is not None and kept[0] == fingerprint:
            return kept[1]
        html = tile_html(tile, lang, self._context, now)
        self._tiles[(tile.device.id, lang)] = (fingerprint, html)
        return html
