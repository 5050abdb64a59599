"""Rate limits on a simulated clock and a real DuckDB file: a robot allowing 20 messages a
minute gets 50 warnings as 20 messages and a digest of the rest, nothing lost, criticals never
merged and first in line."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Delivery, NoticeKind
from alerts.notify.ratelimit import VENDOR_LIMITS, Window
from core.clock import ManualClock
from core.records import OutboxState, Severity
from ingest.duckdb_outbox import DuckDBOutboxStore
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


def wecom(store: DuckDBOutboxStore, clock: ManualClock, robot: RecordingChannel) -> Dispatcher:
    limits = {robot.name: VENDOR_LIMITS["wecom"]}
    return Dispatcher(store, {robot.name: robot}, clock, limits=limits, rng=random.Random(3))


def max_in_any_window(times: list[datetime], per_s: float) -> int:
    return max(sum(1 for u in times if t <= u < t + seconds(per_s)) for t in times)


def delivered_alerts(robot: RecordingChannel) -> set[int]:
    return {a.alert_id for n in robot.accepted.values() for a in n.alerts}


async def test_fifty_warnings_become_twenty_messages_and_one_digest(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    d = wecom(store, clock, robot)
    async with running(d):
        await d.submit([notice(i) for i in range(1, 51)])
        await settle(d)
        # The minute's budget went to the 20 oldest; the other 30 wait as one digest.
        assert robot.keys == [f"n-{i}" for i in range(1, 21)]
        [digest] = [e for e in store.entries(OutboxState.PENDING)]
        assert digest.kind == "digest" and digest.alert_ids == tuple(range(21, 51))
        merged = store.entries(OutboxState.MERGED)
        assert len(merged) == 30 and {e.merged_into for e in merged} == {digest.key}
        await clock.advance(59.9)
        await settle(d)
        assert len(robot.calls) == 20
        await clock.advance(0.1)
        await settle(d)
    assert len(robot.calls) == 21
    sent_digest = robot.calls[-1][1]
    assert sent_digest.kind is NoticeKind.DIGEST and sent_digest.key == digest.key
    assert len(sent_digest.alerts) == 30 and set(sent_digest.ack_links) == set(range(21, 51))
    assert delivered_alerts(robot) == set(range(1, 51))  # nothing lost
    assert store.entry(digest.key).state is OutboxState.SENT  # type: ignore[union-attr]
    # The digest's delivery shows in the log of each alert it carried.
    [row] = store.deliveries_for_alert(37)
    assert row.notice_key == digest.key and row.kind == "digest"


async def test_criticals_are_never_merged_and_go_first_when_a_slot_frees(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    d = wecom(store, clock, robot)
    async with running(d):
        await d.submit([notice(i) for i in range(1, 51)])
        await settle(d)
        criticals = [notice(100 + i, Severity.CRITICAL) for i in range(25)]
        await d.submit(criticals)
        await d.submit([notice(i) for i in range(51, 56)])  # more warnings while spent
        await settle(d)
        assert len(robot.calls) == 20
        for _ in range(4):
            await clock.advance(60)
            await settle(d)
    keys = robot.keys
    critical_keys = [f"n-{100 + i}" for i in range(25)]
    # Each critical went out on its own, in order, before any digest.
    assert [k for k in keys if k in critical_keys] == critical_keys
    first_digest = next(i for i, (_, n) in enumerate(robot.calls) if n.kind is NoticeKind.DIGEST)
    assert keys.index(critical_keys[-1]) < first_digest
    # Warnings 21-55 reached the robot inside digests; every alert was delivered.
    assert delivered_alerts(robot) == set(range(1, 56)) | set(range(100, 125))
    assert store.entries(OutboxState.PENDING) == []
    assert all(not e.critical for e in store.entries(OutboxState.MERGED))
    # Never more than the vendor's 20 in any minute.
    assert max_in_any_window([t for t, _ in robot.calls], 60) <= 20


async def test_notices_arriving_while_limited_fold_with_the_waiting_digest_into_a_new_one(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock)
    d = Dispatcher(store, {robot.name: robot}, clock, limits={robot.name: [Window(1, 60)]})
    async with running(d):
        await d.submit([notice(1), notice(2), notice(3)])
        await settle(d)
        [first_digest] = store.entries(OutboxState.PENDING)
        await d.submit([notice(4)])
        await settle(d)
        [second_digest] = store.entries(OutboxState.PENDING)
        assert store.entry(first_digest.key).merged_into == second_digest.key  # type: ignore[union-attr]
        assert second_digest.alert_ids == (2, 3, 4)
        await clock.advance(60)
        await settle(d)
    assert robot.keys == ["n-1", second_digest.key]
    assert delivered_alerts(robot) == {1, 2, 3, 4}


async def test_a_retried_notice_keeps_its_key_instead_of_joining_a_digest(
    store: DuckDBOutboxStore, clock: ManualClock
) -> None:
    robot = RecordingChannel("kitchen-robot", clock, [Delivery(ok=False, reason="timeout")])
    d = Dispatcher(
        store,
        {robot.name: robot},
        clock,
        limits={robot.name: [Window(2, 60)]},
        rng=random.Random(5),
    )
    async with running(d):
        await d.submit([notice(1)])
        await settle(d)  # n-1 tried once: it may have arrived
        await d.submit([notice(2), notice(3), notice(4)])
        await settle(d)
        for _ in range(3):
            await clock.advance(60)
            await settle(d)
    assert robot.keys.count("n-1") == 2
    assert store.entry("n-1").merged_into is None  # type: ignore[union-attr]
    assert delivered_alerts(robot) == {1, 2, 3, 4}
