"""A register as an XLSX workbook: one sheet per table under the document's heading rows
(site, register, period, generated at), the column header frozen, dates and times as real
spreadsheet dates, widths fitted to the text, and the persons and a signature line last."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from alerts.register_export.documents import Cell, RegisterDocument, Table
from alerts.register_export.labels import label

__all__ = ["xlsx_bytes"]

_BAD_SHEET_CHARS = str.maketrans("[]:*?/\\", "_______")


def xlsx_bytes(document: RegisterDocument) -> bytes:
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    for table in document.tables:
        _sheet(book, document, table)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(book: Workbook, document: RegisterDocument, table: Table) -> None:
    # Excel sheet names: at most 31 characters, none of []:*?/\
    name = table.title.split("  (")[0][:31].translate(_BAD_SHEET_CHARS)
    sheet = book.create_sheet(name)
    lang = document.lang
    sheet.append([_storable(f"{document.site_name}  {document.title}")])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([label("period", lang), document.first, document.last])
    sheet.append([label("generated", lang), document.generated_at])
    sheet.append([_storable(table.title)])
    sheet["A4"].font = Font(bold=True)
    sheet.append(table.header)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.rows:
        sheet.append([_storable(value) for value in row])
    if not table.rows:
        sheet.append([label("none", lang)])
    _formats(sheet)
    sheet.freeze_panes = f"A{header_row + 1}"
    _widths(sheet, table)
    _signatures(sheet, document)


def _formats(sheet: Worksheet) -> None:
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            value = cell.value
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"


def _widths(sheet: Worksheet, table: Table) -> None:
    for index, name in enumerate(table.header, start=1):
        cells = [_shown(r[index - 1]) for r in table.rows[:500]]
        # A CJK character is about two columns wide.
        width = max(_columns(s) for s in [name, *cells])
        sheet.column_dimensions[get_column_letter(index)].width = min(50, max(9, width + 2))


def _signatures(sheet: Worksheet, document: RegisterDocument) -> None:
    lang = document.lang
    sheet.append([])
    sheet.append([label("persons", lang), _storable("、".join(document.persons)) or "—"])
    sheet.append([])
    sheet.append([label("inspector", lang), "", "", label("inspector.date", lang)])


def _storable(value: Cell) -> Cell:
    """Text as XLSX can hold it: control characters other than tab and line breaks (which a
    note typed on a device or sent through the API may carry) are not allowed in a cell, so each
    becomes U+FFFD rather than refusing the whole register."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def _shown(value: Cell) -> str:
    if isinstance(value, datetime):
        return "2026-01-01 00:00"
    return "" if value is None else str(value)


def _columns(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
