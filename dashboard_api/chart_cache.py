"""Drawn charts (`chart.svg`) kept in memory while what they show is unchanged.

A week's chart costs 15-40 ms of CPU (rollup reads, the food estimate, the SVG); twenty
clients at once on two cores queue behind each other. With the live hub running, a chart is
drawn once per key and served from memory after it. The key holds everything that changes the
picture:

- the request: device, metric, width, height, language, and the window: explicit start/end as
  given, a default end ("now") snapped up to the chart's own step (`snapped_end`), so a week
  asked each second is one entry until a step passes;
- the device's data version from the hub (`LiveHub.version_of`): raised by every stored batch
  that holds the device, late readings included, and by every alert change the rules announce
  (the alert markers: an alert is drawn where it fired, whatever its state later);
- the device's effective limits (an admin override redraws the thresholds) and the rules'
  time constant of the food estimate.

Labels are local times of the window's instants in the site's fixed zone, so no "today" enters
the picture. Without a hub (tests, tools) nothing is kept: the chart is drawn for each request.

The cache is bounded by the bytes of the SVGs it holds, kept gzip-compressed as they are sent
(least recently used out first). One key
is drawn at a time: requests for a key being drawn wait for that drawing rather than start
their own (no stampede when twenty clients open the same week). Drawing runs in a thread, never
on the event loop. Each answer carries a weak ETag of its key (with a token of this run, so a
tag from before a restart never matches) and `Cache-Control: private, no-cache`; a client that
sends the tag back in `If-None-Match` gets a 304. The warmer (`chart_warmer`) fills it with
each device's preset charts before anyone asks.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta

from fastapi import Request
from starlette.responses import Response

from ingest.store import chart_step

__all__ = [
    "CHART_CACHE_BYTES",
    "PRESET_SNAPS_PER_SPAN",
    "ChartCache",
    "ChartKey",
    "chart_answer",
    "chart_cache",
    "compressed",
    "plot_columns",
    "preset_window",
    "snapped_end",
    "svg_answer",
]

# 32 MB: a week's chart at 960 x 360 is ~70 kB of SVG, ~18 kB kept compressed (a day's
# ~15-20 kB), so every device's 24 h and week of a 200-device site (~8 MB, what the warmer
# keeps) and what people open beside them fit, a small share of the service's memory.
CHART_CACHE_BYTES = 32 * 1024 * 1024

ChartKey = tuple[Hashable, ...]
_MEDIA = "image/svg+xml"


def plot_columns(width: int) -> int:
    """The pixel columns of a chart's plot area: its width without the axis margins."""
    return width - 80


def snapped_end(now: datetime, step_s: int) -> datetime:
    """`now` rounded up to a whole number of `step_s` since the epoch: a window ending "now"
    stays the same window until a step passes, and still shows the latest reading."""
    seconds = math.ceil(now.timestamp() / step_s) * step_s
    return datetime.fromtimestamp(seconds, UTC)


# A preset window moves on by whole steps of at least 1/288 of its span (5 min a day): a day's
# chart at 1-min columns would otherwise be a new window, drawn again, every minute whether or
# not anything arrived (200 devices: 200 drawings a minute, the warmer's whole share). The end
# then lies at most that far ahead of now: 0.35 % of the width left empty on the right.
PRESET_SNAPS_PER_SPAN = 288


def preset_window(now: datetime, span: timedelta, width: int) -> tuple[datetime, datetime]:
    """A preset range ending now (the device page's 24 h, 7 d...) as the page asks for it: its
    end snapped up to a whole number of the chart's steps at `width`, at least
    span / `PRESET_SNAPS_PER_SPAN`, so the page, the route and the warmer name the same window
    until that passes."""
    step = chart_step(span.total_seconds(), plot_columns(width))
    snap = step * max(1, math.ceil(span.total_seconds() / PRESET_SNAPS_PER_SPAN / step))
    end = snapped_end(now, snap)
    return end - span, end


class ChartCache:
    """Drawn SVGs by key, bounded by bytes; one drawing per key at a time."""

    def __init__(self, max_bytes: int = CHART_CACHE_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self.size = 0
        self.drawn = 0  # drawings made (misses), for tests and the bench
        self.evicted = 0
        self.run = secrets.token_hex(4)
        self._kept: OrderedDict[ChartKey, bytes] = OrderedDict()
        self._drawing: dict[ChartKey, asyncio.Future[bytes]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, key: ChartKey) -> bool:
        return key in self._kept

    @property
    def drawing(self) -> int:
        """Drawings under way (requests wait on them; the warmer holds back meanwhile)."""
        return len(self._drawing)

    def pending(self, key: ChartKey) -> bool:
        """Kept or being drawn: nothing to start for `key`."""
        return key in self._kept or key in self._drawing

    async def get(
        self, key: ChartKey, draw: Callable[[], bytes], executor: Executor | None = None
    ) -> bytes:
        """The SVG of `key`: kept, being drawn (wait for it), or drawn now in a thread (of
        `executor` when given: the warmer's lowest-priority one)."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        drawing = self._drawing.get(key)
        if drawing is None:
            drawing = asyncio.ensure_future(self._draw(key, draw, executor))
            drawing.add_done_callback(_retrieved)
            self._drawing[key] = drawing
        # Shielded: a client that goes away (its request cancelled) must not cancel the drawing
        # that the others wait for.
        return await asyncio.shield(drawing)

    async def _draw(
        self, key: ChartKey, draw: Callable[[], bytes], executor: Executor | None
    ) -> bytes:
        self.drawn += 1
        try:
            body = await asyncio.get_running_loop().run_in_executor(executor, draw)
        finally:
            del self._drawing[key]
        self._keep(key, body)
        return body

    def _keep(self, key: ChartKey, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return  # larger than the whole cache: served, not kept
        self._kept[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _, dropped = self._kept.popitem(last=False)
            self.size -= len(dropped)
            self.evicted += 1

    def etag(self, key: ChartKey) -> str:
        digest = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
        return f'W/"{self.run}-{digest}"'


async def chart_answer(
    request: Request, cache: ChartCache, key: ChartKey, draw: Callable[[], bytes]
) -> Response:
    """The chart of `key` from `cache`, or a 304 when the client holds it already. The answer
    says whether it was kept (`X-Chart-Cache: hit`) or drawn for it (`miss`); a request with
    `Cache-Control: only-if-cached` gets a 504 rather than a drawing (RFC 9111 5.2.1.7: what a
    bench or a monitor asks to learn whether the warmer has drawn a chart, without drawing)."""
    tag = cache.etag(key)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    kept = key in cache
    if not kept and "only-if-cached" in request.headers.get("cache-control", "").lower():
        return Response(status_code=504, headers={"X-Chart-Cache": "miss"})
    headers["X-Chart-Cache"] = "hit" if kept else "miss"
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return svg_answer(request, await cache.get(key, draw), headers)


def compressed(svg: bytes) -> bytes:
    """A drawing as it is kept and sent: gzip, a quarter of the SVG or less (its numbers
    repeat), so a site's charts fit the cache and a phone on a school's Wi-Fi loads a week in
    a few kB. No timestamp in the header: the same drawing is the same bytes."""
    return gzip.compress(svg, compresslevel=6, mtime=0)


def svg_answer(request: Request, gz: bytes, headers: dict[str, str]) -> Response:
    """The compressed SVG as sent to a client that accepts gzip (every browser does), plain
    to one that does not."""
    headers = {**headers, "Vary": "Accept-Encoding"}
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(gz, media_type=_MEDIA, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(gz), media_type=_MEDIA, headers=headers)


def _accepts_gzip(accepted: str) -> bool:
    for coding in accepted.split(","):
        name, _, params = coding.partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def _retrieved(drawing: asyncio.Future[bytes]) -> None:
    """A drawing's failure is raised to those who wait for it; when all went away, it is
    dropped here rather than logged as never retrieved."""
    if not drawing.cancelled():
        drawing.exception()


def chart_cache(request: Request) -> ChartCache:
    """The app's cache, made on first use (one per app, as the hub is)."""
    cache: ChartCache | None = getattr(request.app.state, "chart_cache", None)
    if cache is None:
        cache = ChartCache()
        request.app.state.chart_cache = cache
    return cache
