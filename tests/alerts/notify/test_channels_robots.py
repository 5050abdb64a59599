"""The WeCom, DingTalk and Feishu robots against a real local receiver that checks request
shapes and recomputes the signatures, and answers with the vendors' own codes on demand."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from alerts.notify.channels import (
    CHANNEL_CONFIG,
    DingTalkChannel,
    FeishuChannel,
    WeComChannel,
)
from alerts.notify.channels.config import DingTalkConfig, FeishuConfig, WeComConfig
from alerts.notify.model import NoticeKind
from core.clock import StepClock
from core.records import Message
from tests.alerts.notify.conftest import fridge_facts, make_notice
from tests.alerts.notify.receivers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_SECRET,
    FEISHU_TOKEN,
    WECOM_KEY,
    RobotReceiver,
    Scripted,
    free_port,
)


def wecom(receiver: RobotReceiver, **extra: object) -> WeComConfig:
    data = {"type": "wecom", "key": WECOM_KEY, "base_url": receiver.url, **extra}
    config = CHANNEL_CONFIG.validate_python(data)
    assert isinstance(config, WeComConfig)
    return config


def dingtalk(receiver: RobotReceiver, **extra: object) -> DingTalkConfig:
    data = {
        "type": "dingtalk",
        "access_token": DINGTALK_TOKEN,
        "secret": DINGTALK_SECRET,
        "base_url": receiver.url,
        **extra,
    }
    config = CHANNEL_CONFIG.validate_python(data)
    assert isinstance(config, DingTalkConfig)
    return config


def feishu(receiver: RobotReceiver, **extra: object) -> FeishuConfig:
    data = {
        "type": "feishu",
        "token": FEISHU_TOKEN,
        "secret": FEISHU_SECRET,
        "base_url": receiver.url,
        **extra,
    }
    config = CHANNEL_CONFIG.validate_python(data)
    assert isinstance(config, FeishuConfig)
    return config


@pytest.mark.parametrize("msgtype", ["text", "markdown"])
async def test_wecom_sends_text_and_markdown(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock, msgtype: str
) -> None:
    channel = WeComChannel("kitchen", wecom(receiver, msgtype=msgtype), http_client, clock)
    delivery = await channel.send(make_notice())
    assert delivery.ok, delivery.reason
    (request,) = receiver.received("/cgi-bin/webhook/send")
    assert request.problems == []
    content = request.data[msgtype]["content"]
    assert "1号冷藏柜（食堂后厨）" in content and "2026-11-23 09:05" in content


async def test_wecom_long_digest_fits_its_limit(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    wordy = Message("柜门密封条老化，" * 40, "seal worn " * 40)
    alerts = [fridge_facts(alert_id=i, message=wordy) for i in range(10)]
    notice = make_notice(*alerts, kind=NoticeKind.DIGEST)
    for msgtype, limit in (("text", 2048), ("markdown", 4096)):
        channel = WeComChannel("kitchen", wecom(receiver, msgtype=msgtype), http_client, clock)
        assert (await channel.send(notice)).ok
        content = receiver.received("/cgi-bin/webhook/send")[-1].data[msgtype]["content"]
        assert len(content.encode()) <= limit
        assert content.endswith("…（更多内容请在监控平台查看）")


async def test_wecom_invalid_key_is_permanent(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    config = wecom(receiver, key="not-the-robot's-key")
    delivery = await WeComChannel("kitchen", config, http_client, clock).send(make_notice())
    assert not delivery.ok and delivery.permanent
    assert "93000" in delivery.reason and "invalid webhook key" in delivery.reason


async def test_wecom_rate_limit_and_server_errors_are_retried(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    channel = WeComChannel("kitchen", wecom(receiver), http_client, clock)
    receiver.fail_next(
        Scripted(body={"errcode": 45009, "errmsg": "api freq out of limit"}),
        Scripted(status=500, body={"error": "internal"}),
        Scripted(status=429, headers={"Retry-After": "7"}),
        Scripted(body={"errcode": 42424, "errmsg": "something new"}),
    )
    limited = await channel.send(make_notice())
    assert (limited.ok, limited.permanent, limited.retry_after_s) == (False, False, 60.0)
    assert "45009" in limited.reason
    server = await channel.send(make_notice())
    assert (server.ok, server.permanent, server.status) == (False, False, 500)
    throttled = await channel.send(make_notice())
    assert (throttled.status, throttled.retry_after_s, throttled.permanent) == (429, 7.0, False)
    unknown = await channel.send(make_notice())
    assert not unknown.ok and not unknown.permanent and "42424" in unknown.reason
    assert (await channel.send(make_notice())).ok  # the script is used up: back to normal


@pytest.mark.parametrize("msgtype", ["text", "markdown"])
async def test_dingtalk_signs_and_sends(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock, msgtype: str
) -> None:
    channel = DingTalkChannel("office", dingtalk(receiver, msgtype=msgtype), http_client, clock)
    delivery = await channel.send(make_notice(lang="en"))
    assert delivery.ok, delivery.reason
    (request,) = receiver.received("/robot/send")
    assert request.problems == []
    assert request.query["timestamp"] == str(int(clock.now().timestamp() * 1000))
    body = request.data[msgtype]
    text = body["content"] if msgtype == "text" else body["text"]
    assert "2026-11-23 09:05 (UTC+08:00), 35 min ago" in text
    if msgtype == "markdown":
        assert body["title"] == "CRITICAL · Alert: 1号冷藏柜"


async def test_dingtalk_wrong_secret_is_refused_permanently(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    config = dingtalk(receiver, secret="SECnot-the-right-one")
    delivery = await DingTalkChannel("office", config, http_client, clock).send(make_notice())
    assert not delivery.ok and delivery.permanent and "310000" in delivery.reason
    assert receiver.received("/robot/send")[0].problems == ["sign not match"]


async def test_dingtalk_too_fast_waits_ten_minutes(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    receiver.fail_next(Scripted(body={"errcode": 130101, "errmsg": "send too fast"}))
    channel = DingTalkChannel("office", dingtalk(receiver), http_client, clock)
    delivery = await channel.send(make_notice())
    assert (delivery.ok, delivery.permanent, delivery.retry_after_s) == (False, False, 600.0)


async def test_dingtalk_signature_follows_the_clock(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    channel = DingTalkChannel("office", dingtalk(receiver), http_client, clock)
    assert (await channel.send(make_notice())).ok
    clock.instant += timedelta(hours=3)  # receiver and sender agree on the new time
    assert (await channel.send(make_notice())).ok
    first, second = receiver.received("/robot/send")
    assert first.query["sign"] != second.query["sign"]
    for request in (first, second):  # base64 is URL-encoded: no raw '+', '/' or '='
        raw_sign = request.raw_query.split("sign=")[1].split("&")[0]
        assert not set(raw_sign) & set("+/=")


@pytest.mark.parametrize("msg_type", ["text", "interactive"])
async def test_feishu_signs_and_sends(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock, msg_type: str
) -> None:
    channel = FeishuChannel("duty", feishu(receiver, msg_type=msg_type), http_client, clock)
    delivery = await channel.send(make_notice())
    assert delivery.ok, delivery.reason
    (request,) = receiver.received("/open-apis/bot/v2/hook/")
    assert request.problems == []
    assert request.data["timestamp"] == str(int(clock.now().timestamp()))
    if msg_type == "interactive":
        card = request.data["card"]
        assert card["header"]["template"] == "red"
        assert card["header"]["title"]["content"] == "【严重】告警：1号冷藏柜"
        assert "**读数**：当前 9.4 °C，限值 8.0 °C" in card["elements"][0]["text"]["content"]
    else:
        assert "设备：1号冷藏柜（食堂后厨）" in request.data["content"]["text"]


async def test_feishu_resolved_card_is_green(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    channel = FeishuChannel("duty", feishu(receiver), http_client, clock)
    resolved = make_notice(
        fridge_facts(resolved_at=clock.now()), kind=NoticeKind.RESOLVED, lang="en"
    )
    assert (await channel.send(resolved)).ok
    card = receiver.received("/open-apis/bot/v2/hook/")[0].data["card"]
    assert card["header"]["template"] == "green"


async def test_feishu_huge_digest_stays_under_20_kb(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    wordy = Message("柜门密封条老化，" * 200, "seal worn " * 200)
    notice = make_notice(
        *[fridge_facts(alert_id=i, message=wordy) for i in range(10)], kind=NoticeKind.DIGEST
    )
    channel = FeishuChannel("duty", feishu(receiver), http_client, clock)
    assert (await channel.send(notice)).ok
    (request,) = receiver.received("/open-apis/bot/v2/hook/")
    assert len(request.body) <= 20 * 1024 and request.problems == []


async def test_feishu_codes(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    bad_sign = await FeishuChannel(
        "duty", feishu(receiver, secret="another-secret"), http_client, clock
    ).send(make_notice())
    assert not bad_sign.ok and bad_sign.permanent and "19021" in bad_sign.reason
    channel = FeishuChannel("duty", feishu(receiver), http_client, clock)
    receiver.fail_next(
        Scripted(body={"code": 11232, "msg": "frequency limited"}),
        Scripted(body={"code": 9499, "msg": "Bad Request"}),
    )
    limited = await channel.send(make_notice())
    assert (limited.ok, limited.permanent, limited.retry_after_s) == (False, False, 60.0)
    bad = await channel.send(make_notice())
    assert (bad.ok, bad.permanent) == (False, True) and "9499" in bad.reason


async def test_unreachable_robot_is_a_transient_failure(
    http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    config = CHANNEL_CONFIG.validate_python(
        {"type": "wecom", "key": WECOM_KEY, "base_url": f"http://127.0.0.1:{free_port()}"}
    )
    assert isinstance(config, WeComConfig)
    delivery = await WeComChannel("kitchen", config, http_client, clock).send(make_notice())
    assert not delivery.ok and not delivery.permanent
    assert "connection failed" in delivery.reason


async def test_answer_that_is_not_json_is_retried(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    receiver.fail_next(Scripted(status=200, body=None))
    delivery = await WeComChannel("kitchen", wecom(receiver), http_client, clock).send(
        make_notice()
    )
    assert not delivery.ok and not delivery.permanent and "unreadable" in delivery.reason
    assert json.loads(receiver.received("/cgi-bin/webhook/send")[0].body)["msgtype"] == "markdown"
