"""The energy API over a real DuckDB store: a report as JSON, anomalies, meters, and 422
messages a person can act on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import ManualClock
from core.records import Role
from dashboard_api import ApiContext, create_app
from ingest import DuckDBStore
from tests.dashboard_api.accounts import with_accounts
from tests.energy.conftest import Meters, constant, local, school

NOW = datetime(2026, 10, 27, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@pytest.fixture
async def api(
    store: DuckDBStore, meters: Meters, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    def water(t: datetime) -> float:
        return 0.2 if t >= local(date(2026, 10, 22), 20) else 0.0  # a leak from the 22nd

    meters.write("elec-t", "energy_kwh", date(2026, 9, 28), date(2026, 10, 26), constant(4.0))
    meters.write("water-t", "water_m3", date(2026, 9, 20), date(2026, 10, 26), water)
    context = ApiContext(school(), store, ManualClock(NOW), lambda: {"broker_connected": True})
    context, accounts = with_accounts(context, tmp_path / "people.duckdb")
    headers = accounts.token("energy-office", Role.VIEWER)
    transport = httpx.ASGITransport(app=create_app(context))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers=headers
        ) as client:
            yield client
    finally:
        accounts.close()


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


def _figures_with_digits(value: Any, key: str = "") -> list[tuple[str, float, int]]:
    """Every number in a JSON body with the digits its kind is allowed."""
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _figures_with_digits(v, k)]
    if isinstance(value, list):
        return [x for v in value for x in _figures_with_digits(v, key)]
    if isinstance(value, float):
        digits = 2 if "cost" in key else 1 if key.endswith("_pct") else 3
        return [(key, value, 4 if key.startswith("per_") else digits)]
    return []


async def test_report_figures_are_rounded_to_what_a_bill_can_tell_apart(
    api: httpx.AsyncClient, meters: Meters
) -> None:
    # A third of a kWh every 15 minutes: sums that binary floats cannot hold exactly.
    week = (date(2026, 10, 19), date(2026, 10, 25))
    meters.write("elec-c", "energy_kwh", *week, constant(4 / 3))
    body = (await api.get("/api/energy/report?period=week&week=2026-W43")).json()
    found = _figures_with_digits(body)
    assert found and all(round(v, d) == v for _k, v, d in found), [
        (k, v) for k, v, d in found if round(v, d) != v
    ]
    [canteen] = [
        x
        for x in body["lines"]
        if x["building"] == "canteen" and x["carrier"] == "electricity" and x["role"] == "total"
    ]
    assert canteen["consumption"] == 224.0 and canteen["completeness"] == 1.0


async def test_a_sub_meter_above_its_parent_is_a_warning_not_a_share(
    api: httpx.AsyncClient, meters: Meters
) -> None:
    week = (date(2026, 10, 19), date(2026, 10, 25))
    meters.write("elec-t-light", "energy_kwh", *week, constant(7.92))  # 198 % of 4 kW
    body = (await api.get("/api/energy/report?period=week&week=2026-W43&lang=en")).json()
    warning, unknown = body["warnings"]
    assert warning["kind"] == "sub_exceeds_parent" and warning["meters"] == ["elec-t-light"]
    assert unknown["kind"] == "unaccounted_not_known" and unknown["meters"] == ["elec-t-hvac"]
    assert "(672.0 kWh, 198%)" in warning["message"]
    below = {
        x["category"]: x
        for x in body["lines"]
        if x["building"] == "teaching" and x["carrier"] == "electricity" and x["role"] != "total"
    }
    light = below["lighting_sockets"]
    assert (light["status"], light["share_pct"]) == ("metering_error", None)
    assert light["reason"].startswith("metering error: sub-meter elec-t-light")
    # elec-t-hvac has no readings at all: the rest is not known rather than a negative share.
    rest = below["unaccounted"]
    assert (rest["status"], rest["consumption"], rest["share_pct"]) == ("not_known", None, None)


async def test_use_across_a_gap_is_marked_estimated_with_its_basis(
    api: httpx.AsyncClient, meters: Meters
) -> None:
    day = date(2026, 10, 21)
    meters.write(
        "elec-c",
        "energy_kwh",
        date(2026, 10, 12),
        date(2026, 10, 25),
        constant(4.0),
        silent=lambda t: local(day, 9) < t < local(day, 12),
    )
    body = (await api.get("/api/energy/report?period=day&date=2026-10-21")).json()
    [canteen] = [
        x
        for x in body["lines"]
        if x["building"] == "canteen" and x["carrier"] == "electricity" and x["role"] == "total"
    ]
    # 09:00-12:00 at 4 kW: 12 kWh, by the flat school-day profile 4 kWh flat (09-10) and
    # 8 kWh peak (10-12): 4 × 0.65 + 8 × 1.105 = 11.44 CNY.
    assert canteen["across_gaps"] == 12.0 and canteen["cost_estimated"] == 11.44
    assert canteen["estimate"] == {
        "basis": ["profile"],
        "use_by_period": {"critical_peak": 0.0, "peak": 8.0, "flat": 4.0, "valley": 0.0},
    }


async def test_every_instant_in_a_report_is_local_time_with_its_offset(
    api: httpx.AsyncClient, meters: Meters
) -> None:
    day = date(2026, 10, 21)
    meters.write(
        "elec-c",
        "energy_kwh",
        date(2026, 10, 19),
        date(2026, 10, 25),
        constant(4.0),
        silent=lambda t: local(day, 9) < t < local(day, 12),
    )
    text = (await api.get("/api/energy/report?period=week&week=2026-W43")).text
    instants = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', text)
    assert instants and all(i.endswith("+08:00") for i in instants), instants
    assert '"happened_until":"2026-10-26T00:00:00+08:00"' in text  # the week is over by NOW
