"""飞书 / Lark custom bot: `POST {base}/open-apis/bot/v2/hook/TOKEN` with `msg_type` text or
interactive (a card) and, when 签名校验 is on, `timestamp` (seconds) and `sign` in the body:
sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), the timestamp within an
hour of Feishu's clock (open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN,
"自定义机器人使用指南").

Vendor facts from that guide: a request body at most 20 KB; 100 requests a minute and 5 a
second per bot, code 11232 when throttled; code 0 accepted; 9499 "Bad Request" (body not in
the documented shape or over 20 KB); 19021 sign failed or timestamp out of the hour; 19022 IP
not allowed; 19024 keyword not found. All but 11232 need a change of config or code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from alerts.notify.channels.config import FeishuConfig
from alerts.notify.channels.http import post_json
from alerts.notify.channels.vendor import VendorCode, json_body, vendor_delivery
from alerts.notify.model import Delivery, Notice, NoticeKind
from alerts.notify.render import Dialect, headline, render_markdown, render_text
from core.clock import Clock

__all__ = ["FEISHU_BODY_BYTES", "FEISHU_CODES", "FeishuChannel", "feishu_sign"]

FEISHU_BODY_BYTES = 20 * 1024
# Room for the JSON envelope, the card header and escapes around the rendered content.
_CONTENT_BYTES = FEISHU_BODY_BYTES - 2 * 1024
FEISHU_CODES = {
    # 100 a minute: after a minute the window has passed.
    11232: VendorCode("rate limited", permanent=False, retry_after_s=60.0),
    9499: VendorCode("bad request (shape or size)", permanent=True),
    19021: VendorCode("sign failed or timestamp out of range", permanent=True),
    19022: VendorCode("IP not allowed", permanent=True),
    19024: VendorCode("keyword not found", permanent=True),
}


def feishu_sign(timestamp_s: int, secret: str) -> str:
    """base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b"")): Feishu keys the HMAC with
    the string to sign and hashes nothing, unlike DingTalk."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _card(notice: Notice) -> dict[str, Any]:
    resolved = notice.kind is NoticeKind.RESOLVED
    template = "green" if resolved else "red" if notice.critical else "orange"
    content = render_markdown(notice, Dialect.FEISHU, _CONTENT_BYTES)
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": headline(notice)},
            "template": template,
        },
        "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
    }


class FeishuChannel:
    """One Feishu/Lark group bot."""

    def __init__(self, name: str, config: FeishuConfig, client: httpx.AsyncClient, clock: Clock):
        self._name = name
        self._config = config
        self._client = client
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    def payload(self, notice: Notice) -> dict[str, Any]:
        body: dict[str, Any] = {"msg_type": self._config.msg_type}
        if self._config.msg_type == "text":
            body["content"] = {"text": render_text(notice, _CONTENT_BYTES)}
        else:
            body["card"] = _card(notice)
        if self._config.secret is not None:
            timestamp = int(self._clock.now().timestamp())
            body["timestamp"] = str(timestamp)
            body["sign"] = feishu_sign(timestamp, self._config.secret.get_secret_value())
        return body

    async def send(self, notice: Notice) -> Delivery:
        token = self._config.token.get_secret_value()
        reply = await post_json(
            self._client,
            f"{str(self._config.base_url).rstrip('/')}/open-apis/bot/v2/hook/{token}",
            json_body(self.payload(notice)),
            self._clock.now(),
            timeout_s=self._config.timeout_s,
        )
        if isinstance(reply, Delivery):
            return reply
        return vendor_delivery("Feishu", reply, "code", FEISHU_CODES)
