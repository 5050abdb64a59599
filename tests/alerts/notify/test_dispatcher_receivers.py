"""The dispatcher driving the real channels against the real local robot receiver (HTTP on
127.0.0.1, checking each vendor's request shape and signature): a retried webhook carries the
same idempotency key, a WeCom robot's own rate-limit code is retried, and 25 warnings on a
WeCom robot go out as 20 messages and one digest the receiver accepts."""

from __future__ import annotations

import random
from dataclasses import replace

import httpx
import pytest

from alerts.notify.channels import CHANNEL_CONFIG, build_channel
from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Channel, Notice
from alerts.notify.outbox import RetryPolicy
from alerts.notify.ratelimit import channel_limits
from core.clock import ManualClock
from core.records import DeliveryOutcome, OutboxState, Severity
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.conftest import fridge_facts, make_notice
from tests.alerts.notify.outbox_channel import T0, running, seconds, settle
from tests.alerts.notify.receivers import WEBHOOK_SECRET, WECOM_KEY, RobotReceiver, Scripted


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def notice(alert_id: int, channel: str, severity: Severity = Severity.WARNING) -> Notice:
    facts = fridge_facts(
        alert_id=alert_id,
        severity=severity,
        device=f"fridge-{alert_id}",
        device_name=f"{alert_id}号冷藏柜",
    )
    base = make_notice(facts, key=f"n-{alert_id}-{channel}", channel=channel)
    return replace(base, created_at=T0 + seconds(alert_id / 1000))


def dispatcher(
    store: DuckDBOutboxStore,
    clock: ManualClock,
    receiver: RobotReceiver,
    http_client: httpx.AsyncClient,
) -> Dispatcher:
    configs = {
        "kitchen-robot": CHANNEL_CONFIG.validate_python(
            {"type": "wecom", "key": WECOM_KEY, "base_url": receiver.url}
        ),
        "bureau": CHANNEL_CONFIG.validate_python(
            {"type": "webhook", "url": f"{receiver.url}/hook", "secret": WEBHOOK_SECRET}
        ),
    }
    channels: dict[str, Channel] = {
        name: build_channel(name, config, client=http_client, clock=clock)
        for name, config in configs.items()
    }
    return Dispatcher(
        store,
        channels,
        clock,
        limits=channel_limits(configs),
        policy=RetryPolicy(base_s=5, cap_s=60, max_attempts=5),
        rng=random.Random(11),
    )


async def test_a_retried_webhook_carries_the_same_idempotency_key(
    store: DuckDBOutboxStore,
    clock: ManualClock,
    receiver: RobotReceiver,
    http_client: httpx.AsyncClient,
) -> None:
    receiver.fail_next(Scripted(status=503, headers={"Retry-After": "30"}))
    d = dispatcher(store, clock, receiver, http_client)
    async with running(d):
        await d.submit([notice(1, "bureau", Severity.CRITICAL)])
        await settle(d)
        await clock.advance(30)
        await settle(d)
    first, second = receiver.received("/hook")
    assert second.problems == []
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "n-1-bureau"
    log = store.deliveries_for_alert(1)
    assert [(r.outcome, r.status) for r in log] == [
        (DeliveryOutcome.RETRY, 503),
        (DeliveryOutcome.SENT, 200),
    ]
    assert all(r.latency_ms > 0 for r in log)
    assert log[1].at == T0 + seconds(30)  # Retry-After: 30 honoured


async def test_the_wecom_robots_own_rate_limit_code_is_retried(
    store: DuckDBOutboxStore,
    clock: ManualClock,
    receiver: RobotReceiver,
    http_client: httpx.AsyncClient,
) -> None:
    receiver.fail_next(Scripted(body={"errcode": 45009, "errmsg": "api freq out of limit"}))
    d = dispatcher(store, clock, receiver, http_client)
    async with running(d):
        await d.submit([notice(1, "kitchen-robot")])
        await settle(d)
        await clock.advance(60)
        await settle(d)
    assert len(receiver.received("/cgi-bin/webhook/send")) == 2
    first, second = store.deliveries_for_alert(1)
    assert first.outcome is DeliveryOutcome.RETRY and "45009" in first.reason
    assert second.outcome is DeliveryOutcome.SENT


async def test_twenty_five_warnings_reach_a_wecom_robot_as_twenty_and_a_digest(
    store: DuckDBOutboxStore,
    clock: ManualClock,
    receiver: RobotReceiver,
    http_client: httpx.AsyncClient,
) -> None:
    d = dispatcher(store, clock, receiver, http_client)
    async with running(d):
        await d.submit([notice(i, "kitchen-robot") for i in range(1, 26)])
        await settle(d)
        assert len(receiver.received("/cgi-bin/webhook/send")) == 20
        await clock.advance(60)
        await settle(d)
    requests = receiver.received("/cgi-bin/webhook/send")
    assert len(requests) == 21 and all(r.problems == [] for r in requests)
    digest_text = requests[-1].data["markdown"]["content"]
    for alert_id in range(21, 26):
        assert f"{alert_id}号冷藏柜" in digest_text
    assert {e.state for e in store.entries()} == {OutboxState.SENT, OutboxState.MERGED}
