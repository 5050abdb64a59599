"""The calibration register and the register documents over HTTP, on the real app, a real
DuckDB file, the real rules and real accounts: what a cook records (as the staff token
王师傅), what an inspector downloads, and the sentences they get when a request is refused."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from openpyxl import load_workbook

from core.clock import StepClock
from core.records import Role
from dashboard_api import ApiContext, create_app
from ingest.duckdb_calibration import DuckDBCalibrationStore
from tests.alerts.conftest import Harness, school, series
from tests.dashboard_api.accounts import Accounts, with_accounts

ZONE = school().site.zone
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=ZONE).astimezone(UTC)  # Monday, local
NOON = MIDNIGHT + timedelta(hours=12)
MONDAY = {"start": "2026-11-23", "end": "2026-11-23"}


@dataclass
class Api:
    client: httpx.AsyncClient
    harness: Harness
    accounts: Accounts

    async def check(self, device: str = "fridge-1", **body: Any) -> httpx.Response:
        payload = {"method": "ice_point", "reference_c": 0.0, "probe_c": 0.3}
        return await self.client.post(f"/api/devices/{device}/calibration", json=payload | body)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    path = tmp_path / "api.duckdb"
    harness = Harness(path, school(rules={"judge_on": "air"}), StepClock(MIDNIGHT))
    calibration = DuckDBCalibrationStore(path)
    values = [9.0 if 540 <= m < 580 else 4.0 + 0.1 * (m % 3) for m in range(720)]
    harness.feed(series("fridge-1", MIDNIGHT, 60, values))
    harness.clock.instant = NOON
    context = ApiContext(
        harness.config,
        harness.readings,
        harness.clock,
        lambda: {},
        alerts=harness.service,
        calibration=calibration,
    )
    context, accounts = with_accounts(context, path)
    transport = httpx.ASGITransport(app=create_app(context))
    staff = accounts.token("王师傅", Role.STAFF)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=staff) as c:
        yield Api(c, harness, accounts)
    accounts.close()
    calibration.close()
    harness.close()


async def test_a_passing_and_a_failing_check_are_recorded_with_who_and_what_was_done(
    api: Api,
) -> None:
    passed = await api.check()
    assert passed.status_code == 201
    assert passed.json() | {"id": 0} == {
        "id": 0,
        "device": "fridge-1",
        "checked_at": "2026-11-23T12:00:00+08:00",
        "method": "ice_point",
        "reference_c": 0.0,
        "probe_c": 0.3,
        "difference_k": 0.3,
        "tolerance_k": 1.0,
        "passed": True,
        "result": "合格",
        "by": "王师傅",
        "note": None,
        "corrective_action": None,
    }
    refused = await api.check("ir-1", method="reference", reference_c=120.0, probe_c=117.5)
    assert refused.status_code == 422
    assert "-2.50 K" in refused.json()["message"]
    assert "'corrective_action'" in refused.json()["message"]
    failed = await api.check(
        "ir-1", method="reference", reference_c=120.0, probe_c=117.5, corrective_action="更换探头"
    )
    assert failed.status_code == 201 and failed.json()["passed"] is False
    register = (await api.client.get("/api/registers/calibration", params=MONDAY)).json()
    assert [(c["device"], c["result"], c["by"]) for c in register["items"]] == [
        ("fridge-1", "合格", "王师傅"),
        ("ir-1", "不合格", "王师傅"),
    ]
    probes = {p["device"]: p for p in register["probes"]}
    assert probes["fridge-1"]["due_at"] == "2026-12-23T12:00:00+08:00"
    assert probes["fridge-1"]["overdue"] is False and probes["fridge-1"]["flag"] is None
    assert probes["ir-1"]["flag"] == "无校准记录"  # a failed check covers nothing


async def test_a_probe_is_flagged_overdue_once_30_days_have_passed(api: Api) -> None:
    await api.check()
    api.harness.clock.instant = NOON + timedelta(days=30)
    later = {"start": "2026-12-23", "end": "2026-12-23", "device": "fridge-1", "lang": "en"}
    body = (await api.client.get("/api/registers/calibration", params=later)).json()
    [probe] = body["probes"]
    assert probe["overdue"] is True and probe["flag"] == "overdue calibration"
    assert body["items"] == []  # the check was on 2026-11-23, outside the dates asked


async def test_checks_that_cannot_be_are_refused_precisely(api: Api) -> None:
    unknown = await api.check("fridge-9")
    assert unknown.status_code == 404
    assert unknown.json()["message"].startswith("no device 'fridge-9' at this site")
    ice = await api.check(reference_c=3.0)
    assert ice.status_code == 422 and "against 0 °C" in ice.json()["message"]
    named = await api.check(by="李经理")  # the person is the one logged in, never typed
    assert named.status_code == 422 and "`by` is no longer accepted" in named.text
    viewer = api.accounts.token("校长", Role.VIEWER)
    looking = await api.client.post(
        "/api/devices/fridge-1/calibration",
        json={"method": "ice_point", "reference_c": 0.0, "probe_c": 0.3},
        headers=viewer,
    )
    assert looking.status_code == 403
    method = await api.check(method="boiling")
    assert method.status_code == 422
    assert (await api.client.get("/api/registers/calibration", params=MONDAY)).json()["items"] == []


async def test_the_temperature_log_downloads_as_xlsx_and_pdf_with_site_and_period(
    api: Api, tmp_path: Path
) -> None:
    await api.check()
    params = MONDAY | {"device": "fridge-1"}
    sheet = await api.client.get("/api/registers/temperature-log.xlsx", params=params)
    assert sheet.status_code == 200
    disposition = sheet.headers["content-disposition"]
    assert 'filename="test-school_temperature-log_2026-11-23_2026-11-23.xlsx"' in disposition
    assert "Test School_温度记录表_2026-11-23_2026-11-23.xlsx" in unquote(disposition)
    book = load_workbook(BytesIO(sheet.content))
    days = book["每日温度"]
    [row] = [r for r in days.iter_rows(min_row=6, values_only=True) if r[1] == "fridge-1"]
    # Until the check at 12:00 nothing covered the probe: the day is flagged.
    assert row[0] == datetime(2026, 11, 23) and row[4] == 9.0 and row[12] == "无校准记录"
    english = await api.client.get(
        "/api/registers/temperature-log.pdf", params=params | {"lang": "en"}
    )
    assert english.headers["content-type"] == "application/pdf"
    text = pdf_text(english.content, tmp_path / "log.pdf")
    assert "Test School Temperature log" in text and "Period: 2026-11-23 – 2026-11-23" in text
    assert "no calibration on record" in text and "Page 1 of 1" in text


def pdf_text(content: bytes, out: Path) -> str:
    out.write_bytes(content)
    done = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True
    )
    return done.stdout


async def test_documents_refuse_the_wrong_device_kind_unknown_devices_and_bad_requests(
    api: Api,
) -> None:
    get = api.client.get
    fridge = await get("/api/registers/disinfection.pdf", params={"device": "fridge-1"})
    assert fridge.status_code == 422
    assert fridge.json()["message"] == (
        "device 'fridge-1' is a fridge; the disinfection register is kept for "
        "disinfection_cabinet, steam_cabinet"
    )
    sample = await get("/api/registers/sample-retention.xlsx", params={"device": "ir-1"})
    assert sample.status_code == 422 and "kept for sample_fridge" in sample.json()["message"]
    missing = await get("/api/registers/temperature-log.xlsx", params={"device": "fridge-9"})
    assert missing.status_code == 404
    assert (await get("/api/registers/fridges.pdf")).status_code == 422
    assert (await get("/api/registers/calibration.docx")).status_code == 422
    backwards = await get("/api/registers/calibration.pdf", params={"start": "2026-11-24",
                                                                    "end": "2026-11-23"})  # fmt: skip
    assert backwards.status_code == 422 and "'start' must not be after 'end'" in backwards.text
    year = await get(
        "/api/registers/calibration.xlsx", params={"start": "2025-01-01", "end": "2026-11-23"}
    )
    assert year.status_code == 422 and "at most 366 days" in year.json()["message"]
    # The JSON registers still answer at their own paths.
    assert (await get("/api/registers/disinfection", params=MONDAY)).status_code == 200


async def test_the_json_registers_carry_the_calibration_gaps_and_refuse_the_wrong_kind(
    api: Api,
) -> None:
    await api.check()  # Monday 12:00: nothing covered the fridge's probe before
    log = await api.client.get(
        "/api/devices/fridge-1/temperature-log", params=MONDAY | {"lang": "en"}
    )
    assert log.json()["calibration_gaps"] == [
        {
            "device": "fridge-1",
            "kind": "never",
            "from": "2026-11-23T00:00:00+08:00",
            "until": "2026-11-23T12:00:00+08:00",
            "text": "no calibration on record",
        }
    ]
    api.harness.clock.instant = NOON + timedelta(days=31)
    month = {"start": "2026-12-23", "end": "2026-12-24", "device": "fridge-1"}
    [gap] = (await api.client.get("/api/devices/fridge-1/temperature-log", params=month)).json()[
        "calibration_gaps"
    ]
    assert gap["from"] == "2026-12-23T12:00:00+08:00" and gap["text"] == "校准逾期"
    assert gap["until"] == "2026-12-24T12:00:00+08:00"  # now: the future is not judged
    cabinets = (await api.client.get("/api/registers/disinfection", params=MONDAY)).json()
    assert {g["device"] for g in cabinets["calibration_gaps"]} == {"ir-1", "steam-1", "rice-1"}
    wrong = await api.client.get("/api/registers/disinfection", params={"device": "fridge-1"})
    assert wrong.status_code == 422 and "kept for disinfection_cabinet" in wrong.text
    wrong = await api.client.get("/api/registers/sample-retention", params={"device": "ir-1"})
    assert wrong.status_code == 422 and "kept for sample_fridge" in wrong.text
