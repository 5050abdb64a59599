"""A device's metric as an SVG chart (`GET /api/devices/{id}/chart.svg`), drawn on the server.

The store gives at least one bucket per pixel column with its minimum and maximum, so spikes
survive the downsampling, in one query for the metric and the boolean metrics whose ticks are
drawn (door, defrost, compressor); the step is a whole number of the store's rollup buckets
(`ingest.store.chart_step`), so a week is read from 5-min rollups rather than every
reading. Thresholds come from the device's limits, further ticks from its controller's events
and its alerts; for a cold store's air probe the estimated food temperature is drawn beside it
with the rules' own filter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from alerts.register_bands import BandSpan, band_spans
from alerts.rules.product import product_series, tau_min
from core.metrics import METRICS
from core.model import Device
from core.records import AlertQuery, DayWindow
from dashboard_api.chart_cache import (
    ChartKey,
    chart_answer,
    chart_cache,
    compressed,
    plot_columns,
    snapped_end,
    svg_answer,
)
from dashboard_api.chart_reads import FineRead, column_buckets, fine_step, means_ms
from dashboard_api.chart_warmer import chart_warmer_of
from dashboard_api.deps import Context, DevicePath
from dashboard_api.errors import ApiError, answers, shown
from dashboard_api.params import parse_instant, query_value
from dashboard_api.web.charts import (
    Bucket,
    ChartSpec,
    Marker,
    Series,
    Threshold,
    render_chart,
)
from dashboard_api.web.i18n import CATALOGUE, Language
from ingest.store import ROLLUP_WIDTHS_S, chart_step

__all__ = ["chart_job", "router"]

router = APIRouter(tags=["devices"])

# The charts cover 1 hour to 1 year, as the device page offers.
MIN_SPAN = timedelta(hours=1)
MAX_SPAN = timedelta(days=366)
# Air means taken for the food estimate: a week of 5-minute rollups is 2 k; over 20 k (more
# than 69 days at 5 min) the estimate is left out rather than computed point by point.
_MAX_ESTIMATE_POINTS = 20_000
_MARKER_METRICS = {"door_open": "door", "defrost_on": "defrost", "compressor_on": "cycle"}
_EVENT_KINDS = ("cycle_start", "cycle_end", "defrost_start", "defrost_end")
_WORDS = {
    "zh": {"air": "空气", "food": "估算食品温度", "high": "上限", "low": "下限", "alert": "告警"},
    "en": {"air": "Air", "food": "Estimated food", "high": "High", "low": "Low", "alert": "Alert"},
}


@router.get(
    "/api/devices/{device_id}/chart.svg",
    summary="A metric over 1 h to 1 year as an SVG chart (min/max per pixel column)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **answers(404, 422)},
)
async def chart(
    request: Request,
    context: Context,
    device: DevicePath,
    metric: Annotated[str, Query(max_length=64, description="Metric name, e.g. temp_c")],
    start: Annotated[
        str | None,
        Query(
            max_length=64, description="RFC 3339, local date-time or epoch ms; default end - 24 h"
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(max_length=64, description="Same forms as start; default now (up to the step)"),
    ] = None,
    width: Annotated[int, Query(ge=200, le=4000, description="Pixels")] = 800,
    height: Annotated[int, Query(ge=120, le=2000, description="Pixels")] = 300,
    lang: Annotated[Language, Query(description="Language of the labels")] = "zh",
) -> Response:
    if metric not in METRICS:
        raise ApiError(
            422,
            f"query parameter 'metric': unknown metric {shown(metric)}; known: {sorted(METRICS)}",
        )
    columns = plot_columns(width)
    start_at, end_at = _window(context, start, end, columns)
    if context.live is None:
        _require_reported(context, device, metric, None)
        _, draw = chart_job(context, device, metric, (start_at, end_at), (width, height), lang)
        return svg_answer(request, await asyncio.to_thread(draw), {})
    # Seeded first: the seed raises every device's version, which would otherwise make every
    # chart kept before it stale at once.
    await context.live.ready()
    _require_reported(context, device, metric, context.live.values_of(device.id))
    key, draw = chart_job(context, device, metric, (start_at, end_at), (width, height), lang)
    warmer = chart_warmer_of(request)
    if warmer is not None and end is not None and start is not None:
        warmer.asked(device.id, metric, (start_at, end_at), (width, height), lang)
    return await chart_answer(request, chart_cache(request), key, draw)


def chart_job(
    context: Context,
    device: Device,
    metric: str,
    window: tuple[datetime, datetime],
    size: tuple[int, int],
    lang: Language,
) -> tuple[ChartKey, Callable[[], bytes]]:
    """The cache key of a chart (everything that changes its picture: see `chart_cache`) and
    the drawing of it (the SVG compressed, as it is kept and sent); the route and the
    background warmer make the same ones. With the live hub, call after `LiveHub.ready()` (the
    key holds the device's data version)."""
    start_at, end_at = window
    width, height = size
    step_s = chart_step((end_at - start_at).total_seconds(), plot_columns(width))

    def draw() -> bytes:
        spec = _spec(context, device, metric, start_at, end_at, step_s, width, height, lang)
        return compressed(render_chart(spec).encode())

    key = (
        device.id,
        metric,
        width,
        height,
        lang,
        start_at,
        end_at,
        context.live.version_of(device.id) if context.live is not None else None,
        context.config.limits_for(device).model_dump_json(),
        tau_min(device.kind, context.config.rules_for(device)),
    )
    return key, draw


def _require_reported(
    context: Context, device: Device, metric: str, live: Mapping[str, object] | None
) -> None:
    """As the series answers: a metric the device has never reported is a 422 naming the ones
    it has, not an empty chart that looks like a silent sensor (the live hub's memory when it
    runs, else the store's latest values; a device that reported nothing yet is not judged)."""
    if live is None:
        live = {v.metric: v for v in context.store.latest(context.config.site.id, device.id)}
    have = sorted(live)
    if have and metric not in have:
        raise ApiError(
            422,
            f"query parameter 'metric': device {shown(device.id)} has no metric "
            f"{shown(metric)}; its metrics: {have}",
        )


def _window(
    context: Context, start: str | None, end: str | None, columns: int
) -> tuple[datetime, datetime]:
    """The chart's window; a default end ("now") snapped up to the chart's step, so the same
    window is drawn (and kept) until a step passes."""
    if end:
        end_at = _instant(context, "end", end)
        start_at = _instant(context, "start", start) if start else end_at - timedelta(hours=24)
    else:
        now = context.clock.now()
        start_at = _instant(context, "start", start) if start else now - timedelta(hours=24)
        end_at = snapped_end(now, chart_step((now - start_at).total_seconds(), columns))
        if not start:
            start_at = end_at - timedelta(hours=24)
    if not MIN_SPAN <= end_at - start_at <= MAX_SPAN:
        raise ApiError(
            422,
            "query parameters 'start' and 'end': a chart spans 1 hour to 366 days, and start "
            "comes before end",
        )
    return start_at, end_at


def _spec(
    context: Context,
    device: Device,
    metric: str,
    start: datetime,
    end: datetime,
    step_s: int,
    width: int,
    height: int,
    lang: Language,
) -> ChartSpec:
    words = _WORDS[lang]
    gap_s = 3.0 * max(step_s, device.interval_s)
    flags = [flag for flag in _MARKER_METRICS if flag != metric]
    estimate_s = _estimate_read(context, device, metric, start, end)
    read_s = fine_step(step_s, estimate_s)
    site = context.config.site.id
    envelopes = context.store.envelope_steps(site, device.id, [metric, *flags], start, end, read_s)
    fine = FineRead.of(envelopes[metric])
    named = _metric_label(metric, lang)
    series = [
        Series(words["air"] if metric == "temp_c" else named, column_buckets(fine, step_s), gap_s)
    ]
    if estimate_s is not None:
        food = _food_estimate(context, device, fine, (start, step_s, read_s))
        if food:
            series.append(Series(words["food"], food, gap_s, secondary=True))
    flag_steps = {f: column_buckets(FineRead.of(envelopes[f]), step_s) for f in flags}
    return ChartSpec(
        title=f"{device.label} · {named}",
        unit=METRICS[metric].unit,
        start=start,
        end=end,
        zone=context.config.site.zone,
        width=width,
        height=height,
        lang=lang,
        series=series,
        thresholds=_thresholds(context, device, metric, (start, end), lang),
        markers=_markers(context, device, flag_steps, (start, end, step_s), lang),
    )


def _estimate_read(
    context: Context, device: Device, metric: str, start: datetime, end: datetime
) -> int | None:
    """The step the food estimate reads the air at; None when the chart has none (not the
    air, a kind without an estimate, or a range too long to follow the air closely)."""
    if metric != "temp_c":
        return None
    tau = tau_min(device.kind, context.config.rules_for(device))
    if tau is None:
        return None
    read_s = _estimate_step(tau)
    if read_s is None or (end - start).total_seconds() / read_s > _MAX_ESTIMATE_POINTS:
        return None
    return read_s


def _food_estimate(
    context: Context, device: Device, air: FineRead, steps: tuple[datetime, int, int]
) -> list[Bucket]:
    """The rules' product filter over the air's fine means (`air`, read with the chart), one
    bucket per column; it starts five time constants before the window (read apart, a short
    scan), so the estimate has forgotten its initial value when the chart begins."""
    start, step_s, read_s = steps
    tau = tau_min(device.kind, context.config.rules_for(device))
    assert tau is not None  # `_estimate_read` gave a step
    warm = start - timedelta(minutes=5 * tau)
    site = context.config.site.id
    before = context.store.envelope_steps(site, device.id, ["temp_c"], warm, start, read_s)
    warm_ts, warm_air = means_ms(FineRead.of(before["temp_c"]), read_s)
    ts, means = means_ms(air, read_s)
    if not ts:
        return []
    estimate = product_series(warm_ts + ts, warm_air + means, tau)[len(warm_ts) :]
    fine = FineRead(air.start_s, estimate, estimate, estimate)
    return column_buckets(fine, step_s)


def _estimate_step(tau_min: float) -> int | None:
    """The coarsest rollup step the food estimate may read the air at: at most tau / 5.

    The estimate is a first-order lag, T' = (air - T) / tau. Fed the air's mean per step of
    length d <= tau / 5 instead of every reading, each step moves T by 1 - exp(-d / tau) <=
    18 % of the gap to that mean, and the mean lies within the step's own air; so the result
    differs from the reading-by-reading filter by a small part of the air's swing inside one
    step, far below the probe's resolution for a cabinet's slow air (a week from 5-min means
    of a 30-min tau). Coarser steps would blur a door opening's peak, so none is drawn."""
    fitting = [width for width in ROLLUP_WIDTHS_S if width <= tau_min * 60 / 5]
    return max(fitting) if fitting else None


def _thresholds(
    context: Context, device: Device, metric: str, window: tuple[datetime, datetime], lang: Language
) -> list[Threshold]:
    """The air's limits as they were in force over the window: a limit an admin changed
    inside it is a stepped line (the history of `/admin/thresholds`), else one level."""
    if metric != "temp_c":
        return []
    limits = context.config.limits_for(device)
    spans = _bands(context, device, window)
    out = []
    for field, word in (("high_c", "high"), ("low_c", "low")):
        steps = [(span.start, getattr(span, field)) for span in spans]
        values = [value for _, value in steps if value is not None]
        if spans and len({value for _, value in steps}) > 1 and values:
            out.append(Threshold(values[-1], _WORDS[lang][word], tuple(steps)))
            continue
        value = steps[0][1] if steps else getattr(limits, field)
        if value is not None:
            out.append(Threshold(value, _WORDS[lang][word]))
    return out


def _bands(context: Context, device: Device, window: tuple[datetime, datetime]) -> list[BandSpan]:
    """The cold store's bands in force over the window (empty without an admin store or for
    a kind without a band: today's limits are drawn)."""
    if context.admin is None or not device.kind.is_cold_storage:
        return []
    start, end = window
    history = context.admin.limits.history(device, start, end)
    whole = DayWindow(start.date(), start, end)
    return band_spans(context.config, device, history, [whole])[whole.day]


def _markers(
    context: Context,
    device: Device,
    flags: dict[str, list[Bucket]],
    span: tuple[datetime, datetime, int],
    lang: Language,
) -> list[Marker]:
    start, end, step_s = span
    site = context.config.site.id
    markers: list[Marker] = []
    for flag, steps in flags.items():
        named = _metric_label(flag, lang)
        kind = _MARKER_METRICS[flag]
        markers += [
            Marker(at, kind, f"{named} {_local(context, at)}") for at in _ticks(steps, step_s)
        ]
    for event in context.store.device_events(site, _EVENT_KINDS, start, end):
        if event.device == device.id:
            at = datetime.fromtimestamp(event.ts_ms / 1000, UTC)
            kind = "defrost" if event.kind.startswith("defrost") else "cycle"
            markers.append(Marker(at, kind, f"{event.kind} {_local(context, at)}"))
    if context.alerts is not None:
        query = AlertQuery(site, device=device.id, since=start, until=end, limit=500)
        for alert in context.alerts.book.find(query):
            at = alert.fired_at or alert.pending_since
            markers.append(
                Marker(at, "alert", f"{_WORDS[lang]['alert']} {alert.rule} {_local(context, at)}")
            )
    return markers


def _ticks(steps: list[Bucket], step_s: int) -> list[datetime]:
    """A tick where a boolean metric comes on: the first step of each run with it on (the
    maximum per step, so an opening shorter than a step is not lost)."""
    ticks: list[datetime] = []
    previous: Bucket | None = None
    for current in steps:
        if current.high < 0.5:
            continue
        if previous is None or (current.start - previous.start).total_seconds() > step_s:
            ticks.append(current.start)
        previous = current
    return ticks


def _metric_label(metric: str, lang: Language) -> str:
    """The metric's name in the page's language (温度, Temperature), as the pages name it."""
    return CATALOGUE[lang].get(f"metric.{metric}", metric)


def _instant(context: Context, name: str, text: str) -> datetime:
    return query_value(name, lambda t: parse_instant(t, context.config.site.zone), text)


def _local(context: Context, instant: datetime) -> str:
    return instant.astimezone(context.config.site.zone).strftime("%Y-%m-%d %H:%M")
