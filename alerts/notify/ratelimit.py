"""Per-channel rate limits: how many messages a receiver accepts per window of time.

A limit is one or more sliding windows (`core.rate_limits.Window(20, 60)`: at most 20 sends
in any 60 s); a channel may have several (Feishu: 5 a second and 100 a minute). A channel's
`rate_limit` in the site config overrides its vendor's default (`channel_limits`).

Sliding windows rather than a token bucket: the vendors count messages in a trailing window,
and a bucket refilled at the average rate would either burst past their count or waste
budget. The dispatcher asks `wait_s` before each send and `take`s a slot when it sends; a
receiver's own "retry after" holds the whole channel (`hold_until`), since it throttles the
robot, not one message.

The limiter lives in memory; on start the dispatcher refills it from the delivery log (the
attempts of the last window), so a restart does not send a second window's worth early (a
DingTalk robot pushed past 20 a minute is blocked for 10 minutes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from core.notify_channels import ChannelConfig
from core.rate_limits import Window, parse_limits

__all__ = [
    "VENDOR_LIMITS",
    "RateLimiter",
    "Window",
    "channel_limits",
    "limits_for",
    "parse_limits",
]


# Defaults by channel type (the `type` of a channel's config).
VENDOR_LIMITS: Mapping[str, tuple[Window, ...]] = {
    # 企业微信 群机器人配置说明: "每个机器人发送的消息不能超过20条/分钟".
    "wecom": (Window(20, 60),),
    # 钉钉 自定义机器人: "每个机器人每分钟最多发送20条消息到群里，如果超过20条，会限流10分钟".
    "dingtalk": (Window(20, 60),),
    # 飞书 自定义机器人使用指南: 频率控制 "100 次/分钟，5 次/秒".
    "feishu": (Window(5, 1), Window(100, 60)),
    # Our own receivers: no limit unless the site config sets one.
    "webhook": (),
    "smtp": (),
    "mqtt": (),
}


def limits_for(channel_type: str, configured: Sequence[Window] | None = None) -> tuple[Window, ...]:
    """The limit of a channel: what its config says, else its vendor's default."""
    if configured is not None:
        return tuple(configured)
    if channel_type not in VENDOR_LIMITS:
        known = ", ".join(sorted(VENDOR_LIMITS))
        raise ValueError(f"no default rate limit for channel type {channel_type!r}: {known}")
    return VENDOR_LIMITS[channel_type]


def channel_limits(channels: Mapping[str, ChannelConfig]) -> dict[str, tuple[Window, ...]]:
    """Each configured channel's limit: its `rate_limit` entry, else its vendor's default."""
    return {
        name: limits_for(
            config.type, None if config.rate_limit is None else parse_limits(config.rate_limit)
        )
        for name, config in channels.items()
    }


class RateLimiter:
    """Sliding windows over the instants of the channel's recent sends."""

    def __init__(self, windows: Sequence[Window] = ()) -> None:
        self.windows = tuple(windows)
        longest = max((w.count for w in self.windows), default=0)
        self._sent: deque[datetime] = deque(maxlen=longest or 1)
        self._held_until: datetime | None = None

    @property
    def longest_s(self) -> float:
        """The longest window: how far back the sends that still count can be."""
        return max((w.per_s for w in self.windows), default=0.0)

    @property
    def limited(self) -> bool:
        return bool(self.windows)

    def wait_s(self, now: datetime) -> float:
        """Seconds until a send is allowed (0: now)."""
        wait = 0.0
        if self._held_until is not None:
            wait = max(wait, (self._held_until - now).total_seconds())
        for window in self.windows:
            if len(self._sent) >= window.count:
                # The count-th most recent send leaves the window per_s after it was made.
                oldest_in_window = self._sent[-window.count]
                frees_at = oldest_in_window + timedelta(seconds=window.per_s)
                wait = max(wait, (frees_at - now).total_seconds())
        return max(0.0, wait)

    def take(self, now: datetime) -> None:
        """Count a send made at `now`."""
        if self.windows:
            self._sent.append(now)

    def hold_until(self, instant: datetime) -> None:
        """The receiver asked for a pause: nothing goes out on this channel before `instant`."""
        if self._held_until is None or instant > self._held_until:
            self._held_until = instant
