"""Charts drawn before anyone asks: each device's preset-range charts kept fresh in the chart
cache, in the background, at a bounded share of one CPU and at the lowest priority.

A school opens a device's page cold: its chart (`chart.svg`, a week at 960 px costs tens of
milliseconds of CPU, most of it reading the rollups) would be drawn for that request, and
twenty such drawings at once on two cores queue every cheap answer behind them. The warmer
draws them first, so a request finds the picture kept:

- what it draws: every device's main metric (the one its page opens on) over the page's
  default range and the week (`WARM_RANGES`), at the desktop size, in Chinese (the default
  language); and every preset chart a person asked for since the service started (another
  range, the phone's size, English), newest first, up to `ASKED_MAX`;
- when: after the start (once the live hub is seeded) and again whenever a kept one no longer
  matches: the device's data version moved (a stored reading, a late one, an alert), its
  limits changed, or the window moved on by a step (a preset range ends "now", snapped up to
  the chart's step). A chart whose key changed is never served from the old drawing: the key
  holds all of that (`chart_cache`), so the old entry simply stops matching;
- how much: one drawing at a time, in a thread of its own; after a drawing that cost c
  seconds of CPU it rests c * (1 - share) / share, so it uses at most `WARM_CPU_SHARE` of one
  CPU (c is the drawing thread's CPU time and a quarter more for the store's own query
  threads, which its clock misses: measured at about a fifth of a week's drawing; the wall
  time would make it crawl on a machine others keep busy, resting for their work too);
  before each drawing it waits while the app answers requests (`in_flight`), up to
  `YIELD_MAX_S`, so under a steady load it draws at most about one chart a second and the
  requests keep the cores. The thread is not niced: a drawing holds the GIL for its Python
  parts, and a thread the kernel starves while holding it stalls the event loop behind it
  (on a loaded machine, for hundreds of milliseconds): the yielding and the share bound it
  instead. A drawing that fails is logged once per key and not retried until the key changes;
- and below the readings path: after its rest, while the rest of the process keeps the
  interpreter busy (its CPU over the last `LOAD_STEP_S` above `LOADED_SHARE` of one core:
  ingest, the rules, the alert book at thousands of readings a second, or a backlog being
  caught up), it waits on, up to `YIELD_MAX_S` a drawing. Those share one GIL with the drawing
  thread, so a chart drawn then is an alert judged later (`python -m bench.service_cpu` at
  10 k msg/s: the warmer took 10.6 of the 95.7 us of CPU a message). A school's server, at a
  few readings a second, is never held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request

from core.model import Device
from dashboard_api.chart_cache import ChartCache, ChartKey, preset_window
from dashboard_api.context import ApiContext
from dashboard_api.web.i18n import Language
from dashboard_api.web.overview_tiles import main_metric
from ingest.store import LatestValue

__all__ = [
    "ASKED_MAX",
    "WARM_CPU_SHARE",
    "WARM_RANGES",
    "ChartJob",
    "ChartWarmer",
    "Preset",
    "chart_warmer_of",
]

log = logging.getLogger(__name__)

# A fifth of the time: the requests, the gateway's writes and the rules keep the rest of the
# two cores a school's small server has; the 400 day and week charts of 200 devices (~50 ms
# each) are drawn in under two minutes after a start.
WARM_CPU_SHARE = 0.2
# The device page opens on 24 h; a week is the range staff look back over (issue 12).
WARM_RANGES: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
WARM_SIZE = (960, 360)  # the page's desktop chart (`device_period.CHART_WIDE`)
WARM_LANG: Language = "zh"
ASKED_MAX = 1000  # preset charts people asked for, kept warm beside the defaults
YIELD_MAX_S = 1.0  # held back at most this long while requests draw: the warmer never starves
IDLE_POLL_S = 1.0  # with nothing to draw, look again after this long
_QUERY_THREADS = 1.25  # the store's query threads beside the drawing thread's own CPU
# Above this share of one core used by the process (the GIL's one core nearly spent), the warmer
# holds back; measured over steps of `LOAD_STEP_S`.
LOADED_SHARE = 0.7
LOAD_STEP_S = 0.1

ChartJob = Callable[
    [ApiContext, Device, str, tuple[datetime, datetime], tuple[int, int], Language],
    tuple[ChartKey, Callable[[], bytes]],
]


@dataclass(frozen=True, slots=True)
class Preset:
    """A chart of a range ending now, as the device page asks for it."""

    device: str
    metric: str
    span: timedelta
    size: tuple[int, int]
    lang: Language


class ChartWarmer:
    def __init__(
        self,
        context: ApiContext,
        cache: ChartCache,
        job: ChartJob,
        *,
        share: float = WARM_CPU_SHARE,
        busy: Callable[[], bool] = lambda: False,
        loaded_share: float | None = LOADED_SHARE,
    ) -> None:
        """`busy`: the app is answering requests; `loaded_share`: hold back while the process
        uses more of one core than this (None: never)."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self._context = context
        self._cache = cache
        self._job = job
        self._share = share
        self._busy = busy  # the app is answering requests (`in_flight.RequestsInFlight`)
        self._asked: OrderedDict[Preset, None] = OrderedDict()
        self._failed: set[ChartKey] = set()
        self.drawn = 0  # drawings made by the warmer, for tests and the bench
        self.cpu_s = 0.0  # their CPU time, as the rest counts it
        self._loaded_share = loaded_share
        self.held_for_load_s = 0.0  # time held back for a busy process (`/api/health`, tests)

    def asked(
        self,
        device: str,
        metric: str,
        window: tuple[datetime, datetime],
        size: tuple[int, int],
        lang: Language,
    ) -> None:
        """A request for a chart: kept warm from now on when it is a preset range ending now
        (its window is the preset's as the page makes it); any other window is not."""
        span = window[1] - window[0]
        if window != preset_window(self._context.clock.now(), span, size[0]):
            return
        preset = Preset(device, metric, span, size, lang)
        self._asked[preset] = None
        self._asked.move_to_end(preset, last=False)
        while len(self._asked) > ASKED_MAX:
            self._asked.popitem()

    async def run(self) -> None:
        """Keep the presets drawn until cancelled."""
        live = self._context.live
        if live is None:
            return
        await live.ready()
        with ThreadPoolExecutor(1, thread_name_prefix="chart-warmer") as pool:
            while True:
                if not await self.sweep(pool):
                    await asyncio.sleep(IDLE_POLL_S)

    async def sweep(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Draw every preset whose kept picture is missing or out of date; how many."""
        drawn = 0
        for preset in list(self._presets()):
            device = self._context.config.device(preset.device)
            if device is None:
                continue
            window = preset_window(self._context.clock.now(), preset.span, preset.size[0])
            key, draw = self._job(
                self._context, device, preset.metric, window, preset.size, preset.lang
            )
            if self._cache.pending(key) or key in self._failed:
                continue
            await self._yield_to_requests()
            if await self._draw(key, draw, pool):
                drawn += 1
        return drawn

    def _presets(self) -> Iterator[Preset]:
        yield from self._asked
        for span in WARM_RANGES.values():
            for device in self._context.config.devices:
                metric = self._main_metric(device)
                if metric is not None:
                    yield Preset(device.id, metric, span, WARM_SIZE, WARM_LANG)

    def _main_metric(self, device: Device) -> str | None:
        """The metric the device page opens on; None for a device that has reported nothing
        (its page says so, no chart worth keeping)."""
        assert self._context.live is not None
        values = self._context.live.values_of(device.id)
        if not values:
            return None
        latest = [LatestValue(m, self._context.clock.now(), v) for m, (_, v) in values.items()]
        return main_metric(device, latest)

    async def _yield_to_requests(self) -> None:
        waited = 0.0
        while (self._busy() or self._cache.drawing) and waited < YIELD_MAX_S:
            await asyncio.sleep(0.02)
            waited += 0.02

    async def _draw(
        self, key: ChartKey, draw: Callable[[], bytes], pool: ThreadPoolExecutor | None
    ) -> bool:
        spent = [0.0]  # CPU of the drawing thread

        def timed() -> bytes:
            began = time.thread_time()
            try:
                return draw()
            finally:
                spent[0] = time.thread_time() - began

        try:
            await self._cache.get(key, timed, pool)
        except Exception:  # one chart that cannot be drawn never stops the others
            log.exception("chart warmer: drawing %s failed; not retried until it changes", key[:7])
            if len(self._failed) >= ASKED_MAX:
                self._failed.clear()  # bounded: old keys no longer match anyway
            self._failed.add(key)
            return False
        self.drawn += 1
        cost = spent[0] * _QUERY_THREADS
        self.cpu_s += cost
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(cost * (1 - self._share) / self._share)
        await self._hold_while_loaded(cpu, wall)
        return True

    async def _hold_while_loaded(self, cpu: float, wall: float) -> None:
        """Wait while the process's CPU since (`cpu`, `wall`), the rest just taken (at least
        a step), then over each step, is above `loaded_share` of one core, at most
        `YIELD_MAX_S`: the warmer never starves, it only goes last."""
        if self._loaded_share is None:
            return
        held = 0.0
        while True:
            short = LOAD_STEP_S - (time.monotonic() - wall)
            if short > 0:
                await asyncio.sleep(short)
            used = (time.process_time() - cpu) / (time.monotonic() - wall)
            if used <= self._loaded_share or held >= YIELD_MAX_S:
                return
            cpu, wall = time.process_time(), time.monotonic()  # one more step, held
            held += LOAD_STEP_S
            self.held_for_load_s += LOAD_STEP_S


def chart_warmer_of(request: Request) -> ChartWarmer | None:
    """The app's warmer (`create_app` makes one when the live hub runs), or None."""
    warmer: ChartWarmer | None = getattr(request.app.state, "chart_warmer", None)
    return warmer
