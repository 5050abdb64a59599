"""The outbox's retention and a restart, as the people told see it: an alert left firing longer
than `outbox_retention_days` keeps every notice about it (what a restarted planner recalls of
its round), so a crash after a month does not tell its first level again; once it is closed,
its notices are pruned like any other, and the delivery log keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.model import Phase
from core.records import DeliveryOutcome, RuleId, Severity
from demo_broker.mosquitto import MosquittoProcess
from tests.canteen.notify_life import finding, local
from tests.canteen.notify_world import CABINET, World, firing, seal, world_on

CRITICAL = Severity.CRITICAL
RETENTION = timedelta(days=30)  # notify.outbox_retention_days' default


@pytest.fixture
def world(tmp_path: Path, mosquitto: MosquittoProcess, topic_prefix: str) -> Iterator[World]:
    with world_on(tmp_path, mosquitto, topic_prefix) as world:
        yield world


async def test_an_alert_firing_past_the_retention_is_not_told_afresh_after_a_crash(
    world: World,
) -> None:
    life = await world.life()
    # The planner's own state never reaches the disk (a crash before its save, or a snapshot
    # that no longer reads): after the restart the outbox is all it recalls.
    life.freeze()
    await life.apply(seal(local(24, 9), Severity.CRITICAL))  # the cook, then the manager
    await life.pass_minutes(10)
    told = [("fired", CABINET)], [("escalated", CABINET)]
    assert (world.told("kitchen"), world.told("office")) == told
    await life.jump(RETENTION + timedelta(days=1))  # a month on, nobody acknowledged
    assert await life.wiring.prune(RETENTION) == 0  # every notice of an open alert is kept
    await life.end()  # the process dies

    life = await world.life()
    await life.pass_minutes(15)  # the cook is not told again, nor the manager 10 min later
    assert (world.told("kitchen"), world.told("office")) == told
    [alert] = life.store.find_alerts(firing())

    # Acknowledged, cleared and closed: its notices are pruned a retention later, like any.
    life.book.acknowledge(alert.id, "wang")
    now = world.clock.now()
    await life.apply(
        finding("cab-1", RuleId.SEAL_DEGRADATION, now, phase=Phase.CLEARED, severity=CRITICAL)
    )
    life.book.close(alert.id, "zhao", "更换门封条")
    await life.pass_minutes(1)
    assert world.told("kitchen")[1:] == [("resolved", CABINET)]
    await life.jump(RETENTION + timedelta(days=1))
    assert await life.wiring.prune(RETENTION) == 0  # the hourly prune did it already
    assert life.wiring.outbox.entries_for_alerts([alert.id]) == []
    sent = life.wiring.outbox.deliveries_for_alert(alert.id)
    assert [d.kind for d in sent if d.outcome is DeliveryOutcome.SENT] == [
        "fired",
        "escalated",
        "resolved",
        "resolved",
    ]
    await life.end()
