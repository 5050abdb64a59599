"""Signed, expiring acknowledge links: a token that names one alert and the channel or role the
link was sent to, so the acknowledge page can act on it without a login and record the holder.

A token reads `v1.<payload>.<mac>`, both parts unpadded URL-safe base64: the payload is
`<alert_id>:<expires epoch s>:<audience>` and the MAC is HMAC-SHA256 over `v1.<payload>` with
the service's secret, truncated to 128 bits (NIST SP 800-107 rev. 1, 5.3.4: a truncated HMAC
keeps its strength up to the kept length; 128 bits leaves no forgery worth trying) so a link
stays short enough for a robot message. The version prefix lets a later format coexist.

    LinkError(AlertError)     the token cannot be used
    ├── LinkMalformedError    not a token of ours (cut off, wrong shape, unknown version)
    ├── LinkTamperedError     the MAC does not match: changed, or signed with another secret
    └── LinkExpiredError      valid, but past its expiry
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime

from alerts.errors import AlertError

__all__ = [
    "LinkError",
    "LinkExpiredError",
    "LinkMalformedError",
    "LinkTamperedError",
    "sign",
    "verify",
]

_VERSION = "v1"
_MAC_BYTES = 16
# A secret shorter than this is a password, not a key (RFC 2104 section 3: at least the hash
# output length is recommended; 16 bytes is the floor we accept).
MIN_SECRET_BYTES = 16


class LinkError(AlertError):
    """An acknowledge link that cannot be used; the message says why."""


class LinkMalformedError(LinkError):
    """Not a token this service issued."""


class LinkTamperedError(LinkError):
    """The token's signature does not match its content."""


class LinkExpiredError(LinkError):
    """The token was valid but its time is up."""

    def __init__(self, message: str, *, alert_id: int, expired_at: datetime) -> None:
        super().__init__(message, alert_id=alert_id)
        self.expired_at = expired_at


def sign(alert_id: int, audience: str, expires_at: datetime, secret: str | bytes) -> str:
    """A token for `alert_id`, sent to `audience` (a channel or role name), valid until
    `expires_at` (aware)."""
    if alert_id < 0:
        raise ValueError(f"alert_id must be >= 0, got {alert_id}")
    if not audience or any(ch in audience for ch in "\r\n"):
        raise ValueError("audience must be a non-empty single-line name (channel or role)")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware (UTC)")
    expires_s = int(expires_at.timestamp())
    payload = _b64(f"{alert_id}:{expires_s}:{audience}".encode())
    signed = f"{_VERSION}.{payload}"
    return f"{signed}.{_b64(_mac(signed, secret))}"


def verify(token: str, secret: str | bytes, now: datetime) -> tuple[int, str]:
    """The (alert id, audience) a valid token names; raises a `LinkError` subclass otherwise.
    The signature is checked before anything in the payload is trusted."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise LinkMalformedError("not an acknowledge link of this service (wrong shape or version)")
    signed = f"{parts[0]}.{parts[1]}"
    given = _unb64(parts[2])
    if not hmac.compare_digest(given, _mac(signed, secret)):
        raise LinkTamperedError("the acknowledge link was altered or signed with another key")
    alert_id, expires_s, audience = _parse_payload(_unb64(parts[1]))
    expired_at = datetime.fromtimestamp(expires_s, UTC)
    if now >= expired_at:
        raise LinkExpiredError(
            f"the acknowledge link expired at {expired_at.isoformat()}",
            alert_id=alert_id,
            expired_at=expired_at,
        )
    return alert_id, audience


def _parse_payload(raw: bytes) -> tuple[int, int, str]:
    try:
        alert_text, expires_text, audience = raw.decode().split(":", 2)
        return int(alert_text), int(expires_text), audience
    except (UnicodeDecodeError, ValueError):
        # Only reachable with a valid MAC over a payload we never issue: a bug, not an attack.
        raise LinkMalformedError("the acknowledge link's content is unreadable") from None


def _mac(signed: str, secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the link secret must be at least {MIN_SECRET_BYTES} bytes")
    return hmac.new(key, signed.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LinkMalformedError("the acknowledge link is cut off or garbled") from None
