"""Acknowledge links: a token names its alert and audience, and refuses to be altered, reused
with another key or used after its time."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

from alerts.notify.links import (
    LinkExpiredError,
    LinkMalformedError,
    LinkTamperedError,
    sign,
    verify,
)

SECRET = "a-service-secret-of-32-bytes-xyz"
NOW = datetime(2026, 11, 23, 1, 40, tzinfo=UTC)
LATER = NOW + timedelta(hours=24)


def test_round_trip_names_alert_and_audience() -> None:
    token = sign(42, "role:cook_on_duty", LATER, SECRET)
    assert verify(token, SECRET, NOW) == (42, "role:cook_on_duty")


def test_token_is_url_safe_and_compact() -> None:
    token = sign(123456, "kitchen-robot", LATER, SECRET)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token), token
    # a phone message carries it: version, a short payload and 128 bits of MAC
    assert len(token) < 80


def test_changed_payload_is_tampered() -> None:
    version, _, mac = sign(42, "kitchen-robot", LATER, SECRET).split(".")
    forged = base64.urlsafe_b64encode(f"43:{int(LATER.timestamp())}:kitchen-robot".encode())
    with pytest.raises(LinkTamperedError):
        verify(f"{version}.{forged.decode().rstrip('=')}.{mac}", SECRET, NOW)


def test_later_expiry_cannot_be_forged() -> None:
    version, _, mac = sign(42, "kitchen-robot", LATER, SECRET).split(".")
    far = int((LATER + timedelta(days=365)).timestamp())
    forged = base64.urlsafe_b64encode(f"42:{far}:kitchen-robot".encode()).decode().rstrip("=")
    with pytest.raises(LinkTamperedError):
        verify(f"{version}.{forged}.{mac}", SECRET, NOW)


def test_other_secret_is_tampered() -> None:
    token = sign(42, "kitchen-robot", LATER, SECRET)
    with pytest.raises(LinkTamperedError):
        verify(token, "another-secret-also-long-enough", NOW)


def test_expired_link_says_when_and_which_alert() -> None:
    token = sign(42, "kitchen-robot", NOW + timedelta(minutes=30), SECRET)
    assert verify(token, SECRET, NOW + timedelta(minutes=29)) == (42, "kitchen-robot")
    with pytest.raises(LinkExpiredError) as caught:
        verify(token, SECRET, NOW + timedelta(minutes=30))
    assert caught.value.alert_id == 42
    assert caught.value.expired_at == NOW + timedelta(minutes=30)
    assert "expired" in str(caught.value)


@pytest.mark.parametrize("token", ["", "v1.abc", "v2.YWJj.ZGVm", "garbage", "v1.a.b.c"])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(LinkMalformedError):
        verify(token, SECRET, NOW)


def test_cut_off_token_is_refused() -> None:
    token = sign(42, "kitchen-robot", LATER, SECRET)
    with pytest.raises((LinkTamperedError, LinkMalformedError)):
        verify(token[:-3], SECRET, NOW)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        sign(1, "x", LATER, "short")
    with pytest.raises(ValueError, match="timezone-aware"):
        sign(1, "x", LATER.replace(tzinfo=None), SECRET)
    with pytest.raises(ValueError, match="audience"):
        sign(1, "", LATER, SECRET)
