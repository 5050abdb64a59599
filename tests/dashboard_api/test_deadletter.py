"""GET /api/deadletter filters by the reason code that /api/health counts, says which codes
exist when asked for another, counts what matches, and answers every time in local time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.readings import DEAD_LETTER_CODES, DeadLetter
from tests.dashboard_api.conftest import close_wired, wired_app

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
TOPIC = "canteen/v1/test-school/fridge-1/telemetry"


def letter(minute: int, code: str | None, reason: str) -> DeadLetter:
    at = AT + timedelta(minutes=minute)
    return DeadLetter(at, TOPIC, reason, b"{", 1, "test-school", "fridge-1", code)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app, harness = wired_app(tmp_path_factory.mktemp("dl") / "api.duckdb")
    harness.readings.write_dead_letters(
        [
            letter(0, "not_json", "payload is not valid JSON: Expecting value"),
            letter(1, "bad_time", "ts is older than 7 days"),
            letter(2, "not_json", "payload is not UTF-8 text: invalid start byte at byte 0"),
            letter(3, None, "kept by an older release: payload is not valid JSON"),
        ]
    )
    yield app
    close_wired(app, harness)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=app.state.staff
    ) as client:
        yield client


async def test_reason_is_the_code_health_counts_and_total_counts_the_matches(
    api: httpx.AsyncClient,
) -> None:
    body = (await api.get("/api/deadletter", params={"reason": "not_json", "limit": 1})).json()
    assert body["total"] == 2  # both not_json letters, though one is shown
    [item] = body["items"]
    assert (item["code"], item["reason"]) == (
        "not_json",
        "payload is not UTF-8 text: invalid start byte at byte 0",
    )
    everything = (await api.get("/api/deadletter")).json()
    assert everything["total"] == 4 and len(everything["items"]) == 4
    assert [x["code"] for x in everything["items"]] == [None, "not_json", "bad_time", "not_json"]


async def test_text_search_is_its_own_parameter(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/deadletter", params={"contains": "valid JSON"})).json()
    assert body["total"] == 2
    assert {x["code"] for x in body["items"]} == {"not_json", None}


async def test_an_unknown_code_is_a_422_listing_the_codes(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/deadletter", params={"reason": "not JSON"})
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("query parameter 'reason': no reason code 'not JSON'; the codes")
    assert str(list(DEAD_LETTER_CODES)) in message


async def test_every_time_is_local_with_its_offset(api: httpx.AsyncClient) -> None:
    items = (await api.get("/api/deadletter")).json()["items"]
    assert items[-1]["received_at"] == "2026-11-23T09:00:00+08:00"
    assert all(x["received_at"].endswith("+08:00") for x in items)


def test_the_codes_are_the_gateways() -> None:
    # Every code the gateway can give a refused message is one the API accepts.
    source = "\n".join(p.read_text() for p in (Path(__file__).parents[2] / "gateway").glob("*.py"))
    used = set(re.findall(r'code="([a-z_]+)"', source)) | {"invalid"}
    assert used <= set(DEAD_LETTER_CODES), used - set(DEAD_LETTER_CODES)
