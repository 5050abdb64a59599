"""Register documents read back as an inspector would: the PDF through pdftotext, the XLSX
through openpyxl. Real rules on a real DuckDB file make the rows; real people's names come from
acknowledging and closing an alert and from calibration checks."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from alerts.calibration import record_check
from alerts.register_export import (
    RegisterDocument,
    RegisterKindError,
    RegisterName,
    RegisterSources,
    build_document,
    pdf_bytes,
    xlsx_bytes,
)
from alerts.register_export.documents import Cell, Table
from alerts.register_export.labels import Lang
from core.clock import StepClock
from core.model import Device
from core.records import CalibrationMethod, FoodDecision, RuleId
from ingest.duckdb_calibration import DuckDBCalibrationStore
from tests.alerts.conftest import MIDNIGHT, Harness, school, series
from tests.alerts.test_disinfection import cabinet_day, local

MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)


@dataclass
class Site:
    harness: Harness
    calibration: DuckDBCalibrationStore

    def sources(self) -> RegisterSources:
        return RegisterSources(
            self.harness.config,
            self.harness.store,
            self.calibration,
            self.harness.service.book.find,
        )

    def device(self, device_id: str) -> Device:
        found = self.harness.config.device(device_id)
        assert found is not None
        return found

    def document(
        self, name: RegisterName, device: str | None, lang: Lang = "zh"
    ) -> RegisterDocument:
        one = None if device is None else self.device(device)
        now = self.harness.clock.now()
        return build_document(self.sources(), name, one, MONDAY, TUESDAY, now, lang)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Monday: the fridge warm 09:00-09:40 (an over-temperature alert, acknowledged by 张师傅
    and closed by 李经理), the infrared cabinet runs a compliant cycle after lunch and none
    after dinner; its probe was checked on Monday 08:00 by 王师傅, the fridge's on 2026-10-20
    (30 days cover until 2026-11-19: overdue all of Monday and Tuesday)."""
    path = tmp_path / "site.duckdb"
    harness = Harness(path, school(rules={"judge_on": "air"}), StepClock(MIDNIGHT))
    calibration = DuckDBCalibrationStore(path)
    config = harness.config
    fridge, cabinet = config.device("fridge-1"), config.device("ir-1")
    assert fridge is not None and cabinet is not None
    for device, at in ((fridge, MIDNIGHT - timedelta(days=34)), (cabinet, local(8, 0))):
        record_check(
            calibration, config, device, at=at, method=CalibrationMethod.ICE_POINT,
            reference_c=0.0, probe_c=0.4, by="王师傅",
        )  # fmt: skip
    values = [9.0 if 540 <= m < 580 else 4.0 for m in range(24 * 60)]
    rows = series("fridge-1", MIDNIGHT, 60, values)
    harness.feed(rows[:575])  # fired at 09:30, acknowledged while it fires
    [alert] = harness.alerts(RuleId.OVER_TEMPERATURE)
    harness.service.book.acknowledge(alert.id, "张师傅")
    harness.feed(rows[575:])
    harness.feed(cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=12))
    harness.service.book.close(
        alert.id, "李经理", corrective_action="调整温控器", food_decision=FoodDecision.KEPT,
        food_reason="食品中心温度未超过 8 °C",
    )  # fmt: skip
    harness.clock.instant = MIDNIGHT + timedelta(days=1, hours=12)  # Tuesday noon
    yield Site(harness, calibration)
    calibration.close()
    harness.close()


def pdf_text(document: RegisterDocument, tmp_path: Path) -> str:
    out = tmp_path / "register.pdf"
    out.write_bytes(pdf_bytes(document))
    done = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True
    )
    return done.stdout


def test_the_temperature_log_pdf_names_the_school_period_rows_flag_and_persons(
    site: Site, tmp_path: Path
) -> None:
    document = site.document(RegisterName.TEMPERATURE_LOG, "fridge-1")
    text = pdf_text(document, tmp_path)
    assert "Test School" in text and "温度记录表" in text
    assert "2026-11-23 – 2026-11-24" in text
    assert "生成时间: 2026-11-24 12:00" in text
    # Monday: 40 min of 1440 at 9 °C, else 4 °C: mean 4 + 5 x 40 / 1440 = 4.14, every minute
    # read; Tuesday (to noon) has no reading at all: minutes out of band blank like its
    # minimum and maximum, not a 0 an inspector would read as kept in band. Both under an
    # expired calibration.
    assert re.search(
        r"2026-11-23\s+fridge-1\s+0\s*–\s*8\s+4\s+9\s+4\.14\s+40\s+100\s+校准逾期", text
    )
    assert re.search(r"2026-11-24\s+fridge-1\s+0\s*–\s*8\s+0\s+校准逾期", text)
    [tuesday] = [row for row in document.tables[0].rows if row[0] == TUESDAY]
    assert tuesday[3:11] == [None] * 8 and tuesday[11] == 0  # air and food: nothing known
    assert text.count("校准逾期") == 2
    assert "张师傅" in text and "李经理" in text and "调整温控器" in text
    assert "检查人签字" in text and "第 1 页，共 1 页" in text


def test_the_disinfection_register_flags_only_what_the_probe_did_not_cover(
    site: Site, tmp_path: Path
) -> None:
    document = site.document(RegisterName.DISINFECTION, "ir-1", lang="en")
    [meals, handled] = document.tables
    results = [(row[1], row[3], row[10]) for row in meals.rows]
    # Breakfast is before the cabinet's first reading and not judged; its probe was checked at
    # 08:00 Monday, so lunch and dinner are covered.
    assert results == [("lunch", "compliant", None), ("dinner", "missed", None)]
    assert [row[2] for row in handled.rows] == ["disinfection"]
    text = pdf_text(document, tmp_path)
    assert "Disinfection register" in text and "Page 1 of 1" in text
    assert "Share of meals compliant 50.0 %" in text
    assert "Inspector's signature:" in text


def test_the_xlsx_has_a_sheet_per_table_real_dates_frozen_header_and_the_persons(
    site: Site,
) -> None:
    document = site.document(RegisterName.TEMPERATURE_LOG, None)
    book = load_workbook(BytesIO(xlsx_bytes(document)))
    assert book.sheetnames == ["每日温度", "报警处置与签字"]
    days = book["每日温度"]
    assert days["A1"].value == "Test School  温度记录表"
    assert days["B2"].value == datetime(2026, 11, 23) and days["C2"].value == datetime(2026, 11, 24)
    assert days.freeze_panes == "A6"
    assert days["A5"].value == "日期" and days["M5"].value == "校准"
    rows = [
        r for r in days.iter_rows(min_row=6, values_only=True) if r and isinstance(r[0], datetime)
    ]
    # Every cold cabinet and heated cabinet keeps a log: 6 devices x 2 days, dates as dates.
    assert len(rows) == 12 and {r[1] for r in rows} >= {"fridge-1", "ir-1", "sample-1"}
    monday = next(r for r in rows if r[1] == "fridge-1" and r[0] == datetime(2026, 11, 23))
    assert monday[3:7] == (4.0, 9.0, 4.14, 40.0) and monday[12] == "校准逾期"
    cabinet = next(r for r in rows if r[1] == "ir-1" and r[0] == datetime(2026, 11, 23))
    # Checked at 08:00 Monday: nothing covered Monday 00:00-08:00, all of Tuesday is.
    assert cabinet[12] == "无校准记录"
    tuesday = next(r for r in rows if r[1] == "ir-1" and r[0] == datetime(2026, 11, 24))
    assert tuesday[12] is None
    handled = book["报警处置与签字"]
    signed = [r for r in handled.iter_rows(min_row=6, values_only=True) if r[0] is not None]
    assert ("张师傅", "李经理", "调整温控器") in {(r[4], r[6], r[8]) for r in signed if len(r) > 8}
    persons = [r for r in handled.iter_rows(values_only=True) if r[0] == "记录中的人员"]
    assert persons == [("记录中的人员", "张师傅、李经理", *([None] * 8))]


def test_the_calibration_register_paginates_with_the_header_on_every_page(
    site: Site, tmp_path: Path
) -> None:
    config, fridge = site.harness.config, site.device("fridge-1")
    for i in range(45):
        at = MIDNIGHT + timedelta(minutes=10 * i)
        record_check(
            site.calibration, config, fridge, at=at, method=CalibrationMethod.REFERENCE,
            reference_c=3.0, probe_c=3.0 + (i % 5) * 0.1, by=f"检查员{i:02d}",
        )  # fmt: skip
    document = site.document(RegisterName.CALIBRATION, None)
    [status, checks] = document.tables
    assert len(checks.rows) == 46  # the 45 above and 王师傅's on ir-1 on Monday
    assert {r[0]: r[6] for r in status.rows}["fridge-1"] == "有效"
    text = pdf_text(document, tmp_path)
    pages = text.split("\f")[:-1]
    # The status table and the first checks on page 1, the rest carried over under the header.
    assert len(pages) == 3
    assert all(f"第 {n} 页，共 3 页" in page for n, page in enumerate(pages, 1))
    assert all("校准人" in page and "Test School" in page for page in pages)
    assert "探头校准状态" in pages[0] and "检查员00" in pages[0] and "检查员44" in pages[2]
    assert all(f"检查员{i:02d}" in text for i in range(45))  # no row lost at a page break
    assert "检查人签字" in pages[2] and "王师傅" in text


def test_a_register_asked_of_the_wrong_kind_of_device_names_the_kinds_it_is_kept_for(
    site: Site,
) -> None:
    with pytest.raises(RegisterKindError) as refused:
        site.document(RegisterName.DISINFECTION, "fridge-1")
    assert refused.value.message == (
        "device 'fridge-1' is a fridge; the disinfection register is kept for "
        "disinfection_cabinet, steam_cabinet"
    )
    with pytest.raises(RegisterKindError, match="sample-retention register is kept for sample"):
        site.document(RegisterName.SAMPLE_RETENTION, "freezer-1")


def test_xlsx_keeps_a_row_whose_text_has_control_characters() -> None:
    """A note sent through the API may carry control characters XLSX cannot hold: the register
    still downloads, with U+FFFD in their place (found by schemathesis as a 500)."""
    document = RegisterDocument(
        name=RegisterName.CALIBRATION,
        lang="zh",
        site_name="实验小学\x01",
        title="探头校准记录",
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
        generated_at=datetime(2026, 11, 30, 8, 0),
        tables=[Table(title="fridge-1", header=["备注"], rows=[["冰点\x00检查\x1b完成"]])],
        persons=["王\x07"],
    )
    book = load_workbook(BytesIO(xlsx_bytes(document)))
    cells = [c.value for row in book.active.iter_rows() for c in row if c.value]
    assert "冰点\ufffd检查\ufffd完成" in cells
    assert "实验小学\ufffd  探头校准记录" in cells
    assert "王\ufffd" in cells


def year_log(devices: int) -> RegisterDocument:
    """A year's temperature log laid out as `build_document` lays it, one row a device a day."""
    first = date(2025, 1, 1)
    header = ["日期", "设备", "范围 °C", "最低", "最高", "平均", "超限分钟", "读数 %", "校准"]
    rows: list[list[Cell]] = [
        [first + timedelta(days=d), f"fridge-{k}", "0 – 8", 3.1, 7.9, 4.0 + d / 1000, 0.0, 100.0,
         "校准逾期" if d % 30 == 0 else None]
        for d in range(365) for k in range(devices)
    ]  # fmt: skip
    return RegisterDocument(
        name=RegisterName.TEMPERATURE_LOG, lang="zh", site_name="实验小学", title="温度记录表",
        first=first, last=date(2025, 12, 31), generated_at=datetime(2026, 1, 1, 8, 0),
        tables=[Table(title="每日温度", header=header, rows=rows)], persons=["张师傅"],
    )  # fmt: skip


def test_a_year_long_log_keeps_every_day_on_numbered_pages(tmp_path: Path) -> None:
    """365 rows, 22 to a page (6.67 in of body less 0.62 in of title and header, at 0.27 in a
    row): 17 pages, the last one with the signature; every day and mean read back."""
    document = year_log(devices=1)
    pages = pdf_text(document, tmp_path).split("\f")[:-1]
    assert len(pages) == 17
    assert all(f"第 {n} 页，共 17 页" in page and "日期" in page for n, page in enumerate(pages, 1))
    text = "".join(pages)
    days = re.findall(r"(\d{4}-\d{2}-\d{2})\s+fridge-0\s+0\s*–\s*8\s+3\.1\s+7\.9\s+([\d.]+)", text)
    assert len(days) == 365
    assert days[0] == ("2025-01-01", "4") and days[-1] == ("2025-12-31", "4.364")
    assert text.count("校准逾期") == 13  # days 0, 30, ... 360
    assert "检查人签字" in pages[-1] and "张师傅" in pages[-1]


def test_a_year_long_log_as_xlsx_reads_back_row_for_row() -> None:
    document = year_log(devices=6)
    book = load_workbook(BytesIO(xlsx_bytes(document)), read_only=True)
    sheet = book["每日温度"]
    rows = [
        r for r in sheet.iter_rows(min_row=6, values_only=True) if r and isinstance(r[0], datetime)
    ]
    assert len(rows) == 365 * 6
    assert rows[0][:6] == (datetime(2025, 1, 1), "fridge-0", "0 – 8", 3.1, 7.9, 4.0)
    assert rows[-1][0] == datetime(2025, 12, 31) and rows[-1][1] == "fridge-5"
