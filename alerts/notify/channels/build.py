"""Make the sender a validated channel config describes."""

from __future__ import annotations

import httpx

from alerts.notify.channels.config import (
    ChannelConfig,
    DingTalkConfig,
    FeishuConfig,
    MqttConfig,
    SmtpConfig,
    WebhookConfig,
    WeComConfig,
)
from alerts.notify.channels.dingtalk import DingTalkChannel
from alerts.notify.channels.feishu import FeishuChannel
from alerts.notify.channels.mqtt import MqttAlertChannel, MqttPublish
from alerts.notify.channels.smtp import SmtpChannel
from alerts.notify.channels.webhook import WebhookChannel
from alerts.notify.channels.wecom import WeComChannel
from alerts.notify.model import Channel
from core.clock import Clock

__all__ = ["build_channel"]


def build_channel(
    name: str,
    config: ChannelConfig,
    *,
    client: httpx.AsyncClient,
    clock: Clock,
    publish: MqttPublish | None = None,
) -> Channel:
    """The channel `config` describes. HTTP channels share `client` (its owner closes it);
    the MQTT channel needs `publish`, bound to the service's broker connection."""
    match config:
        case WebhookConfig():
            return WebhookChannel(name, config, client, clock)
        case WeComConfig():
            return WeComChannel(name, config, client, clock)
        case DingTalkConfig():
            return DingTalkChannel(name, config, client, clock)
        case FeishuConfig():
            return FeishuChannel(name, config, client, clock)
        case SmtpConfig():
            return SmtpChannel(name, config, clock)
        case MqttConfig():
            if publish is None:
                raise ValueError(f"channel {name!r} (mqtt) needs the broker connection's publish")
            return MqttAlertChannel(name, config, publish)
