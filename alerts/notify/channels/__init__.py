"""The senders, one module per way of reaching people: a generic JSON webhook, the WeCom,
DingTalk and Feishu/Lark group robots, SMTP e-mail and the MQTT alert topic. Each renders a
`Notice` in its receiver's format and limits and reports a `Delivery`; none raises for a
receiver's refusal. `build_channel` makes one from its validated config (`config.py`).
"""

from alerts.notify.channels.build import build_channel
from alerts.notify.channels.config import (
    CHANNEL_CONFIG,
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

__all__ = [
    "CHANNEL_CONFIG",
    "ChannelConfig",
    "DingTalkChannel",
    "DingTalkConfig",
    "FeishuChannel",
    "FeishuConfig",
    "MqttAlertChannel",
    "MqttConfig",
    "MqttPublish",
    "SmtpChannel",
    "SmtpConfig",
    "WeComChannel",
    "WeComConfig",
    "WebhookChannel",
    "WebhookConfig",
    "build_channel",
]
