"""The energy page through the real app on a real DuckDB store (the energy tests' school:
a teaching building with a main meter and two sub-meters, water, a canteen), read by a viewer
logged in with the login form. October 2026 as of the 27th, 10:00 local: the teaching
building's lighting sub-meter reads twice its main meter (a metering error), the canteen's
meter is silent for four hours on the 14th (use across a gap, priced as an estimate), and
water runs at night from the 22nd (a leak)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from html import unescape
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from core import ManualClock
from core.records import Role
from dashboard_api import ApiContext, create_app
from ingest import DuckDBStore
from tests.alerts.conftest import school as school_without_meters
from tests.dashboard_api.accounts import Accounts, log_in, with_accounts
from tests.energy.conftest import Meters, constant, local, school

NOW = datetime(2026, 10, 27, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
PASSWORD = "correct horse battery"
OCTOBER = (date(2026, 9, 20), date(2026, 10, 26))


def _write_october(meters: Meters) -> None:
    first, last = OCTOBER

    def canteen_silent(t: datetime) -> bool:  # 4 h without readings on the 14th
        return local(date(2026, 10, 14), 10) < t < local(date(2026, 10, 14), 14)

    def water(t: datetime) -> float:
        return 0.2 if t >= local(date(2026, 10, 22), 20) else 0.0  # a leak from the 22nd

    meters.write("elec-t", "energy_kwh", first, last, constant(4.0))
    meters.write("elec-t-light", "energy_kwh", first, last, constant(8.0))  # above its main
    meters.write("elec-t-hvac", "energy_kwh", first, last, constant(1.0))
    meters.write("elec-c", "energy_kwh", first, last, constant(2.0), silent=canteen_silent)
    meters.write("water-t", "water_m3", first, last, water)


def _app(context: ApiContext, people: Path) -> tuple[FastAPI, Accounts]:
    context, accounts = with_accounts(context, people)
    accounts.person("能源科", Role.VIEWER, PASSWORD)
    return create_app(context), accounts


@pytest.fixture(scope="module")
def energy_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    folder = tmp_path_factory.mktemp("energy-pages")
    store = DuckDBStore(folder / "energy.duckdb")
    _write_october(Meters(store))
    app, accounts = _app(ApiContext(school(), store, ManualClock(NOW), dict), folder / "p.duckdb")
    yield app
    accounts.close()
    store.close()


@asynccontextmanager
async def viewer(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        assert (await log_in(client, "能源科", PASSWORD)).status_code == 303
        yield client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def element(html: str, name: str, until: str) -> str:
    """What follows the opening tag with data-testid=`name`, up to the next `until`."""
    start = html.index(">", html.index(f'data-testid="{name}"')) + 1
    return html[start : html.index(until, start)]


def link(html: str, name: str) -> str:
    found = re.search(rf'<a [^>]*data-testid="{name}"[^>]*>', html)
    assert found is not None, name
    href = re.search(r'href="([^"]+)"', found.group(0))
    assert href is not None
    return unescape(href.group(1))


async def test_the_month_so_far_per_building_with_its_charts(energy_app: FastAPI) -> None:
    async with viewer(energy_app) as client:
        page = await client.get("/energy")  # default: this month
    assert page.status_code == 200
    html = page.text
    assert text_of(element(html, "energy-period", "</")) == "2026-10"
    for chart in ("daily-electricity", "daily-water", "period", "tou", "end-uses"):
        assert f'data-testid="energy-{chart}"' in html, chart
    daily = element(html, "energy-daily-electricity", "</svg>")
    # The 27th has begun; the 28th to the 31st have not: blank and marked, never gaps.
    assert daily.count('class="future"') == 4 and "未到" in daily
    # The 14th is not fully measured (the canteen's silent hours): a red dot under it.
    assert daily.count('class="incomplete"') >= 1
    # The lighting sub-meter reads twice its main meter: a metering error, in words.
    warnings = text_of(element(html, "energy-warnings", "</section>"))
    assert "elec-t-light" in warnings
    lines = element(html, "energy-lines", "</table>")
    assert 'data-status="metering_error"' in lines
    end_uses = text_of(element(html, "energy-end-uses", "</svg>"))
    assert "照明插座: 计量错误" in end_uses
    # Use across the canteen's gap is priced as an estimate, and says so.
    assert 'data-testid="energy-estimated"' in lines
    leak = text_of(element(html, "energy-anomalies", "</section>"))
    assert "夜间持续用水（疑似漏水）" in leak and "water-t" in leak
    assert "数据截至 2026-10-27 10:00" in text_of(element(html, "energy-until", "</p>"))


async def test_in_english_with_one_building_and_no_anomalies(energy_app: FastAPI) -> None:
    async with viewer(energy_app) as client:
        page = await client.get(
            "/energy",
            params={"period": "week", "week": "2026-W42", "building": "canteen", "lang": "en"},
        )
    assert page.status_code == 200
    html = page.text
    assert "Energy" in html and text_of(element(html, "energy-period", "</")) == "2026-W42"
    lines = text_of(element(html, "energy-lines", "</table>"))
    assert "食堂" in lines and "教学楼" not in lines and "total electricity" in lines
    assert 'data-testid="energy-warnings"' not in html  # the teaching building's, not shown
    assert "no anomalies found" in text_of(element(html, "energy-no-anomalies", "</p>"))
    # The kinds keep the building and jump to the day, week and month of the week's end.
    assert link(html, "energy-kind-month") == "/energy?period=month&month=2026-10&building=canteen"
    assert link(html, "energy-kind-day") == "/energy?period=day&date=2026-10-18&building=canteen"
    assert link(html, "energy-previous").endswith("week=2026-W41&building=canteen")


async def test_the_report_downloads_for_the_same_period(energy_app: FastAPI) -> None:
    async with viewer(energy_app) as client:
        page = await client.get("/energy", params={"period": "day", "date": "2026-10-14"})
        urls = {fmt: link(page.text, f"energy-download-{fmt}") for fmt in ("pdf", "xlsx", "csv")}
        assert urls["pdf"] == "/api/energy/report.pdf?period=day&date=2026-10-14&lang=zh"
        pdf = await client.get(urls["pdf"])
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        assert 'filename="test-school_energy_2026-10-14.pdf"' in pdf.headers["content-disposition"]
        xlsx = await client.get(urls["xlsx"])
        assert xlsx.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml"
        )
        book = load_workbook(BytesIO(xlsx.content))
        assert book.worksheets[0]["A1"].value == "Test School 能耗报告 · 日报 2026-10-14"
        csv = await client.get(urls["csv"])
        assert csv.headers["content-type"].startswith("text/csv")
        assert "食堂" in csv.content.decode("utf-8-sig")
        refused = await client.get("/api/energy/report.pdf?period=day&date=2026-02-30")
        assert refused.status_code == 422 and "'date'" in refused.json()["message"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("period=year", "query parameter 'period': 'year' is not a period"),
        ("month=2026-13", "query parameter 'month': '2026-13' is not a month"),
        ("month=1999-12", "query parameter 'month': '1999-12' is out of range"),
        ("period=week&week=2026-42", "query parameter 'week'"),
        ("period=day&date=2026-02-30", "query parameter 'date'"),
        ("building=gym", "query parameter 'building': no building 'gym'"),
    ],
)
async def test_a_bad_parameter_is_a_page_naming_it(
    energy_app: FastAPI, query: str, words: str
) -> None:
    async with viewer(energy_app) as client:
        page = await client.get(f"/energy?{query}")
    assert page.status_code == 422
    assert words in text_of(element(page.text, "page-problem-text", "</p>"))


async def test_a_site_without_meters_says_so(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "none.duckdb")
    context = ApiContext(school_without_meters(), store, ManualClock(NOW), dict)
    app, accounts = _app(context, tmp_path / "people.duckdb")
    try:
        async with viewer(app) as client:
            page = await client.get("/energy?lang=en")
        assert page.status_code == 200
        assert "has no energy meters" in text_of(element(page.text, "energy-empty", "</p>"))
    finally:
        accounts.close()
        store.close()
