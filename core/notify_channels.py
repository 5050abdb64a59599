"""Notification channel settings, one pydantic model per `type`, joined in `ChannelConfig` (a
union discriminated on `type`); `notify.channels` in the site config is a named map of these
(`core.notify_config`). They live in core because the site config validates them; the senders in
`alerts.notify.channels` re-export them. Secrets are `SecretStr`, so they never show in a log or
an error. Unknown fields are refused by name, a wrong `type` lists the allowed ones.

Robot base URLs default to the vendors' public hosts and can point anywhere (a proxy, a
private deployment, the tests' receiver on 127.0.0.1).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from core.rate_limits import parse_limits

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


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(10.0, gt=0, le=120, description="request timeout, seconds")
    # '20/min', '5/s, 100/min' or 'none'; unset: the vendor's limit (alerts.notify.ratelimit).
    rate_limit: str | None = None

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limits(value)  # raises ValueError saying what is allowed
        return value


class WebhookConfig(_Base):
    """POST the notice as JSON to any URL."""

    type: Literal["webhook"]
    url: AnyHttpUrl
    # With a secret, `signature_header` carries "sha256=<hex HMAC-SHA256 of the body>".
    secret: SecretStr | None = None
    signature_header: str = "X-Canteen-Signature"
    headers: dict[str, str] = Field(default_factory=dict)


class WeComConfig(_Base):
    """企业微信群机器人: the `key` of the robot's webhook URL."""

    type: Literal["wecom"]
    key: SecretStr
    base_url: AnyHttpUrl = AnyHttpUrl("https://qyapi.weixin.qq.com")
    msgtype: Literal["text", "markdown"] = "markdown"


class DingTalkConfig(_Base):
    """钉钉自定义机器人: `access_token` of its webhook; `secret` (SEC...) when 加签 is on."""

    type: Literal["dingtalk"]
    access_token: SecretStr
    secret: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://oapi.dingtalk.com")
    msgtype: Literal["text", "markdown"] = "markdown"


class FeishuConfig(_Base):
    """飞书/Lark custom bot: the hook `token` (last part of its URL); `secret` for 签名校验.
    Lark (international) is `base_url: https://open.larksuite.com`."""

    type: Literal["feishu"]
    token: SecretStr
    secret: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://open.feishu.cn")
    msg_type: Literal["text", "interactive"] = "interactive"


class SmtpConfig(_Base):
    """A mail server: STARTTLS (587), implicit TLS (465) or plain (25; tests, a local relay)."""

    type: Literal["smtp"]
    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "plain"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3, description="From address, e.g. alerts@school.edu.cn")
    sender_name: str = "食堂监测 canteen-monitor"
    # A CA bundle to trust instead of the system's (a school's own mail server certificate).
    ca_file: str | None = None

    @field_validator("sender")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value.strip("@") or any(ch.isspace() for ch in value):
            raise ValueError(
                f"sender must be an e-mail address like alerts@school.edu.cn, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "plain": 25}[self.security]


class MqttConfig(_Base):
    """Retained alert messages on `{topic_prefix}/{site}/alerts/{alert_id}` for wall displays."""

    type: Literal["mqtt"]
    topic_prefix: str = Field("canteen/v1", min_length=1)
    qos: Literal[0, 1, 2] = 1

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if any(ch in value for ch in "+#\x00") or value.endswith("/"):
            raise ValueError("topic_prefix must not contain + # or NUL nor end with '/'")
        return value


ChannelConfig = Annotated[
    WebhookConfig | WeComConfig | DingTalkConfig | FeishuConfig | SmtpConfig | MqttConfig,
    Field(discriminator="type"),
]
CHANNEL_CONFIG: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)


def is_personal(config: ChannelConfig) -> bool:
    """Whether a channel reaches each person at an address of their own (e-mail) rather than a
    group (a robot's chat, a webhook, the wall display's topic): a personal channel gets one
    notice per person, a group channel one per message for everyone it reaches."""
    return isinstance(config, SmtpConfig)
