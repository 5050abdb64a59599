"""A register as an XLSX workbook: one sheet per table under the document's heading rows
(site, register, period, generated at), the column header frozen, dates and times as real
spreadsheet dates, widths fitted to the text, and the persons and a signature line last."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from io import BytesIO
from typing import cast

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from alerts.register_export.documents import Cell, RegisterDocument, Table
from alerts.register_export.labels import label

__all__ = ["xlsx_bytes"]

_BAD_SHEET_CHARS = str.maketrans("[]:*?/\\", "_______")
_TITLE = Font(bold=True, size=13)
_BOLD = Font(bold=True)
_DATETIME = "yyyy-mm-dd hh:mm"
_DATE = "yyyy-mm-dd"


def xlsx_bytes(document: RegisterDocument) -> bytes:
    # Write-only mode streams the rows out as they come: a year's log (~30 k cells) would
    # otherwise sit as cell objects in memory and be walked again to save.
    book = Workbook(write_only=True)
    for table in document.tables:
        _sheet(book, document, table)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(book: Workbook, document: RegisterDocument, table: Table) -> None:
    # Excel sheet names: at most 31 characters, none of []:*?/\
    name = table.title.split("  (")[0][:31].translate(_BAD_SHEET_CHARS)
    sheet = book.create_sheet(name)
    _widths(sheet, table)
    sheet.freeze_panes = "A6"  # under the four heading rows and the column header
    lang = document.lang
    sheet.append([_styled(sheet, f"{document.site_name}  {document.title}", _TITLE)])
    sheet.append([label("period", lang), *_cells(sheet, [document.first, document.last])])
    sheet.append([label("generated", lang), *_cells(sheet, [document.generated_at])])
    sheet.append([_styled(sheet, table.title, _BOLD)])
    sheet.append([_styled(sheet, name, _BOLD, wrap=True) for name in table.header])
    for row in table.rows:
        sheet.append(_cells(sheet, row))
    if not table.rows:
        sheet.append([label("none", lang)])
    _signatures(sheet, document)


def _cells(sheet: Worksheet, values: Sequence[Cell]) -> list[Cell | SheetCell]:
    """Dates and times as spreadsheet dates shown as such, text cleaned, the rest as is."""
    out: list[Cell | SheetCell] = []
    for value in values:
        if isinstance(value, datetime | date):
            cell = WriteOnlyCell(sheet, cast(datetime, value))  # the stubs omit date; it takes one
            cell.number_format = _DATETIME if isinstance(value, datetime) else _DATE
            out.append(cell)
        else:
            out.append(_storable(value))
    return out


def _styled(sheet: Worksheet, text: str, font: Font, *, wrap: bool = False) -> SheetCell:
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
    cell.font = font
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


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
