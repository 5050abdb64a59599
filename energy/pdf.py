"""The PDF report: A4 pages with charts (matplotlib) and the tables a facilities office reads.

Page 1 the totals per building against the previous period; page 2 daily electricity and the
time-of-use split with its cost; page 3 the end uses below each main meter, the metering
warnings and the completeness of every meter-day; page 4 anomalies and the steps held for
review. A table longer than its page goes on over continued pages; an empty one says so.

Chinese needs a CJK font: WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`) or Noto Sans CJK
(`fonts-noto-cjk`) or any of `CJK_FONTS` installed on the system.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from core.fonts import font_entries
from core.model import Carrier
from energy.charts import (
    building_totals,
    completeness_map,
    daily_electricity,
    end_uses,
    time_of_use,
    wrapped,
)
from energy.errors import EnergyError
from energy.labels import Lang, text
from energy.report import EnergyReport, LineRole, ReportLine
from energy.tables import Cell, line_label, report_tables

__all__ = ["CJK_FONTS", "cjk_font", "write_pdf"]

CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
A4 = (8.27, 11.69)
# Rows that fit: half a page on page 4 (two tables), a whole continued page.
_HALF_PAGE_ROWS = 26
_PAGE_ROWS = 54
_BUILDING_ROWS = 30
# Gaps and review items printed at most (page 4's half and nine continued pages): a meter
# whose counter zigzags can hold tens of thousands, hundreds of pages nobody reads that took
# minutes to draw; the rest is counted on the last page, and the XLSX and CSV list them all.
_STEP_ROWS_MAX = _HALF_PAGE_ROWS + 9 * _PAGE_ROWS


def cjk_font() -> str | None:
    """The first CJK font matplotlib can find, or None."""
    installed = {f.name for f in font_entries(CJK_FONTS)}
    return next((name for name in CJK_FONTS if name in installed), None)


def write_pdf(report: EnergyReport, out: Path, lang: Lang = "zh") -> None:
    font = cjk_font()
    if font is None and lang == "zh":
        raise EnergyError(
            "no Chinese font found for the PDF; install one (Debian: apt-get install "
            "fonts-wqy-microhei) or write the report in English (--lang en)",
            field="format",
        )
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    try:
        with rc_context({"font.family": families, "font.size": 8}), PdfPages(out) as pdf:
            for figure in _pages(report, lang):
                pdf.savefig(figure)
            meta = pdf.infodict()
            meta["Title"] = f"{report.site.name} {text('title', lang)} {report.period.label}"
    except OSError as exc:
        raise EnergyError(f"cannot write {out}: {exc}", field="out") from exc


def _pages(report: EnergyReport, lang: Lang) -> Iterator[Figure]:
    header, rows = _building_table(report, lang)
    first = _totals_page(report, lang, header, rows[:_BUILDING_ROWS])
    if len(rows) > _BUILDING_ROWS:
        _more_follows(first, lang)
    yield first
    yield from _continued(report, lang, text("building", lang), header, rows[_BUILDING_ROWS:])
    yield _electricity_page(report, lang)
    yield _end_use_page(report, lang)
    yield from _review_pages(report, lang)


def _page(report: EnergyReport, lang: Lang, heading: str) -> Figure:
    # Figures without pyplot: no global figure registry, no display backend to choose.
    figure = Figure(figsize=A4)
    kind = text(f"period.{report.period.kind.value}", lang)
    figure.suptitle(
        f"{report.site.name}  {text('title', lang)} · {kind} {report.period.label}",
        fontsize=14,
        y=0.975,
    )
    first, last = report.period.first, report.period.last
    figure.text(0.5, 0.948, f"{heading}   ({first} – {last})", ha="center", fontsize=9)
    return figure


_BUILDING_WIDTHS = [1.6, 1.2, 0.8, 0.8, 0.9, 0.9, 1.2, 0.9, 0.8]


def _totals_page(
    report: EnergyReport, lang: Lang, header: list[str], rows: list[list[Cell]]
) -> Figure:
    figure = _page(report, lang, text("chart.by_building", lang))
    grid = figure.add_gridspec(
        3, 1, left=0.13, right=0.97, top=0.91, bottom=0.07, hspace=0.22, height_ratios=[1, 0.3, 2]
    )
    building_totals(figure, grid[0], report, lang)
    _key_figures(figure.add_subplot(grid[1]), report, lang)
    _table(figure.add_subplot(grid[2]), header, rows, widths=_BUILDING_WIDTHS)
    figure.text(0.07, 0.025, text("note.gaps", lang), fontsize=7, wrap=True)
    return figure


def _key_figures(axes: Axes, report: EnergyReport, lang: Lang) -> None:
    """The few numbers a head of logistics reads first."""
    axes.axis("off")
    site = [line for line in report.lines if line.building is None]
    cost = sum(line.current.cost or 0.0 for line in site)
    parts = [
        f"{line_label(line, lang)[1]} {line.current.consumption:,.1f} {line.unit} "
        f"({text('change_previous', lang)} {_pct(line.change_previous_pct)})"
        for line in site
    ]
    review = sum(1 for s in report.steps if s.step.kind.for_review)
    gaps = sum(1 for s in report.steps if s.step.gap)
    counts = (
        f"{text('sheet.anomalies', lang)} {len(report.anomalies)} · "
        f"{text('step.gap', lang)} {gaps} · {text('review', lang)} {review}"
    )
    axes.text(0, 0.95, f"{text('cost', lang)} {cost:,.2f} {report.currency}", fontsize=10, va="top")
    axes.text(0, 0.6, "    ".join(parts), fontsize=8.5, va="top", wrap=True)
    axes.text(0, 0.2, counts, fontsize=8, va="top")


def _building_table(report: EnergyReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    """One row per building (the site first): each carrier's use, electricity's change and
    intensity, the cost of all carriers, and the least complete main meter."""
    rows: dict[str, dict[Carrier, ReportLine]] = {}
    for line in report.lines:
        if line.role is LineRole.TOTAL:
            rows.setdefault(line_label(line, lang)[0], {})[line.carrier] = line
    header = [
        text("building", lang),
        f"{text('electricity', lang)} kWh",
        text("change_previous", lang),
        text("change_year", lang),
        f"{text('water', lang)} m³",
        f"{text('gas', lang)} m³",
        f"{text('cost', lang)} {report.currency}",
        "kWh/m²",
        text("completeness", lang),
    ]
    return header, [_building_row(name, lines) for name, lines in rows.items()]


def _building_row(name: str, lines: dict[Carrier, ReportLine]) -> list[Cell]:
    power, water, gas = (lines.get(c) for c in Carrier)
    costs = [line.current.cost for line in lines.values()]
    return [
        name,
        _amount(power.current.consumption if power else None),
        _pct(power.change_previous_pct if power else None),
        _pct(power.change_year_pct if power else None),
        _amount(water.current.consumption if water else None),
        _amount(gas.current.consumption if gas else None),
        "—" if None in costs else f"{sum(c or 0.0 for c in costs):,.2f}",
        "—" if power is None or power.per_m2 is None else f"{power.per_m2:.3f}",
        f"{min(line.current.completeness for line in lines.values()) * 100:.1f}%",
    ]


def _amount(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _electricity_page(report: EnergyReport, lang: Lang) -> Figure:
    figure = _page(report, lang, text("chart.daily", lang))
    grid = figure.add_gridspec(2, 1, left=0.16, right=0.95, top=0.90, bottom=0.06, hspace=0.3)
    daily_electricity(figure.add_subplot(grid[0]), report, lang)
    time_of_use(figure.add_subplot(grid[1]), report, lang)
    return figure


def _end_use_page(report: EnergyReport, lang: Lang) -> Figure:
    figure = _page(report, lang, text("chart.categories", lang))
    grid = figure.add_gridspec(
        3, 1, left=0.22, right=0.95, top=0.90, bottom=0.06, hspace=0.35, height_ratios=[1, 0.35, 1]
    )
    end_uses(figure.add_subplot(grid[0]), report, lang)
    _warning_lines(figure.add_subplot(grid[1]), report, lang)
    completeness_map(figure, figure.add_subplot(grid[2]), report, lang)
    return figure


def _warning_lines(axes: Axes, report: EnergyReport, lang: Lang) -> None:
    """The metering warnings in words, where a share could not be charted."""
    axes.axis("off")
    axes.set_title(text("sheet.warnings", lang), fontsize=9, loc="left")
    messages = [w.message(lang) for w in report.warnings] or [text("no_warnings", lang)]
    shown = messages[:6]
    if len(messages) > len(shown):
        shown.append(f"… +{len(messages) - len(shown)} ({text('sheet.warnings', lang)})")
    body = "\n".join(f"• {wrapped(m, 110 if lang == 'en' else 60)}" for m in shown)
    axes.text(0, 1, body, va="top", fontsize=6.5, transform=axes.transAxes)


# Anomaly columns shown: meter, kind, severity, evidence (of report_tables' eight).
_ANOMALY_WIDTHS = [1.1, 1.7, 0.6, 6.6]
_STEP_WIDTHS = [1.2, 1.6, 1.3, 1.3, 1, 1, 0.9]


def _review_pages(report: EnergyReport, lang: Lang) -> Iterator[Figure]:
    """Page 4: anomalies above, gaps and review items below; what does not fit goes on."""
    figure = _page(report, lang, f"{text('sheet.anomalies', lang)} · {text('sheet.steps', lang)}")
    grid = figure.add_gridspec(2, 1, left=0.04, right=0.96, top=0.90, bottom=0.04, hspace=0.12)
    tables = {t.key: t for t in report_tables(report, lang)}
    anomalies, steps = tables["sheet.anomalies"], tables["sheet.steps"]
    width = 100 if lang == "en" else 70  # characters the evidence column holds at 6.5 pt
    rows = [[*row[1:4], wrapped(str(row[7]), width)] for row in anomalies.rows]
    header = [anomalies.header[i] for i in (1, 2, 3, 7)]
    first = _HALF_PAGE_ROWS
    none, no_steps = text("no_anomalies", lang), text("no_steps", lang)
    printed = steps.rows[:_STEP_ROWS_MAX]
    _table(figure.add_subplot(grid[0]), header, rows[:first], _ANOMALY_WIDTHS, none)
    _table(figure.add_subplot(grid[1]), steps.header, printed[:first], _STEP_WIDTHS, no_steps)
    if len(rows) > first or len(printed) > first:
        _more_follows(figure, lang)
    yield figure
    yield from _continued(report, lang, anomalies.title, header, rows[first:], _ANOMALY_WIDTHS)
    pages = list(_continued(report, lang, steps.title, steps.header, printed[first:], _STEP_WIDTHS))
    if len(steps.rows) > len(printed):  # then `pages` holds at least the last printed rows
        left, total = len(steps.rows) - len(printed), len(steps.rows)
        words = text("steps_not_printed", lang).format(left=left, total=total)
        pages[-1].text(0.04, 0.012, words, fontsize=8, weight="bold")
    yield from pages


def _more_follows(figure: Figure, lang: Lang) -> None:
    figure.text(0.96, 0.012, text("more_follows", lang), ha="right", fontsize=7, style="italic")


def _continued(
    report: EnergyReport,
    lang: Lang,
    title: str,
    header: list[str],
    rows: list[list[Cell]],
    widths: list[float] | None = None,
) -> Iterator[Figure]:
    """Pages of the rows a table's first page had no room for, each headed "(continued)"."""
    for start in range(0, len(rows), _PAGE_ROWS):
        figure = _page(report, lang, f"{title} ({text('continued', lang)})")
        grid = figure.add_gridspec(1, 1, left=0.04, right=0.96, top=0.92, bottom=0.03)
        _table(figure.add_subplot(grid[0]), header, rows[start : start + _PAGE_ROWS], widths)
        if start + _PAGE_ROWS < len(rows):
            _more_follows(figure, lang)
        yield figure


def _table(
    axes: Axes,
    header: list[str],
    rows: list[list[Cell]],
    widths: list[float] | None = None,
    empty: str = "—",
) -> None:
    """The rows as a table at the top of `axes`; the caller pages long tables."""
    axes.axis("off")
    if not rows:
        axes.text(0.5, 0.95, empty, ha="center", va="top", fontsize=9)
        return
    cells = [["" if c is None else _cell(c) for c in row] for row in rows]
    weights = widths or [1.0] * len(header)
    table = axes.table(
        cellText=cells,
        colLabels=header,
        colWidths=[w / sum(weights) for w in weights],
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    table.scale(1, 1.3)
    # A row as tall as its longest cell's lines; never taller than its axes all together: a
    # row that would fall off the page is squeezed, not lost.
    lines = [1] + [max(str(c).count("\n") + 1 for c in row) for row in cells]
    unit = min(table[0, 0].get_height(), 1 / sum(lines))
    for (row, _col), cell in table.get_celld().items():
        cell.set_height(unit * lines[row])
        cell.set_edgecolor("#bbbbbb")
        if row == 0:
            cell.set_facecolor("#dde6f0")


def _cell(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}%"
