"""A register document (`alerts.register_export.RegisterDocument`, the one the PDF and XLSX
downloads lay out) as rows of display cells for the register pages: local times as text,
numbers without float noise, and a class per cell so a failed line, the calibration flag and
a corrected line stand out. Nothing here decides what a register holds."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from alerts.calibration import CalibrationGap, GapKind
from alerts.register_export import RegisterDocument
from alerts.register_export.documents import Cell, Table
from alerts.register_export.labels import Lang, label

__all__ = ["CellView", "RowView", "TableView", "document_tables"]

# Result words (`status.*`, `cal.pass/fail`) a reader should see at a glance, by tone.
_BAD = ("status.missed", "status.incomplete", "status.breached", "cal.fail")
_WARN = ("status.unconfirmed", "status.unverified", "status.in_progress")
_GOOD = ("status.compliant", "status.kept", "cal.pass", "cal.ok")


@dataclass(frozen=True, slots=True)
class CellView:
    text: str
    # bad, warn, good, flag, when (a date or time), ident (a device id) or "": the last two
    # are kept on one line ("fridge-2" never broken at its hyphen).
    tone: str = ""
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class RowView:
    cells: list[CellView]
    amended: bool = False
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class TableView:
    title: str
    header: list[str]
    rows: list[RowView]
    testid: str  # stable for browser tests: register-table-<n>


def document_tables(
    document: RegisterDocument, amended: Collection[tuple[str, str, str]] = ()
) -> list[TableView]:
    """The document's tables for a page; `amended` holds the (date, meal, device) of lines
    that data received later corrected (disinfection register)."""
    tones = _tones(document.lang)
    columns = {label("flag", document.lang): "flag", label("temp.device", document.lang): "ident"}
    return [
        TableView(
            table.title,
            table.header,
            [_row(row, table, tones, columns, amended) for row in table.rows],
            f"register-table-{index}",
        )
        for index, table in enumerate(document.tables)
    ]


def _row(
    row: Sequence[Cell],
    table: Table,
    tones: dict[str, str],
    columns: dict[str, str],
    amended: Collection[tuple[str, str, str]],
) -> RowView:
    cells = [
        _cell(value, tones, columns.get(name, ""))
        for name, value in zip(table.header, row, strict=True)
    ]
    key = tuple(c.text for c in cells[:3])
    return RowView(
        cells,
        amended=key in amended,
        flagged=any(c.tone == "flag" for c in cells),
    )


def _cell(value: Cell, tones: dict[str, str], column: str) -> CellView:
    """`column`: the tone of the whole column ("flag", "ident") or ""."""
    if value is None:
        return CellView("")
    if column:
        return CellView(str(value), column)
    if isinstance(value, datetime):
        return CellView(value.strftime("%Y-%m-%d %H:%M"), "when")
    if isinstance(value, date):
        return CellView(value.isoformat(), "when")
    if isinstance(value, bool):
        return CellView(str(value))
    if isinstance(value, int | float):
        return CellView(f"{round(value, 2):g}", numeric=True)
    return CellView(value, tones.get(value, ""))


def _tones(lang: Lang) -> dict[str, str]:
    words: dict[str, str] = {}
    for tone, keys in (("good", _GOOD), ("warn", _WARN), ("bad", _BAD)):
        words.update({label(key, lang): tone for key in keys})
    # The calibration status table's state column says "never checked" / "overdue" in words.
    never = datetime(2000, 1, 1, tzinfo=UTC)
    for kind in GapKind:
        words[CalibrationGap("", kind, never, never).text.in_language(lang)] = "flag"
    return words
