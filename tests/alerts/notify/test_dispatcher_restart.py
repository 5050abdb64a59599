"""Restarts with notices in the outbox, on a real DuckDB file: a new dispatcher sends each
pending notice exactly once, sent ones never again. A stop lets a send under way finish: an
answer that comes during the stop is recorded (not sent again), no answer within the send's
timeout is a failed try, and a send still under way past the stop's bound is left `sending`; a
crash mid-send (left `sending`) and an unanswered try are sent again under the same key, so a
receiver that drops a key it has seen shows it once."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from alerts.notify.dispatcher import Dispatcher
from alerts.notify.ratelimit import Window
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


def dispatcher(store: DuckDBOutboxStore, clock: ManualClock, robot: RecordingChannel) -> Dispatcher:
    return Dispatcher(store, {robot.name: robot}, clock, rng=random.Random(1))


async def test_a_new_dispatcher_on_the_same_file_sends_each_notice_exactly_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "canteen.duckdb"
    clock = ManualClock(T0)
    receiver_keys: list[str] = []

    # First life: notices are persisted, then the service stops before sending any.
    first = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    await dispatcher(first, clock, robot).submit([notice(i) for i in range(1, 6)])
    first.close()
    assert robot.calls == []

    # Second life: everything goes out once.
    second = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(second, clock, robot)
    async with running(d):
        assert await d.submit([notice(3)]) == []  # the planner re-planned it: still one
    receiver_keys += robot.keys
    second.close()

    # Third life: nothing is sent again.
    third = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(third, clock, robot)
    async with running(d):
        await clock.advance(3600)
        await settle(d)
    receiver_keys += robot.keys
    assert {e.state for e in third.entries()} == {OutboxState.SENT}
    third.close()
    assert sorted(receiver_keys) == [f"n-{i}" for i in range(1, 6)]


async def stopping(task: asyncio.Task[None], lane: str) -> None:
    """Cancel the dispatcher's task (the service stopping) and return once the cancellation
    reached the lane `lane` (its task is cancelling or already gone)."""
    task.cancel()
    for _ in range(2000):
        lanes = [t for t in asyncio.all_tasks() if t.get_name() == f"outbox-lane:{lane}"]
        if not lanes or lanes[0].cancelling():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the stop did not reach lane {lane}")


async def sent_again_shown_once(
    path: Path, clock: ManualClock, hung: RecordingChannel
) -> list[DeliveryOutcome]:
    """The next start on `path`, its receiver the one `hung` was (it remembers keys): n-1 is
    sent again under its key and shown once; the outcomes of n-1's attempts, in order."""
    second = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    robot.accepted = dict(hung.accepted)
    async with running(dispatcher(second, clock, robot)):
        pass
    assert hung.keys + robot.keys == ["n-1", "n-1"]
    assert sorted(robot.accepted) == ["n-1"]  # shown once
    outcomes = [r.outcome for r in second.deliveries_for_notice("n-1")]
    second.close()
    return outcomes


async def test_a_stop_waits_for_the_answer_of_a_send_under_way(tmp_path: Path) -> None:
    """The receiver got n-1 and answers only once the stop is under way (a slow robot at
    shutdown): the answer is recorded, so the next start does not send n-1 again."""
    path = tmp_path / "canteen.duckdb"
    clock = ManualClock(T0)

    first = DuckDBOutboxStore(path)
    slow = RecordingChannel("kitchen-robot", clock)
    slow.hang = asyncio.Event()
    d = dispatcher(first, clock, slow)
    task = asyncio.create_task(d.run(), name="outbox-first-life")
    await d.submit([notice(1, Severity.CRITICAL), notice(2)])
    await asyncio.wait_for(slow.called.wait(), 30)
    await stopping(task, slow.name)
    slow.hang.set()  # the answer comes back during the stop
    await asyncio.gather(task, return_exceptions=True)
    assert first.entry("n-1").state is OutboxState.SENT  # type: ignore[union-attr]
    assert first.entry("n-2").state is OutboxState.PENDING  # type: ignore[union-attr]
    first.close()

    second = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    async with running(dispatcher(second, clock, robot)):
        pass
    assert slow.keys + robot.keys == ["n-1", "n-2"]  # each request once
    assert {e.key: e.state for e in second.entries()} == {
        "n-1": OutboxState.SENT,
        "n-2": OutboxState.SENT,
    }
    assert [r.outcome for r in second.deliveries_for_notice("n-1")] == [DeliveryOutcome.SENT]
    second.close()


async def test_a_send_unanswered_within_its_timeout_at_a_stop_is_a_failed_try(
    tmp_path: Path,
) -> None:
    """The receiver got n-1 but never answers: the stop waits the send's own timeout, records a
    failed try (not `sent`: nobody said it arrived), and the next start sends it again under
    the same key, so a receiver that drops a key it has seen shows it once."""
    path = tmp_path / "canteen.duckdb"
    clock = ManualClock(T0)

    first = DuckDBOutboxStore(path)
    hung = RecordingChannel("kitchen-robot", clock)
    hung.hang = asyncio.Event()
    d = Dispatcher(first, {hung.name: hung}, clock, rng=random.Random(1), send_timeout_s=0.3)
    task = asyncio.create_task(d.run(), name="outbox-first-life")
    await d.submit([notice(1, Severity.CRITICAL)])
    await asyncio.wait_for(hung.called.wait(), 30)
    await stopping(task, hung.name)
    await asyncio.gather(task, return_exceptions=True)
    waiting = first.entry("n-1")
    assert waiting is not None and waiting.state is OutboxState.PENDING and waiting.attempts == 1
    [row] = first.deliveries_for_notice("n-1")
    assert row.outcome is DeliveryOutcome.RETRY and row.reason == "no answer within 0.3 s"
    first.close()

    await clock.advance(3600)  # past the retry's backoff
    assert await sent_again_shown_once(path, clock, hung) == [
        DeliveryOutcome.RETRY,
        DeliveryOutcome.SENT,
    ]


async def test_a_notice_left_sending_by_a_crash_is_sent_again_with_the_same_key(
    tmp_path: Path,
) -> None:
    """A process killed mid-send leaves the notice `sending` (its request may have arrived):
    the next start sends it again under its own key, and n-2 once."""
    path = tmp_path / "canteen.duckdb"
    clock = ManualClock(T0)

    first = DuckDBOutboxStore(path)
    await dispatcher(first, clock, RecordingChannel("kitchen-robot", clock)).submit(
        [notice(1, Severity.CRITICAL), notice(2)]
    )
    assert first.mark_sending("n-1", T0)  # what the dead process wrote before its request
    first.close()

    second = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    robot.accepted = {"n-1": notice(1)}  # the receiver had got it before the crash
    async with running(dispatcher(second, clock, robot)):
        pass
    assert robot.keys == ["n-1", "n-2"]
    assert sorted(robot.accepted) == ["n-1", "n-2"]  # the receiver shows n-1 once
    resent = second.entry("n-1")
    assert resent is not None and resent.state is OutboxState.SENT and resent.attempts == 1
    [row] = second.deliveries_for_alert(1)  # the interrupted attempt left no row
    assert row.outcome is DeliveryOutcome.SENT
    second.close()


async def test_a_restart_keeps_counting_the_rate_limit_window(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    clock = ManualClock(T0)
    limits = {"kitchen-robot": [Window(20, 60)]}

    first = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    d = Dispatcher(first, {robot.name: robot}, clock, limits=limits)
    async with running(d):
        await d.submit([notice(i) for i in range(1, 21)])
        await settle(d)
    assert len(robot.calls) == 20
    first.close()

    await clock.advance(30)
    second = DuckDBOutboxStore(path)
    robot = RecordingChannel("kitchen-robot", clock)
    d = Dispatcher(second, {robot.name: robot}, clock, limits=limits)
    try:
        async with running(d):
            await d.submit([notice(21)])
            await settle(d)
            assert robot.calls == []  # the 20 of the first life still count
            await clock.advance(30)
            await settle(d)
        assert [(t, n.key) for t, n in robot.calls] == [(T0 + seconds(60), "n-21")]
    finally:
        second.close()


class RefusingStore(DuckDBOutboxStore):
    """The real store, whose next `refusals` outcomes are refused (the database unreachable)."""

    def __init__(self, path: Path, refusals: int) -> None:
        super().__init__(path)
        self.refusals = refusals

    def finish_attempt(self, entry: OutboxEntry, attempt: DeliveryAttempt | None) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise StoreError("IO Error: disk full", backend="duckdb", target="test")
        super().finish_attempt(entry, attempt)


async def stop_while_the_outcome_waits(store: RefusingStore, refused: int) -> None:
    """Send n-1, stop once `refused` outcomes were refused and the lane waits out its backoff
    (on a clock that does not move), and wait for the stop (failing after a minute)."""
    clock = ManualClock(T0)
    robot = RecordingChannel("kitchen-robot", clock)
    d = dispatcher(store, clock, robot)
    task = asyncio.create_task(d.run(), name="outbox-stopping")
    await d.submit([notice(1)])
    for _ in range(3000):
        if store.refusals <= refused and robot.calls:
            break
        await asyncio.sleep(0.01)
    await asyncio.wait_for(d.settled(), 30)  # the lane waits for the clock to retry
    await stopping(task, robot.name)
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 60)
    assert robot.keys == ["n-1"]


async def test_a_stop_does_not_wait_past_its_bound_for_a_long_send_timeout(
    tmp_path: Path,
) -> None:
    """A channel allowed 120 s that never answers: the stop gives up on it after its bound
    (a service manager would kill a slower stop), leaving the notice `sending` as a crash
    would; the next start sends it again under the same key, shown once."""
    path = tmp_path / "canteen.duckdb"
    clock = ManualClock(T0)

    first = DuckDBOutboxStore(path)
    hung = RecordingChannel("kitchen-robot", clock)
    hung.hang = asyncio.Event()
    d = Dispatcher(
        first, {hung.name: hung}, clock, rng=random.Random(1), send_timeout_s=120, stop_wait_s=0.3
    )
    task = asyncio.create_task(d.run(), name="outbox-first-life")
    await d.submit([notice(1, Severity.CRITICAL)])
    await asyncio.wait_for(hung.called.wait(), 30)
    await stopping(task, hung.name)
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)  # not 120 s
    waiting = first.entry("n-1")
    assert waiting is not None and waiting.state is OutboxState.SENDING
    assert first.deliveries_for_notice("n-1") == []  # no outcome: nobody knows one
    first.close()

    assert await sent_again_shown_once(path, clock, hung) == [DeliveryOutcome.SENT]


async def test_an_outcome_the_database_refused_is_stored_again_at_once_on_stop(
    tmp_path: Path,
) -> None:
    store = RefusingStore(tmp_path / "canteen.duckdb", refusals=1)
    try:
        await stop_while_the_outcome_waits(store, refused=0)
        sent = store.entry("n-1")
        assert sent is not None and sent.state is OutboxState.SENT
    finally:
        store.close()


async def test_a_database_refusing_every_outcome_does_not_hold_the_stop(tmp_path: Path) -> None:
    """Given up after `_FINISH_ON_STOP_S` (5 s): the notice stays `sending`, sent again with
    its key on the next start."""
    store = RefusingStore(tmp_path / "canteen.duckdb", refusals=1_000_000)
    try:
        await stop_while_the_outcome_waits(store, refused=1_000_000 - 1)
        store.refusals = 0
        left = store.entry("n-1")
        assert left is not None and left.state is OutboxState.SENDING
    finally:
        store.close()
