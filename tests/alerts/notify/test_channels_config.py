"""Channel settings: one model per `type`, errors that say what is allowed, secrets that never
show, and `build_channel` making the sender each describes."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError

from alerts.notify.channels import (
    CHANNEL_CONFIG,
    DingTalkChannel,
    FeishuChannel,
    SmtpChannel,
    WebhookChannel,
    WeComChannel,
    build_channel,
)
from alerts.notify.channels.config import DingTalkConfig, FeishuConfig, SmtpConfig, WeComConfig
from core.clock import StepClock
from tests.test_exports import namespace_names, own_public_names


def errors(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        CHANNEL_CONFIG.validate_python(data)
    return str(caught.value)


def test_unknown_type_lists_the_allowed_ones() -> None:
    text = errors({"type": "sms", "url": "http://x"})
    assert "'sms'" in text
    for allowed in ("webhook", "wecom", "dingtalk", "feishu", "smtp", "mqtt"):
        assert f"'{allowed}'" in text


def test_missing_type_is_named() -> None:
    assert "type" in errors({"key": "abc"})


def test_unknown_field_is_named() -> None:
    text = errors({"type": "wecom", "key": "k", "webhook_key": "k"})
    assert "webhook_key" in text and "Extra inputs are not permitted" in text


def test_wrong_choice_says_what_is_allowed() -> None:
    text = errors({"type": "wecom", "key": "k", "msgtype": "card"})
    assert "msgtype" in text and "'text'" in text and "'markdown'" in text
    text = errors({"type": "smtp", "host": "mail", "sender": "a@b.cn", "security": "tls"})
    assert "'starttls'" in text and "'ssl'" in text and "'plain'" in text


def test_smtp_rules() -> None:
    assert "e-mail address" in errors({"type": "smtp", "host": "mail", "sender": "alerts"})
    text = errors({"type": "smtp", "host": "mail", "sender": "a@b.cn", "username": "u"})
    assert "username and password go together" in text
    ports = {
        security: CHANNEL_CONFIG.validate_python(
            {"type": "smtp", "host": "mail", "sender": "a@b.cn", "security": security}
        )
        for security in ("starttls", "ssl", "plain")
    }
    assert {k: v.effective_port for k, v in ports.items() if isinstance(v, SmtpConfig)} == {
        "starttls": 587,
        "ssl": 465,
        "plain": 25,
    }


def test_mqtt_prefix_must_be_a_topic() -> None:
    assert "topic_prefix" in errors({"type": "mqtt", "topic_prefix": "canteen/#"})
    assert "qos" in errors({"type": "mqtt", "qos": 3})


def test_secrets_never_show() -> None:
    config = CHANNEL_CONFIG.validate_python(
        {"type": "dingtalk", "access_token": "tok-123456", "secret": "SECabcdef"}
    )
    shown = f"{config!r} {config}"
    assert "tok-123456" not in shown and "SECabcdef" not in shown
    text = errors({"type": "feishu", "token": "hook-999", "secret": "sec-777", "bogus": 1})
    assert "hook-999" not in text and "sec-777" not in text


def test_defaults_are_the_vendors_hosts() -> None:
    wecom = CHANNEL_CONFIG.validate_python({"type": "wecom", "key": "k"})
    ding = CHANNEL_CONFIG.validate_python({"type": "dingtalk", "access_token": "t"})
    feishu = CHANNEL_CONFIG.validate_python({"type": "feishu", "token": "t"})
    assert isinstance(wecom, WeComConfig) and isinstance(ding, DingTalkConfig)
    assert isinstance(feishu, FeishuConfig)
    assert str(wecom.base_url) == "https://qyapi.weixin.qq.com/"
    assert str(ding.base_url) == "https://oapi.dingtalk.com/"
    assert str(feishu.base_url) == "https://open.feishu.cn/"


async def test_build_channel_makes_each_sender(
    http_client: httpx.AsyncClient, clock: StepClock
) -> None:
    cases: list[tuple[dict[str, Any], type]] = [
        ({"type": "webhook", "url": "http://127.0.0.1:9/hook"}, WebhookChannel),
        ({"type": "wecom", "key": "k"}, WeComChannel),
        ({"type": "dingtalk", "access_token": "t"}, DingTalkChannel),
        ({"type": "feishu", "token": "t"}, FeishuChannel),
        ({"type": "smtp", "host": "mail", "sender": "a@b.cn"}, SmtpChannel),
    ]
    for data, kind in cases:
        channel = build_channel(
            "c", CHANNEL_CONFIG.validate_python(data), client=http_client, clock=clock
        )
        assert isinstance(channel, kind) and channel.name == "c"
    with pytest.raises(ValueError, match="needs the broker connection's publish"):
        build_channel(
            "wall",
            CHANNEL_CONFIG.validate_python({"type": "mqtt"}),
            client=http_client,
            clock=clock,
        )


def test_readme_channel_example_validates() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Notification channels**") :]
    block = section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n") + 4)]
    channels = yaml.safe_load(block)
    assert set(channels) == {"kitchen-robot", "office-robot", "duty-bot", "mail", "wall"}
    kinds = {name: CHANNEL_CONFIG.validate_python(data).type for name, data in channels.items()}
    assert kinds == {
        "kitchen-robot": "wecom",
        "office-robot": "dingtalk",
        "duty-bot": "feishu",
        "mail": "smtp",
        "wall": "mqtt",
    }


@pytest.mark.parametrize("name", ["alerts.notify", "alerts.notify.channels"])
def test_packages_export_what_they_offer(name: str) -> None:
    # The project's export rule (tests/test_exports.py), applied to the notification packages.
    package = importlib.import_module(name)
    assert package.__doc__ and len(package.__doc__.split()) >= 8
    assert all(hasattr(package, export) for export in package.__all__)
    offered = namespace_names(package) | own_public_names(package)
    assert sorted(offered - set(package.__all__)) == []
