"""A generic JSON webhook: POST the notice (its facts, rendered title and text) to any URL.

The idempotency key travels twice, as the `Idempotency-Key` header (the IETF httpapi draft's
name) and as `key` in the body, so a receiver drops a retry it already has. With a secret, the
signature header carries `sha256=<hex HMAC-SHA256 of the exact body bytes>`, GitHub's webhook
convention, so a receiver checks the body before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import httpx

from alerts.notify.channels.config import WebhookConfig
from alerts.notify.channels.http import post_json, status_delivery
from alerts.notify.channels.vendor import json_body
from alerts.notify.model import AlertFacts, Delivery, Notice
from alerts.notify.render import headline, local_time, render_text
from core.clock import Clock

__all__ = ["WebhookChannel", "notice_json", "webhook_signature"]


def webhook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _alert_json(facts: AlertFacts, notice: Notice) -> dict[str, Any]:
    return {
        "alert_id": facts.alert_id,
        "site": facts.site,
        "site_name": facts.site_name,
        "device": facts.device,
        "device_name": facts.device_name,
        "location": facts.location,
        "rule": facts.rule.value,
        "severity": facts.severity.value,
        "food_safety": facts.food_safety,
        "since": _iso(facts.since),
        "since_local": local_time(facts.since, facts.zone),
        "zone": facts.zone,
        "message": {"zh": facts.message.zh, "en": facts.message.en},
        "value": facts.value,
        "limit": facts.limit,
        "unit": facts.unit,
        "resolved_at": _iso(facts.resolved_at),
        "ack_link": None if facts.settled else notice.ack_links.get(facts.alert_id),
        # Acted on while the notice waited (acknowledged, resolved, closed): nothing to do.
        "settled": _settled_json(facts),
    }


def _settled_json(facts: AlertFacts) -> dict[str, Any] | None:
    step = facts.settled
    if step is None:
        return None
    return {"step": step.step, "by": step.by, "at": _iso(step.at)}


def notice_json(notice: Notice) -> dict[str, Any]:
    """The notice as JSON: facts for machines, `title` and `text` for people."""
    return {
        "key": notice.key,
        "kind": notice.kind.value,
        "channel": notice.channel,
        "recipients": list(notice.recipients),
        "lang": notice.lang,
        "level": notice.level,
        "created_at": _iso(notice.created_at),
        "title": headline(notice),
        "text": render_text(notice),
        "told_before": list(notice.told_before),
        "unacknowledged_since": _iso(notice.unacknowledged_since),
        "alerts": [_alert_json(facts, notice) for facts in notice.alerts],
    }


class WebhookChannel:
    """POST each notice to one URL."""

    def __init__(self, name: str, config: WebhookConfig, client: httpx.AsyncClient, clock: Clock):
        self._name = name
        self._config = config
        self._client = client
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    def headers(self, notice: Notice, body: bytes) -> dict[str, str]:
        headers = {**self._config.headers, "Idempotency-Key": notice.key}
        if self._config.secret is not None:
            secret = self._config.secret.get_secret_value()
            headers[self._config.signature_header] = webhook_signature(body, secret)
        return headers

    async def send(self, notice: Notice) -> Delivery:
        body = json_body(notice_json(notice))
        reply = await post_json(
            self._client,
            str(self._config.url),
            body,
            self._clock.now(),
            headers=self.headers(notice, body),
            timeout_s=self._config.timeout_s,
        )
        if isinstance(reply, Delivery):
            return reply
        return status_delivery(reply) or Delivery(ok=True, status=reply.status)
