"""The charts of the PDF report, one function per chart, drawn on axes the page gives."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from datetime import date

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec

from core.energy_model import DayType
from core.model import Carrier
from energy.labels import Lang, text
from energy.report import EnergyReport, LineRole, LineStatus, ReportLine
from energy.tables import line_label
from energy.tariffs import PERIODS

__all__ = [
    "building_totals",
    "completeness_map",
    "daily_electricity",
    "end_uses",
    "time_of_use",
    "wrapped",
]

# Colour-blind-safe (Okabe-Ito) for buildings and categories; tariff periods red to blue.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
PERIOD_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7", "#67a9cf")


def _totals(report: EnergyReport, carrier: Carrier) -> list[ReportLine]:
    return [
        line
        for line in report.lines
        if line.building is not None and line.carrier is carrier and line.role is LineRole.TOTAL
    ]


def wrapped(name: str, width: int = 12) -> str:
    """A label broken over lines of about `width` characters, so the page's margin holds it
    (a bilingual building name such as "教学楼 Teaching building" is wider than the axis
    margin on one line)."""
    return textwrap.fill(name, width, break_long_words=False) or name


def _colours(count: int) -> list[str]:
    """Okabe-Ito for up to eight series; beyond, matplotlib's 20-colour qualitative map."""
    if count <= len(PALETTE):
        return list(PALETTE)
    tab20 = colormaps["tab20"]
    return [to_hex(tab20(i % 20)) for i in range(count)]


def building_totals(figure: Figure, spec: SubplotSpec, report: EnergyReport, lang: Lang) -> None:
    """One bar chart per carrier: each building's use now, and a tick for the previous period."""
    cells = spec.subgridspec(1, len(Carrier), wspace=0.6)
    for index, carrier in enumerate(Carrier):
        axes = figure.add_subplot(cells[0, index])
        lines = _totals(report, carrier)
        names = [wrapped(line_label(line, lang)[0]) for line in lines]
        now = [line.current.consumption for line in lines]
        axes.barh(names, now, color=PALETTE[index], height=0.6)
        # Only lines with a previous period get a tick: matplotlib cannot place an all-NaN
        # series on a categorical axis (a first month of data has no previous period).
        known = [
            (line.previous.consumption, name)
            for line, name in zip(lines, names, strict=True)
            if line.previous is not None and line.previous.consumption is not None
        ]
        if known:
            values, labels = zip(*known, strict=True)
            axes.scatter(values, labels, marker="|", s=200, color="black")
        axes.set_title(f"{text(carrier.value, lang)} ({carrier.unit})", fontsize=9)
        axes.set_ylim(max(len(lines), 3) - 0.5, -0.5)  # thin bars even for one building
        axes.tick_params(axis="y", labelsize=7)
        axes.set_xlabel(f"| = {text('previous', lang)}", fontsize=7)


def daily_electricity(axes: Axes, report: EnergyReport, lang: Lang) -> None:
    """Daily electricity of each building's main meters, stacked; use across gaps inside a day
    hatched; days without school shaded grey, days not fully measured dotted behind; days that
    had not begun when the report was made left blank and marked, never counted as gaps."""
    days = sorted({d.day for d in report.meter_days})
    mains = {m for line in _totals(report, Carrier.ELECTRICITY) for m in line.meters}
    per_building: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    gaps: dict[date, float] = defaultdict(float)
    incomplete: set[date] = set()
    future = {d.day for d in report.meter_days if d.future}
    for row in report.meter_days:
        if row.meter in mains:
            per_building[row.building][row.day] += row.measured
            gaps[row.day] += row.across_gaps
            if row.completeness < 0.999 and not row.future:
                incomplete.add(row.day)
    x = np.arange(len(days))
    bottom = np.zeros(len(days))
    names = {b.id: b.name for b in (line.building for line in report.lines) if b is not None}
    colours = _colours(len(per_building))
    for index, (building, values) in enumerate(per_building.items()):
        heights = np.array([values[d] for d in days])
        axes.bar(
            x,
            heights,
            bottom=bottom,
            color=colours[index],
            label=names.get(building, building),
        )
        bottom += heights
    axes.bar(
        x,
        [gaps[d] for d in days],
        bottom=bottom,
        color="white",
        edgecolor="grey",
        hatch="///",
        label=text("step.gap", lang),
    )
    _day_backgrounds(axes, report, days, incomplete, future, lang)
    axes.set_xticks(x, [f"{d:%m-%d}" for d in days], rotation=90, fontsize=6)
    for tick, day in zip(axes.get_xticklabels(), days, strict=True):
        if day in future:
            tick.set_color("#aaaaaa")
    axes.set_xlim(-0.6, len(days) - 0.4)
    axes.set_ylim(0, max(float(bottom.max(initial=0)), 1.0) * 1.05)
    axes.set_ylabel("kWh")
    axes.set_title(f"{text('chart.daily', lang)}  ({text('note.daily', lang)})", fontsize=9)
    axes.legend(fontsize=6, ncols=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)


def _day_backgrounds(
    axes: Axes,
    report: EnergyReport,
    days: list[date],
    incomplete: set[date],
    future: set[date],
    lang: Lang,
) -> None:
    types = {d.day: d.day_type for d in report.meter_days}
    for i, day in enumerate(days):
        if day in future:
            axes.text(
                i, 0.02, text("future", lang), transform=axes.get_xaxis_transform(),
                ha="center", va="bottom", rotation=90, fontsize=6, color="#999999",
            )  # fmt: skip
            continue
        if types.get(day) is not DayType.SCHOOL_DAY:
            axes.axvspan(i - 0.5, i + 0.5, color="#eeeeee", zorder=0)
        if day in incomplete:
            axes.axvspan(
                i - 0.5,
                i + 0.5,
                facecolor="none",
                edgecolor="#d62728",
                hatch="..",
                linewidth=0,
                zorder=0,
            )


def time_of_use(axes: Axes, report: EnergyReport, lang: Lang) -> None:
    """Each building's electricity by tariff period, with the period's cost written on it."""
    lines = _totals(report, Carrier.ELECTRICITY)
    names = [wrapped(line_label(line, lang)[0]) for line in lines]
    left = np.zeros(len(lines))
    widest = max((line.current.consumption for line in lines), default=0.0)
    for index, period in enumerate(PERIODS):
        use = np.array([line.current.use_by_period[index] for line in lines])
        bars = axes.barh(
            names,
            use,
            left=left,
            color=PERIOD_COLOURS[index],
            height=0.5,
            label=text(period.value, lang),
        )
        costs = [line.current.cost_by_period[index] for line in lines]
        labels = [f"{c:,.0f}" if u > 0.07 * widest else "" for c, u in zip(costs, use, strict=True)]
        axes.bar_label(bars, labels=labels, label_type="center", fontsize=6)
        left += use
    axes.set_ylim(max(len(lines), 4) - 0.5, -0.5)
    axes.set_xlabel(f"kWh · {text('note.tou', lang)} ({report.currency})")
    axes.set_title(text("chart.tou", lang), fontsize=9)
    axes.legend(fontsize=6, ncols=4, loc="lower right", framealpha=0.9)


def end_uses(axes: Axes, report: EnergyReport, lang: Lang) -> None:
    """Share of each end use (and the unaccounted rest) of every main meter with sub-meters;
    a line without a share (a metering error, a rest not known) is named on the bar instead."""
    rows: dict[str, list[tuple[str, float]]] = defaultdict(list)
    flagged: dict[str, list[str]] = defaultdict(list)
    for line in report.lines:
        if line.building is not None and line.role is not LineRole.TOTAL:
            label = line_label(line, lang)
            key = wrapped(f"{label[0]} · {text(line.carrier.value, lang)}", 16)
            rows.setdefault(key, [])
            if line.share_pct is not None:
                rows[key].append((label[1], line.share_pct))
            else:  # a metering error, or a share of a figure not known
                status = line.status if line.status is not LineStatus.OK else LineStatus.NOT_KNOWN
                flagged[key].append(f"{label[1]}: {text(f'status.{status.value}', lang)}")
    if not rows:
        axes.axis("off")
        axes.text(0.5, 0.5, text("none", lang), ha="center")
        return
    categories = list(dict.fromkeys(name for parts in rows.values() for name, _ in parts))
    left = np.zeros(len(rows))
    for index, category in enumerate(categories):
        share = np.array([dict(parts).get(category, 0.0) for parts in rows.values()])
        bars = axes.barh(
            list(rows), share, left=left, color=PALETTE[index % len(PALETTE)], label=category
        )
        axes.bar_label(
            bars,
            labels=[f"{s:.0f}%" if abs(s) >= 4 else "" for s in share],
            label_type="center",
            fontsize=6,
        )
        left += share
    for position, key in enumerate(rows):
        if flagged[key]:
            axes.text(
                left[position] + 1, position, "; ".join(flagged[key]), va="center", fontsize=6,
                color="#b2182b",
            )  # fmt: skip
    axes.set_yticks(range(len(rows)), list(rows))  # also when no line has a share to draw
    axes.set_xlim(min(0.0, float(left.min())), max(100.0, float(left.max()) + 5))
    axes.set_xlabel(f"{text('share', lang)} %")
    axes.set_title(text("chart.categories", lang), fontsize=9)
    axes.set_ylim(max(len(rows), 4) - 0.5, -0.5)
    if categories:
        axes.legend(fontsize=6, ncols=4, loc="lower right", framealpha=0.9)


def completeness_map(figure: Figure, axes: Axes, report: EnergyReport, lang: Lang) -> None:
    """Meters down, days across, coloured by how much of each meter-day was measured."""
    meters = list(dict.fromkeys(d.meter for d in report.meter_days))
    days = sorted({d.day for d in report.meter_days})
    grid = np.zeros((len(meters), len(days)))
    for row in report.meter_days:
        # A day not yet begun is blank (NaN draws nothing), not a red day of missing data.
        value = np.nan if row.future else row.completeness * 100
        grid[meters.index(row.meter), days.index(row.day)] = value
    image = axes.imshow(
        grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=100, interpolation="nearest"
    )
    axes.set_yticks(range(len(meters)), meters, fontsize=6)
    axes.set_xticks(range(len(days)), [f"{d:%d}" for d in days], fontsize=6)
    axes.set_title(f"{text('completeness', lang)} %")
    figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
