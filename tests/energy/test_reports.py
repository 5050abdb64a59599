"""Report files: CSV a spreadsheet opens with its Chinese intact, XLSX with one sheet per
table, a PDF with charts; and `canteen report energy` writing them."""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from canteen.report_cli import register, run_energy_report
from core.config import SiteConfig
from energy.periods import ReportPeriod
from energy.writers import ReportFormat, StderrProgress, write_report
from ingest import DuckDBStore
from tests.energy.conftest import Meters, constant, local, school

WEEK = ReportPeriod.week(date(2026, 10, 19))


@pytest.fixture
def filled(store: DuckDBStore, meters: Meters) -> DuckDBStore:
    first, last = date(2026, 10, 5), WEEK.last
    meters.write(
        "elec-t",
        "energy_kwh",
        first,
        last,
        constant(4.0),
        silent=lambda t: local(date(2026, 10, 21), 9) < t < local(date(2026, 10, 21), 12),
    )
    meters.write("elec-t-light", "energy_kwh", first, last, constant(1.0))
    meters.write("water-t", "water_m3", first, last, constant(0.5))
    meters.write("gas-c", "gas_m3", first, last, constant(2.0))
    return store


def test_csv_opens_in_a_spreadsheet(filled: DuckDBStore, tmp_path: Path) -> None:
    out = tmp_path / "week.csv"
    write_report(school(), filled, WEEK, ReportFormat.CSV, out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that tells Excel it is UTF-8
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert rows[0] == ["Test School 能耗报告 · 周报 2026-W43"]
    header = rows[3]
    assert header[:5] == ["楼宇", "能源", "分项", "用量", "单位"]
    teaching = next(r for r in rows if r[:3] == ["教学楼", "电", "总用电"])
    assert float(teaching[3]) == 7 * 96.0 and teaching[4] == "kWh"
    assert float(teaching[5]) == 12.0  # the 3 h gap, known in total
    sections = [r[0] for r in rows if len(r) == 1]
    assert sections[1:] == ["汇总 2026-W43", "计量提示", "表计逐日完整率", "缺失与待核查", "异常"]


def test_xlsx_has_a_sheet_per_table_in_english(filled: DuckDBStore, tmp_path: Path) -> None:
    out = tmp_path / "week.xlsx"
    write_report(school(), filled, WEEK, ReportFormat.XLSX, out, lang="en")
    book = load_workbook(out)
    assert book.sheetnames == [
        "summary 2026-W43",
        "metering warnings",
        "meter days",
        "gaps and review",
        "anomalies",
    ]
    summary = book["summary 2026-W43"]
    assert summary["A2"].value == "building"
    rows = {(r[0], r[2]): r for r in summary.iter_rows(min_row=3, values_only=True)}
    assert rows[("教学楼", "lighting & sockets")][3] == 7 * 24.0
    gaps = list(book["gaps and review"].iter_rows(min_row=3, values_only=True))
    assert [(g[0], g[1], g[6]) for g in gaps] == [("elec-t", "gap (total known only)", 12.0)]
    # elec-t-hvac never reported: what the sub-meters leave is not known, and says why.
    rest = rows[("教学楼", "unaccounted (main − sub)")]
    assert rest[3] == "not known" and rest[-2] == "not known"
    [warning] = list(book["metering warnings"].iter_rows(min_row=3, values_only=True))
    assert warning[:2] == ("教学楼", "elec-t-hvac")
    assert str(warning[2]).startswith("unaccounted use not known: elec-t-hvac not measured")
    # The 3 h gap is priced by the meter's own school days (the 5th to the 20th).
    assert rows[("教学楼", "total electricity")][-1] == "profile of comparable days"


def test_pdf_has_four_pages_of_charts_in_chinese(filled: DuckDBStore, tmp_path: Path) -> None:
    out = tmp_path / "week.pdf"
    steps: list[tuple[str, int, int]] = []
    write_report(school(), filled, WEEK, ReportFormat.PDF, out, lambda *s: steps.append(s))
    assert out.read_bytes().startswith(b"%PDF")
    assert [s[1:] for s in steps] == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; the text is not checked")
    text = subprocess.run(
        ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert text.count("\f") == 4
    assert "能耗报告" in text and "分时电量与电费" in text and "教学楼" in text


def test_pdf_of_a_first_week_with_no_previous_period(
    store: DuckDBStore, meters: Meters, tmp_path: Path
) -> None:
    # A school's first week of data: nothing to compare with, which once broke the charts.
    meters.write("elec-t", "energy_kwh", WEEK.first, WEEK.last, constant(4.0))
    out = tmp_path / "first.pdf"
    write_report(school(), store, WEEK, ReportFormat.PDF, out)
    assert out.read_bytes().startswith(b"%PDF")


def test_progress_bar_on_a_pipe_is_a_line_per_step(tmp_path: Path) -> None:
    log = tmp_path / "progress.txt"
    with log.open("w") as stream:
        bar = StderrProgress(stream, width=10)
        bar("reading", 1, 4)
        bar("done", 4, 4)
    assert log.read_text() == "[##........] 1/4 reading\n[##########] 4/4 done\n"


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="canteen")
    register(parser.add_subparsers())
    return parser.parse_args(argv)


def config_file(tmp_path: Path, config: SiteConfig, db: Path) -> Path:
    path = tmp_path / "site.yaml"
    data = config.model_dump(mode="json", exclude_defaults=True)
    data["storage"] = {"path": str(db)}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_canteen_report_energy_writes_the_file(
    filled: DuckDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "energy.duckdb"
    filled.close()  # DuckDB lets one process hold the file
    config = config_file(tmp_path, school(), db)
    out = tmp_path / "october.xlsx"
    args = cli("report", "energy", "--config", str(config), "--month", "2026-10", "--out", str(out))
    assert run_energy_report(args) == 0
    assert load_workbook(out).sheetnames[0] == "汇总 2026-10"
    err = capsys.readouterr().err
    assert "5/5" in err and f"wrote {out}" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--month", "2026-13", "--out", "r.csv"],
            "--month: '2026-13' is not a month; use YYYY-MM",
        ),
        (
            ["--week", "2026-W42", "--out", "r.txt"],
            "--format: cannot tell the format from 'r.txt'; give --format (csv, xlsx, pdf)",
        ),
    ],
)
def test_canteen_report_energy_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    config = config_file(tmp_path, school(), tmp_path / "x.duckdb")
    args = cli("report", "energy", "--config", str(config), *argv)
    assert run_energy_report(args) == 2
    assert message in capsys.readouterr().err
