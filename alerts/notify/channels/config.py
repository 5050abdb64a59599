"""Each channel's settings, one pydantic model per `type`, joined in `ChannelConfig` (a union
discriminated on `type`). The models live in `core.notify_channels`, because the site config
(`notify.channels`, `core.notify_config`) validates them and core imports nothing of alerts;
this module re-exports them so the senders and their tests keep one import path and there is
one definition.
"""

from __future__ import annotations

from core.notify_channels import (
    CHANNEL_CONFIG,
    ChannelConfig,
    DingTalkConfig,
    FeishuConfig,
    MqttConfig,
    SmtpConfig,
    WebhookConfig,
    WeComConfig,
    is_personal,
)

__all__ = [
    "CHANNEL_CONFIG",
    "ChannelConfig",
    "DingTalkConfig",
    "FeishuConfig",
    "MqttConfig",
    "SmtpConfig",
    "WeComConfig",
    "WebhookConfig",
    "is_personal",
]
