"""企业微信群机器人 (WeCom group robot): `POST {base}/cgi-bin/webhook/send?key=KEY` with a text or
markdown message (developer.work.weixin.qq.com/document/path/91770, "群机器人配置说明").

Vendor facts used here, from that page: text content at most 2048 bytes, markdown at most
4096 bytes (UTF-8); each robot at most 20 messages a minute; the answer is
`{"errcode": 0, "errmsg": "ok"}`. Error codes (open.work.weixin.qq.com/devtool/query):
45009 api freq out of limit, 93000 invalid webhook url, 40058 content too long.
"""

from __future__ import annotations

from typing import Any

import httpx

from alerts.notify.channels.config import WeComConfig
from alerts.notify.channels.http import post_json
from alerts.notify.channels.vendor import VendorCode, json_body, vendor_delivery
from alerts.notify.model import Delivery, Notice
from alerts.notify.render import Dialect, render_markdown, render_text
from core.clock import Clock

__all__ = ["WECOM_CODES", "WECOM_MARKDOWN_BYTES", "WECOM_TEXT_BYTES", "WeComChannel"]

WECOM_TEXT_BYTES = 2048
WECOM_MARKDOWN_BYTES = 4096
WECOM_CODES = {
    # 20 a minute per robot: after a minute the window has passed.
    45009: VendorCode("rate limited", permanent=False, retry_after_s=60.0),
    93000: VendorCode("invalid webhook key", permanent=True),
    40058: VendorCode("content too long", permanent=True),
    -1: VendorCode("system busy", permanent=False),
}


class WeComChannel:
    """One WeCom group robot."""

    def __init__(self, name: str, config: WeComConfig, client: httpx.AsyncClient, clock: Clock):
        self._name = name
        self._config = config
        self._client = client
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    def payload(self, notice: Notice) -> dict[str, Any]:
        if self._config.msgtype == "text":
            content = render_text(notice, WECOM_TEXT_BYTES)
        else:
            content = render_markdown(notice, Dialect.WECOM, WECOM_MARKDOWN_BYTES)
        return {"msgtype": self._config.msgtype, self._config.msgtype: {"content": content}}

    async def send(self, notice: Notice) -> Delivery:
        url = f"{str(self._config.base_url).rstrip('/')}/cgi-bin/webhook/send"
        reply = await post_json(
            self._client,
            url,
            json_body(self.payload(notice)),
            self._clock.now(),
            params={"key": self._config.key.get_secret_value()},
            timeout_s=self._config.timeout_s,
        )
        if isinstance(reply, Delivery):
            return reply
        return vendor_delivery("WeCom", reply, "errcode", WECOM_CODES)
