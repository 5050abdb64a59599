"""Notifications across a restart, continued (a worse severity, timers due while down, people
acting while the notify side is down or a notice waits for its retry): on a simulated clock,
the real alert book and outbox, real receivers (`notify_world`). Nothing that became untrue
(a reminder or escalation once someone acted) reaches anyone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.model import Phase
from alerts.notify.links import verify
from core.records import OutboxState, RuleId, Severity
from demo_broker.mosquitto import MosquittoProcess
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.receivers import Scripted
from tests.canteen.notify_life import DINGTALK, finding, local
from tests.canteen.notify_world import (
    CABINET,
    FRIDGE,
    FRIDGE_2,
    LINK_SECRET,
    World,
    ack_token,
    firing,
    overheated,
    seal,
    world_on,
)


@pytest.fixture
def world(tmp_path: Path, mosquitto: MosquittoProcess, topic_prefix: str) -> Iterator[World]:
    with world_on(tmp_path, mosquitto, topic_prefix) as world:
        yield world


async def test_a_worse_severity_just_before_a_crash_follows_its_own_route(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(seal(local(24, 10), Severity.WARNING))
    life.freeze()
    await life.pass_minutes(30)  # 10:30: the warning's reminder to facilities
    await life.pass_minutes(1)
    await life.apply(seal(local(24, 10, 31), Severity.CRITICAL))  # the cook, at once
    await life.pass_minutes(1)
    await life.end()  # 10:32: the process dies; the snapshot knows the warning only
    assert world.told("chen") == [("fired", CABINET), ("reminder", CABINET)]
    assert world.told("kitchen") == [("fired", CABINET)]

    await clock.set(local(24, 10, 35))
    life = await world.life()
    await life.pass_minutes(5)
    assert world.told("office") == []
    await life.pass_minutes(1)  # 10:41: the critical route's manager, 10 min after 10:31
    assert world.told("office") == [("escalated", CABINET)]
    await life.pass_minutes(30)  # 11:11: the warning's reminders (11:00) have stopped
    await life.end()
    assert world.told("chen") == [("fired", CABINET), ("reminder", CABINET)]
    assert world.told("kitchen") == [("fired", CABINET)]
    assert world.told("office") == [("escalated", CABINET)]


async def test_a_worse_severity_while_down_is_told_on_start(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(seal(local(24, 10), Severity.WARNING))
    await life.pass_minutes(20)
    await life.end()  # stopped at 10:20

    await clock.set(local(24, 10, 25))  # a replay (another process) finds it worse meanwhile
    down = world.offline()
    down.book.apply([seal(local(24, 10, 25), Severity.CRITICAL)])
    down.close()

    await clock.set(local(24, 10, 28))
    life = await world.life()
    assert world.told("kitchen") == [("fired", CABINET)]  # the critical route's first level
    await life.pass_minutes(10)  # 10:38: its next level, 10 min after the cook was told
    assert world.told("office") == [("escalated", CABINET)]
    await life.pass_minutes(40)
    await life.end()
    assert world.told("chen") == [("fired", CABINET)]  # no reminder of the warning (10:30)


async def test_an_escalation_due_while_down_fires_once_on_start(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(overheated(1, local(24, 10)))
    await life.pass_minutes(5)
    await life.end()  # stopped at 10:05; levels due at 10:15 and 10:45, reminders each 10 min

    await clock.set(local(24, 11, 30))
    life = await world.life()
    assert world.told("office") == [("escalated", FRIDGE)]  # once, not a level per miss
    assert world.told("kitchen") == [("fired", FRIDGE)]  # and no burst of missed reminders
    await life.pass_minutes(29)
    await life.pass_minutes(1)  # 12:00: the principal, 30 min after the manager was told
    await life.end()
    assert world.told("sun") == [("escalated", FRIDGE)]
    reminders = [("reminder", FRIDGE)] * 2  # 11:40 and 11:50 to everyone told
    assert world.told("office") == [("escalated", FRIDGE), *reminders]
    assert world.told("kitchen") == [("fired", FRIDGE), *reminders]


async def test_acknowledged_while_down_nothing_more_is_sent(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(overheated(1, local(24, 10)), overheated(2, local(24, 10)))
    await life.pass_minutes(5)
    await life.end()  # stopped at 10:05
    fired = {s.devices: s for s in world.seen() if s.where == "kitchen"}
    assert set(fired) == {FRIDGE, FRIDGE_2}

    await clock.set(local(24, 10, 8))
    down = world.offline()
    first, second = (a.id for a in sorted(down.book.find(firing()), key=lambda a: a.device))
    down.book.acknowledge(first, "zhao")  # by the API
    alert_id, audience = verify(ack_token(world, "2号冷藏柜"), LINK_SECRET, clock.now())
    assert alert_id == second
    down.book.acknowledge(alert_id, f"via wecom link ({audience})")  # by the signed link
    down.close()

    await clock.set(local(24, 10, 30))
    life = await world.life()
    await life.pass_minutes(30)
    await life.end()
    assert len(world.seen()) == 2  # no escalation, no reminder


async def test_acknowledged_while_an_escalation_waited_in_the_outbox(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(overheated(1, local(24, 10)))
    await life.pass_minutes(14)
    world.robots.fail_next(Scripted(status=429, headers={"Retry-After": "600"}))
    await life.pass_minutes(1)  # 10:15: the manager's robot says wait 10 min
    await life.pass_minutes(1)
    await life.end()  # 10:16: the escalation waits in the outbox

    await clock.set(local(24, 10, 20))
    down = world.offline()
    [alert] = down.book.find(firing())
    down.book.acknowledge(alert.id, "wang")
    down.close()

    await clock.set(local(24, 10, 30))
    life = await world.life()
    await life.pass_minutes(20)
    await life.end()
    # The refused request and nothing after it: the escalation was not sent once acknowledged.
    assert len(world.robots.received(DINGTALK)) == 1
    assert world.told("kitchen") == [("fired", FRIDGE), ("reminder", FRIDGE)]


async def test_acknowledged_live_while_an_escalation_waits_for_its_retry(world: World) -> None:
    """The same without a restart: the tick that hears of the acknowledgement withdraws it."""
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(overheated(1, local(24, 10)))
    await life.pass_minutes(14)
    world.robots.fail_next(Scripted(status=429, headers={"Retry-After": "600"}))
    await life.pass_minutes(3)  # 10:17
    [alert] = life.book.find(firing())
    life.book.acknowledge(alert.id, "wang")  # by the API, in this process
    await life.pass_minutes(30)
    await life.end()
    assert len(world.robots.received(DINGTALK)) == 1  # the refused request only
    assert world.told("kitchen") == [("fired", FRIDGE), ("reminder", FRIDGE)]
    outbox = DuckDBOutboxStore(world.db)
    try:
        [entry] = [e for e in outbox.entries() if e.kind == "escalated"]
    finally:
        outbox.close()
    assert entry.state is OutboxState.WITHDRAWN
    assert entry.last_error == (
        "withdrawn, not sent: its alert was acknowledged by wang before it went out"
    )


async def test_resolved_by_the_rules_while_an_escalation_waits_for_its_retry(
    world: World,
) -> None:
    """The manager is told it resolved, not that nobody acted (the escalation, refused before
    the resolution, is withdrawn; the resolved notice waits for the robot's Retry-After)."""
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(overheated(1, local(24, 10)))
    await life.pass_minutes(14)
    world.robots.fail_next(Scripted(status=429, headers={"Retry-After": "600"}))
    await life.pass_minutes(2)  # 10:16
    await life.apply(
        finding("fridge-1", RuleId.OVER_TEMPERATURE, local(24, 10, 16), phase=Phase.CLEARED)
    )
    await life.pass_minutes(20)
    await life.end()
    # The refused request (the robot said wait), then the resolution only.
    assert world.told("office") == [("escalated", FRIDGE), ("resolved", FRIDGE)]
    assert world.told("kitchen") == [("fired", FRIDGE), ("reminder", FRIDGE), ("resolved", FRIDGE)]
