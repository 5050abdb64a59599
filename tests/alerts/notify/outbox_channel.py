"""A test channel for the outbox tests: records every notice it is handed, answers from a
script (fail on demand), and like a receiver that honours the idempotency key it counts each
key it accepted once. The real receivers are in the channel tests; this is the unit seam. Also
the dispatcher tests' notice and how they run and settle a dispatcher."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Delivery, Notice
from core.clock import Clock
from core.records import Severity
from tests.alerts.notify.conftest import fridge_facts, make_notice

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class RecordingChannel:
    def __init__(self, name: str, clock: Clock, answers: Iterable[Delivery] = ()) -> None:
        self._name = name
        self._clock = clock
        self.answers: deque[Delivery] = deque(answers)
        self.default = Delivery(ok=True, status=200)
        self.calls: list[tuple[datetime, Notice]] = []  # every attempt, in order
        self.accepted: dict[str, Notice] = {}  # what a deduplicating receiver kept
        self.hang: asyncio.Event | None = None  # set: sends wait for it (a hung receiver)
        self.raise_next: Exception | None = None
        self.called = asyncio.Event()  # set by the first attempt

    @property
    def name(self) -> str:
        return self._name

    async def send(self, notice: Notice) -> Delivery:
        self.calls.append((self._clock.now(), notice))
        self.called.set()
        if self.raise_next is not None:
            exc, self.raise_next = self.raise_next, None
            raise exc
        if self.hang is not None:
            self.accepted.setdefault(notice.key, notice)  # arrived, but no answer came back
            await self.hang.wait()
        answer = self.answers.popleft() if self.answers else self.default
        if answer.ok:
            self.accepted.setdefault(notice.key, notice)
        return answer

    @property
    def keys(self) -> list[str]:
        return [notice.key for _, notice in self.calls]


@asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[asyncio.Task[None]]:
    """The dispatcher running in a task, cancelled (and awaited) on the way out."""
    task = asyncio.create_task(dispatcher.run(), name="outbox-dispatcher")
    try:
        await asyncio.wait_for(dispatcher.settled(), 30)
        yield task
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def settle(dispatcher: Dispatcher) -> None:
    await asyncio.wait_for(dispatcher.settled(), 30)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def notice(alert_id: int, severity: Severity = Severity.WARNING, **changes: object) -> Notice:
    """Alert `alert_id`'s notice `n-<id>` on fridge-<id>, made in the order of the ids."""
    facts = fridge_facts(alert_id=alert_id, severity=severity, device=f"fridge-{alert_id}")
    base = make_notice(facts, key=f"n-{alert_id}", created_at=T0 + seconds(alert_id / 1000))
    return replace(base, **changes)  # type: ignore[arg-type]
