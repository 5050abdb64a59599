"""What every HTTP channel shares: one POST, and the translation of what came back (or did not)
into a `Delivery`, so a receiver's refusal never raises into the outbox's loop.

Status codes follow RFC 9110: 2xx accepted; 408, 425, 429 and 5xx are worth retrying (429 and
503 with the receiver's `Retry-After`, section 10.2.3, in seconds or as an HTTP date); any other
4xx says the request itself is wrong (bad key, unknown robot, too large) and will not get better.
A connection that fails or times out is not the receiver's verdict: retry later.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from alerts.notify.model import Delivery

__all__ = ["HttpReply", "parse_retry_after", "post_json", "status_delivery"]

log = logging.getLogger(__name__)

_RETRYABLE = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A receiver's answer: status, `Retry-After` in seconds if given, JSON body if any."""

    status: int
    retry_after_s: float | None
    body: dict[str, Any] | None
    text: str


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    now: datetime,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> HttpReply | Delivery:
    """POST `body` (JSON bytes); a `Delivery` when nothing usable came back. `now` (the
    channel's clock) turns an HTTP-date `Retry-After` into seconds."""
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        response = await client.post(
            url, content=body, headers=all_headers, params=params, timeout=timeout_s
        )
    except httpx.TimeoutException as exc:
        return Delivery(ok=False, reason=f"timed out: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Delivery(ok=False, reason=f"connection failed: {type(exc).__name__}: {exc}")
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    return HttpReply(response.status_code, retry_after, _json(response), response.text[:500])


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def status_delivery(reply: HttpReply) -> Delivery | None:
    """The `Delivery` an HTTP status alone decides, or None for a 2xx (the body decides)."""
    status = reply.status
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}: {reply.text[:200]}".rstrip(": ")
    if status in _RETRYABLE or status >= 500:
        return Delivery(ok=False, reason=reason, status=status, retry_after_s=reply.retry_after_s)
    return Delivery(ok=False, reason=reason, status=status, permanent=True)
