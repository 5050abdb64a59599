"""A lane's wait: woken by a hand-over within one turn of the event loop (issue 13: at 10 k
msg/s every turn of the busy loop is milliseconds between a committed notice and its send), or
by its clock reaching the time it waits for; nothing of the wait is left running after it."""

from __future__ import annotations

import asyncio

from alerts.notify.ratelimit import RateLimiter
from alerts.notify.sending import Lane
from core.clock import ManualClock
from tests.alerts.notify.outbox_channel import T0, RecordingChannel, seconds


def lane(clock: ManualClock) -> Lane:
    return Lane(RecordingChannel("kitchen-robot", clock), RateLimiter(()), asyncio.Event())


def others() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_a_rouse_ends_the_wait_within_one_turn_of_the_loop() -> None:
    clock = ManualClock(T0)
    waiting = lane(clock)
    before = others()
    for until in (None, T0 + seconds(3600)):
        waiter = asyncio.ensure_future(waiting.wait(clock, until))
        await asyncio.sleep(0)
        assert waiting.idle and waiting.idle_until == until and not waiter.done()
        waiting.rouse()
        await asyncio.sleep(0)  # one turn: the lane's task runs on from its wait
        assert waiter.done() and waiter.exception() is None
        assert not waiting.idle and waiting.wake.is_set()
        waiting.wake.clear()
        await asyncio.sleep(0)  # the hour's timer, cancelled, is gone a turn later
        assert others() == before


async def test_the_clock_reaching_the_time_ends_the_wait_and_an_early_time_does_not() -> None:
    clock = ManualClock(T0)
    waiting = lane(clock)
    waiter = asyncio.ensure_future(waiting.wait(clock, T0 + seconds(10)))
    await clock.advance(9)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    await clock.advance(1)
    await asyncio.wait_for(waiter, 5)
    assert not waiting.wake.is_set()  # the clock, not a rouse, ended it


async def test_a_lane_roused_before_it_waits_does_not_wait() -> None:
    clock = ManualClock(T0)
    waiting = lane(clock)
    waiting.rouse()  # nobody waits yet: the wake is kept
    await asyncio.wait_for(waiting.wait(clock, None), 5)
    assert waiting.wake.is_set()


async def test_a_cancelled_wait_leaves_no_timer_behind() -> None:
    clock = ManualClock(T0)
    waiting = lane(clock)
    before = others()
    waiter = asyncio.ensure_future(waiting.wait(clock, T0 + seconds(60)))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await asyncio.sleep(0)
    assert waiter.cancelled() and others() == before and not waiting.idle
    waiting.rouse()  # a rouse after the wait ended only marks the lane woken
    assert waiting.wake.is_set()
