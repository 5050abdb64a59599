"""The REST API over a real DuckDB store: answers, and 422/404 messages a person understands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core import ManualClock, PresenceChange, ReadingBatchBuilder
from core.records import Role
from dashboard_api import ApiContext, create_app
from ingest import DuckDBStore
from tests.conftest import site_config
from tests.dashboard_api.accounts import with_accounts

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = site_config("canteen/v1")
    store = DuckDBStore(tmp_path / "api.duckdb")
    rows = ReadingBatchBuilder()
    for minute in range(120):
        ts = int((NOW - timedelta(minutes=120 - minute)).timestamp() * 1000)
        rows.append("test-school", "fridge-1", "temp_c", ts, 3.0 + minute / 100)
        rows.append("test-school", "fridge-1", "door_open", ts, float(minute % 2))
    store.write(rows.build())
    store.write_presence([PresenceChange("test-school", "fridge-1", True, NOW)])
    context = ApiContext(config, store, ManualClock(NOW), lambda: {"broker_connected": True})
    context, accounts = with_accounts(context, tmp_path / "api.duckdb")
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=accounts.token("wall", Role.VIEWER)
    ) as client:
        yield client
    accounts.close()
    store.close()


async def test_health_and_devices(api: httpx.AsyncClient) -> None:
    health = (await api.get("/api/health")).json()
    assert health["status"] == "ok" and health["site"] == "test-school"
    assert health["time"] == "2026-11-24T12:00:00+08:00"
    devices = (await api.get("/api/devices")).json()
    assert [d["id"] for d in devices] == ["fridge-1", "fridge-2", "fridge-3"]
    assert devices[0]["online"] is True and devices[1]["online"] is None
    assert devices[0]["limits"]["high_c"] == 8.0


async def test_latest_gives_units_local_time_and_booleans(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/devices/fridge-1/latest")).json()
    values = {v["metric"]: v for v in body["values"]}
    assert values["temp_c"]["value"] == pytest.approx(4.19)
    assert values["temp_c"]["unit"] == "°C"
    assert values["temp_c"]["ts"] == "2026-11-24T11:59:00+08:00"
    assert values["door_open"]["value"] is True


async def test_series_with_local_times_and_steps(api: httpx.AsyncClient) -> None:
    body = (
        await api.get(
            "/api/devices/fridge-1/series",
            params={"metric": "temp_c", "start": "2026-11-24T10:00", "step": "1h", "agg": "max"},
        )
    ).json()
    assert body["step_s"] == 3600 and body["end"] == "2026-11-24T12:00:00+08:00"
    assert [(p["t"], p["count"]) for p in body["points"]] == [
        ("2026-11-24T10:00:00+08:00", 60),
        ("2026-11-24T11:00:00+08:00", 60),
    ]
    assert body["points"][1]["value"] == pytest.approx(4.19)
    by_ms = await api.get(
        "/api/devices/fridge-1/series",
        params={
            "metric": "temp_c",
            "start": str(int((NOW - timedelta(hours=1)).timestamp() * 1000)),
            "step": "3600",
        },
    )
    assert len(by_ms.json()["points"]) == 1


async def test_series_means_carry_no_binary_noise(api: httpx.AsyncClient) -> None:
    body = (
        await api.get(
            "/api/devices/fridge-1/series",
            params={"metric": "temp_c", "start": "2026-11-24T10:00", "step": "3m"},
        )
    ).json()
    values = [p["value"] for p in body["points"]]
    # Three readings 0.01 apart average to a figure with at most two decimals, said so exactly.
    assert values[:3] == [3.01, 3.04, 3.07]
    assert all(len(repr(v).split(".")[-1]) <= 6 for v in values)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "query parameter 'metric' is required"),
        ({"metric": "temperature"}, "unknown metric 'temperature'"),
        (
            {"metric": "temp_c", "start": "last tuesday"},
            "query parameter 'start': 'last tuesday' is not a date-time",
        ),
        (
            {"metric": "temp_c", "step": "5 minutes"},
            "query parameter 'step': '5 minutes' is not a step",
        ),
        ({"metric": "temp_c", "step": "0s"}, "'0s' is out of range; a step runs from 1 s to 366 d"),
        ({"metric": "temp_c", "agg": "median"}, "query parameter 'agg'"),
        (
            {
                "metric": "temp_c",
                "start": "2026-11-24T12:00+08:00",
                "end": "2026-11-24T11:00+08:00",
            },
            "'start' must be before 'end'",
        ),
        (
            {"metric": "temp_c", "start": "2020-01-01T00:00Z", "step": "1s"},
            "at most 10000 are allowed",
        ),
    ],
)
async def test_bad_series_parameters_get_422_with_a_sentence(
    api: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    response = await api.get("/api/devices/fridge-1/series", params=params)
    assert response.status_code == 422
    assert message in response.json()["message"]


async def test_unknown_device_is_404_listing_known_ones(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/devices/fridge-9/latest")
    assert response.status_code == 404
    assert response.json()["message"].startswith(
        "no device 'fridge-9' at this site; known devices: fridge-1"
    )


async def test_deadletter_limits_are_validated(api: httpx.AsyncClient) -> None:
    # No letters: the total, the reason filter (none given) and no items.
    assert (await api.get("/api/deadletter")).json() == {"total": 0, "reason": None, "items": []}
    response = await api.get("/api/deadletter", params={"limit": 0})
    assert response.status_code == 422
    assert "query parameter 'limit'" in response.json()["message"]


async def test_openapi_docs_are_served(api: httpx.AsyncClient) -> None:
    assert (await api.get("/docs")).status_code == 200
    spec = (await api.get("/openapi.json")).json()
    assert "/api/devices/{device_id}/series" in spec["paths"]


async def test_openapi_lists_the_refusals_each_endpoint_gives(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    listed = {
        f"{method.upper()} {path}": sorted(int(code) for code in operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    # Every route behind the login may answer 401 (no credentials) and 403 (role too low).
    assert listed["GET /api/health"] == [200]
    assert listed["GET /api/devices"] == [200, 401, 403]
    assert listed["GET /api/devices/{device_id}"] == [200, 401, 403, 404]
    assert listed["GET /api/devices/{device_id}/series"] == [200, 401, 403, 404, 422]
    assert listed["GET /api/deadletter"] == [200, 401, 403, 422]
    assert listed["GET /api/energy/report"] == [200, 401, 403, 422]
    assert listed["GET /api/alerts/{alert_id}"] == [200, 401, 403, 404, 422, 503]
    assert listed["POST /api/alerts/{alert_id}/close"] == [200, 401, 403, 404, 409, 422, 503]
    invalid = paths["/api/deadletter"]["get"]["responses"]["422"]["content"]
    assert invalid["application/json"]["schema"]["$ref"].endswith("/ValidationProblem")
    missing = paths["/api/devices/{device_id}"]["get"]["responses"]["404"]["content"]
    assert missing["application/json"]["schema"]["$ref"].endswith("/Problem")


async def test_daily_series_are_local_days(tmp_path: Path) -> None:
    """Two local days in Asia/Shanghai give two buckets from local midnight, not three partial
    ones from 08:00 (UTC midnight)."""
    store = DuckDBStore(tmp_path / "days.duckdb")
    midnight = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 2026-11-23T00:00+08:00
    rows = ReadingBatchBuilder()
    for hour in range(48):
        ts = int((midnight + timedelta(hours=hour, minutes=30)).timestamp() * 1000)
        rows.append("test-school", "fridge-1", "temp_c", ts, 2.0 if hour < 24 else 6.0)
    store.write(rows.build())
    context = ApiContext(site_config("canteen/v1"), store, ManualClock(NOW), lambda: {})
    context, accounts = with_accounts(context, tmp_path / "days.duckdb")
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=accounts.token("wall", Role.VIEWER)
    ) as api:
        params = {"metric": "temp_c", "start": "2026-11-23", "end": "2026-11-25", "step": "1d"}
        body = (await api.get("/api/devices/fridge-1/series", params=params)).json()
    accounts.close()
    store.close()
    assert [(p["t"], p["count"], p["value"]) for p in body["points"]] == [
        ("2026-11-23T00:00:00+08:00", 24, 2.0),
        ("2026-11-24T00:00:00+08:00", 24, 6.0),
    ]
