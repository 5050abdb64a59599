"""The group robots' shared answer: HTTP 200 with a JSON code (`errcode` for WeCom and DingTalk,
`code` for Feishu), 0 for accepted. Each robot lists the codes it documents as a `VendorCode`;
a code nobody documented is retried (the outbox gives up after its attempts), because
calling a working robot broken would silently drop alerts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerts.notify.channels.http import HttpReply, status_delivery
from alerts.notify.model import Delivery

__all__ = ["VendorCode", "json_body", "vendor_delivery"]


@dataclass(frozen=True, slots=True)
class VendorCode:
    """What a vendor's error code means for delivery."""

    meaning: str
    permanent: bool
    retry_after_s: float | None = None


def json_body(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (CJK kept as is: the vendors count bytes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def vendor_delivery(
    vendor: str, reply: HttpReply, code_key: str, known: Mapping[int, VendorCode]
) -> Delivery:
    """Translate a robot's reply: HTTP status first, then its JSON code."""
    by_status = status_delivery(reply)
    if by_status is not None:
        return Delivery(
            ok=False,
            reason=f"{vendor}: {by_status.reason}",
            status=by_status.status,
            permanent=by_status.permanent,
            retry_after_s=by_status.retry_after_s,
        )
    body = reply.body
    code = body.get(code_key) if body is not None else None
    if not isinstance(code, int):
        return Delivery(
            ok=False, reason=f"{vendor}: unreadable answer: {reply.text[:200]}", status=reply.status
        )
    if code == 0:
        return Delivery(ok=True, status=reply.status)
    message = str((body or {}).get("errmsg") or (body or {}).get("msg") or "")[:200]
    meaning = known.get(code)
    if meaning is None:
        return Delivery(ok=False, reason=f"{vendor} error {code}: {message}", status=reply.status)
    return Delivery(
        ok=False,
        reason=f"{vendor} error {code} ({meaning.meaning}): {message}",
        status=reply.status,
        permanent=meaning.permanent,
        retry_after_s=meaning.retry_after_s,
    )
