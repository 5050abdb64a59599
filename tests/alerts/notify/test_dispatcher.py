"""The dispatcher on a simulated clock and a real DuckDB file: sends, retries with backoff,
Retry-After, permanent failures, critical first, the delivery log, and a channel that raises."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from pathlib import Path

import pytest

from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Delivery
from alerts.notify.outbox import RetryPolicy, entry_for
from core.clock import ManualClock
from core.records import DeliveryAttempt, DeliveryOutcome, OutboxEntry, OutboxState, Severity
from ingest.duckdb_outbox import DuckDBOutboxStore
from ingest.errors import StoreError
from tests.alerts.notify.outbox_channel import (
    T0,
    RecordingChannel,
    notice,
    running,
    seconds,
    settle,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def dispatcher(
    store: DuckDBOutboxStore, clock: ManualClock, *channels: RecordingChannel, **kw: object
) -> Dispatcher:
    kw.setdefault("policy", RetryPolicy(base_s=10, cap_s=80, max_attempts=4))
    kw.setdefault("rng", random.Random(13))
    return Dispatcher(store, {c.name: c for c in channels}, clock, **kw)  # type: ignore[arg-type]


async def test_a_notice_is_persisted_then_sent_once_and_logged(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(store, clock, robot)
    # Persisted before any send: the dispatcher is not even running yet.
    assert await d.submit([notice(1)]) == ["n-1"]
    assert store.entry("n-1").state is OutboxState.PENDING  # type: ignore[union-attr]
    assert await d.submit([notice(1)]) == []  # the same key again: a no-op
    async with running(d):
        pass
    assert robot.keys == ["n-1"]
    sent = store.entry("n-1")
    assert sent is not None and sent.state is OutboxState.SENT and sent.sent_at == T0
    [row] = await d.deliveries_for_alert(1)
    assert (row.notice_key, row.channel, row.attempt, row.outcome, row.status) == (
        "n-1",
        "kitchen-robot",
        1,
        DeliveryOutcome.SENT,
        200,
    )
    assert row.recipients == ("cook-on-duty",) and row.at == T0 and row.latency_ms >= 0


async def test_retries_back_off_within_the_jitter_bounds_then_send(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    fail = Delivery(ok=False, reason="HTTP 503", status=503)
    robot = RecordingChannel("kitchen-robot", clock, [fail, fail, fail])
    d = dispatcher(store, clock, robot)  # base 10 s, cap 80 s, 4 attempts
    async with running(d):
        await d.submit([notice(1)])
        for attempt, ceiling in ((1, 10), (2, 20), (3, 40)):
            await settle(d)
            entry = store.entry("n-1")
            assert entry is not None and entry.attempts == attempt
            assert entry.state is OutboxState.PENDING and entry.last_error == "HTTP 503"
            wait = (entry.next_attempt_at - clock.now()).total_seconds()
            assert 0 <= wait <= ceiling
            before = len(robot.calls)
            if wait > 0.001:
                await clock.set(entry.next_attempt_at - seconds(0.001))
                await settle(d)
                assert len(robot.calls) == before  # not before its time
            await clock.set(entry.next_attempt_at)
        await settle(d)
    assert len(robot.calls) == 4 and len(robot.accepted) == 1
    assert store.entry("n-1").state is OutboxState.SENT  # type: ignore[union-attr]
    outcomes = [r.outcome for r in store.deliveries_for_notice("n-1")]
    assert outcomes == [DeliveryOutcome.RETRY] * 3 + [DeliveryOutcome.SENT]
    assert [r.attempt for r in store.deliveries_for_notice("n-1")] == [1, 2, 3, 4]


async def test_retry_after_is_honoured_and_holds_the_channel(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    throttled = Delivery(ok=False, reason="HTTP 429", status=429, retry_after_s=120)
    robot = RecordingChannel("kitchen-robot", clock, [throttled])
    d = dispatcher(store, clock, robot, policy=RetryPolicy(base_s=1, cap_s=2, max_attempts=5))
    async with running(d):
        await d.submit([notice(1)])
        await settle(d)
        await d.submit([notice(2)])  # arrives during the pause: waits too
        await clock.advance(119)
        await settle(d)
        assert robot.keys == ["n-1"]
        await clock.advance(1)
        await settle(d)
    assert robot.keys == ["n-1", "n-1", "n-2"]
    assert [t for t, _ in robot.calls][1:] == [T0 + seconds(120)] * 2
    [first, second] = store.deliveries_for_notice("n-1")
    assert (first.outcome, first.status, second.outcome) == (
        DeliveryOutcome.RETRY,
        429,
        DeliveryOutcome.SENT,
    )


async def test_a_permanent_refusal_fails_at_once_with_its_reason(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    refused = Delivery(ok=False, reason="errcode 93000: invalid webhook key", permanent=True)
    robot = RecordingChannel("kitchen-robot", clock, [refused])
    d = dispatcher(store, clock, robot)
    async with running(d):
        await d.submit([notice(1)])
        await settle(d)
        await clock.advance(3600)
        await settle(d)
    assert robot.keys == ["n-1"]
    failed = store.entry("n-1")
    assert failed is not None and failed.state is OutboxState.FAILED and failed.attempts == 1
    assert failed.last_error == "refused for good: errcode 93000: invalid webhook key"
    [row] = store.deliveries_for_alert(1)
    assert row.outcome is DeliveryOutcome.FAILED


async def test_attempts_exhausted_fail_and_keep_the_reason(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    robot.default = Delivery(ok=False, reason="connection refused")
    d = dispatcher(store, clock, robot, policy=RetryPolicy(base_s=1, cap_s=4, max_attempts=3))
    async with running(d):
        await d.submit([notice(1)])
        for _ in range(5):
            await settle(d)
            await clock.advance(4)
        await settle(d)
    assert len(robot.calls) == 3
    failed = store.entry("n-1")
    assert failed is not None and failed.state is OutboxState.FAILED
    assert failed.last_error == "gave up after 3 attempts: connection refused"
    outcomes = [r.outcome for r in store.deliveries_for_alert(1)]
    assert outcomes == [DeliveryOutcome.RETRY, DeliveryOutcome.RETRY, DeliveryOutcome.FAILED]


async def test_critical_goes_first(store: DuckDBOutboxStore, clock: ManualClock) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(store, clock, robot)
    await d.submit([notice(1), notice(2), notice(3, Severity.CRITICAL), notice(4)])
    async with running(d):
        pass
    assert robot.keys == ["n-3", "n-1", "n-2", "n-4"]


async def test_channels_are_independent_lanes(store: DuckDBOutboxStore, clock: ManualClock) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    mail = RecordingChannel("mail", clock)
    mail.default = Delivery(ok=False, reason="SMTP 451")
    d = dispatcher(store, clock, robot, mail)
    async with running(d):
        await d.submit([notice(1, channel="mail"), notice(2)])
        await settle(d)
    assert robot.keys == ["n-2"] and mail.keys == ["n-1"]


async def test_a_channel_that_raises_is_a_retried_attempt_and_the_lane_goes_on(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    robot.raise_next = RuntimeError("renderer bug")
    d = dispatcher(store, clock, robot)
    async with running(d):
        await d.submit([notice(1), notice(2)])
        await settle(d)
        await clock.advance(10)
        await settle(d)
    assert robot.keys == ["n-1", "n-2", "n-1"]
    first = store.deliveries_for_notice("n-1")[0]
    assert first.outcome is DeliveryOutcome.RETRY
    assert first.reason == "the channel raised RuntimeError: renderer bug"
    assert {e.state for e in store.entries()} == {OutboxState.SENT}


async def test_a_notice_for_an_unknown_channel_fails_naming_the_configured_ones(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(store, clock, robot)
    await d.submit([notice(1, channel="old-robot")])
    failed = store.entry("n-1")
    assert failed is not None and failed.state is OutboxState.FAILED
    reason = "no channel named 'old-robot' is configured (configured: kitchen-robot)"
    assert failed.last_error == reason
    [row] = store.deliveries_for_alert(1)
    assert (row.attempt, row.outcome, row.reason) == (0, DeliveryOutcome.FAILED, reason)


async def test_pending_notices_of_a_channel_removed_from_the_config_fail_on_start(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    old = RecordingChannel("old-robot", clock)
    await dispatcher(store, clock, old).submit([notice(1, channel="old-robot")])
    robot = RecordingChannel("kitchen-robot", clock)
    async with running(dispatcher(store, clock, robot)):
        pass
    assert store.entry("n-1").state is OutboxState.FAILED  # type: ignore[union-attr]
    assert old.calls == [] and robot.calls == []


def test_rate_limits_for_unconfigured_channels_are_refused(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    with pytest.raises(ValueError, match="not configured: typo-robot; configured: kitchen-robot"):
        dispatcher(
            store, clock, RecordingChannel("kitchen-robot", clock), limits={"typo-robot": ()}
        )


class FlakyStore(DuckDBOutboxStore):
    """The real store, whose named methods refuse once on demand (the database unreachable)."""

    fail_once: set[str]

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.fail_once = set()

    def _refuse(self, method: str) -> None:
        if method in self.fail_once:
            self.fail_once.discard(method)
            raise StoreError("IO Error: disk full", backend="duckdb", target="test")

    def due(self, channel: str, now: datetime, limit: int) -> list[OutboxEntry]:
        self._refuse("due")
        return super().due(channel, now, limit)

    def finish_attempt(self, entry: OutboxEntry, attempt: DeliveryAttempt | None) -> None:
        self._refuse("finish_attempt")
        super().finish_attempt(entry, attempt)


async def test_a_database_error_pauses_the_lane_and_it_goes_on(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = FlakyStore(tmp_path / "canteen.duckdb")
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(store, clock, robot)  # backoff ceiling after one failure: 10 s
    try:
        # A notice a previous run left in the outbox: the lane finds it by asking what is due.
        store.enqueue(entry_for(notice(1), T0))
        store.fail_once.add("due")
        async with running(d):
            await settle(d)
            assert robot.calls == []  # the lane waits out its backoff
            await clock.advance(10)
            await settle(d)
            assert robot.keys == ["n-1"]
            # The outcome could not be stored: kept in hand and stored later, never re-sent.
            store.fail_once.add("finish_attempt")
            await d.submit([notice(2)])
            await settle(d)
            assert store.entry("n-2").state is OutboxState.SENDING  # type: ignore[union-attr]
            await clock.advance(10)
            await settle(d)
        assert robot.keys == ["n-1", "n-2"]
        assert store.entry("n-2").state is OutboxState.SENT  # type: ignore[union-attr]
        assert [r.outcome for r in store.deliveries_for_alert(2)] == [DeliveryOutcome.SENT]
    finally:
        store.close()


class CountingStore(DuckDBOutboxStore):
    """The real store, counting the lanes' `due` queries; `refuse_due` makes them fail."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.due_calls = 0
        self.refuse_due = False

    def due(self, channel: str, now: datetime, limit: int) -> list[OutboxEntry]:
        self.due_calls += 1
        if self.refuse_due:
            raise StoreError("IO Error: disk full", backend="duckdb", target="test")
        return super().due(channel, now, limit)


async def test_a_handed_over_notice_is_sent_without_asking_what_is_due(
    tmp_path: Path, clock: ManualClock
) -> None:
    """The shortest path: a new notice goes to its lane in memory; the database is written (the
    entry before, the outcome after) but not asked what is due first."""
    store = CountingStore(tmp_path / "canteen.duckdb")
    robot = RecordingChannel("kitchen-robot", clock)
    mail = RecordingChannel("mail", clock)
    d = dispatcher(store, clock, robot, mail)
    try:
        async with running(d):
            store.refuse_due = True  # a lane that asked would back off and send nothing
            await d.submit([notice(1), notice(2, Severity.CRITICAL), notice(3, channel="mail")])
            await settle(d)
            assert robot.keys == ["n-2", "n-1"] and mail.keys == ["n-3"]  # critical first
            store.refuse_due = False
            await clock.advance(10)  # the lane that met the refusal afterwards goes on
            await settle(d)
        assert {e.key: e.state for e in store.entries()} == {
            "n-1": OutboxState.SENT,
            "n-2": OutboxState.SENT,
            "n-3": OutboxState.SENT,
        }
        assert [r.outcome for r in store.deliveries_for_notice("n-1")] == [DeliveryOutcome.SENT]
    finally:
        store.close()


async def test_a_notice_whose_sending_mark_fails_is_sent_and_recorded_once(
    tmp_path: Path, clock: ManualClock
) -> None:
    """The `sending` mark is written while the request is on its way; when the database
    refuses it, the send stands and its outcome is still recorded, once."""
    store = FlakyStore(tmp_path / "canteen.duckdb")
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(store, clock, robot)
    original = store.mark_sending

    def refusing(key: str, now: datetime) -> bool:
        store._refuse("mark_sending")
        return original(key, now)

    store.mark_sending = refusing  # type: ignore[method-assign]
    try:
        store.fail_once.add("mark_sending")
        async with running(d):
            await d.submit([notice(1)])
            await settle(d)
        assert robot.keys == ["n-1"]
        assert store.entry("n-1").state is OutboxState.SENT  # type: ignore[union-attr]
        assert [r.outcome for r in store.deliveries_for_notice("n-1")] == [DeliveryOutcome.SENT]
    finally:
        store.close()


async def test_a_hung_channel_does_not_hold_back_another(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    """Channels send concurrently: the kitchen's robot is told while the mail server hangs."""
    robot = RecordingChannel("kitchen-robot", clock)
    mail = RecordingChannel("mail", clock)
    mail.hang = asyncio.Event()
    d = dispatcher(store, clock, robot, mail)
    async with running(d):
        await d.submit([notice(1, channel="mail"), notice(2)])
        await asyncio.wait_for(mail.called.wait(), 10)
        await asyncio.wait_for(robot.called.wait(), 10)
        assert robot.keys == ["n-2"] and mail.keys == ["n-1"]
        # Its `sending` mark is written while the request waits (a restart would send it again).
        for _ in range(1000):
            if store.entry("n-1").state is OutboxState.SENDING:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.01)
        assert store.entry("n-1").state is OutboxState.SENDING  # type: ignore[union-attr]
        mail.hang.set()
        await settle(d)
    assert {e.key: e.state for e in store.entries()} == {
        "n-1": OutboxState.SENT,
        "n-2": OutboxState.SENT,
    }
