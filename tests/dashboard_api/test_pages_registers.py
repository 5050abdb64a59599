"""The register pages and the calibration form, through the real app (`wired_app`: a real
DuckDB file with a morning of fridge readings, the real rules, real accounts), as a browser
uses them: logged in with the login form, forms posted with the session's CSRF field."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from html import unescape
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from core.records import Role
from tests.alerts.conftest import Harness, series
from tests.dashboard_api.accounts import log_in
from tests.dashboard_api.conftest import ZONE, close_wired, wired_app

PASSWORD = "correct horse battery"
STAFF, VIEWER = "王师傅", "李老师"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _with_people(path: Path) -> FastAPI:
    wired, harness = wired_app(path)
    wired.state.harness = harness
    wired.state.accounts.person(STAFF, Role.STAFF, PASSWORD)
    wired.state.accounts.person(VIEWER, Role.VIEWER, PASSWORD)
    return wired


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for the tests that store nothing (reading, refusals): building it runs the
    rules over a morning of readings."""
    wired = _with_people(tmp_path_factory.mktemp("pages") / "pages.duckdb")
    yield wired
    close_wired(wired, wired.state.harness)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    """A fresh app for a test that records checks or feeds readings."""
    wired = _with_people(tmp_path / "pages.duckdb")
    yield wired
    close_wired(wired, wired.state.harness)


@asynccontextmanager
async def browser(app: FastAPI, name: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookies, logged in as `name` (None: nobody)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        if name is not None:
            assert (await log_in(client, name, PASSWORD)).status_code == 303
        yield client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def element(html: str, name: str, until: str = "</") -> str:
    """The markup from data-testid=`name` up to the next `until` (a closing tag)."""
    start = html.index(f'data-testid="{name}"')
    return html[start : html.index(until, start)]


def link(html: str, name: str) -> str:
    """The href of the link with data-testid=`name`."""
    found = re.search(rf'<a [^>]*data-testid="{name}"[^>]*>', html)
    assert found is not None, name
    href = re.search(r'href="([^"]+)"', found.group(0))
    assert href is not None
    return unescape(href.group(1))


async def form_csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/registers/calibration")
    found = _CSRF.search(element(page.text, "calibration-form") + page.text)
    assert found is not None
    return found.group(1)


async def post_check(client: httpx.AsyncClient, csrf: str | None, **fields: str) -> httpx.Response:
    data = {"device": "fridge-1", "method": "ice_point", "reference_c": "0", "probe_c": "0.3"}
    data |= fields
    if csrf is not None:
        data["csrf"] = csrf
    return await client.post("/registers/calibration", data=data)


async def test_pages_need_a_session(shared: FastAPI) -> None:
    async with browser(shared, None) as client:
        for path in ("/registers", "/registers/disinfection?start=2026-11-01", "/energy"):
            answer = await client.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login?next=/")
        posted = await post_check(client, "x")
        assert posted.status_code == 303 and posted.headers["location"].startswith("/login")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_viewer_reads_every_register_for_this_month(shared: FastAPI, lang: str) -> None:
    words = {
        "zh": ("温度记录表", "餐具消毒记录", "食品留样记录", "温度探头校准记录", "无校准记录"),
        "en": (
            "Temperature log",
            "Disinfection register",
            "Food sample retention register",
            "Probe calibration register",
            "no calibration on record",
        ),
    }[lang]
    async with browser(shared, VIEWER) as client:
        pages = ["/registers", *(f"/registers/{n}" for n in ("disinfection", "sample-retention"))]
        for path, title in zip([*pages, "/registers/calibration"], words, strict=False):
            page = await client.get(path, params={"lang": lang})
            assert page.status_code == 200, path
            head = text_of(element(page.text, "register-title"))
            assert title in head
            # The clock is 2026-11-23 12:00 local: the default period is this month so far.
            assert "2026-11-01 – 2026-11-23" in text_of(element(page.text, "register-period"))
            assert "Test School" in element(page.text, "register-school")
            # No probe has ever been checked: every register says so at the top.
            assert words[4] in text_of(element(page.text, "calibration-overdue", "</section>"))
        log = text_of((await client.get("/registers", params={"lang": lang})).text)
        # The fridge's Monday: air 4-9 °C, 40 min above 8 °C, complete; flagged uncalibrated.
        assert re.search(r"2026-11-23 fridge-1 0 – 8 4 9 4\.28 40 .* 100 " + words[4], log)


async def test_register_links_download_the_same_register(shared: FastAPI) -> None:
    async with browser(shared, VIEWER) as client:
        page = await client.get(
            "/registers/temperature-log", params={"start": "2026-11-20", "device": "fridge-1"}
        )
        pdf_url, xlsx_url = link(page.text, "download-pdf"), link(page.text, "download-xlsx")
        assert pdf_url.startswith("/api/registers/temperature-log.pdf?")
        assert "start=2026-11-20" in pdf_url and "end=2026-11-23" in pdf_url
        assert "device=fridge-1" in pdf_url
        pdf = await client.get(pdf_url)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        xlsx = await client.get(xlsx_url)
        assert xlsx.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml"
        )
        sheet = load_workbook(BytesIO(xlsx.content)).worksheets[0]
        cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
        assert "fridge-1" in cells and "freezer-1" not in cells


async def test_staff_record_a_passing_check_in_their_own_name(app: FastAPI) -> None:
    async with browser(app, STAFF) as client:
        csrf = await form_csrf(client)
        answer = await post_check(client, csrf, note="冰水混合物", by="someone else")
        assert answer.status_code == 303
        page = await client.get(answer.headers["location"])
        saved = text_of(element(page.text, "calibration-saved", "</p>"))
        assert "fridge-1 校准合格" in saved and "+0.30 K" in saved
        checks = text_of(element(page.text, "register-table-1", "</table>"))
        assert "2026-11-23 12:00 fridge-1 冰点法 0 °C 0 0.3 0.3 1 合格 王师傅 冰水混合物" in checks
        # fridge-1 is in date now: no longer listed as overdue.
        overdue = element(page.text, "calibration-overdue", "</section>")
        assert 'data-device="fridge-1"' not in overdue and 'data-device="freezer-1"' in overdue


async def test_a_failed_check_needs_and_shows_its_corrective_action(app: FastAPI) -> None:
    async with browser(app, STAFF) as client:
        csrf = await form_csrf(client)
        refused = await post_check(client, csrf, probe_c="2.4")
        assert refused.status_code == 422
        assert "必须填写纠正措施" in text_of(element(refused.text, "error-corrective_action"))
        assert 'value="2.4"' in refused.text  # what was typed is kept
        recorded = await post_check(client, csrf, probe_c="2.4", corrective_action="探头已更换")
        assert recorded.status_code == 303
        page = await client.get(recorded.headers["location"] + "&lang=en")
        saved = text_of(element(page.text, "calibration-saved", "</p>"))
        assert 'data-passed="false"' in page.text
        assert "fridge-1 FAILED" in saved and "Corrective action: 探头已更换" in saved
        checks = text_of(element(page.text, "register-table-1", "</table>"))
        assert "fail 王师傅 探头已更换" in checks
        assert checks.count("fridge-1") == 1  # the refused one was not stored


async def test_the_form_refuses_bad_entries_beside_their_fields(shared: FastAPI) -> None:
    async with browser(shared, STAFF) as client:
        csrf = await form_csrf(client)
        answer = await post_check(
            client, csrf, device="fan-9", method="guess", reference_c="", probe_c="nan"
        )
        assert answer.status_code == 422
        for name in ("device", "method", "probe_c"):
            assert f'data-testid="error-{name}"' in answer.text
        ice = await post_check(client, csrf, reference_c="5")
        assert ice.status_code == 422
        assert "ice-point check is against 0 °C" in element(ice.text, "calibration-error-detail")
        assert (await post_check(client, csrf, device="rice-1", probe_c="x")).status_code == 422


async def test_a_form_without_its_csrf_field_or_from_a_viewer_is_refused(shared: FastAPI) -> None:
    async with browser(shared, STAFF) as client:
        assert (await post_check(client, None)).status_code == 403
        assert (await post_check(client, "forged-token")).status_code == 403
    async with browser(shared, VIEWER) as client:
        page = await client.get("/registers/calibration")
        assert 'data-testid="calibration-form"' not in page.text
        assert 'data-testid="calibration-viewer-note"' in page.text
        csrf = _CSRF.search(page.text)  # the logout form's: the session's own token
        assert csrf is not None
        refused = await post_check(client, csrf.group(1))
        assert refused.status_code == 403 and "只能查看" in refused.text
        page = await client.get("/registers/calibration")
        assert "王师傅" not in page.text and 'data-testid="register-table-1"' not in page.text


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/registers?start=2026-13-01", 422, "query parameter 'start'"),
        ("/registers?end=yesterday", 422, "query parameter 'end'"),
        ("/registers?start=2026-11-20&end=2026-11-01", 422, "'start' must not be after 'end'"),
        ("/registers?start=2024-01-01&end=2026-11-01", 422, "at most 366 days"),
        ("/registers?device=fan-9", 404, "no device 'fan-9'"),
        ("/registers/disinfection?device=fridge-1", 422, "disinfection register is kept for"),
        ("/registers/minutes", 404, "/registers/temperature-log"),
        ("/registers/calibration?saved=abc", 422, "query parameter 'saved'"),
    ],
)
async def test_a_bad_parameter_is_a_page_naming_it(
    shared: FastAPI, path: str, status: int, words: str
) -> None:
    async with browser(shared, VIEWER) as client:
        page = await client.get(path)
        assert page.status_code == status
        assert words in unescape(element(page.text, "page-problem-text"))
        assert "<nav" in page.text  # the shell around it, not a JSON body


async def test_a_disinfection_line_corrected_by_late_data_is_marked(app: FastAPI) -> None:
    """The cabinet is silent 12:30-16:30 (lunch is unconfirmed at 14:15), then uploads its
    buffer holding a compliant cycle at 13:00: the line is corrected, and shows it."""
    harness: Harness = app.state.harness

    def local(hour: int, minute: int) -> datetime:
        return datetime(2026, 11, 23, hour, minute, tzinfo=ZONE)

    rows = series("ir-1", local(12, 0), 15, [25.0] * 240 + [125.0] * 60 + [25.0] * 660)
    harness.feed([r for r in rows if r[1] < local(12, 30)])
    for minute in range(30):
        harness.tick(local(14, 10) + timedelta(minutes=minute))
    harness.clock.instant = local(16, 30)
    harness.feed([r for r in rows if r[1] >= local(12, 30)])
    harness.tick(local(16, 31))
    async with browser(app, VIEWER) as client:
        page = await client.get("/registers/disinfection", params={"device": "ir-1"})
    assert page.status_code == 200
    [row] = re.findall(
        r'<tr class="amended[^"]*" data-testid="register-row" data-amended="1">'
        r"(.*?)</tr>",
        page.text,
        re.S,
    )
    line = text_of(row).strip()
    assert line.startswith("2026-11-23 已更正 lunch ir-1 合格")
    assert "（原判定：未确认：消毒柜自 12:29 起无数据，2026-11-23 14:15；" in line
    assert "已根据 2026-11-23 16:31 收到的数据确认" in line
    assert "后到的数据改变了原判定" in text_of(page.text)


async def test_an_empty_period_says_so(shared: FastAPI) -> None:
    async with browser(shared, VIEWER) as client:
        page = await client.get(
            "/registers/disinfection", params={"start": "2026-10-01", "end": "2026-10-31"}
        )
        assert page.status_code == 200
        assert "所选期间没有记录" in text_of(element(page.text, "register-table-empty"))


async def test_registers_print_as_a4_documents(shared: FastAPI) -> None:
    async with browser(shared, VIEWER) as client:
        page = await client.get("/registers")
        assert '<link rel="stylesheet" href="/static/registers.css">' in page.text
        assert 'data-testid="register-signatures"' in page.text
        css = (await client.get("/static/registers.css")).text
    rules = css[css.index("@media print") :]
    assert "size: A4" in rules and "display: table-header-group" in rules
    assert ".reg-filters" in rules and "display: none" in rules
