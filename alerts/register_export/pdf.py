"""A register as a print-ready PDF: A4 landscape pages (the tables are wide), the school's name,
the register, the period and when it was generated on every page, tables paginated with their
header repeated, "page x of y" at the foot, and at the end the persons recorded in the register
and a signature line for the inspector.

Drawn with matplotlib (already used for the energy report) on figures without pyplot. Chinese
needs a CJK font: WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`), Noto Sans CJK
(`fonts-noto-cjk`) or another of `CJK_FONTS`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from alerts.errors import AlertError
from alerts.register_export.documents import Cell, RegisterDocument, Table
from alerts.register_export.labels import label

__all__ = ["CJK_FONTS", "cjk_font", "pdf_bytes"]

CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
PAGE_W, PAGE_H = 11.69, 8.27  # A4 landscape, inches
MARGIN = 0.45
ROW_H = 0.27  # two lines of 6.5 pt text
TOP = 1.05  # heading block
BOTTOM = 0.55  # footer
_LINE_H = 0.17  # a line of 8.5 pt text
_GAP = 0.2  # between two tables
_SECTION_H = 0.15 + ROW_H + _GAP  # title, header row, gap after
FONT_PT = 6.5


@dataclass(frozen=True, slots=True)
class _Section:
    """A table's rows on one page (all of its rows when it has none)."""

    table: Table
    rows: list[list[Cell]]


@dataclass(slots=True)
class _Page:
    sections: list[_Section] = field(default_factory=list)
    used: float = 0.0  # inches of the body taken
    signature: bool = False


def cjk_font() -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def pdf_bytes(document: RegisterDocument) -> bytes:
    font = cjk_font()
    if font is None and document.lang == "zh":
        raise AlertError(
            "no Chinese font found for the PDF; install one (Debian: apt-get install "
            "fonts-wqy-microhei) or ask for the English register (lang=en)"
        )
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    pages = _paginate(document)
    out = BytesIO()
    with rc_context({"font.family": families, "font.size": FONT_PT}), PdfPages(out) as pdf:
        for number, page in enumerate(pages, start=1):
            pdf.savefig(_render(document, page, number, len(pages)))
        meta = pdf.infodict()
        meta["Title"] = f"{document.site_name} {document.title} {document.period}"
    return out.getvalue()


def _paginate(document: RegisterDocument) -> list[_Page]:
    """Tables one after the other, a table cut where the page is full and carried on the next
    page under its header again; the signature block where it fits, else on a page of its own."""
    body = PAGE_H - TOP - BOTTOM
    pages = [_Page()]
    for table in document.tables:
        rows = table.rows
        while True:
            page = pages[-1]
            fits = int((body - page.used - _SECTION_H) / ROW_H)
            if fits < min(3, max(1, len(rows))):  # no room for a useful part: next page
                pages.append(_Page())
                continue
            part, rows = rows[:fits], rows[fits:]
            page.sections.append(_Section(table, part))
            page.used += _SECTION_H + max(1, len(part)) * ROW_H
            if not rows:
                break
            pages.append(_Page())
    if body - pages[-1].used < _signature_h(document):
        pages.append(_Page())
    pages[-1].signature = True
    return pages


def _render(document: RegisterDocument, page: _Page, number: int, total: int) -> Figure:
    figure = Figure(figsize=(PAGE_W, PAGE_H))
    lang = document.lang
    _text(figure, MARGIN, 0.45, f"{document.site_name}  {document.title}", size=14, bold=True)
    period = f"{label('period', lang)}: {document.period}"
    generated = f"{label('generated', lang)}: {_cell(document.generated_at)}"
    _text(figure, MARGIN, 0.75, f"{period}        {generated}", size=8.5)
    footer = label("page", lang).format(n=number, of=total)
    _text(figure, PAGE_W / 2, PAGE_H - 0.3, footer, size=7.5, center=True)
    y = TOP
    for section in page.sections:
        y = _table(figure, section.table, section.rows, y, lang)
    if page.signature:
        _signature(figure, document, y + 0.1)
    return figure


def _table(figure: Figure, table: Table, rows: list[list[Cell]], top: float, lang: str) -> float:
    _text(figure, MARGIN, top, table.title, size=9, bold=True)
    y = top + 0.15
    widths = table.widths or [1.0] * len(table.header)
    usable = PAGE_W - 2 * MARGIN
    scale = usable / sum(widths)
    columns = [w * scale for w in widths]
    _row(figure, table.header, columns, y, bold=True)
    y += ROW_H
    _rule(figure, y, width=0.8)
    for row in rows:
        _row(figure, row, columns, y)
        y += ROW_H
        _rule(figure, y, width=0.3)
    if not rows:
        _text(figure, MARGIN, y + 0.17, label("none", "en" if lang == "en" else "zh"), size=7)
        y += ROW_H
    return y + _GAP


def _row(
    figure: Figure,
    cells: list[Cell] | list[str],
    columns: list[float],
    y: float,
    *,
    bold: bool = False,
) -> None:
    x = MARGIN
    for value, width in zip(cells, columns, strict=True):
        lines = _wrapped(_cell(value), width)
        _text(figure, x + 0.03, y + 0.02, "\n".join(lines), size=FONT_PT, bold=bold, top=True)
        x += width


def _signature(figure: Figure, document: RegisterDocument, y: float) -> None:
    lang = document.lang
    lines = _persons_lines(document)
    _text(figure, MARGIN, y, "\n".join(lines), size=8.5, top=True)
    line_y = y + _LINE_H * len(lines) + 0.55
    _text(figure, MARGIN, line_y, label("inspector", lang), size=9)
    _rule(figure, line_y + 0.05, x0=MARGIN + 1.4, x1=MARGIN + 5.0, width=0.6)
    _text(figure, MARGIN + 5.5, line_y, label("inspector.date", lang), size=9)
    _rule(figure, line_y + 0.05, x0=MARGIN + 6.1, x1=MARGIN + 8.0, width=0.6)


def _persons_lines(document: RegisterDocument) -> list[str]:
    """ "Persons in this record: ..." wrapped to the page width (a CJK name is wide)."""
    persons = "、".join(document.persons) if document.persons else "—"
    text = f"{label('persons', document.lang)}: {persons}"
    fits = int((PAGE_W - 2 * MARGIN) / (8.5 / 72 * (1.0 if _cjk(text) else 0.58)))
    return textwrap.wrap(text, fits) or [text]


def _signature_h(document: RegisterDocument) -> float:
    return _LINE_H * len(_persons_lines(document)) + 0.8


def _wrapped(text: str, width_in: float) -> list[str]:
    """At most two lines that fit the column; the rest cut with an ellipsis."""
    if not text:
        return [""]
    wide = _cjk(text)
    per_char = FONT_PT / 72 * (1.0 if wide else 0.58)
    fits = max(3, int((width_in - 0.06) / per_char))
    lines = textwrap.wrap(text, fits, break_long_words=True) or [""]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: max(1, fits - 1)] + "…"]
    return lines


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _text(
    figure: Figure,
    x_in: float,
    y_in: float,
    text: str,
    *,
    size: float,
    bold: bool = False,
    center: bool = False,
    top: bool = False,
) -> None:
    """Text placed in inches from the top left corner of the page."""
    figure.text(
        x_in / PAGE_W,
        1 - y_in / PAGE_H,
        text,
        fontsize=size,
        fontweight="bold" if bold and not _cjk(text) else "normal",
        ha="center" if center else "left",
        va="top" if top else "baseline",
        linespacing=1.15,
    )


def _rule(
    figure: Figure, y_in: float, *, x0: float = MARGIN, x1: float = PAGE_W - MARGIN, width: float
) -> None:
    y = 1 - y_in / PAGE_H
    figure.add_artist(
        Line2D(
            [x0 / PAGE_W, x1 / PAGE_W],
            [y, y],
            linewidth=width,
            color="black",
            transform=figure.transFigure,
        )
    )


def _cjk(text: str) -> bool:
    return any(ord(ch) > 0x2E80 for ch in text)
