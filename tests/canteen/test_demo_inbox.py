"""The demo's notification inbox: the webhook channel of the demo config delivers into it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from alerts.notify.channels.webhook import WebhookChannel
from alerts.notify.model import AlertFacts, Notice, NoticeKind
from canteen.demo import inbox_clash
from canteen.demo_inbox import demo_inbox, inbox_ports
from core.clock import SystemClock
from core.config import SiteConfig, load_config
from core.notify_channels import WebhookConfig
from core.records import Message, RuleId, Severity
from tests.alerts.notify.receivers import free_port

DEMO = "examples/demo-school.yaml"


def test_the_demo_config_points_a_webhook_at_the_loopback_inbox() -> None:
    assert inbox_ports(load_config(DEMO)) == [8765]


async def test_a_notice_sent_by_the_webhook_channel_is_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/notify"
    config = load_config(DEMO)
    channels = {"demo-hook": WebhookConfig.model_validate({"type": "webhook", "url": url})}
    config = config.model_copy(
        update={"notify": config.notify.model_copy(update={"channels": channels})}
    )
    assert isinstance(config, SiteConfig)
    facts = AlertFacts(
        alert_id=7, site="sunshine", site_name="阳光小学", device="fridge-1",
        device_name="1号冷藏柜", location="食堂 后厨", rule=RuleId.OVER_TEMPERATURE,
        severity=Severity.CRITICAL, food_safety=True, since=datetime(2026, 11, 29, 2, tzinfo=UTC),
        message=Message(zh="温度过高", en="too warm"), value=9.4, limit=8.0, unit="°C",
    )  # fmt: skip
    notice = Notice(
        key="7/1/fired/L0/cook-wang/demo-hook", kind=NoticeKind.FIRED, channel="demo-hook",
        recipients=("cook-wang",), alerts=(facts,), created_at=datetime.now(UTC),
    )  # fmt: skip
    async with demo_inbox(config) as ports:
        assert ports == [port]
        async with httpx.AsyncClient() as client:
            channel = WebhookChannel("demo-hook", channels["demo-hook"], client, SystemClock())
            delivery = await channel.send(notice)
    assert delivery.ok, delivery.reason
    shown = capsys.readouterr().out
    assert "[notification]" in shown and "1号冷藏柜" in shown and "cook-wang" in shown


@pytest.mark.parametrize("listen", ["127.0.0.1:8765", "0.0.0.0:8765", "localhost:8765"])
def test_the_web_ui_may_not_listen_where_the_inbox_does(listen: str) -> None:
    told = inbox_clash(load_config(DEMO), listen)
    assert told is not None and listen in told and "--listen" in told


@pytest.mark.parametrize("listen", ["127.0.0.1:8000", "192.0.2.10:8765", "127.0.0.1:0"])
def test_other_addresses_are_free_for_the_web_ui(listen: str) -> None:
    assert inbox_clash(load_config(DEMO), listen) is None
