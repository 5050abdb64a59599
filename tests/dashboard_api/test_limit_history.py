"""A limit an admin changes on /admin/thresholds judges the days from the change on, never the
days before it: the temperature log's JSON, its page and its XLSX show Monday judged by the
config's 8 °C and Tuesday by the admin's 5 °C, each day with its band, and the change with when,
from what, to what, who and why. Real rules, real DuckDB file, real argon2 login."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ingest.duckdb_calibration import DuckDBCalibrationStore
from tests.alerts.conftest import MIDNIGHT, series
from tests.dashboard_api.test_pages_admin import ADMIN, Site, admin_site, set_limit, text_of

TUESDAY = MIDNIGHT + timedelta(days=1)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    path = tmp_path / "site.duckdb"
    built = admin_site(path)
    calibration = DuckDBCalibrationStore(path)
    built.context = replace(built.context, calibration=calibration)
    yield built
    calibration.close()
    built.close()


def pdf_text(content: bytes, folder: Path) -> str:
    """The PDF's text as an inspector's copy-paste gives it (poppler's pdftotext)."""
    printed = folder / "log.pdf"
    printed.write_bytes(content)
    command = ["pdftotext", "-layout", str(printed), "-"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


async def test_a_past_day_keeps_the_limits_it_had(site: Site, tmp_path: Path) -> None:
    harness = site.harness
    # Monday 01:00-02:00 at 6 °C: within the config's 0-8 °C.
    harness.feed(series("fridge-1", MIDNIGHT + timedelta(hours=1), 60, [6.0] * 60))
    harness.clock.instant = TUESDAY + timedelta(hours=8)
    async with site.browser(ADMIN) as admin:
        changed = await set_limit(admin, "fridge-1", "high_c", "5", "夏季菜单，更严")
        assert changed.status_code == 303, changed.text
        # Tuesday 09:00-10:00 at 6 °C (above the admin's 5 °C), then 4 °C again.
        harness.feed(series("fridge-1", TUESDAY + timedelta(hours=9), 60, [6.0] * 60 + [4.0]))
        harness.clock.instant = TUESDAY + timedelta(hours=12)
        query = "start=2026-11-23&end=2026-11-24"
        answer = await admin.get(f"/api/devices/fridge-1/temperature-log?{query}")
        assert answer.status_code == 200, answer.text
        log = answer.json()
        page = await admin.get(f"/registers/temperature-log?device=fridge-1&{query}")
        workbook = await admin.get(f"/api/registers/temperature-log.xlsx?device=fridge-1&{query}")
        pdf = await admin.get(f"/api/registers/temperature-log.pdf?device=fridge-1&{query}")

    monday, tuesday = log["days"]
    assert (monday["minutes_out_of_band"], tuesday["minutes_out_of_band"]) == (0.0, 60.0)
    assert monday["bands"] == [{"from": "2026-11-23T00:00:00+08:00", "low_c": 0.0, "high_c": 8.0}]
    assert tuesday["bands"] == [
        {"from": "2026-11-24T00:00:00+08:00", "low_c": 0.0, "high_c": 8.0},
        {"from": "2026-11-24T08:00:00+08:00", "low_c": 0.0, "high_c": 5.0},
    ]
    assert (log["low_c"], log["high_c"]) == (0.0, 5.0)  # in force now
    assert log["limit_changes"] == [
        {
            "at": "2026-11-24T08:00:00+08:00",
            "field": "high_c",
            "before": 8.0,
            "after": 5.0,
            "by": ADMIN,
            "reason": "夏季菜单，更严",
        }
    ]

    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "限值变更" in shown and "夏季菜单，更严" in shown
    assert "0 – 8 → 0 – 5 (08:00)" in shown

    assert workbook.status_code == 200, workbook.text
    book = load_workbook(BytesIO(workbook.content))
    assert book.sheetnames == ["每日温度", "限值变更", "报警处置与签字"]
    daily = [row for row in book["每日温度"].iter_rows(values_only=True) if row[1] == "fridge-1"]
    assert [(row[2], row[6]) for row in daily] == [("0 – 8", 0), ("0 – 8 → 0 – 5 (08:00)", 60)]
    changes = [row for row in book["限值变更"].iter_rows(values_only=True) if row[1] == "fridge-1"]
    assert [row[2:7] for row in changes] == [("上限 °C", 8, 5, ADMIN, "夏季菜单，更严")]

    assert pdf.status_code == 200
    text = pdf_text(pdf.content, tmp_path)
    assert "限值变更" in text and "夏季菜单，更严" in text and ADMIN in text
    # The band cell wraps in its column; pdftotext drops the spaces around the dashes.
    assert "0–8→0–5" in "".join(text.split()) and "(08:00)" in text
