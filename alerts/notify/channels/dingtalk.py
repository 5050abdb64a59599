"""钉钉自定义机器人 (DingTalk custom robot): `POST {base}/robot/send?access_token=T`, with
`&timestamp=<ms>&sign=<S>` when 加签 is on (open.dingtalk.com/document/group/custom-robot-access,
"安全设置 / 加签"): S = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))
and the timestamp within an hour of DingTalk's clock. The query encoding is httpx's.

Vendor facts (same page, "调用频率限制"): at most 20 messages a
minute per robot, beyond that it is throttled for 10 minutes (errcode 130101 "send too fast");
errcode 310000 is a refused security check (sign not match, keywords not in content, IP not
in whitelist), which only a configuration change fixes. DingTalk documents no length limit for
text or markdown that we could find: 4096 bytes (WeCom's markdown limit) keeps a message
readable on a phone and far below any transport limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from alerts.notify.channels.config import DingTalkConfig
from alerts.notify.channels.http import post_json
from alerts.notify.channels.vendor import VendorCode, json_body, vendor_delivery
from alerts.notify.model import Delivery, Notice
from alerts.notify.render import Dialect, headline, render_markdown, render_text
from core.clock import Clock, to_epoch_ms

__all__ = ["DINGTALK_BYTES", "DINGTALK_CODES", "DingTalkChannel", "dingtalk_sign"]

DINGTALK_BYTES = 4096
DINGTALK_CODES = {
    130101: VendorCode("sending too fast", permanent=False, retry_after_s=600.0),
    310000: VendorCode("security check refused (sign, keyword or IP)", permanent=True),
    -1: VendorCode("system busy", permanent=False),
}


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), before URL encoding."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel:
    """One DingTalk group robot."""

    def __init__(self, name: str, config: DingTalkConfig, client: httpx.AsyncClient, clock: Clock):
        self._name = name
        self._config = config
        self._client = client
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    def payload(self, notice: Notice) -> dict[str, Any]:
        if self._config.msgtype == "text":
            return {"msgtype": "text", "text": {"content": render_text(notice, DINGTALK_BYTES)}}
        text = render_markdown(notice, Dialect.DINGTALK, DINGTALK_BYTES)
        # The title is what the conversation list and the phone's notification show.
        return {"msgtype": "markdown", "markdown": {"title": headline(notice), "text": text}}

    def params(self) -> dict[str, str]:
        params = {"access_token": self._config.access_token.get_secret_value()}
        if self._config.secret is not None:
            timestamp = to_epoch_ms(self._clock.now())
            params["timestamp"] = str(timestamp)
            params["sign"] = dingtalk_sign(timestamp, self._config.secret.get_secret_value())
        return params

    async def send(self, notice: Notice) -> Delivery:
        reply = await post_json(
            self._client,
            f"{str(self._config.base_url).rstrip('/')}/robot/send",
            json_body(self.payload(notice)),
            self._clock.now(),
            params=self.params(),
            timeout_s=self._config.timeout_s,
        )
        if isinstance(reply, Delivery):
            return reply
        return vendor_delivery("DingTalk", reply, "errcode", DINGTALK_CODES)
