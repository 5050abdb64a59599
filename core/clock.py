"""Clocks: every component that reads time takes one, so a simulated day can run in seconds.

`SystemClock` is the real time. `ManualClock` moves only when told to and wakes its sleepers
(async tests); `StepClock` is set by assigning `instant` (a synchronous replay: evaluation,
rule tests).
`CatchUpClock` runs `speed` times faster than real time from a start in the past and, once it
reaches the present, follows real time: an accelerated simulator never publishes readings
stamped in the future.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "CatchUpClock",
    "Clock",
    "ManualClock",
    "StepClock",
    "SystemClock",
    "to_epoch_ms",
    "utc_from_ms",
]


class Clock(Protocol):
    """What components need of time: the current instant (UTC) and a way to wait."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when `advance` or `set` is called; `sleep` waits for that."""

    def __init__(self, start: datetime) -> None:
        _require_aware(start)
        self._now = start
        self._moved = asyncio.Condition()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=seconds)
        async with self._moved:
            await self._moved.wait_for(lambda: self._now >= deadline)

    async def advance(self, seconds: float) -> None:
        await self.set(self._now + timedelta(seconds=seconds))

    async def set(self, instant: datetime) -> None:
        _require_aware(instant)
        if instant < self._now:
            raise ValueError(f"a clock does not go back: {instant} is before {self._now}")
        async with self._moved:
            self._now = instant
            self._moved.notify_all()


class StepClock:
    """A clock its owner moves by assigning `instant`; `sleep` moves it by the time slept."""

    def __init__(self, start: datetime) -> None:
        _require_aware(start)
        self.instant = start

    def now(self) -> datetime:
        return self.instant

    async def sleep(self, seconds: float) -> None:
        self.instant += timedelta(seconds=seconds)


class CatchUpClock:
    """Runs `speed` times real time from `start`, then follows real time once it catches up."""

    def __init__(self, start: datetime, speed: float) -> None:
        _require_aware(start)
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._start = start
        self._speed = speed
        self._mono0 = time.monotonic()
        self._wall0 = datetime.now(UTC)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._mono0
        simulated = self._start + timedelta(seconds=elapsed * self._speed)
        real = self._wall0 + timedelta(seconds=elapsed)
        return min(simulated, real)

    def caught_up(self) -> bool:
        elapsed = time.monotonic() - self._mono0
        return self._start + timedelta(seconds=elapsed * self._speed) >= self._wall0 + timedelta(
            seconds=elapsed
        )

    async def sleep(self, seconds: float) -> None:
        factor = 1.0 if self.caught_up() else self._speed
        await asyncio.sleep(max(0.0, seconds) / factor)


def to_epoch_ms(instant: datetime) -> int:
    _require_aware(instant)
    return int(instant.timestamp() * 1000)


def utc_from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: pass a timezone-aware instant (UTC)")
