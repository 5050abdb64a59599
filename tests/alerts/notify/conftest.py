"""Shared pieces of the notification tests: one alert's facts as a site names them, notices
built from them, a clock, a shared HTTP client, the robots' receiver (on whichever clock a test
module's `clock` fixture gives: the dispatcher tests override it with a `ManualClock`) and an
outbox on a real DuckDB file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.notify.model import AlertFacts, Notice, NoticeKind
from core.clock import Clock, StepClock
from core.records import Message, RuleId, Severity
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.receivers import RobotReceiver

# 2026-11-23 09:05 in Asia/Shanghai (UTC+8) is 01:05 UTC.
SINCE = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)
NOW = SINCE + timedelta(minutes=35)
ACK = "https://canteen.example.edu.cn/ack/v1.abc.def"


def fridge_facts(**changes: Any) -> AlertFacts:
    facts = AlertFacts(
        alert_id=42,
        site="test-school",
        site_name="实验小学",
        device="fridge-1",
        device_name="1号冷藏柜",
        location="食堂后厨",
        rule=RuleId.OVER_TEMPERATURE,
        severity=Severity.CRITICAL,
        food_safety=True,
        since=SINCE,
        message=Message(
            "1号冷藏柜 温度 9.4 °C，高于上限 8.0 °C 已持续 35 分钟",
            "Fridge 1 at 9.4 °C, above its 8.0 °C limit for 35 min",
        ),
        value=9.4,
        limit=8.0,
        unit="°C",
    )
    return replace(facts, **changes)


def make_notice(*alerts: AlertFacts, **changes: Any) -> Notice:
    alerts = alerts or (fridge_facts(),)
    notice = Notice(
        key="notice-42-fired-0-cook-wecom",
        kind=NoticeKind.FIRED,
        channel="kitchen-robot",
        recipients=("cook-on-duty",),
        alerts=alerts,
        created_at=NOW,
        ack_links={a.alert_id: f"{ACK}{a.alert_id}" for a in alerts},
    )
    return replace(notice, **changes)


@pytest.fixture
def clock() -> StepClock:
    return StepClock(NOW)


@pytest.fixture
def receiver(clock: Clock) -> Iterator[RobotReceiver]:
    with RobotReceiver(clock.now) as robots:
        yield robots


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBOutboxStore]:
    outbox = DuckDBOutboxStore(tmp_path / "canteen.duckdb")
    yield outbox
    outbox.close()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def notice() -> Callable[..., Notice]:
    return make_notice
