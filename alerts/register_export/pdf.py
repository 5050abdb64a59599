"""A register as a print-ready PDF: A4 landscape pages (the tables are wide), the school's name,
the register, the period and when it was generated on every page, tables paginated with their
header repeated, "page x of y" at the foot, and at the end the persons recorded in the register
and a signature line for the inspector.

Drawn with fpdf2's text and line primitives: a year's temperature log holds ~30 k cells, and a
matplotlib text artist per cell (laid out, measured and drawn one by one) took ~80 s for it;
placed text is a few microseconds a cell. Chinese needs a CJK font: WenQuanYi Micro Hei (Debian
`fonts-wqy-microhei`), Noto Sans CJK (`fonts-noto-cjk`) or another of `CJK_FONTS`, found through
matplotlib's font list (the one the energy report uses) and embedded as a subset.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TextMode

from alerts.errors import AlertError
from alerts.register_export.documents import Cell, RegisterDocument, Table
from alerts.register_export.fonts import CJK_FONTS, PageFont, cjk_font, page_font
from alerts.register_export.labels import label

__all__ = ["CJK_FONTS", "cjk_font", "pdf_bytes"]

PAGE_W, PAGE_H = 11.69, 8.27  # A4 landscape, inches
MARGIN = 0.45
ROW_H = 0.27  # two lines of 6.5 pt text
TOP = 1.05  # heading block
BOTTOM = 0.55  # footer
_LINE_H = 0.17  # a line of 8.5 pt text
_GAP = 0.2  # between two tables
_SECTION_H = 0.15 + ROW_H + _GAP  # title, header row, gap after
FONT_PT = 6.5
_LINESPACING = 1.15  # the line pitch as a multiple of the font size
_BOLD_STROKE = 0.035  # outline width that thickens a regular face, as a share of its size


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


def pdf_bytes(document: RegisterDocument) -> bytes:
    font = page_font(document.lang)
    if font is None:
        raise AlertError(
            "no Chinese font found for the PDF; install one (Debian: apt-get install "
            "fonts-wqy-microhei) or ask for the English register (lang=en)"
        )
    pdf = _canvas(font)
    pdf.set_title(f"{document.site_name} {document.title} {document.period}")
    pages = _paginate(document)
    for number, page in enumerate(pages, start=1):
        pdf.add_page()
        _render(pdf, document, page, number, len(pages))
    return bytes(pdf.output())


def _canvas(font: PageFont) -> FPDF:
    pdf = FPDF(orientation="landscape", unit="in", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("canteen-monitor")
    pdf.add_font("body", "", Path(font.path), collection_font_number=font.index)
    pdf.set_font("body", size=FONT_PT)
    return pdf


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


def _render(pdf: FPDF, document: RegisterDocument, page: _Page, number: int, total: int) -> None:
    lang = document.lang
    _text(pdf, MARGIN, 0.45, f"{document.site_name}  {document.title}", size=14, bold=True)
    period = f"{label('period', lang)}: {document.period}"
    generated = f"{label('generated', lang)}: {_cell(document.generated_at)}"
    _text(pdf, MARGIN, 0.75, f"{period}        {generated}", size=8.5)
    footer = label("page", lang).format(n=number, of=total)
    _text(pdf, PAGE_W / 2, PAGE_H - 0.3, footer, size=7.5, center=True)
    y = TOP
    for section in page.sections:
        y = _table(pdf, section.table, section.rows, y, lang)
    if page.signature:
        _signature(pdf, document, y + 0.1)


def _table(pdf: FPDF, table: Table, rows: list[list[Cell]], top: float, lang: str) -> float:
    _text(pdf, MARGIN, top, table.title, size=9, bold=True)
    y = top + 0.15
    widths = table.widths or [1.0] * len(table.header)
    usable = PAGE_W - 2 * MARGIN
    scale = usable / sum(widths)
    columns = [w * scale for w in widths]
    _row(pdf, table.header, columns, y, bold=True)
    y += ROW_H
    _rule(pdf, y, width=0.8)
    for row in rows:
        _row(pdf, row, columns, y)
        y += ROW_H
        _rule(pdf, y, width=0.3)
    if not rows:
        _text(pdf, MARGIN, y + 0.17, label("none", "en" if lang == "en" else "zh"), size=7)
        y += ROW_H
    return y + _GAP


def _row(
    pdf: FPDF,
    cells: list[Cell] | list[str],
    columns: list[float],
    y: float,
    *,
    bold: bool = False,
) -> None:
    x = MARGIN
    for value, width in zip(cells, columns, strict=True):
        _lines(pdf, x + 0.03, y + 0.02, _wrapped(_cell(value), width), size=FONT_PT, bold=bold)
        x += width


def _signature(pdf: FPDF, document: RegisterDocument, y: float) -> None:
    lang = document.lang
    lines = _persons_lines(document)
    _lines(pdf, MARGIN, y, lines, size=8.5)
    line_y = y + _LINE_H * len(lines) + 0.55
    _text(pdf, MARGIN, line_y, label("inspector", lang), size=9)
    _rule(pdf, line_y + 0.05, x0=MARGIN + 1.4, x1=MARGIN + 5.0, width=0.6)
    _text(pdf, MARGIN + 5.5, line_y, label("inspector.date", lang), size=9)
    _rule(pdf, line_y + 0.05, x0=MARGIN + 6.1, x1=MARGIN + 8.0, width=0.6)


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


def _lines(
    pdf: FPDF, x_in: float, top_in: float, lines: list[str], *, size: float, bold: bool = False
) -> None:
    """Lines whose first one's top is `top_in` inches from the top of the page."""
    pitch = size / 72 * _LINESPACING
    baseline = top_in + size / 72 * 0.9  # the ascent of a sans face, about 0.9 em
    for line in lines:
        if line:
            _text(pdf, x_in, baseline, line, size=size, bold=bold)
        baseline += pitch


def _text(
    pdf: FPDF,
    x_in: float,
    y_in: float,
    text: str,
    *,
    size: float,
    bold: bool = False,
    center: bool = False,
) -> None:
    """Text on its baseline, placed in inches from the top left corner of the page. Bold is the
    regular face outlined (a CJK face has no bold of its own), and only where no CJK character
    is, as Chinese strokes thickened run together at this size."""
    if pdf.font_size_pt != size:
        pdf.set_font_size(size)
    if center:
        x_in -= pdf.get_string_width(text) / 2
    if bold and not _cjk(text):
        pdf.text_mode = TextMode.FILL_STROKE
        pdf.set_line_width(size / 72 * _BOLD_STROKE)
        pdf.text(x_in, y_in, text)
        pdf.text_mode = TextMode.FILL
    else:
        pdf.text(x_in, y_in, text)


def _rule(
    pdf: FPDF, y_in: float, *, x0: float = MARGIN, x1: float = PAGE_W - MARGIN, width: float
) -> None:
    pdf.set_line_width(width / 72)
    pdf.line(x0, y_in, x1, y_in)


def _cjk(text: str) -> bool:
    return any(ord(ch) > 0x2E80 for ch in text)
