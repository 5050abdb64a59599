"""The whole API wired as the service wires it: a real DuckDB file with a morning of readings,
the real alert rules (one over-temperature alert raised and resolved), people and tokens in
the same file (`accounts.Accounts`, on `app.state.accounts`), and a fixed clock. The `client`
fixture calls as the staff token `kitchen-tablet`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.clock import StepClock
from core.records import Role
from dashboard_api import ApiContext, create_app
from ingest.duckdb_calibration import DuckDBCalibrationStore
from tests.alerts.conftest import Harness, school, series
from tests.dashboard_api.accounts import with_accounts

ZONE = school().site.zone
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=ZONE).astimezone(UTC)  # Monday, local
NOON = MIDNIGHT + timedelta(hours=12)


def wired_app(path: Path) -> tuple[FastAPI, Harness]:
    # On the air probe: 40 min at 9 °C warms the food (tau 30 min) to 7.7 °C only, no alert
    # on the default, judge_on: product.
    harness = Harness(path, school(rules={"judge_on": "air"}), StepClock(MIDNIGHT))
    # In band, then 09:00-09:40 at 9 °C (an over-temperature alert on a fridge), then back.
    values = [9.0 if 540 <= m < 580 else 4.0 for m in range(720)]
    harness.feed(series("fridge-1", MIDNIGHT, 60, values))
    harness.clock.instant = NOON
    # The calibration register's connection closes with the process (DuckDB shares the file
    # with the harness's stores, which close it for writing).
    context = ApiContext(
        harness.config,
        harness.readings,
        harness.clock,
        lambda: {},
        alerts=harness.service,
        calibration=DuckDBCalibrationStore(path),
    )
    context, accounts = with_accounts(context, path)
    app = create_app(context)
    app.state.accounts = accounts
    app.state.staff = accounts.token("kitchen-tablet", Role.STAFF)
    return app, harness


def close_wired(app: FastAPI, harness: Harness) -> None:
    app.state.accounts.close()
    harness.close()


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for a module of tests that read, or are refused: building it runs the rules."""
    app, harness = wired_app(tmp_path_factory.mktemp("api") / "api.duckdb")
    yield app
    close_wired(app, harness)


@pytest.fixture
async def client(wired: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=wired)
    headers = wired.state.staff
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=headers
    ) as client:
        yield client
