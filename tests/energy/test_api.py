"""The energy API over a real DuckDB store: a report as JSON, anomalies, meters, and 422
messages a person can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from core import ManualClock
from dashboard_api import ApiContext, create_app
from ingest import DuckDBStore
from tests.energy.conftest import Meters, constant, local, school

NOW = datetime(2026, 10, 27, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@pytest.fixture
async def api(store: DuckDBStore, meters: Meters) -> AsyncIterator[httpx.AsyncClient]:
    def water(t: datetime) -> float:
        return 0.2 if t >= local(date(2026, 10, 22), 20) else 0.0  # a leak from the 22nd

    meters.write("elec-t", "energy_kwh", date(2026, 9, 28), date(2026, 10, 26), constant(4.0))
    meters.write("water-t", "water_m3", date(2026, 9, 20), date(2026, 10, 26), water)
    context = ApiContext(school(), store, ManualClock(NOW), lambda: {"broker_connected": True})
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_week_report_as_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/energy/report", params={"period": "week", "week": "2026-W43"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == {
        "kind": "week",
        "label": "2026-W43",
        "first": "2026-10-19",
        "last": "2026-10-25",
    }
    [teaching] = [
        x
        for x in body["lines"]
        if x["building"] == "teaching" and x["carrier"] == "electricity" and x["role"] == "total"
    ]
    assert teaching["consumption"] == 7 * 96.0 and teaching["unit"] == "kWh"
    assert teaching["by_period"]["valley"]["use"] == 7 * 32.0
    assert (
        teaching["previous"]["consumption"] == 7 * 96.0 and teaching["change_previous_pct"] == 0.0
    )
    assert teaching["category_name"] == "总用电"
    assert {d["date"] for d in body["meter_days"]} == {f"2026-10-{d}" for d in range(19, 26)}
    assert [a["rule"] for a in body["anomalies"]] == ["energy.night_water_flow"]


async def test_report_in_english(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/energy/report?period=day&date=2026-10-20&lang=en")).json()
    names = {x["category_name"] for x in body["lines"]}
    assert {"total electricity", "unaccounted (main − sub)"} <= names


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "period=month",
            "query parameter 'month' is required with period=month, e.g. ?period=month&month=2026-10",
        ),
        (
            "period=month&month=2026-13",
            "query parameter 'month': '2026-13' is not a month; use YYYY-MM",
        ),
        (
            "period=week&week=2026-42",
            "query parameter 'week': '2026-42' is not a week; use YYYY-Www",
        ),
        ("period=day", "query parameter 'date' is required with period=day"),
        ("period=year&month=2026-10", "query parameter 'period'"),
        ("month=2026-10&lang=fr", "query parameter 'lang'"),
    ],
)
async def test_report_422_says_what_is_allowed(
    api: httpx.AsyncClient, query: str, message: str
) -> None:
    response = await api.get(f"/api/energy/report?{query}")
    assert response.status_code == 422
    assert message in response.json()["message"]


async def test_anomalies_default_to_the_last_seven_days(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/energy/anomalies?lang=en")).json()
    assert (body["start"], body["end"]) == ("2026-10-20", "2026-10-26")
    [leak] = body["items"]
    assert leak["device"] == "water-t" and leak["kind"] == "night_water_flow"
    assert leak["start"] == "2026-10-22T23:00:00+08:00" and leak["days"] == 4
    assert leak["severity"] == "critical" and "minimum night flow" in leak["evidence"]
    none = (await api.get("/api/energy/anomalies?building=canteen")).json()
    assert none["items"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "start=2026-10-10&end=2026-10-01",
            "query parameter 'start' (2026-10-10) must not be after 'end' (2026-10-01)",
        ),
        ("start=2026-01-01&end=2026-12-31", "span 365 days; at most 184 are allowed"),
        (
            "building=gym",
            "query parameter 'building': no building 'gym'; known: ['teaching', 'canteen']",
        ),
        ("start=2026-10-32", "query parameter 'start'"),
    ],
)
async def test_anomalies_422(api: httpx.AsyncClient, query: str, message: str) -> None:
    response = await api.get(f"/api/energy/anomalies?{query}")
    assert response.status_code == 422
    assert message in response.json()["message"]


async def test_meters_as_a_hierarchy(api: httpx.AsyncClient) -> None:
    meters = {m["id"]: m for m in (await api.get("/api/energy/meters")).json()}
    assert meters["elec-t"]["children"] == ["elec-t-light", "elec-t-hvac"]
    assert (
        meters["elec-t-hvac"]["parent"] == "elec-t" and meters["elec-t-hvac"]["category"] == "hvac"
    )
    assert meters["water-t"]["tariff"] == "water" and meters["gas-c"]["unit"] == "m³"
