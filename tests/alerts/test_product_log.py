"""The daily temperature log shows the air and the estimated food side by side
(/api/devices/{id}/temperature-log): a door opening is minutes out of band for the air, none
for the food."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from alerts.product_log import with_product
from core.clock import StepClock
from core.records import DailyTemperature, DayWindow, Role
from dashboard_api import ApiContext, create_app
from tests.alerts.conftest import Harness, school, series
from tests.dashboard_api.accounts import with_accounts

ZONE = school().site.zone


def local(hh: int, mm: int) -> datetime:
    """Monday 2026-11-23 at hh:mm local time."""
    return datetime.combine(datetime(2026, 11, 23).date(), time(hh, mm), tzinfo=ZONE).astimezone(
        UTC
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    harness = Harness(tmp_path / "log.duckdb", school(), StepClock(local(0, 0)))
    # Monday 00:00-12:00 at 4 °C, but 09:00-09:02 at 13 °C: a door opened for 3 minutes.
    values = [13.0 if 540 <= m < 543 else 4.0 for m in range(720)]
    harness.feed(series("fridge-1", local(0, 0), 60, values))
    harness.feed(series("rice-1", local(0, 0), 60, [25.0] * 60))
    harness.clock.instant = local(12, 0)
    context = ApiContext(
        harness.config, harness.readings, harness.clock, lambda: {}, harness.service
    )
    context, accounts = with_accounts(context, harness.path)
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=accounts.token("inspector", Role.VIEWER)
    ) as client:
        yield client
    accounts.close()
    harness.close()


async def test_the_log_shows_air_and_food(client: httpx.AsyncClient) -> None:
    params = {"start": "2026-11-22", "end": "2026-11-23"}
    body = (await client.get("/api/devices/fridge-1/temperature-log", params=params)).json()
    assert body["judged_on"] == "product" and body["product_tau_min"] == 30.0
    sunday, monday = body["days"]
    assert sunday["product_max_c"] is None and sunday["product_minutes_out_of_band"] == 0.0
    # The air: 3 readings at 13 °C, each standing for a minute out of band.
    assert monday["max_c"] == 13.0 and monday["minutes_out_of_band"] == 3.0
    # The food: 13 - 9 exp(-3/30) = 4.8565 after the third minute at 13 °C, its warmest.
    assert monday["product_max_c"] == round(13.0 - 9.0 * math.exp(-3 / 30), 2) == 4.86
    assert monday["product_min_c"] == 4.0 and 4.0 < monday["product_mean_c"] < 4.1
    assert monday["product_minutes_out_of_band"] == 0.0


async def test_a_heated_cabinet_has_no_food_estimate(client: httpx.AsyncClient) -> None:
    params = {"start": "2026-11-23", "end": "2026-11-23"}
    body = (await client.get("/api/devices/rice-1/temperature-log", params=params)).json()
    assert body["judged_on"] == "air" and body["product_tau_min"] is None
    [monday] = body["days"]
    assert monday["readings"] == 60 and monday["product_mean_c"] is None
    assert monday["product_minutes_out_of_band"] is None


def test_the_food_from_minute_means_matches_the_food_from_every_reading_of_a_fast_probe() -> None:
    """A probe every 10 s through a door opening: the log reads the air as one mean a minute
    (the store's 1-min rollups); the food's figures stay those of every reading, as the
    filter's tau of 30 min is 30 steps (alerts.product_log)."""
    start = local(0, 0)
    day = DayWindow(start.astimezone(ZONE).date(), start, start + timedelta(days=1))
    # Readings from 3 h before the day (the warm-up the log reads) to its end.
    first_ms = int(start.timestamp() * 1000) - 3 * 3_600_000
    ts = np.arange(first_ms, first_ms + 27 * 3_600_000, 10_000, dtype=np.int64)
    minute = (ts - int(start.timestamp() * 1000)) // 60_000
    # 4 °C with 0.3 K noise and the door open 20 minutes at 09:00 (14 °C): the food passes 8 °C.
    air = 4.0 + np.random.default_rng(5).normal(0, 0.3, len(ts))
    air += np.where((minute >= 540) & (minute < 560), 10.0, 0.0)
    row = DailyTemperature("fridge-1", day.day, 8640, None, None, None, 0.0, 1.0)

    def between(lo: datetime, hi: datetime) -> np.ndarray:
        return (ts >= lo.timestamp() * 1000) & (ts < hi.timestamp() * 1000)

    def readings(lo: datetime, hi: datetime) -> tuple[list[int], list[float]]:
        inside = between(lo, hi)
        return ts[inside].tolist(), air[inside].tolist()

    def minute_means(lo: datetime, hi: datetime) -> tuple[list[int], list[float]]:
        inside = between(lo, hi)  # whole minutes here: 6 readings each
        return ts[inside][::6].tolist(), air[inside].reshape(-1, 6).mean(axis=1).tolist()

    [exact] = with_product([row], [day], readings, 30.0, (0.0, 8.0), 300.0)
    [rolled] = with_product([row], [day], minute_means, 30.0, (0.0, 8.0), 300.0)
    assert exact.product_max_c is not None and exact.product_max_c > 8.0  # the food warmed
    for field in ("product_min_c", "product_max_c", "product_mean_c"):
        assert getattr(rolled, field) == pytest.approx(getattr(exact, field), abs=0.1), field
    assert rolled.product_minutes_out_of_band == pytest.approx(
        exact.product_minutes_out_of_band, abs=1.0
    )
