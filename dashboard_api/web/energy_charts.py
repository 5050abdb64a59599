"""Server-side SVG bar charts for the energy page: pure functions, no JavaScript.

`column_chart` draws stacked columns (one per day): a series may be hatched (use across a gap,
known in total only), a column may be shaded (no school that day), dotted underneath (not
fully measured) or marked "not yet" (a day that had not begun: blank, never a gap).
`bar_chart` draws stacked horizontal bars (one per building or line) with a figure written on
each segment wide enough to hold it, and a note after the bar (a metering error named in words
instead of a share that would mean nothing).

The charts scale to the page (a viewBox, `width: 100%` in CSS); every text is escaped; each
chart has a title and a description for screen readers, with ids unique on the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["BarRow", "ColumnChart", "Series", "bar_chart", "column_chart", "nice_max"]

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_GRID = "#e3e7ee"
_SHADE = "#eef0f3"
_MISSING = "#c62828"


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    colour: str
    values: Sequence[float]
    hatched: bool = False  # use across gaps: drawn as a hatched outline
    texts: Sequence[str] = ()  # bar charts: a figure per row, written on the segment


@dataclass(frozen=True, slots=True)
class ColumnChart:
    chart_id: str
    title: str
    unit: str
    labels: Sequence[str]  # one per column
    series: Sequence[Series]
    shaded: Sequence[bool] = ()  # no school that day
    incomplete: Sequence[bool] = ()  # not fully measured
    future: Sequence[bool] = ()  # had not begun
    future_word: str = ""
    empty_word: str = ""
    width: int = 720
    height: int = 300


@dataclass(frozen=True, slots=True)
class BarRow:
    label: str
    note: str = ""  # written after the bar (a metering error, a figure not known, a change)
    tone: str = "alert"  # alert: the note in red; muted: in grey


@dataclass(frozen=True, slots=True)
class _Box:
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True, slots=True)
class BarChart:
    chart_id: str
    title: str
    unit: str
    rows: Sequence[BarRow]
    series: Sequence[Series]
    empty_word: str = ""
    width: int = 720
    label_width: int = 150
    note_width: int = 120  # room right of the plot for the unit and the notes
    fixed_max: float | None = None  # shares: the axis ends at 100 %


def nice_max(value: float) -> float:
    """The axis end at or above `value`: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * 0.999999))


def column_chart(chart: ColumnChart) -> str:
    legend = _legend_lines(chart.series, chart.width)
    extra = _LEGEND_LINE * (len(legend) - 1)
    height = chart.height + extra + 10
    box = _Box(56, 50 + extra, chart.width - 12, height - 46)
    count = max(len(chart.labels), 1)
    totals = [sum(s.values[i] for s in chart.series) for i in range(len(chart.labels))]
    top = nice_max(max(totals, default=0.0))
    step = (box.right - box.left) / count
    parts = [_open(chart.chart_id, chart.width, height, chart.title, _names(chart.series))]
    parts.append(_hatch(chart.chart_id))
    for i in range(len(chart.labels)):
        x = box.left + i * step
        if _at(chart.shaded, i):
            parts.append(_rect(x, box.top, step, box.bottom - box.top, _SHADE, "shade"))
    parts += _value_grid(box, top, chart.unit)
    for i, label in enumerate(chart.labels):
        parts += _column(chart, box, i, step, top)
        parts.append(_tick_label(box, i, step, label, count))
    if not any(totals):
        parts.append(_centre(box, chart.empty_word))
    parts.append(_legend(chart.chart_id, legend))
    parts.append("</svg>")
    return "\n".join(p for p in parts if p)


def _column(chart: ColumnChart, box: _Box, i: int, step: float, top: float) -> list[str]:
    x, width = box.left + i * step + step * 0.15, step * 0.7
    if _at(chart.future, i):
        mid = box.left + (i + 0.5) * step
        return [
            f'<text class="future" x="{mid:.1f}" y="{box.bottom - 4:.1f}" fill="#999" '
            f'font-size="9" transform="rotate(-90 {mid:.1f} {box.bottom - 4:.1f})">'
            f"{escape(chart.future_word)}</text>"
        ]
    out, base = [], 0.0
    for series in chart.series:
        value = series.values[i]
        if value <= 0:
            continue
        y0, y1 = _y(box, top, base), _y(box, top, base + value)
        fill = f"url(#{chart.chart_id}-hatch)" if series.hatched else series.colour
        stroke = ' stroke="#777"' if series.hatched else ""
        out.append(
            f'<rect class="bar" x="{x:.1f}" y="{y1:.1f}" width="{width:.1f}" '
            f'height="{y0 - y1:.1f}" fill="{fill}"{stroke}><title>{escape(chart.labels[i])} '
            f"{escape(series.label)}: {_figure(value)} {escape(chart.unit)}</title></rect>"
        )
        base += value
    if _at(chart.incomplete, i):
        cx = box.left + (i + 0.5) * step
        out.append(
            f'<circle class="incomplete" cx="{cx:.1f}" cy="{box.bottom + 5:.1f}" r="2.5" '
            f'fill="{_MISSING}"/>'
        )
    return out


def bar_chart(chart: BarChart) -> str:
    row_h, gap = 26, 10
    legend = _legend_lines(chart.series, chart.width)
    extra = _LEGEND_LINE * (len(legend) - 1)
    height = 48 + extra + max(len(chart.rows), 1) * (row_h + gap) + 34
    box = _Box(chart.label_width, 40 + extra, chart.width - chart.note_width, height - 40)
    totals = [sum(max(s.values[i], 0.0) for s in chart.series) for i in range(len(chart.rows))]
    top = chart.fixed_max or nice_max(max(totals, default=0.0))
    top = max(top, nice_max(max(totals, default=0.0)))
    parts = [_open(chart.chart_id, chart.width, height, chart.title, _names(chart.series))]
    parts += _bar_grid(box, top, chart.unit)
    for i, row in enumerate(chart.rows):
        y = box.top + 6 + i * (row_h + gap)
        parts.append(_row_label(chart.label_width, y + row_h / 2, row.label))
        parts += _bar(chart, box, i, y, row_h, top)
        if row.note:
            end = box.left + (box.right - box.left) * totals[i] / top
            parts.append(_note(row, end + 6, y + row_h / 2, chart.width - end - 10))
    if not chart.rows or (not any(totals) and not any(r.note for r in chart.rows)):
        parts.append(_centre(box, chart.empty_word))
    parts.append(_legend(chart.chart_id, legend))
    parts.append("</svg>")
    return "\n".join(p for p in parts if p)


def _bar(chart: BarChart, box: _Box, i: int, y: float, row_h: float, top: float) -> list[str]:
    out, left = [], 0.0
    scale = (box.right - box.left) / top
    for series in chart.series:
        value = series.values[i]
        if value <= 0:
            continue
        x, width = box.left + left * scale, value * scale
        label = escape(chart.rows[i].label)
        out.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{row_h}" '
            f'fill="{series.colour}"><title>{label} {escape(series.label)}: '
            f"{_figure(value)} {escape(chart.unit)}</title></rect>"
        )
        text = series.texts[i] if i < len(series.texts) else ""
        if text and width >= 9 * len(text):
            out.append(
                f'<text x="{x + width / 2:.1f}" y="{y + row_h / 2 + 4:.1f}" '
                f'text-anchor="middle" font-size="11" fill="#111">{escape(text)}</text>'
            )
        left += value
    return out


def _note(row: BarRow, x: float, middle: float, room: float) -> str:
    """The row's note after its bar; a note wider than the room left is broken after a
    "; " into two lines."""
    colour = _MISSING if row.tone == "alert" else "#555"
    lines = [row.note]
    if _text_width(row.note, 11) > room and "; " in row.note:
        parts = row.note.split("; ")
        half = (len(parts) + 1) // 2
        lines = ["; ".join(parts[:half]), "; ".join(parts[half:])]
    first = middle + 4 - 6 * (len(lines) - 1)
    spans = "".join(
        f'<tspan x="{x:.1f}" y="{first + 12 * n:.1f}">{escape(line)}</tspan>'
        for n, line in enumerate(lines)
    )
    return f'<text class="note {row.tone}" fill="{colour}" font-size="11">{spans}</text>'


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="energy-chart" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" {_FONT} data-testid="{chart_id}">\n'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>\n'
        f'<text x="8" y="16" font-size="14" font-weight="600">{escape(title)}</text>'
    )


def _hatch(chart_id: str) -> str:
    return (
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs>'
    )


def _value_grid(box: _Box, top: float, unit: str) -> list[str]:
    out = []
    for k in range(5):
        value = top * k / 4
        y = _y(box, top, value)
        out.append(
            f'<line x1="{box.left:.1f}" y1="{y:.1f}" x2="{box.right:.1f}" y2="{y:.1f}" '
            f'stroke="{_GRID}"/><text x="{box.left - 4:.1f}" y="{y + 4:.1f}" '
            f'text-anchor="end" fill="#555">{_figure(value)}</text>'
        )
    out.append(f'<text x="4" y="{box.top - 6:.1f}" fill="#555">{escape(unit)}</text>')
    return out


def _bar_grid(box: _Box, top: float, unit: str) -> list[str]:
    out = []
    for k in range(5):
        value = top * k / 4
        x = box.left + (box.right - box.left) * k / 4
        out.append(
            f'<line x1="{x:.1f}" y1="{box.top:.1f}" x2="{x:.1f}" y2="{box.bottom:.1f}" '
            f'stroke="{_GRID}"/><text x="{x:.1f}" y="{box.bottom + 16:.1f}" '
            f'text-anchor="middle" fill="#555">{_figure(value)}</text>'
        )
    x, y = box.right, box.bottom + 29
    out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" fill="#555">{escape(unit)}</text>')
    return out


def _tick_label(box: _Box, i: int, step: float, label: str, count: int) -> str:
    every = max(1, math.ceil(count / max((box.right - box.left) / 34, 1)))
    if i % every:
        return ""
    x = box.left + (i + 0.5) * step
    return (
        f'<text x="{x:.1f}" y="{box.bottom + 22:.1f}" text-anchor="middle" fill="#555" '
        f'font-size="10">{escape(label)}</text>'
    )


def _row_label(width: int, y: float, label: str) -> str:
    # Long names are cut with an ellipsis; the full name is the bar's tooltip.
    shown = label if _text_width(label) <= width - 12 else _cut(label, width - 12)
    return (
        f'<text x="{width - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(shown)}'
        f"<title>{escape(label)}</title></text>"
    )


_Legend = list[list[tuple[Series, float]]]
_LEGEND_TOP, _LEGEND_LINE = 24, 16


def _legend_lines(series: Sequence[Series], width: int) -> _Legend:
    """The legend's entries and their x, broken into lines that fit the chart's width."""
    lines: _Legend = [[]]
    x = 8.0
    for s in series:
        room = 24 + _text_width(s.label, 11)
        if lines[-1] and x + room > width - 8:
            lines.append([])
            x = 8.0
        lines[-1].append((s, x))
        x += room
    return lines


def _legend(chart_id: str, lines: _Legend) -> str:
    items = []
    for row, line in enumerate(lines):
        y = _LEGEND_TOP + row * _LEGEND_LINE
        for s, x in line:
            fill = f"url(#{chart_id}-hatch)" if s.hatched else s.colour
            items.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="10" height="10" fill="{fill}" '
                f'stroke="#777" stroke-width="{0.5 if s.hatched else 0}"/>'
                f'<text x="{x + 14:.1f}" y="{y + 9:.1f}" font-size="11">{escape(s.label)}</text>'
            )
    return "\n".join(items)


def _centre(box: _Box, word: str) -> str:
    if not word:
        return ""
    return (
        f'<text class="empty" x="{(box.left + box.right) / 2:.1f}" '
        f'y="{(box.top + box.bottom) / 2:.1f}" text-anchor="middle" fill="#888">'
        f"{escape(word)}</text>"
    )


def _rect(x: float, y: float, width: float, height: float, fill: str, cls: str) -> str:
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="{fill}"/>'
    )


def _y(box: _Box, top: float, value: float) -> float:
    return box.bottom - (box.bottom - box.top) * value / top


def _at(flags: Sequence[bool], i: int) -> bool:
    return i < len(flags) and flags[i]


def _names(series: Sequence[Series]) -> str:
    return ", ".join(s.label for s in series)


def _figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _text_width(text: str, size: int = 12) -> float:
    # Not measured: a CJK character is about as wide as the font size, a Latin one about half.
    return sum(size if ord(c) > 0x2E7F else size * 0.55 for c in text)


def _cut(text: str, width: float) -> str:
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"
