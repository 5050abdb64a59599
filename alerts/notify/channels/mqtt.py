"""The alert topic for a canteen's wall display: `{prefix}/{site}/alerts/{alert_id}` holds a
retained JSON message while the alert is open, and an empty retained message clears it when
the alert is resolved or closed (MQTT 3.1.1 section 3.3.1.3: a zero-byte retained payload
removes the retained message), so a display that connects later sees exactly the open alerts.

This package does not speak MQTT (DESIGN, package contracts): the composition root hands in
`publish`, bound to the gateway's connection. Whatever that raises is a failed delivery that
the outbox retries, never an error in its loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from alerts.notify.channels.config import MqttConfig
from alerts.notify.channels.webhook import notice_json
from alerts.notify.model import AlertFacts, Delivery, Notice, NoticeKind
from alerts.notify.render import headline, render_text

__all__ = ["MqttAlertChannel", "MqttPublish"]

log = logging.getLogger(__name__)


class MqttPublish(Protocol):
    """Publish one message on the service's broker connection; returns once sent (QoS 0) or
    acknowledged by the broker (QoS 1 and 2)."""

    def __call__(self, topic: str, payload: bytes, retain: bool, qos: int) -> Awaitable[None]: ...


class MqttAlertChannel:
    """Keeps one retained message per open alert."""

    def __init__(self, name: str, config: MqttConfig, publish: MqttPublish):
        self._name = name
        self._config = config
        self._publish = publish

    @property
    def name(self) -> str:
        return self._name

    def topic(self, facts: AlertFacts) -> str:
        return f"{self._config.topic_prefix}/{facts.site}/alerts/{facts.alert_id}"

    def payload(self, notice: Notice, facts: AlertFacts) -> bytes:
        """The alert's state for a display: the notice's JSON narrowed to this alert."""
        one = Notice(
            key=notice.key,
            kind=notice.kind if notice.kind is not NoticeKind.DIGEST else NoticeKind.FIRED,
            channel=notice.channel,
            recipients=notice.recipients,
            alerts=(facts,),
            created_at=notice.created_at,
            lang=notice.lang,
            level=notice.level,
            ack_links=notice.ack_links,
        )
        data: dict[str, Any] = notice_json(one)
        data["alert"] = data.pop("alerts")[0]
        data["title"] = headline(one)
        data["text"] = render_text(one)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(self, notice: Notice) -> Delivery:
        clear = notice.kind is NoticeKind.RESOLVED
        for facts in notice.alerts:
            payload = b"" if clear else self.payload(notice, facts)
            delivery = await self._put(self.topic(facts), payload)
            if not delivery.ok:
                return delivery
        return Delivery(ok=True)

    async def clear(self, site: str, alert_id: int) -> Delivery:
        """Remove an alert's retained message (an alert closed without a resolved notice)."""
        return await self._put(f"{self._config.topic_prefix}/{site}/alerts/{alert_id}", b"")

    async def _put(self, topic: str, payload: bytes) -> Delivery:
        try:
            await self._publish(topic, payload, True, self._config.qos)
        except Exception as exc:  # the gateway's own errors: a failed attempt, retried
            log.warning("alert topic %s not published: %s", topic, exc)
            return Delivery(ok=False, reason=f"MQTT publish on {topic} failed: {exc}")
        return Delivery(ok=True)
