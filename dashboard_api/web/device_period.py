"""The period the device page shows (`pages_device`): a preset range ending now (1 hour to 1
year) or a chosen from/to read from the query, the chart URLs drawn for it at the page's two
sizes, and the links to the periods before and after it.

A preset range ends at the chart's step (`chart_cache.preset_window`), so the page and its
chart keep one URL until a step passes; a custom one is drawn as asked, within what the chart
route draws (1 hour to 366 days). A bad parameter is a `PageError` naming it and what is
allowed (a 422 page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import Request

from core.model import Device
from dashboard_api.chart_cache import preset_window
from dashboard_api.context import ApiContext
from dashboard_api.params import parse_instant
from dashboard_api.web.pages_common import PageError, parse_param, query_param

__all__ = [
    "CHART_NARROW",
    "CHART_WIDE",
    "RANGES",
    "Period",
    "chart_url",
    "chart_window",
    "minute",
    "period_links",
    "period_of",
]

# The periods the page offers, as the issue asks: 1 hour to 1 year.
RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
# The chart route draws 1 hour to 366 days (`routes.charts`).
_MIN_SPAN, _MAX_SPAN = timedelta(hours=1), timedelta(days=366)
# Chart sizes in CSS pixels: a desktop's content column, and a phone's (390 px less margins).
CHART_WIDE = (960, 360)
CHART_NARROW = (360, 300)
_INSTANTS = "a local date-time such as 2026-11-24T08:00, RFC 3339 or epoch milliseconds"


@dataclass(frozen=True, slots=True)
class Period:
    """The stretch of time the page shows and its chart draws."""

    start: datetime
    end: datetime
    range: str | None  # the preset chosen, None for a custom from/to

    @property
    def span(self) -> timedelta:
        return self.end - self.start


def minute(instant: datetime) -> datetime:
    """`instant` at the start of its minute (what the kept page bodies are keyed on)."""
    return instant.replace(second=0, microsecond=0)


def period_of(request: Request, context: ApiContext) -> Period:
    """The period the query asks for: `range` (default 24h) ending now, or `start` and `end`
    together (local time of the site, RFC 3339 or epoch ms). PageError: a bad one."""
    zone = context.config.site.zone
    start_text = query_param(request, "start", _INSTANTS)
    end_text = query_param(request, "end", _INSTANTS)
    if start_text is None and end_text is None:
        name = query_param(request, "range", ", ".join(RANGES)) or "24h"
        if name not in RANGES:
            raise PageError(
                422, "page.param_choice", name="range", value=name, allowed=", ".join(RANGES)
            )
        end = context.clock.now()
        return Period(end - RANGES[name], end, name)
    if start_text is None or end_text is None:
        missing = "start" if start_text is None else "end"
        raise PageError(422, "device.period_half", name=missing)
    start = parse_param("start", lambda t: parse_instant(t, zone), start_text, _INSTANTS)
    end = parse_param("end", lambda t: parse_instant(t, zone), end_text, _INSTANTS)
    if not _MIN_SPAN <= end - start <= _MAX_SPAN:
        raise PageError(422, "device.period_span", name="start, end")
    return Period(start, end, None)


def chart_window(period: Period, size: tuple[int, int]) -> tuple[datetime, datetime]:
    """The window the chart at `size` draws: a preset range's snapped to the chart's step."""
    if period.range is None:
        return period.start, period.end
    return preset_window(period.end, period.span, size[0])


def chart_url(device: Device, metric: str, period: Period, lang: str, size: tuple[int, int]) -> str:
    """The chart route's URL; drawn at the size it is shown (a phone gets a narrower chart
    with fewer, readable ticks rather than a wide one scaled down). A preset range ending now
    ends at the chart's step, as the chart route snaps its own "now": the same URL (one drawing
    the service keeps, one the browser revalidates) until a step passes."""
    start, end = chart_window(period, size)
    query = {
        "metric": metric,
        "start": _ms(start),
        "end": _ms(end),
        "width": size[0],
        "height": size[1],
        "lang": lang,
    }
    return f"/api/devices/{device.id}/chart.svg?{urlencode(query)}"


def period_links(device: Device, metric: str, period: Period, now: datetime) -> dict[str, str]:
    """Links to the period before and after the one shown (same length)."""
    base = f"/devices/{device.id}?"
    # A preset range ends now: its earlier period starts at the minute its start is shown in,
    # so the page (kept per minute, `web.device_body`) links the same one all that minute.
    start = period.start if period.range is None else minute(period.start)
    earlier = {"metric": metric, "start": _ms(start - period.span), "end": _ms(start)}
    links = {"earlier": base + urlencode(earlier)}
    if period.end < now - timedelta(minutes=1):
        later_end = min(period.end + period.span, now)
        later = {"metric": metric, "start": _ms(later_end - period.span), "end": _ms(later_end)}
        links["later"] = base + urlencode(later)
    return links


def _ms(instant: datetime) -> str:
    return str(int(instant.timestamp() * 1000))
