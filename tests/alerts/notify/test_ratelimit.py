"""Rate limits: sliding windows, the vendors' defaults, the config text, a receiver's hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alerts.notify.ratelimit import (
    VENDOR_LIMITS,
    RateLimiter,
    Window,
    channel_limits,
    limits_for,
    parse_limits,
)
from core.notify_channels import CHANNEL_CONFIG

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_twenty_a_minute_then_wait_for_the_oldest_to_leave_the_window() -> None:
    limiter = RateLimiter([Window(20, 60)])
    for i in range(20):
        assert limiter.wait_s(at(i)) == 0
        limiter.take(at(i))
    # The first send (t=0) leaves the 60 s window at t=60.
    assert limiter.wait_s(at(20)) == pytest.approx(40)
    assert limiter.wait_s(at(60)) == 0
    limiter.take(at(60))
    # Now the send of t=1 is the oldest of the last 20.
    assert limiter.wait_s(at(60.5)) == pytest.approx(0.5)


def test_feishu_five_a_second_and_a_hundred_a_minute() -> None:
    limiter = RateLimiter(VENDOR_LIMITS["feishu"])
    sent = 0
    for step in range(1200):  # every 50 ms for a minute
        t = step * 0.05
        if limiter.wait_s(at(t)) == 0:
            limiter.take(at(t))
            sent += 1
    # 5 a second would allow 300 in a minute; the minute window stops it at 100.
    assert sent == 100
    fresh = RateLimiter(VENDOR_LIMITS["feishu"])
    for _ in range(5):
        fresh.take(at(0))
    assert fresh.wait_s(at(0.2)) == pytest.approx(0.8)


def test_no_window_means_no_wait() -> None:
    limiter = RateLimiter(())
    for _ in range(1000):
        limiter.take(T0)
    assert limiter.wait_s(T0) == 0 and not limiter.limited


def test_a_receivers_retry_after_holds_the_channel() -> None:
    limiter = RateLimiter(())
    limiter.hold_until(at(30))
    limiter.hold_until(at(10))  # a shorter hold does not shorten it
    assert limiter.wait_s(at(5)) == pytest.approx(25)
    assert limiter.wait_s(at(30)) == 0


def test_vendor_defaults() -> None:
    assert limits_for("wecom") == (Window(20, 60),)
    assert limits_for("dingtalk") == (Window(20, 60),)
    assert limits_for("feishu") == (Window(5, 1), Window(100, 60))
    assert limits_for("smtp") == () and limits_for("webhook") == () and limits_for("mqtt") == ()
    assert limits_for("wecom", [Window(10, 60)]) == (Window(10, 60),)
    with pytest.raises(ValueError, match=r"'pager'.*dingtalk, feishu, mqtt, smtp, webhook, wecom"):
        limits_for("pager")


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("20/min", (Window(20, 60),)),
        ("5/s, 100/min", (Window(5, 1), Window(100, 60))),
        ("10/30s", (Window(10, 30),)),
        ("1000/h", (Window(1000, 3600),)),
        ("none", ()),
    ],
)
def test_parse_limits(text: str, windows: tuple[Window, ...]) -> None:
    assert parse_limits(text) == windows


@pytest.mark.parametrize("text", ["20 per minute", "20/fortnight", "/min", "0/min", "5/0s"])
def test_parse_limits_refuses_with_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate limit|at least 1|longer than 0"):
        parse_limits(text)


def test_window_reads_back() -> None:
    assert [str(w) for w in parse_limits("5/s, 100/min, 7/30s")] == ["5/s", "100/min", "7/30s"]


def test_channel_limits_from_the_site_config() -> None:
    channels = {
        "kitchen-robot": CHANNEL_CONFIG.validate_python({"type": "wecom", "key": "k"}),
        "duty-bot": CHANNEL_CONFIG.validate_python({"type": "feishu", "token": "t"}),
        "mail": CHANNEL_CONFIG.validate_python(
            {"type": "smtp", "host": "mx", "sender": "a@b.cn", "rate_limit": "30/min"}
        ),
        "quiet-robot": CHANNEL_CONFIG.validate_python(
            {"type": "dingtalk", "access_token": "t", "rate_limit": "10/min"}
        ),
        "hook": CHANNEL_CONFIG.validate_python({"type": "webhook", "url": "http://127.0.0.1/"}),
    }
    assert channel_limits(channels) == {
        "kitchen-robot": (Window(20, 60),),
        "duty-bot": (Window(5, 1), Window(100, 60)),
        "mail": (Window(30, 60),),
        "quiet-robot": (Window(10, 60),),
        "hook": (),
    }


def test_the_site_config_refuses_a_rate_limit_that_does_not_read() -> None:
    with pytest.raises(ValidationError, match=r"rate_limit[\s\S]*'20 per minute' does not read"):
        CHANNEL_CONFIG.validate_python({"type": "wecom", "key": "k", "rate_limit": "20 per minute"})
