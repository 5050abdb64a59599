"""Writing a report file: CSV (UTF-8 with BOM, so Excel shows the Chinese right), XLSX (one
sheet per table) or PDF (charts, `energy.pdf`), with a progress bar on stderr."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.config import SiteConfig
from energy.errors import EnergyError
from energy.labels import Lang, text
from energy.periods import ReportPeriod
from energy.report import EnergyReport, Progress, build_report
from energy.tables import Table, report_tables
from ingest.store import SiteStore

__all__ = ["ReportFormat", "StderrProgress", "write_report"]


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


def write_report(
    config: SiteConfig,
    store: SiteStore,
    period: ReportPeriod,
    fmt: ReportFormat,
    out: Path,
    progress: Progress | None = None,
    lang: Lang = "zh",
    now: datetime | None = None,
) -> EnergyReport:
    """Build the report of `period` as of `now` and write it to `out` in `fmt`; returns the
    report."""
    tell = progress or (lambda _what, _done, _all: None)

    def building(what: str, done: int, steps: int) -> None:
        if done < steps:  # the report's own last step is not the file's
            tell(what, done, steps + 1)

    report = build_report(config, store, period, building, now)
    tell(f"writing {fmt.value}", 4, 5)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt is ReportFormat.CSV:
        write_csv(report, out, lang)
    elif fmt is ReportFormat.XLSX:
        write_xlsx(report, out, lang)
    else:
        from energy.pdf import write_pdf  # matplotlib loads only when a PDF is asked for

        write_pdf(report, out, lang)
    tell(f"wrote {out}", 5, 5)
    return report


def write_csv(report: EnergyReport, out: Path, lang: Lang = "zh") -> None:
    """Every table one after the other, each under its title and separated by a blank row."""
    with out.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([_title(report, lang)])
        for table in report_tables(report, lang):
            writer.writerow([])
            writer.writerow([table.title])
            writer.writerow(table.header)
            writer.writerows([["" if c is None else c for c in row] for row in table.rows])


def write_xlsx(report: EnergyReport, out: Path, lang: Lang = "zh") -> None:
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    for table in report_tables(report, lang):
        _sheet(book, table, _title(report, lang))
    try:
        book.save(out)
    except OSError as exc:
        raise EnergyError(f"cannot write {out}: {exc}", field="out") from exc


def _sheet(book: Workbook, table: Table, title: str) -> None:
    # Excel sheet names: at most 31 characters, no []:*?/\
    sheet = book.create_sheet(table.title[:31].translate(str.maketrans("[]:*?/\\", "_______")))
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(table.header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append(row)
    sheet.freeze_panes = "A3"
    for index, name in enumerate(table.header, start=1):
        width = max([len(str(name))] + [len(str(r[index - 1] or "")) for r in table.rows[:200]])
        sheet.column_dimensions[get_column_letter(index)].width = min(60, max(8, width * 1.3))


def _title(report: EnergyReport, lang: Lang) -> str:
    kind = text(f"period.{report.period.kind.value}", lang)
    return f"{report.site.name} {text('title', lang)} · {kind} {report.period.label}"


class StderrProgress:
    """A one-line progress bar on stderr: redrawn in place on a terminal, a line per step
    otherwise (logs, CI)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self._stream = stream or sys.stderr
        self._width = width

    def __call__(self, what: str, done: int, total: int) -> None:
        filled = self._width * done // max(total, 1)
        bar = "#" * filled + "." * (self._width - filled)
        line = f"[{bar}] {done}/{total} {what}"
        if self._stream.isatty():
            end = "\n" if done >= total else ""
            self._stream.write(f"\r\x1b[2K{line}{end}")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
