"""What a reader of the PDF report sees: names that fit their axes, an empty table that says
it is empty, long tables continued over pages, days not yet begun left blank, and a sub-meter
above its main meter named as a metering error instead of charted."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from openpyxl import load_workbook

from energy.labels import Lang
from energy.pdf import _pages, cjk_font
from energy.periods import ReportPeriod
from energy.report import EnergyReport, build_report
from energy.writers import ReportFormat, write_report
from ingest import DuckDBStore
from tests.energy.conftest import Meters, constant, local, school

OCTOBER = ReportPeriod.month(2026, 10)
LONG_NAMES = [
    {"id": "teaching", "name": "教学楼 Teaching and laboratory building", "kind": "teaching"},
    {"id": "canteen", "name": "食堂 Canteen and kitchen", "kind": "canteen"},
]


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def drawn(report: EnergyReport, lang: Lang = "en") -> list[Figure]:
    """The pages drawn as write_pdf draws them (its fonts), to measure what landed where."""
    font = cjk_font()
    with rc_context({"font.family": [font or "DejaVu Sans", "DejaVu Sans"], "font.size": 8}):
        pages = list(_pages(report, lang))
        for page in pages:
            FigureCanvasAgg(page).draw()
    return pages


def test_building_names_fit_on_the_page(store: DuckDBStore, meters: Meters) -> None:
    meters.write("elec-t", "energy_kwh", date(2026, 10, 1), date(2026, 10, 31), constant(4.0))
    meters.write("elec-c", "energy_kwh", date(2026, 10, 1), date(2026, 10, 31), constant(2.0))
    meters.write("elec-t-light", "energy_kwh", date(2026, 10, 1), date(2026, 10, 31), constant(1))
    report = build_report(school(buildings=LONG_NAMES), store, OCTOBER)
    pages = drawn(report, "zh")
    for number, page in enumerate(pages[:3], start=1):
        renderer = page.canvas.get_renderer()  # type: ignore[attr-defined]
        for axes in page.axes:
            for label in axes.get_yticklabels():
                if label.get_text():
                    box = label.get_window_extent(renderer)
                    assert box.x0 >= 0, (number, label.get_text(), box.x0)


def test_an_empty_review_page_says_nothing_was_found(
    store: DuckDBStore, meters: Meters, tmp_path: Path
) -> None:
    meters.write("elec-t", "energy_kwh", date(2026, 9, 1), date(2026, 10, 31), constant(4.0))
    out = tmp_path / "quiet.pdf"
    write_report(school(), store, OCTOBER, ReportFormat.PDF, out, lang="en")
    page4 = pdf_text(out).split("\f")[3]
    assert "no anomalies found" in page4 and "no gaps or review items" in page4
    out_zh = tmp_path / "quiet-zh.pdf"
    write_report(school(), store, OCTOBER, ReportFormat.PDF, out_zh)
    assert "未发现异常" in pdf_text(out_zh).split("\f")[3]


def test_a_long_table_goes_on_over_continued_pages(
    store: DuckDBStore, meters: Meters, tmp_path: Path
) -> None:
    # Silent from 03:00 to 04:00 and 16:00 to 17:00 every day: 62 gaps in October.
    meters.write(
        "elec-c",
        "energy_kwh",
        date(2026, 10, 1),
        date(2026, 10, 31),
        constant(4.0),
        silent=lambda t: t.hour in (3, 16) and t.month == 10,
    )
    report = build_report(school(), store, OCTOBER)
    assert len(report.steps) == 62
    out = tmp_path / "long.pdf"
    write_report(school(), store, OCTOBER, ReportFormat.PDF, out, lang="en")
    pages = pdf_text(out).split("\f")
    assert "continued on the next page" in pages[3]
    assert "gaps and review (continued)" in pages[4]
    listed = sum(page.count("gap (total known only)") for page in pages[3:])
    assert listed == 62  # every row is somewhere, none dropped at 30


def test_a_review_list_too_long_to_read_is_counted_not_printed(
    store: DuckDBStore, meters: Meters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zigzagging counter can hold tens of thousands of review items (hundreds of pages that
    took minutes to draw): the PDF prints a bounded number and says how many it left to the
    XLSX and CSV (the bound lowered to 40 here: 62 gaps make 22 left)."""
    monkeypatch.setattr("energy.pdf._STEP_ROWS_MAX", 40)
    meters.write(
        "elec-c",
        "energy_kwh",
        date(2026, 10, 1),
        date(2026, 10, 31),
        constant(4.0),
        silent=lambda t: t.hour in (3, 16) and t.month == 10,
    )
    out = tmp_path / "bounded.pdf"
    write_report(school(), store, OCTOBER, ReportFormat.PDF, out, lang="en")
    pages = pdf_text(out).split("\f")
    assert sum(page.count("gap (total known only)") for page in pages[3:]) == 40
    assert "22 more not printed (of 62); the XLSX and CSV reports list them all." in pages[4]
    xlsx = tmp_path / "all.xlsx"
    write_report(school(), store, OCTOBER, ReportFormat.XLSX, xlsx, lang="en")
    sheets = load_workbook(xlsx, read_only=True)
    steps = next(ws for ws in sheets.worksheets if "review" in ws.title.lower())
    listed = [row for row in steps.iter_rows(values_only=True) if "gap" in str(row[1])]
    assert len(listed) == 62


def test_days_not_yet_begun_are_blank_not_gaps(
    store: DuckDBStore, meters: Meters, tmp_path: Path
) -> None:
    meters.write("elec-t", "energy_kwh", date(2026, 9, 1), date(2026, 10, 19), constant(4.0))
    now = local(date(2026, 10, 20), 0)
    report = build_report(school(), store, OCTOBER, now=now)
    future = sorted({d.day.day for d in report.meter_days if d.future})
    assert future == list(range(20, 32))
    assert report.happened_until == now
    out = tmp_path / "mid-month.pdf"
    write_report(school(), store, OCTOBER, ReportFormat.PDF, out, lang="en", now=now)
    # The 12 days from the 20th, and the chart title's key ("blank: not yet happened").
    assert pdf_text(out).split("\f")[1].count("not yet") == 12 + 1


def test_a_report_made_without_a_clock_ends_at_the_latest_reading(
    store: DuckDBStore, meters: Meters
) -> None:
    meters.write("elec-t", "energy_kwh", date(2026, 10, 1), date(2026, 10, 9), constant(4.0))
    report = build_report(school(), store, OCTOBER)
    # The last reading is at local midnight after the 9th; the 10th onwards has not happened.
    assert report.happened_until == local(date(2026, 10, 10))
    assert min(d.day for d in report.meter_days if d.future) == date(2026, 10, 10)


def test_a_sub_meter_above_its_parent_is_named_not_charted(
    store: DuckDBStore, meters: Meters, tmp_path: Path
) -> None:
    first, last = date(2026, 10, 1), date(2026, 10, 31)
    meters.write("elec-t", "energy_kwh", first, last, constant(4.0))
    meters.write("elec-t-light", "energy_kwh", first, last, constant(7.92))
    meters.write("elec-t-hvac", "energy_kwh", first, last, constant(1.0))
    out = tmp_path / "sub.pdf"
    write_report(school(), store, OCTOBER, ReportFormat.PDF, out, lang="en")
    page3 = " ".join(pdf_text(out).split("\f")[2].split())
    assert "lighting & sockets: metering error" in page3
    assert "metering error: sub-meter elec-t-light used 5,892.5 kWh" in page3
    assert "198%" not in page3.split("metering warnings")[0]  # no 198 % bar in the chart
