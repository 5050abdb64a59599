"""Sending: one channel's lane (its limiter, the entries handed to it, how it waits) and one
attempt to send an outbox entry, with what came of it recorded.

An attempt writes the `sending` mark while the request is on its way (a crash leaves the
notice `sending` or `pending`: both are sent again under the same key on start) and the
outcome with its delivery log row in one transaction afterwards (see `outbox` for the states
and the delivery guarantee). A stopping service lets an attempt on its way finish: the send
waits for the channel's answer as long as it would have (its own timeout), then the outcome is
recorded before the outbox closes, so a notice the receiver answered is `sent` and is not sent
again on the next start, and one that got no answer is a failed try, retried under the same
key, never `sent`. The stop waits `stop_wait_s` (15 s) at most, whatever the channel's own
timeout (up to 120 s): a service manager kills a service that takes longer to stop. An attempt
still under way then is cancelled and its notice left `sending`, as after a crash: sent again
under the same key on the next start. A database refusing the outcome is asked again with
backoff, the outcome kept in hand (while stopping, for at most `_FINISH_ON_STOP_S`). A channel
that raises or hangs is a failed, retried attempt: one bad notification never stops its lane.
Store calls run in a thread; time is the injected clock's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.notify.model import Channel, Delivery
from alerts.notify.outbox import RetryPolicy, notice_of, outcome_of, withheld
from alerts.notify.ratelimit import RateLimiter
from alerts.store import OutboxStore
from core.clock import Clock
from core.records import DeliveryAttempt, DeliveryOutcome, OutboxEntry, OutboxState

__all__ = ["STOP_WAIT_S", "Lane", "Sender", "report"]

log = logging.getLogger(__name__)

# A stopping lane asks a database that refuses an attempt's outcome again for at most this long
# (real seconds: it must not hold the shutdown). A store call under way is always awaited: the
# thread runs on whether awaited or not, and the outbox must not close under it.
_FINISH_ON_STOP_S = 5.0
# How long a stop waits for an attempt under way: a send within the default 10 s channel timeout
# and its outcome stored.
STOP_WAIT_S = 15.0


@dataclass(slots=True)
class _Stop:
    """Whether the lane was stopped during an attempt, and until when (loop time) a refused
    outcome is asked again."""

    until: float | None = None

    @property
    def requested(self) -> bool:
        return self.until is not None

    def left_s(self) -> float:
        assert self.until is not None
        return self.until - asyncio.get_running_loop().time()


@dataclass(slots=True)
class Lane:
    """One channel's sender state: its limiter and how it waits. `changed` is the dispatcher's
    (set whenever a lane starts or stops waiting)."""

    channel: Channel
    limiter: RateLimiter
    changed: asyncio.Event
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    idle: bool = False
    idle_until: datetime | None = None
    # Persisted entries handed over to be sent now, by key (sent before the database is asked).
    ready: dict[str, OutboxEntry] = field(default_factory=dict)
    _woken: asyncio.Future[None] | None = None  # what `wait` awaits, resolved by `rouse`

    async def wait(self, clock: Clock, until: datetime | None) -> None:
        """Until the dispatcher wakes the lane or `clock` reaches `until` (None: only a wake).
        The lane's task awaits one future that `rouse` resolves: a wake costs the event loop
        one turn, where a task per wait source and gathering the cancelled one cost five
        (at 10 k msg/s the loop is busy and each turn is milliseconds; issue 13)."""
        self.idle, self.idle_until = True, until
        self.changed.set()
        try:
            if self.wake.is_set():
                return
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._woken = woken
            timer = None if until is None else _timer(clock, until, woken)
            try:
                await woken
            finally:
                self._woken = None
                if timer is not None:
                    timer.cancel()  # not awaited: the lane goes on at once
        finally:
            self.idle = False
            self.changed.set()

    def rouse(self) -> None:
        """Wake the lane (on the event loop): something was handed to it or changed."""
        self.wake.set()
        woken = self._woken
        if woken is not None and not woken.done():
            woken.set_result(None)

    def at_rest(self, now: datetime) -> bool:
        """Waiting, not woken, and not due before `now`."""
        if not self.idle or self.wake.is_set():
            return False
        return self.idle_until is None or self.idle_until > now


class Sender:
    """Sends one entry on its lane and records the outcome."""

    def __init__(
        self,
        store: OutboxStore,
        clock: Clock,
        policy: RetryPolicy,
        *,
        rng: random.Random | None = None,
        send_timeout_s: float = 120.0,
        stop_wait_s: float = STOP_WAIT_S,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._store = store
        self._stop_wait_s = stop_wait_s
        self._clock = clock
        self._policy = policy
        self._rng = rng or random.Random()
        self._send_timeout_s = send_timeout_s
        self._timer = timer

    async def attempt(self, lane: Lane, entry: OutboxEntry) -> None:
        """Send one entry and record the outcome. Cancelled (the service stopping), the attempt
        goes on to its end first: a send under way gets its answer or its timeout, and the
        outcome is stored, so the next start neither sends again what was answered nor takes
        as sent what was not. Past `stop_wait_s` it is cancelled, its notice left `sending`."""
        stop = _Stop()
        work = asyncio.ensure_future(self._attempt(lane, entry, stop))
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.until = asyncio.get_running_loop().time() + _FINISH_ON_STOP_S
            lane.rouse()  # an outcome waiting on the clock to be stored again is tried now
            done, _ = await asyncio.wait({work}, timeout=self._stop_wait_s)
            if not done:
                work.cancel()
                await asyncio.wait({work})
                log.warning(
                    "outbox: %s still under way %g s into the stop; left sending, sent again "
                    "under the same key on the next start",
                    entry.key,
                    self._stop_wait_s,
                )
            elif not work.cancelled() and (error := work.exception()) is not None:
                log.error("outbox: the attempt on %s failed while stopping: %r", entry.key, error)
            raise

    async def _attempt(self, lane: Lane, entry: OutboxEntry, stop: _Stop) -> None:
        lane.ready.pop(entry.key, None)
        started = self._clock.now()
        if (untrue := withheld(entry, started)) is not None:  # nothing left to tell
            if await self._record(lane, untrue.entry, untrue.log, stop):
                report(untrue.entry, untrue.log)
            return
        lane.limiter.take(started)
        marking = asyncio.ensure_future(
            asyncio.to_thread(self._store.mark_sending, entry.key, started)
        )
        begun = self._timer()
        delivery = await self._send(lane.channel, entry)
        latency_ms = (self._timer() - begun) * 1000.0
        await self._marked(marking, entry)
        now = self._clock.now()
        if delivery.retry_after_s is not None:
            lane.limiter.hold_until(now + _seconds(delivery.retry_after_s))
        result = outcome_of(
            entry,
            delivery,
            started=started,
            now=now,
            latency_ms=latency_ms,
            policy=self._policy,
            rng=self._rng,
        )
        if await self._record(lane, result.entry, result.log, stop):
            report(result.entry, result.log)

    @staticmethod
    async def _marked(marking: asyncio.Future[bool], entry: OutboxEntry) -> None:
        """The `sending` mark is a hint for a restart; the outcome is recorded either way."""
        try:
            if not await marking:
                log.warning("outbox: %s was no longer pending when it was sent", entry.key)
        except Exception:
            log.exception("outbox: %s could not be marked sending; sent all the same", entry.key)

    async def _record(
        self, lane: Lane, entry: OutboxEntry, row: DeliveryAttempt, stop: _Stop
    ) -> bool:
        """Store an attempt's outcome, retrying while the database refuses: the send happened,
        so the outcome is kept in hand rather than lost (the entry stays `sending` meanwhile,
        and a restart would send it again under the same key). Whether it was stored: a lane
        stopping gives up after `_FINISH_ON_STOP_S` of refusals."""
        failures = 0
        while True:
            try:
                await asyncio.to_thread(self._store.finish_attempt, entry, row)
                return True
            except Exception:
                failures += 1
                delay = self._policy.ceiling_s(failures)
                log.exception(
                    "outbox: the outcome of %s could not be stored (%d in a row); again in %.0f s",
                    entry.key,
                    failures,
                    delay,
                )
            if not stop.requested:
                await lane.wait(self._clock, self._clock.now() + _seconds(delay))
            elif (left_s := stop.left_s()) > 0:
                await asyncio.sleep(min(delay, left_s))
            else:
                log.error(
                    "outbox: stopping; the outcome of %s could not be stored: a notice left "
                    "sending is sent again with the same key on the next start",
                    entry.key,
                )
                return False

    async def _send(self, channel: Channel, entry: OutboxEntry) -> Delivery:
        """The channel's answer; a channel that raises or hangs is a failed, retried attempt
        (one bad notification never stops the lane)."""
        try:
            notice = notice_of(entry)
            async with asyncio.timeout(self._send_timeout_s):
                return await channel.send(notice)
        except TimeoutError:
            return Delivery(ok=False, reason=f"no answer within {self._send_timeout_s:g} s")
        except Exception as exc:  # a sender's bug must not stop the lane
            log.exception("outbox: channel %s raised on %s", channel.name, entry.key)
            return Delivery(ok=False, reason=f"the channel raised {type(exc).__name__}: {exc}")

    async def fail_unknown(self, entry: OutboxEntry, configured: Iterable[str]) -> None:
        """A notice for a channel not configured fails at once, naming those that are."""
        known = ", ".join(sorted(configured)) or "none"
        reason = f"no channel named {entry.channel!r} is configured (configured: {known})"
        now = self._clock.now()
        failed = replace(entry, state=OutboxState.FAILED, updated_at=now, last_error=reason)
        row = DeliveryAttempt(
            notice_key=entry.key,
            alert_ids=entry.alert_ids,
            channel=entry.channel,
            recipients=notice_of(entry).recipients,
            attempt=0,
            at=now,
            outcome=DeliveryOutcome.FAILED,
            reason=reason,
            kind=entry.kind,
        )
        await asyncio.to_thread(self._store.finish_attempt, failed, row)
        report(failed, row)


def report(entry: OutboxEntry, row: DeliveryAttempt) -> None:
    """Log what came of an attempt."""
    if row.outcome is DeliveryOutcome.SENT:
        log.debug("outbox: %s sent on %s (attempt %d)", entry.key, entry.channel, row.attempt)
    elif row.outcome is DeliveryOutcome.RETRY:
        log.warning(
            "outbox: %s on %s failed (attempt %d, %s); next try at %s",
            entry.key,
            entry.channel,
            row.attempt,
            row.reason,
            entry.next_attempt_at.isoformat(),
        )
    elif row.outcome is DeliveryOutcome.WITHDRAWN:
        log.info("outbox: %s on %s %s", entry.key, entry.channel, row.reason)
    else:
        log.error("outbox: %s on %s failed for good: %s", entry.key, entry.channel, row.reason)


def _timer(clock: Clock, until: datetime, woken: asyncio.Future[None]) -> asyncio.Task[None]:
    """A task that resolves `woken` once `clock` reaches `until`."""
    seconds = max(0.0, (until - clock.now()).total_seconds())
    timer = asyncio.ensure_future(clock.sleep(seconds))

    def done(task: asyncio.Future[None]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:  # a clock that fails to wait: the lane looks again
            log.warning("outbox: a lane's timer failed: %r", task.exception())
        if not woken.done():
            woken.set_result(None)

    timer.add_done_callback(done)
    return timer


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
