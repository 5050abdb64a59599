"""Server-side SVG charts of a device's metric: pure functions, no JavaScript.

A series arrives already downsampled by the store to one bucket per pixel column with the
minimum and the maximum of each bucket, so a short spike survives any zoom: each column is drawn
as a vertical stroke from its minimum to its maximum, joined to the next. Buckets further apart
than the series' `gap_s` are not joined: a gap in the data is a gap on the chart, never a line
across it. Thresholds are dashed horizontal lines, events are ticks along the bottom, a second
series (the estimated food temperature beside the air) is drawn dashed. The time axis is in the
site's local time with ticks chosen for the span (minutes to months). Every text is escaped and
the chart carries a title and a description for screen readers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import numpy as np

from dashboard_api.web.chart_ticks import time_ticks, value_ticks

__all__ = [
    "Bucket",
    "ChartSpec",
    "Marker",
    "Series",
    "Threshold",
    "min_max_buckets",
    "render_chart",
    "segments",
    "time_ticks",
]

_MARGIN = (64, 16, 40, 44)  # left, right, top, bottom (px)
_COLOURS = {"primary": "#1f6fb2", "secondary": "#d9822b", "threshold": "#c0392b"}
_MARKER_COLOURS = {"door": "#7f8c8d", "defrost": "#2e86c1", "cycle": "#27ae60", "alert": "#c0392b"}
_TEXT = {
    "zh": {"no_data": "所选时段没有数据", "desc": "{series}，{start} 至 {end}（{zone}）"},
    "en": {"no_data": "No data in this period", "desc": "{series}, {start} to {end} ({zone})"},
}


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    buckets: Sequence[Bucket]
    gap_s: float  # buckets further apart than this are not joined
    secondary: bool = False


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float  # the value labelled (the latest in force)
    label: str
    # The limit in force from each instant on, oldest first (None: no limit then); empty:
    # `value` throughout. A limit changed inside the chart is drawn as a stepped line.
    steps: Sequence[tuple[datetime, float | None]] = ()


@dataclass(frozen=True, slots=True)
class Marker:
    at: datetime
    kind: str  # door, defrost, cycle, alert
    label: str


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    unit: str
    start: datetime
    end: datetime
    zone: ZoneInfo
    width: int
    height: int
    lang: str = "zh"
    series: Sequence[Series] = ()
    thresholds: Sequence[Threshold] = ()
    markers: Sequence[Marker] = field(default_factory=tuple)


def min_max_buckets(
    lows: Sequence[tuple[datetime, float]], highs: Sequence[tuple[datetime, float]]
) -> list[Bucket]:
    """Join a MIN and a MAX aggregation of the same steps into buckets, oldest first."""
    high_at = dict(highs)
    return [Bucket(t, low, high_at.get(t, low)) for t, low in lows]


def segments(buckets: Sequence[Bucket], gap_s: float) -> list[list[Bucket]]:
    """Runs of buckets no further apart than `gap_s`; a longer step starts a new run."""
    runs: list[list[Bucket]] = []
    for bucket in buckets:
        if runs and (bucket.start - runs[-1][-1].start).total_seconds() <= gap_s:
            runs[-1].append(bucket)
        else:
            runs.append([bucket])
    return runs


def render_chart(spec: ChartSpec) -> str:
    text = _TEXT.get(spec.lang, _TEXT["zh"])
    frame = _Frame.of(spec)
    parts = [_header(spec, text), _axes(spec, frame)]
    drawn = [s for s in spec.series if s.buckets]
    if not drawn:
        parts.append(_note(frame, text["no_data"]))
    for threshold in spec.thresholds:
        parts.append(_threshold(frame, threshold))
    for series in drawn:
        parts.append(_series_path(frame, series))
    parts.append(_markers(frame, spec.markers))
    parts.append(_legend(frame, drawn))
    parts.append("</svg>")
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where the plot area lies and how values map to pixels."""

    left: float
    top: float
    right: float
    bottom: float
    t0: float
    t1: float
    v0: float
    v1: float

    @staticmethod
    def of(spec: ChartSpec) -> _Frame:
        values = [v for s in spec.series for b in s.buckets for v in (b.low, b.high)]
        values += [t.value for t in spec.thresholds]
        values += [v for t in spec.thresholds for _, v in t.steps if v is not None]
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        pad = (high - low) * 0.05 or 1.0
        left, right, top, bottom = _MARGIN
        return _Frame(
            left,
            top,
            spec.width - right,
            spec.height - bottom,
            spec.start.timestamp(),
            spec.end.timestamp(),
            low - pad,
            high + pad,
        )

    def x(self, at: datetime) -> float:
        share = (at.timestamp() - self.t0) / max(self.t1 - self.t0, 1e-9)
        return self.left + share * (self.right - self.left)

    def y(self, value: float) -> float:
        share = (value - self.v0) / max(self.v1 - self.v0, 1e-9)
        return self.bottom - share * (self.bottom - self.top)


def _header(spec: ChartSpec, text: dict[str, str]) -> str:
    names = "、" if spec.lang == "zh" else ", "
    desc = text["desc"].format(
        series=names.join(s.label for s in spec.series) or spec.title,
        start=spec.start.astimezone(spec.zone).strftime("%Y-%m-%d %H:%M"),
        end=spec.end.astimezone(spec.zone).strftime("%Y-%m-%d %H:%M"),
        zone=spec.zone.key,
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{spec.width}" height="{spec.height}" '
        f'viewBox="0 0 {spec.width} {spec.height}" role="img" aria-labelledby="t d" '
        f'font-family="sans-serif" font-size="11">\n'
        f'<title id="t">{escape(spec.title)}</title>\n<desc id="d">{escape(desc)}</desc>\n'
        f'<text x="{_MARGIN[0]}" y="16" font-size="13">{escape(spec.title)}</text>'
    )


def _axes(spec: ChartSpec, frame: _Frame) -> str:
    lines = [
        f'<rect x="{frame.left:.1f}" y="{frame.top:.1f}" width="{frame.right - frame.left:.1f}" '
        f'height="{frame.bottom - frame.top:.1f}" fill="none" stroke="#ccc"/>'
    ]
    max_ticks = max(2, int((frame.right - frame.left) // 90))
    for at, label in time_ticks(spec.start, spec.end, spec.zone, max_ticks):
        x = frame.x(at)
        lines.append(
            f'<line x1="{x:.1f}" y1="{frame.top:.1f}" x2="{x:.1f}" y2="{frame.bottom:.1f}" '
            f'stroke="#eee"/><text x="{x:.1f}" y="{frame.bottom + 14:.1f}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for value in value_ticks(frame.v0, frame.v1, max(2, int((frame.bottom - frame.top) // 40))):
        y = frame.y(value)
        lines.append(
            f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}" '
            f'stroke="#eee"/><text x="{frame.left - 4:.1f}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_number(value)}</text>'
        )
    lines.append(
        f'<text x="4" y="{frame.top - 6:.1f}">{escape(spec.unit)}</text>' if spec.unit else ""
    )
    return "\n".join(lines)


def _series_path(frame: _Frame, series: Series) -> str:
    colour = _COLOURS["secondary" if series.secondary else "primary"]
    dash = ' stroke-dasharray="5 3"' if series.secondary else ""
    label = escape(series.label)
    return "\n".join(
        f'<path class="series" data-series="{label}" d="{moves}" '
        f'fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>'
        for moves in _path_moves(frame, series)
    )


def _path_moves(frame: _Frame, series: Series) -> list[str]:
    """Each run's path: a stroke from the high to the low of each column (one point when they
    are equal), joined to the next. Pixels are computed for all buckets at once and formatted
    in one pass; this is most of a drawing's Python time on a week of columns."""
    count = len(series.buckets)
    at = np.fromiter((b.start.timestamp() for b in series.buckets), np.float64, count)
    low = np.fromiter((b.low for b in series.buckets), np.float64, count)
    high = np.fromiter((b.high for b in series.buckets), np.float64, count)
    x = frame.left + (at - frame.t0) / max(frame.t1 - frame.t0, 1e-9) * (frame.right - frame.left)
    scale = (frame.bottom - frame.top) / max(frame.v1 - frame.v0, 1e-9)
    y_high = (frame.bottom - (high - frame.v0) * scale).tolist()
    y_low = (frame.bottom - (low - frame.v0) * scale).tolist()
    xs, differs = x.tolist(), (low != high).tolist()
    starts = [0, *(np.flatnonzero(np.diff(at) > series.gap_s) + 1).tolist(), count]
    paths = []
    for first, stop in itertools.pairwise(starts):
        if stop - first == 1:
            paths.append(
                f"M{xs[first]:.1f},{y_high[first]:.1f} L{xs[first] + 0.6:.1f},{y_low[first]:.1f}"
            )
            continue
        moves = []
        for i in range(first, stop):
            moves.append(f"{'M' if i == first else 'L'}{xs[i]:.1f},{y_high[i]:.1f}")
            if differs[i]:
                moves.append(f"L{xs[i]:.1f},{y_low[i]:.1f}")
        paths.append(" ".join(moves))
    return paths


def _threshold(frame: _Frame, threshold: Threshold) -> str:
    y = frame.y(threshold.value)
    label = escape(f"{threshold.label} {_number(threshold.value)}")
    colour = _COLOURS["threshold"]
    line = (
        f'<path class="threshold stepped" d="{_steps(frame, threshold.steps)}" fill="none" '
        f'stroke="{colour}" stroke-dasharray="6 4"/>'
        if threshold.steps
        else f'<line class="threshold" x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" '
        f'y2="{y:.1f}" stroke="{colour}" stroke-dasharray="6 4"/>'
    )
    return (
        f'{line}<text x="{frame.right - 2:.1f}" y="{y - 3:.1f}" text-anchor="end" '
        f'fill="{colour}">{label}</text>'
    )


def _steps(frame: _Frame, steps: Sequence[tuple[datetime, float | None]]) -> str:
    """Each value level from its instant to the next, joined by a vertical where it changes;
    a time without a limit is a gap."""
    moves: list[str] = []
    joined = False
    ends = [*(at for at, _ in steps[1:]), None]
    for (at, value), until in zip(steps, ends, strict=True):
        x0 = max(frame.left, frame.x(at))
        x1 = frame.right if until is None else min(frame.right, frame.x(until))
        if value is None or x1 < x0:
            joined = joined and value is not None
            continue
        y = frame.y(value)
        moves.append(f"{'L' if joined else 'M'}{x0:.1f},{y:.1f} L{x1:.1f},{y:.1f}")
        joined = True
    return " ".join(moves)


def _markers(frame: _Frame, markers: Sequence[Marker]) -> str:
    ticks = []
    for marker in markers:
        x = frame.x(marker.at)
        if not frame.left <= x <= frame.right:
            continue
        colour = _MARKER_COLOURS.get(marker.kind, "#555")
        ticks.append(
            f'<line class="marker {escape(marker.kind)}" x1="{x:.1f}" y1="{frame.bottom:.1f}" '
            f'x2="{x:.1f}" y2="{frame.bottom - 8:.1f}" stroke="{colour}" stroke-width="1.5">'
            f"<title>{escape(marker.label)}</title></line>"
        )
    return "\n".join(ticks)


def _legend(frame: _Frame, series: Sequence[Series]) -> str:
    items = []
    x = frame.right
    for s in reversed(series):
        colour = _COLOURS["secondary" if s.secondary else "primary"]
        items.append(
            f'<text x="{x:.1f}" y="16" text-anchor="end" fill="{colour}">{escape(s.label)}</text>'
        )
        # Text is not measured here: a CJK character is about twice as wide as a Latin one.
        x -= 14 + sum(12 if ord(c) > 0x2E7F else 7 for c in s.label)
    return "\n".join(items)


def _note(frame: _Frame, message: str) -> str:
    return (
        f'<text x="{(frame.left + frame.right) / 2:.1f}" y="{(frame.top + frame.bottom) / 2:.1f}" '
        f'text-anchor="middle" fill="#888">{escape(message)}</text>'
    )


def _number(value: float) -> str:
    return f"{value:.6g}" if abs(value) >= 1e-9 else "0"
