"""The dispatcher: sends what the outbox holds, one lane per channel.

`submit` persists notices (`alerts.notify.outbox`) and hands them to their channel's lane;
`hand_over` takes entries someone else persisted (the alert book commits an alert and the
notices about it in one transaction); `run` starts one named task per configured channel in a
`TaskGroup`. A lane sends what was handed to it straight away when the channel's rate limit
allows (critical first, then oldest first), without asking the database what is due; retries,
notices left by a restart and rate-limited channels go through the outbox's `due` query. One
attempt (the `sending` mark, the send, its outcome and delivery log row) is `sending.Sender`'s.
Lanes are independent tasks, so channels send concurrently: a slow mail server does not hold
back the kitchen's robot. Store calls run in a thread; time is the injected clock's. `forget`
drops from the lanes' hands what the outbox withdrew or changed (someone acted on the alert
first).

Rate limits: before each send the lane asks its `RateLimiter`. When the channel's budget is
spent, the non-critical notices waiting for it become one DIGEST notice (the originals are
marked `merged_into` it, nothing is dropped) and the lane waits for the next slot; critical
notices are never merged or dropped, they wait at the front of the queue. A receiver's
Retry-After holds the whole channel until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alerts.notify.model import Channel, Notice
from alerts.notify.outbox import (
    RetryPolicy,
    digest_of,
    entry_for,
    mergeable,
    notice_of,
)
from alerts.notify.ratelimit import RateLimiter, Window
from alerts.notify.sending import STOP_WAIT_S, Lane, Sender
from alerts.store import OutboxStore
from core.clock import Clock
from core.records import DeliveryAttempt, OutboxEntry

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

_RECOVERED = "interrupted: the service stopped during the send; sent again with the same key"
_BATCH = 500  # due notices looked at per step of a lane (a digest takes at most this many)


class Dispatcher:
    """Sends the outbox's notices through `channels` (configured name -> channel)."""

    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        limits: Mapping[str, Sequence[Window]] | None = None,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        send_timeout_s: float = 120.0,
        stop_wait_s: float = STOP_WAIT_S,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        limits = limits or {}
        unknown = sorted(set(limits) - set(channels))
        if unknown:
            raise ValueError(
                f"rate limits for channels that are not configured: {', '.join(unknown)}; "
                f"configured: {', '.join(sorted(channels)) or 'none'}"
            )
        self._store = store
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._sender = Sender(
            store,
            clock,
            self._policy,
            rng=rng,
            send_timeout_s=send_timeout_s,
            stop_wait_s=stop_wait_s,
            timer=timer,
        )
        self._changed = asyncio.Event()  # a lane started or stopped waiting
        self._lanes = {
            name: Lane(channel, RateLimiter(limits.get(name, ())), self._changed)
            for name, channel in channels.items()
        }

    @property
    def policy(self) -> RetryPolicy:
        """How refused notices are retried (the site config's `notify.retry`)."""
        return self._policy

    # -- what the service calls -------------------------------------------------------------

    async def submit(self, notices: Sequence[Notice]) -> list[str]:
        """Persist `notices` before anything is sent; returns the keys that were new (a key
        already in the outbox is not enqueued again). A notice for a channel that is not
        configured fails at once, with the reason in its delivery log."""
        now = self._clock.now()
        entries = [entry_for(notice, now) for notice in notices]
        # One thread call for the batch, lanes woken after it: a lane that is rate limited
        # merges the whole batch into one digest, not a chain of growing ones.
        added = await asyncio.to_thread(self._enqueue, entries)
        for entry in added:
            if entry.channel not in self._lanes:
                await self._sender.fail_unknown(entry, self._lanes)
        self.hand_over([entry for entry in added if entry.channel in self._lanes])
        return [entry.key for entry in added]

    def hand_over(self, entries: Sequence[OutboxEntry]) -> None:
        """Entries already in the outbox, new and pending: their lanes send them at once (on
        the event loop; from another thread use `loop.call_soon_threadsafe`). An entry for a
        channel that is not configured stays pending; `run` fails it on the next start."""
        for entry in entries:
            lane = self._lanes.get(entry.channel)
            if lane is None:
                log.error("outbox: %s is for channel %r, not configured", entry.key, entry.channel)
                continue
            lane.ready[entry.key] = entry
            lane.rouse()

    def forget(self, keys: Iterable[str]) -> None:
        """Entries withdrawn or changed in the outbox: not sent from the lanes' hands (a
        changed one is read again from the outbox; a send already on its way goes on)."""
        for key in keys:
            for lane in self._lanes.values():
                lane.ready.pop(key, None)

    def _enqueue(self, entries: Sequence[OutboxEntry]) -> list[OutboxEntry]:
        return [entry for entry in entries if self._store.enqueue(entry)]

    async def run(self) -> None:
        """Send until cancelled: notices left `sending` by a crash are pending again first."""
        now = self._clock.now()
        recovered = await asyncio.to_thread(self._store.recover_sending, now, _RECOVERED)
        if recovered:
            log.warning("outbox: %d notice(s) interrupted mid-send are sent again", recovered)
        await self._fail_orphans()
        await self._restore_windows(now)
        async with asyncio.TaskGroup() as group:
            for name, lane in self._lanes.items():
                group.create_task(self._serve(name, lane), name=f"outbox-lane:{name}")

    async def settled(self, poll_s: float = 0.005) -> None:
        """Return once every lane waits with nothing due at the clock's present (tests and a
        graceful stop); looks again every `poll_s` too, since the clock also wakes lanes."""
        while not all(lane.at_rest(self._clock.now()) for lane in self._lanes.values()):
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await self._changed.wait()

    async def deliveries_for_alert(self, alert_id: int) -> list[DeliveryAttempt]:
        return await asyncio.to_thread(self._store.deliveries_for_alert, alert_id)

    # -- one lane ---------------------------------------------------------------------------

    async def _serve(self, name: str, lane: Lane) -> None:
        """The lane's loop; a failing step (the database unreachable, a row that does not
        read) is logged and tried again after a backoff, never ends the lane."""
        failures = 0
        while True:
            try:
                await self._step(name, lane)
                failures = 0
            except Exception:
                failures += 1
                delay = self._policy.ceiling_s(failures)
                log.exception(
                    "outbox: lane %s failed (%d in a row); trying again in %.0f s",
                    name,
                    failures,
                    delay,
                )
                await lane.wait(self._clock, self._clock.now() + _seconds(delay))

    async def _step(self, name: str, lane: Lane) -> None:
        """Send, merge or wait, once."""
        lane.wake.clear()
        now = self._clock.now()
        if lane.ready and lane.limiter.wait_s(now) <= 0:
            await self._sender.attempt(lane, _first(lane.ready))
            return
        due = await asyncio.to_thread(self._store.due, name, now, _BATCH)
        for entry in due:
            lane.ready.pop(entry.key, None)  # sent (or merged) from here, never twice
        if not due:
            await lane.wait(self._clock, await asyncio.to_thread(self._store.next_attempt_at, name))
            return
        wait_s = lane.limiter.wait_s(now)
        if wait_s > 0:
            if not await self._merge(due, now):
                await lane.wait(self._clock, now + _seconds(wait_s))
            return
        await self._sender.attempt(lane, due[0])

    async def _merge(self, due: Sequence[OutboxEntry], now: datetime) -> bool:
        """Fold the mergeable waiting notices into digests; whether any were merged."""
        merged = 0
        for group in mergeable(due):
            digest = digest_of([notice_of(e) for e in group], now)
            entry = replace(entry_for(digest, now), created_at=min(e.created_at for e in group))
            keys = [e.key for e in group]
            merged += await asyncio.to_thread(self._store.merge, entry, keys)
            log.info(
                "outbox: channel %s rate limited, %d notices merged into digest %s (%d alerts)",
                entry.channel,
                len(keys),
                entry.key,
                len(digest.alerts),
            )
        return merged > 0

    async def _restore_windows(self, now: datetime) -> None:
        """Count the attempts of each rate-limited channel's last window, as the vendor does."""
        for name, lane in self._lanes.items():
            if not lane.limiter.limited:
                continue
            since = now - _seconds(lane.limiter.longest_s)
            for at in await asyncio.to_thread(self._store.attempt_times, name, since):
                lane.limiter.take(at)

    # -- notices nobody can send ------------------------------------------------------------

    async def _fail_orphans(self) -> None:
        """Pending notices for a channel no longer configured fail, naming it."""
        channels = await asyncio.to_thread(self._store.pending_channels)
        for name in channels:
            if name in self._lanes:
                continue
            for entry in await asyncio.to_thread(self._store.due, name, _FAR_FUTURE, _BATCH):
                await self._sender.fail_unknown(entry, self._lanes)


def _first(ready: Mapping[str, OutboxEntry]) -> OutboxEntry:
    """The entry to send first: critical, then oldest (the order of the outbox's `due`)."""
    return min(ready.values(), key=lambda e: (not e.critical, e.created_at, e.key))


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
