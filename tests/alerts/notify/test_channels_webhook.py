"""The generic JSON webhook: the notice's facts as JSON, the idempotency key in a header and
the body, an HMAC of the exact body, and HTTP statuses translated into deliveries."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from email.utils import format_datetime

import httpx

from alerts.notify.channels import CHANNEL_CONFIG, WebhookChannel
from alerts.notify.channels.config import WebhookConfig
from alerts.notify.model import NoticeKind, Settled
from core.clock import StepClock
from tests.alerts.notify.conftest import ACK, fridge_facts, make_notice
from tests.alerts.notify.receivers import WEBHOOK_SECRET, RobotReceiver, Scripted


def config(receiver: RobotReceiver, secret: str = WEBHOOK_SECRET) -> WebhookConfig:
    parsed = CHANNEL_CONFIG.validate_python(
        {"type": "webhook", "url": f"{receiver.url}/hook", "secret": secret}
    )
    assert isinstance(parsed, WebhookConfig)
    return parsed


async def test_posts_facts_key_and_signature(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    channel = WebhookChannel("bureau", config(receiver), http_client, clock)
    delivery = await channel.send(make_notice())
    assert (delivery.ok, delivery.status) == (True, 200)
    (request,) = receiver.received("/hook")
    assert request.problems == []
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-canteen-signature"] == f"sha256={expected}"
    assert request.headers["idempotency-key"] == "notice-42-fired-0-cook-wecom"
    data = request.data
    assert data["key"] == "notice-42-fired-0-cook-wecom" and data["kind"] == "fired"
    (alert,) = data["alerts"]
    assert alert["device_name"] == "1号冷藏柜" and alert["location"] == "食堂后厨"
    assert alert["since"] == "2026-11-23T01:05:00+00:00"
    assert alert["since_local"] == "2026-11-23 09:05 (UTC+08:00)"
    assert (alert["value"], alert["limit"], alert["unit"]) == (9.4, 8.0, "°C")
    assert alert["severity"] == "critical" and alert["ack_link"] == f"{ACK}42"
    assert (
        data["title"] == "【严重】告警：1号冷藏柜" and "设备：1号冷藏柜（食堂后厨）" in data["text"]
    )


async def test_an_alert_acted_on_while_the_notice_waited_says_who_and_has_no_link(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    step = Settled("acknowledged", clock.now(), "wang")
    channel = WebhookChannel("bureau", config(receiver), http_client, clock)
    assert (await channel.send(make_notice(fridge_facts(settled=step)))).ok
    (alert,) = receiver.received("/hook")[0].data["alerts"]
    assert alert["ack_link"] is None
    at = clock.now().isoformat()
    assert alert["settled"] == {"step": "acknowledged", "by": "wang", "at": at}


async def test_retry_carries_the_same_key(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    receiver.fail_next(Scripted(status=502, body={"error": "bad gateway"}))
    channel = WebhookChannel("bureau", config(receiver), http_client, clock)
    notice = make_notice()
    failed = await channel.send(notice)
    assert (failed.ok, failed.permanent, failed.status) == (False, False, 502)
    clock.instant += timedelta(minutes=1)
    assert (await channel.send(notice)).ok
    keys = {r.headers["idempotency-key"] for r in receiver.received("/hook")}
    assert keys == {notice.key}  # the receiver can drop the second as a duplicate


async def test_wrong_secret_is_refused_permanently(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    channel = WebhookChannel(
        "bureau", config(receiver, "not-the-shared-secret"), http_client, clock
    )
    delivery = await channel.send(make_notice())
    assert (delivery.ok, delivery.permanent, delivery.status) == (False, True, 401)
    assert "HTTP 401" in delivery.reason


async def test_unavailable_with_retry_after_date(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    when = format_datetime(clock.now() + timedelta(seconds=90), usegmt=True)
    receiver.fail_next(Scripted(status=503, headers={"Retry-After": when}))
    channel = WebhookChannel("bureau", config(receiver), http_client, clock)
    delivery = await channel.send(make_notice())
    assert (delivery.ok, delivery.permanent, delivery.retry_after_s) == (False, False, 90.0)


async def test_digest_carries_every_alert(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    alerts = [fridge_facts(alert_id=i, device_name=f"{i}号冷藏柜") for i in range(3)]
    notice = make_notice(*alerts, kind=NoticeKind.DIGEST, lang="en")
    assert (await WebhookChannel("bureau", config(receiver), http_client, clock).send(notice)).ok
    data = receiver.received("/hook")[0].data
    assert [a["alert_id"] for a in data["alerts"]] == [0, 1, 2]
    assert data["title"] == "Alert digest: 3 alerts (3 critical)"


async def test_receiver_that_hangs_times_out_and_is_retried(
    receiver: RobotReceiver, http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    slow = config(receiver).model_copy(update={"timeout_s": 0.2})
    receiver.fail_next(Scripted(delay_s=1.0))
    delivery = await WebhookChannel("bureau", slow, http_client, clock).send(make_notice())
    assert (delivery.ok, delivery.permanent) == (False, False)
    assert "timed out" in delivery.reason
