"""The PDF report: A4 pages with charts (matplotlib) and the tables a facilities office reads.

Page 1 the totals per building against the previous period; page 2 daily electricity and the
time-of-use split with its cost; page 3 the end uses below each main meter and the
completeness of every meter-day; page 4 anomalies and the steps held for review.

Chinese needs a CJK font: WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`) or Noto Sans CJK
(`fonts-noto-cjk`) or any of `CJK_FONTS` installed on the system.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from core.model import Carrier
from energy.charts import (
    building_totals,
    completeness_map,
    daily_electricity,
    end_uses,
    time_of_use,
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
_TABLE_ROWS = 30


def cjk_font() -> str | None:
    """The first CJK font matplotlib can find, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
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
            for page in (_totals_page, _electricity_page, _end_use_page, _review_page):
                pdf.savefig(page(report, lang))
            meta = pdf.infodict()
            meta["Title"] = f"{report.site.name} {text('title', lang)} {report.period.label}"
    except OSError as exc:
        raise EnergyError(f"cannot write {out}: {exc}", field="out") from exc


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


def _totals_page(report: EnergyReport, lang: Lang) -> Figure:
    figure = _page(report, lang, text("chart.by_building", lang))
    grid = figure.add_gridspec(
        3, 1, left=0.07, right=0.97, top=0.91, bottom=0.07, hspace=0.22, height_ratios=[1, 0.3, 2]
    )
    building_totals(figure, grid[0], report, lang)
    _key_figures(figure.add_subplot(grid[1]), report, lang)
    header, rows = _building_table(report, lang)
    widths = [1.4, 1.3, 0.8, 0.8, 1, 1, 1.3, 1, 0.8]
    _table(figure.add_subplot(grid[2]), header, rows, widths=widths)
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
    grid = figure.add_gridspec(2, 1, left=0.09, right=0.95, top=0.90, bottom=0.06, hspace=0.3)
    daily_electricity(figure.add_subplot(grid[0]), report, lang)
    time_of_use(figure.add_subplot(grid[1]), report, lang)
    return figure


def _end_use_page(report: EnergyReport, lang: Lang) -> Figure:
    figure = _page(report, lang, text("chart.categories", lang))
    grid = figure.add_gridspec(2, 1, left=0.2, right=0.95, top=0.90, bottom=0.06, hspace=0.3)
    end_uses(figure.add_subplot(grid[0]), report, lang)
    completeness_map(figure, figure.add_subplot(grid[1]), report, lang)
    return figure


def _review_page(report: EnergyReport, lang: Lang) -> Figure:
    figure = _page(report, lang, f"{text('sheet.anomalies', lang)} · {text('sheet.steps', lang)}")
    grid = figure.add_gridspec(2, 1, left=0.04, right=0.96, top=0.90, bottom=0.04, hspace=0.12)
    tables = {t.key: t for t in report_tables(report, lang)}
    anomalies, steps = tables["sheet.anomalies"], tables["sheet.steps"]
    keep = [1, 2, 3, 7]  # meter, kind, severity, evidence
    rows = [[row[i] for i in keep] for row in anomalies.rows]
    header = [anomalies.header[i] for i in keep]
    _table(figure.add_subplot(grid[0]), header, rows, widths=[1.1, 1.7, 0.6, 6.6])
    _table(
        figure.add_subplot(grid[1]),
        steps.header,
        steps.rows,
        widths=[1.2, 1.6, 1.3, 1.3, 1, 1, 0.9],
    )
    return figure


def _table(
    axes: Axes, header: list[str], rows: list[list[Cell]], widths: list[float] | None = None
) -> None:
    axes.axis("off")
    shown = rows[:_TABLE_ROWS]
    if not shown:
        axes.text(0.5, 0.95, f"{header[0]}: —", ha="center", va="top")
        return
    cells = [["" if c is None else _cell(c) for c in row] for row in shown]
    if len(rows) > len(shown):
        cells.append([f"… +{len(rows) - len(shown)}"] + [""] * (len(header) - 1))
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
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("#bbbbbb")
        if row == 0:
            cell.set_facecolor("#dde6f0")


def _cell(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}%"
