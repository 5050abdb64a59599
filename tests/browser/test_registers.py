"""The registers as staff use them: a probe calibration check recorded on its page (a wrong
entry named field by field, a failed check needing its corrective action), then the register
downloaded as PDF and XLSX from the page's links and read back (pdftotext, openpyxl): the
school's name, the period and the person who signed are in both."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SITE_NAME, STAFF, VIEWER, Service, log_in

PERIOD = re.compile(r"(\d{4}-\d{2}-\d{2})\s*[–-]\s*(\d{4}-\d{2}-\d{2})")


def _choose_probe(page: Page, device: str) -> None:
    page.get_by_test_id("cal-device").select_option(device)


def test_a_calibration_check_is_recorded_and_the_register_downloads_as_pdf_and_xlsx(
    page: Page, service: Service, tmp_path: Path
) -> None:
    log_in(page, service, STAFF, "/registers/calibration")
    expect(page.get_by_test_id("calibration-form")).to_be_visible()

    # A probe reading that is not a number: the field is named, nothing is stored.
    _choose_probe(page, "freezer-1")
    page.get_by_test_id("cal-probe").fill("zero")
    page.get_by_test_id("cal-submit").click()
    expect(page.get_by_test_id("calibration-errors")).to_be_visible()
    expect(page.get_by_test_id("error-probe_c")).to_be_visible()
    expect(page.get_by_test_id("calibration-saved")).to_have_count(0)

    # An ice-point check 2.5 K off fails, and a failed check needs what was done about it.
    page.get_by_test_id("cal-method-ice_point").check()
    page.get_by_test_id("cal-probe").fill("2.5")
    page.get_by_test_id("cal-submit").click()
    expect(page.get_by_test_id("error-corrective_action")).to_be_visible()

    # A passing check: the probe reads 0.3 °C in ice water.
    _choose_probe(page, "fridge-1")
    page.get_by_test_id("cal-method-ice_point").check()
    page.get_by_test_id("cal-probe").fill("0.3")
    page.get_by_test_id("cal-action").fill("")
    page.get_by_test_id("cal-note").fill("冰水混合物 ice bath, 3 min")
    page.get_by_test_id("cal-submit").click()
    saved = page.get_by_test_id("calibration-saved")
    expect(saved).to_have_attribute("data-passed", "true")
    expect(saved).to_contain_text("+0.30")
    row = page.get_by_test_id("register-row").filter(has_text="冰水混合物 ice bath")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(STAFF[0])
    expect(page.get_by_test_id("register-school")).to_have_text(SITE_NAME)
    expect(page.get_by_test_id("register-persons")).to_contain_text(STAFF[0])
    period = PERIOD.search(page.get_by_test_id("register-period").inner_text())
    assert period is not None, page.get_by_test_id("register-period").inner_text()
    first, last = period.groups()

    pdf_text = _pdf_text(_download(page, "download-pdf", tmp_path))
    for expected in (SITE_NAME, first, last, STAFF[0], "冰水混合物 ice bath"):
        assert expected in pdf_text, f"{expected!r} not in the PDF: {pdf_text[:2000]}"
    xlsx_text = _xlsx_text(_download(page, "download-xlsx", tmp_path))
    for expected in (SITE_NAME, first, last, STAFF[0], "冰水混合物 ice bath"):
        assert expected in xlsx_text, f"{expected!r} not in the XLSX: {xlsx_text[:2000]}"


def test_a_viewer_reads_the_calibration_register_but_records_nothing(
    page: Page, service: Service
) -> None:
    log_in(page, service, VIEWER, "/registers/calibration")
    expect(page.get_by_test_id("register-document")).to_be_visible()
    expect(page.get_by_test_id("calibration-viewer-note")).to_be_visible()
    expect(page.get_by_test_id("calibration-form")).to_have_count(0)


def _download(page: Page, testid: str, folder: Path) -> Path:
    with page.expect_download() as started:
        page.get_by_test_id(testid).click()
    download = started.value
    assert download.failure() is None, download.failure()
    target = folder / download.suggested_filename
    download.save_as(target)
    assert target.stat().st_size > 0
    return target


def _pdf_text(path: Path) -> str:
    assert path.read_bytes().startswith(b"%PDF-"), path
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.fail("reading the PDF back needs pdftotext (Debian: poppler-utils)", pytrace=False)
    done = subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def _xlsx_text(path: Path) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        cells = [
            str(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        ]
    finally:
        book.close()
    return "\n".join(cells)
