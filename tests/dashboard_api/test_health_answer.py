"""/api/health is made at most once a second, and its figures are never older than that: many
monitors polling at once get one answer per second, the runtime's counters and the outbox are
read once for them all, and a second later (by the service's clock, or by the process's own
when a test's clock stands still) the answer says what changed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import ManualClock
from dashboard_api import ApiContext, create_app
from dashboard_api.routes.health import FRESH_S
from ingest import DuckDBStore
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.conftest import site_config

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


class Counters:
    """A runtime's status that counts how often it is asked and says so."""

    def __init__(self) -> None:
        self.asked = 0
        self.stored = 0
        self.connected = True

    def __call__(self) -> dict[str, Any]:
        self.asked += 1
        return {"broker_connected": self.connected, "readings_stored": self.stored}


class Outbox(DuckDBOutboxStore):
    """The real outbox, counting its reads of the figures."""

    reads = 0

    def state_counts(self) -> dict[str, int]:
        self.reads += 1
        return super().state_counts()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    opened = DuckDBStore(tmp_path / "site.duckdb")
    yield opened
    opened.close()


def _client(context: ApiContext) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(context))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


async def test_many_polls_share_one_answer_a_second_by_the_service_clock(
    store: DuckDBStore,
) -> None:
    clock, counters = ManualClock(NOW), Counters()
    context = ApiContext(site_config("canteen/v1"), store, clock, counters)
    async with _client(context) as client:
        answers = await asyncio.gather(*(client.get("/api/health") for _ in range(40)))
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["readings_stored"] for a in answers} == {0}
        assert counters.asked == 1
        assert answers[0].headers["content-type"] == "application/json"
        counters.stored, counters.connected = 7, False
        await clock.advance(FRESH_S / 2)
        assert (await client.get("/api/health")).json()["readings_stored"] == 0  # within 1 s
        await clock.advance(FRESH_S / 2)
        body = (await client.get("/api/health")).json()
    assert (body["readings_stored"], body["status"]) == (7, "degraded")
    assert body["time"] == "2026-11-24T12:00:01+08:00"
    assert counters.asked == 2


async def test_a_stopped_clock_still_gets_figures_no_older_than_a_second(
    store: DuckDBStore,
) -> None:
    counters = Counters()
    context = ApiContext(site_config("canteen/v1"), store, ManualClock(NOW), counters)
    async with _client(context) as client:
        assert (await client.get("/api/health")).json()["readings_stored"] == 0
        counters.stored = 3
        await asyncio.sleep(FRESH_S + 0.05)
        assert (await client.get("/api/health")).json()["readings_stored"] == 3


async def test_the_outbox_is_read_once_for_concurrent_polls(
    store: DuckDBStore, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.duckdb")
    try:
        clock = ManualClock(NOW)
        context = ApiContext(site_config("canteen/v1"), store, clock, Counters(), deliveries=outbox)
        async with _client(context) as client:
            answers = await asyncio.gather(*(client.get("/api/health") for _ in range(20)))
            assert all(a.json()["notifications"]["queued"] == 0 for a in answers)
            assert outbox.reads == 1
            await clock.advance(FRESH_S)
            await client.get("/api/health")
            assert outbox.reads == 2
    finally:
        outbox.close()


async def test_no_cache_asks_for_the_figures_of_this_instant(store: DuckDBStore) -> None:
    counters = Counters()
    context = ApiContext(site_config("canteen/v1"), store, ManualClock(NOW), counters)
    async with _client(context) as client:
        assert (await client.get("/api/health")).json()["readings_stored"] == 0
        counters.stored = 5
        assert (await client.get("/api/health")).json()["readings_stored"] == 0  # kept
        fresh = await client.get("/api/health", headers={"Cache-Control": "no-cache"})
        assert fresh.json()["readings_stored"] == 5
    assert counters.asked == 2
