"""Errors of the gateway.

GatewayError            base: anything the gateway reports
├── PayloadError        a message that cannot be accepted (goes to the dead-letter table)
└── BrokerError         the broker refused us or cannot be reached (retried with backoff)
"""

from __future__ import annotations

__all__ = ["BrokerError", "GatewayError", "PayloadError"]


class GatewayError(Exception):
    """Base of the gateway's errors."""


class PayloadError(GatewayError):
    """Why one message was refused; the text is what the dead-letter table shows."""

    def __init__(self, reason: str, *, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        # A short category for counters: invalid, not_json, bad_time, too_large, bad_topic,
        # unknown_device.
        self.code = code


class BrokerError(GatewayError):
    """The broker connection failed or was refused."""
