"""Notifications: telling people about alerts where they are.

`model` holds what the parts hand each other (`Notice`, `AlertFacts`, `Delivery`, the `Channel`
protocol); `render` writes a notice as plain text, a robot's markdown or HTML e-mail, in Chinese
or English and within each vendor's length limit; `links` signs and checks the expiring
acknowledge links; `channels` holds one sender per way of reaching people (webhook, WeCom,
DingTalk, Feishu/Lark, SMTP, the MQTT alert topic) and their config models; `outbox` and
`dispatcher` persist and send notices, `health` reports what the outbox holds.
"""

from alerts.notify.links import (
    LinkError,
    LinkExpiredError,
    LinkMalformedError,
    LinkTamperedError,
    sign,
    verify,
)
from alerts.notify.model import AlertFacts, Channel, Delivery, Notice, NoticeKind
from alerts.notify.render import (
    Dialect,
    render_html,
    render_markdown,
    render_text,
    subject,
    truncate,
)

__all__ = [
    "AlertFacts",
    "Channel",
    "Delivery",
    "Dialect",
    "LinkError",
    "LinkExpiredError",
    "LinkMalformedError",
    "LinkTamperedError",
    "Notice",
    "NoticeKind",
    "render_html",
    "render_markdown",
    "render_text",
    "sign",
    "subject",
    "truncate",
    "verify",
]
