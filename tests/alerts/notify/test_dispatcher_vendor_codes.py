"""The dispatcher against the real local receiver answering with the vendors' own codes, and a
receiver that accepts a request but answers after the channel's timeout: DingTalk 130101 holds
its robot ten minutes, an undocumented code (DingTalk 660026) is retried rather than dropped,
Feishu 9499 fails at once with its reason, 11232 waits a minute, a critical notice the robot
keeps rate-limiting is never given up (nor dropped by one blip after ten of those), and a late
answer is retried under the same key."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

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
from tests.alerts.notify.receivers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_SECRET,
    FEISHU_TOKEN,
    WEBHOOK_SECRET,
    WECOM_KEY,
    RobotReceiver,
    Scripted,
)

DINGTALK, FEISHU, WECOM, HOOK = "/robot/send", "/open-apis/bot/v2/hook/", "/cgi-bin/", "/hook"
# The channels' timeout here; the late receiver answers after three times that. 0.3 s was too
# short for the retry's connection on a busy machine (a ConnectTimeout at load 5).
LATE_S = 1.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def dispatcher(
    store: DuckDBOutboxStore,
    clock: ManualClock,
    receiver: RobotReceiver,
    http_client: httpx.AsyncClient,
) -> Dispatcher:
    robot = {"base_url": receiver.url}
    raw: dict[str, dict[str, Any]] = {
        "office": {
            "type": "dingtalk",
            "access_token": DINGTALK_TOKEN,
            "secret": DINGTALK_SECRET,
            **robot,
        },
        "duty": {"type": "feishu", "token": FEISHU_TOKEN, "secret": FEISHU_SECRET, **robot},
        "kitchen": {"type": "wecom", "key": WECOM_KEY, "timeout_s": LATE_S, **robot},
        "bureau": {
            "type": "webhook",
            "url": f"{receiver.url}{HOOK}",
            "secret": WEBHOOK_SECRET,
            "timeout_s": LATE_S,
        },
    }
    configs = {name: CHANNEL_CONFIG.validate_python(data) for name, data in raw.items()}
    channels: dict[str, Channel] = {
        name: build_channel(name, config, client=http_client, clock=clock)
        for name, config in configs.items()
    }
    return Dispatcher(
        store,
        channels,
        clock,
        limits=channel_limits(configs),
        policy=RetryPolicy(base_s=5, cap_s=60, max_attempts=3),
        rng=random.Random(7),
    )


def notice(alert_id: int, channel: str, severity: Severity = Severity.WARNING) -> Notice:
    facts = fridge_facts(alert_id=alert_id, severity=severity, device_name=f"{alert_id}号冷藏柜")
    base = make_notice(facts, key=f"n-{alert_id}-{channel}", channel=channel)
    return replace(base, created_at=T0 + seconds(alert_id / 1000))


def outcomes(store: DuckDBOutboxStore, alert_id: int) -> list[tuple[DeliveryOutcome, str]]:
    return [(d.outcome, d.reason) for d in store.deliveries_for_alert(alert_id)]


async def test_dingtalk_130101_holds_the_robot_ten_minutes(
    dispatcher: Dispatcher, store: DuckDBOutboxStore, clock: ManualClock, receiver: RobotReceiver
) -> None:
    receiver.fail_next(Scripted(body={"errcode": 130101, "errmsg": "send too fast"}))
    async with running(dispatcher):
        await dispatcher.submit([notice(1, "office"), notice(2, "office")])
        await settle(dispatcher)
        await clock.advance(599)  # the robot is throttled for 10 min: nothing is tried
        await settle(dispatcher)
        assert len(receiver.received(DINGTALK)) == 1
        await clock.advance(1)
        await settle(dispatcher)
    assert len(receiver.received(DINGTALK)) == 3
    [(retry, why), (sent, _)] = outcomes(store, 1)
    assert (retry, sent) == (DeliveryOutcome.RETRY, DeliveryOutcome.SENT)
    assert "130101" in why and "sending too fast" in why
    assert [d.at for d in store.deliveries_for_alert(2)] == [T0 + seconds(600)]


async def test_an_undocumented_dingtalk_code_660026_is_retried_not_dropped(
    dispatcher: Dispatcher, store: DuckDBOutboxStore, clock: ManualClock, receiver: RobotReceiver
) -> None:
    receiver.fail_next(Scripted(body={"errcode": 660026, "errmsg": "robot message limit"}))
    async with running(dispatcher):
        await dispatcher.submit([notice(1, "office")])
        await settle(dispatcher)
        await clock.advance(5)  # the first retry's ceiling (base_s)
        await settle(dispatcher)
    [(retry, why), (sent, _)] = outcomes(store, 1)
    assert (retry, sent) == (DeliveryOutcome.RETRY, DeliveryOutcome.SENT)
    assert why == "DingTalk error 660026: robot message limit"


async def test_feishu_9499_fails_at_once_and_11232_waits_a_minute(
    dispatcher: Dispatcher, store: DuckDBOutboxStore, clock: ManualClock, receiver: RobotReceiver
) -> None:
    receiver.fail_next(Scripted(body={"code": 9499, "msg": "Bad Request"}))
    async with running(dispatcher):
        await dispatcher.submit([notice(1, "duty")])
        await settle(dispatcher)
        receiver.fail_next(Scripted(body={"code": 11232, "msg": "frequency limited"}))
        await dispatcher.submit([notice(2, "duty")])
        await settle(dispatcher)
        await clock.advance(59)
        await settle(dispatcher)
        assert len(receiver.received(FEISHU)) == 2
        await clock.advance(1)
        await settle(dispatcher)
    [(failed, why)] = outcomes(store, 1)
    assert failed is DeliveryOutcome.FAILED
    assert why == "Feishu error 9499 (bad request (shape or size)): Bad Request"
    entry = store.entry("n-1-duty")
    assert entry is not None and entry.state is OutboxState.FAILED
    assert [o for o, _ in outcomes(store, 2)] == [DeliveryOutcome.RETRY, DeliveryOutcome.SENT]


async def test_a_critical_notice_the_robot_keeps_rate_limiting_is_never_given_up(
    dispatcher: Dispatcher, store: DuckDBOutboxStore, clock: ManualClock, receiver: RobotReceiver
) -> None:
    limited = Scripted(body={"errcode": 130101, "errmsg": "send too fast"})
    receiver.fail_next(*[limited] * 5)  # more refusals than the 3 attempts allowed
    async with running(dispatcher):
        await dispatcher.submit([notice(1, "office", Severity.CRITICAL)])
        await settle(dispatcher)
        for _ in range(5):
            await clock.advance(600)
            await settle(dispatcher)
    log = [o for o, _ in outcomes(store, 1)]
    assert log == [DeliveryOutcome.RETRY] * 5 + [DeliveryOutcome.SENT]
    entry = store.entry("n-1-office")
    assert entry is not None and (entry.state, entry.attempts) == (OutboxState.SENT, 6)


async def test_a_blip_after_many_rate_limits_does_not_drop_a_critical_notice(
    dispatcher: Dispatcher, store: DuckDBOutboxStore, clock: ManualClock, receiver: RobotReceiver
) -> None:
    limited = Scripted(body={"errcode": 130101, "errmsg": "send too fast"})
    receiver.fail_next(*[limited] * 10, Scripted(status=500))  # 3 attempts allowed
    async with running(dispatcher):
        await dispatcher.submit([notice(1, "office", Severity.CRITICAL)])
        await settle(dispatcher)
        for _ in range(10):
            await clock.advance(600)  # the robot's hold after each 130101
            await settle(dispatcher)
        await clock.advance(60)  # past every ceiling of this policy
        await settle(dispatcher)
    log = [o for o, _ in outcomes(store, 1)]
    assert log == [DeliveryOutcome.RETRY] * 11 + [DeliveryOutcome.SENT]
    entry = store.entry("n-1-office")
    assert entry is not None
    assert (entry.state, entry.attempts, entry.rate_limited) == (OutboxState.SENT, 12, 10)


async def test_other_refusals_still_give_up_after_the_attempts(
    dispatcher: Dispatcher, store: DuckDBOutboxStore, clock: ManualClock, receiver: RobotReceiver
) -> None:
    receiver.fail_next(*[Scripted(body={"errcode": -1, "errmsg": "系统繁忙"})] * 3)
    async with running(dispatcher):
        await dispatcher.submit([notice(1, "office", Severity.CRITICAL)])
        for _ in range(3):
            await settle(dispatcher)
            await clock.advance(60)  # past every ceiling of this policy
        await settle(dispatcher)
    assert [o for o, _ in outcomes(store, 1)] == [DeliveryOutcome.RETRY] * 2 + [
        DeliveryOutcome.FAILED
    ]
    entry = store.entry("n-1-office")
    assert entry is not None and entry.state is OutboxState.FAILED
    assert entry.last_error == "gave up after 3 attempts: DingTalk error -1 (system busy): 系统繁忙"


@pytest.mark.parametrize(("channel", "path"), [("bureau", HOOK), ("kitchen", WECOM)])
async def test_a_receiver_that_accepts_but_answers_late_gets_the_same_key_again(
    dispatcher: Dispatcher,
    store: DuckDBOutboxStore,
    clock: ManualClock,
    receiver: RobotReceiver,
    channel: str,
    path: str,
) -> None:
    receiver.fail_next(Scripted(delay_s=3 * LATE_S))  # it took the request; answers too late
    async with running(dispatcher):
        await dispatcher.submit([notice(1, channel, Severity.CRITICAL)])
        await settle(dispatcher)
        await clock.advance(5)
        await settle(dispatcher)
    first, second = receiver.received(path)
    assert first.body == second.body  # the same message again, under the same key
    if channel == "bureau":  # the webhook says it: a receiver drops the second by its key
        keys = {r.headers["idempotency-key"] for r in (first, second)}
        assert keys == {f"n-1-{channel}"}
    [(retry, why), (sent, _)] = outcomes(store, 1)
    assert (retry, sent) == (DeliveryOutcome.RETRY, DeliveryOutcome.SENT)
    assert "timed out" in why
