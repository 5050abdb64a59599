"""Notifications across a restart, as the people on the receiving end see them (occurrences,
quiet hours, grouping): the service's notify side stops or crashes at awkward moments and starts
again, on a simulated clock, with the real alert book and outbox on one DuckDB file and real
receivers (`notify_world`). Each test states what each person must have received: nothing
twice, nothing missing, timers counted from what happened, not from the restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.model import Phase
from core.records import FoodDecision, RuleId, Severity
from demo_broker.mosquitto import MosquittoProcess
from tests.canteen.notify_life import finding, local
from tests.canteen.notify_world import (
    CABINET,
    FRIDGE,
    FRIDGE_2,
    World,
    overheated,
    resolved,
    seal,
    silent,
    world_on,
)
from tests.conftest import wait_for


@pytest.fixture
def world(tmp_path: Path, mosquitto: MosquittoProcess, topic_prefix: str) -> Iterator[World]:
    with world_on(tmp_path, mosquitto, topic_prefix) as world:
        yield world


async def test_a_later_occurrence_after_a_crash_counts_from_its_own_firing(world: World) -> None:
    clock = world.clock
    life = await world.life()
    await life.apply(finding("fridge-1", RuleId.OVER_TEMPERATURE, local(24, 9)))
    life.freeze()  # the planner's state was saved after the first firing, never again
    await life.pass_minutes(5)
    await life.apply(
        finding("fridge-1", RuleId.OVER_TEMPERATURE, local(24, 9, 5), phase=Phase.CLEARED)
    )
    await life.pass_minutes(1)
    await life.apply(finding("fridge-1", RuleId.OVER_TEMPERATURE, local(24, 9, 6)))
    await life.pass_minutes(2)
    await life.end()  # 09:08: the process dies
    assert world.told("kitchen") == [("fired", FRIDGE), ("resolved", FRIDGE), ("fired", FRIDGE)]

    await clock.set(local(24, 9, 12))
    life = await world.life()
    assert len(world.seen()) == 3  # nothing told again on start
    await life.pass_minutes(4)  # 09:16: 10 min after the second firing, not after the start
    assert world.told("kitchen")[3:] == [("reminder", FRIDGE)]
    await life.pass_minutes(5)  # 09:21: 15 min after it, the manager
    assert world.told("office") == [("escalated", FRIDGE)]
    await life.end()
    assert world.told("kitchen") == [
        ("fired", FRIDGE), ("resolved", FRIDGE), ("fired", FRIDGE), ("reminder", FRIDGE)
    ]  # fmt: skip
    # The wall: the first occurrence shown and cleared, the second shown, its reminder.
    await wait_for(lambda: len(world.wall.messages) >= 4, "the wall's messages")
    assert [key == "" for _, key in world.wall.messages] == [False, True, False, False]
    assert len({key for _, key in world.wall.messages}) == 4


async def test_a_later_occurrence_while_down_is_told_on_start(world: World) -> None:
    clock = world.clock
    life = await world.life()
    await life.apply(overheated(1, local(24, 9)))
    await life.pass_minutes(5)
    await life.apply(
        finding("fridge-1", RuleId.OVER_TEMPERATURE, local(24, 9, 5), phase=Phase.CLEARED)
    )
    await life.pass_minutes(1)
    await life.end()  # stopped at 09:06, the first occurrence told and resolved

    await clock.set(local(24, 9, 10))  # a replay (another process) finds it over again
    down = world.offline()
    down.book.apply([overheated(1, local(24, 9, 10))])
    down.close()

    await clock.set(local(24, 9, 12))
    life = await world.life()
    assert world.told("kitchen") == [("fired", FRIDGE), ("resolved", FRIDGE), ("fired", FRIDGE)]
    await life.pass_minutes(15)  # 09:27: the manager, 15 min after the cook was told
    await life.end()
    assert world.told("office") == [("escalated", FRIDGE)]
    assert world.told("kitchen")[3:] == [("reminder", FRIDGE)]  # 09:22


async def test_a_round_that_ended_while_down_tells_its_resolution(world: World) -> None:
    """Fridge 1 resolved and fired again, fridge 2 resolved and closed, while the notify side
    was down: on start the cook hears both resolutions, then fridge 1's new occurrence."""
    clock = world.clock
    life = await world.life()
    await life.apply(overheated(1, local(24, 9)), overheated(2, local(24, 9)))
    await life.pass_minutes(5)
    await life.end()

    down = world.offline()
    await clock.set(local(24, 9, 7))
    cleared = [
        finding(f"fridge-{i}", RuleId.OVER_TEMPERATURE, local(24, 9, 7), phase=Phase.CLEARED)
        for i in (1, 2)
    ]
    down.book.apply(cleared)
    [second] = [a for a in down.book.find(resolved()) if a.device == "fridge-2"]
    down.book.close(second.id, "zhao", "压缩机已修复", FoodDecision.DISCARDED, "超温 35 分钟")
    await clock.set(local(24, 9, 9))
    down.book.apply([overheated(1, local(24, 9, 9))])
    down.close()

    await clock.set(local(24, 9, 12))
    life = await world.life()
    await life.end()
    told = world.told("kitchen")
    assert sorted(told[:2]) == [("fired", FRIDGE), ("fired", FRIDGE_2)]
    on_start = told[2:]
    assert sorted(on_start) == [("fired", FRIDGE), ("resolved", FRIDGE), ("resolved", FRIDGE_2)]
    assert on_start.index(("resolved", FRIDGE)) < on_start.index(("fired", FRIDGE))
    # The wall shows both, then clears both and shows fridge 1 again.
    await wait_for(lambda: len(world.wall.messages) >= 5, "the wall's messages")
    wall = [key == "" for _, key in world.wall.messages]
    assert wall[:2] == [False, False] and sorted(wall[2:]) == [False, True, True]
    last = dict(world.wall.messages)  # topic -> its last message: fridge 1 open, fridge 2 not
    assert sorted(key == "" for key in last.values()) == [False, True]


async def test_an_alert_held_by_quiet_hours_goes_out_in_the_morning_once(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 23))  # Tuesday 23:00: quiet hours till 07:00
    life = await world.life()
    await life.apply(seal(local(24, 23), Severity.WARNING))
    await life.pass_minutes(30)
    await life.end()  # stopped at 23:30, the seal warning held
    assert world.seen() == []

    await clock.set(local(25, 6, 50))
    life = await world.life()
    await life.pass_minutes(9)
    assert world.seen() == []  # 06:59: still quiet
    await life.pass_minutes(1)
    assert world.told("chen") == [("fired", CABINET)]  # 07:00
    life.freeze()
    await life.pass_minutes(2)
    await life.end()  # 07:02: the process dies; the 07:00 notice is in the outbox only

    await clock.set(local(25, 7, 10))
    life = await world.life()
    await life.pass_minutes(19)
    assert world.told("chen") == [("fired", CABINET)]  # not told again at the start
    await life.pass_minutes(1)  # 07:30: the reminder counts from 07:00
    assert world.told("chen") == [("fired", CABINET), ("reminder", CABINET)]
    await life.end()
    assert [s.where for s in world.seen()] == ["chen", "chen"]


async def test_an_alert_held_when_the_process_died_before_its_save(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 23))
    life = await world.life()
    life.freeze()  # the planner's state never reaches the disk
    await life.apply(seal(local(24, 23), Severity.WARNING))
    await life.pass_minutes(1)
    await life.end()

    await clock.set(local(25, 8))  # the service is back after the night's end
    life = await world.life()
    assert world.told("chen") == [("fired", CABINET)]  # once, on start
    await life.pass_minutes(5)
    await life.end()
    life = await world.life()
    await life.pass_minutes(5)
    await life.end()
    assert world.told("chen") == [("fired", CABINET)]


PROBES_1_3 = ("1号冷冻柜", "2号冷冻柜", "3号冷冻柜")
PROBES_4_5 = ("4号冷冻柜", "5号冷冻柜")


async def test_a_grouped_message_pending_at_a_restart_goes_out_once(world: World) -> None:
    clock = world.clock
    await clock.set(local(24, 10))
    life = await world.life()
    await life.apply(*(silent(i, local(24, 10)) for i in (1, 2, 3)))
    await life.end()  # stopped inside the 2-minute grouping window
    assert world.seen() == []

    await clock.set(local(24, 10, 1))
    life = await world.life()
    await life.pass_minutes(1)  # 10:02: the window's end
    assert world.told("kitchen") == [("digest", PROBES_1_3)]
    life.freeze()
    await life.pass_minutes(1)
    await life.apply(*(silent(i, local(24, 10, 3)) for i in (4, 5)))
    await life.pass_minutes(2)  # 10:05
    assert world.told("kitchen") == [("digest", PROBES_1_3), ("digest", PROBES_4_5)]
    await life.pass_minutes(1)
    await life.end()  # 10:06: the process dies, the snapshot has only the first group waiting

    await clock.set(local(24, 10, 10))
    life = await world.life()
    await life.pass_minutes(21)
    assert len(world.seen()) == 2  # 10:31: neither digest again
    await life.pass_minutes(1)  # 10:32: 30 min after the first digest, the manager
    assert world.told("office") == [("digest", PROBES_1_3)]
    await life.pass_minutes(3)  # 10:35: and after the second
    assert world.told("office") == [("digest", PROBES_1_3), ("digest", PROBES_4_5)]
    await life.end()
    assert len(world.told("kitchen")) == 2
