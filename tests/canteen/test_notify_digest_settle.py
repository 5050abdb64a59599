"""A digest waiting in the outbox while people act on its alerts, as the kitchen's robot sees it:
three freezers fall silent together (one digest to the cook), the robot answers WeCom's
45009 (rate limited, retry in a minute), and the cook acknowledges before the retry. All
three acknowledged: the digest is withdrawn, never sent (live, or found on start after a
crash); two of three: it goes out saying who acknowledged those two, with the third's link
only. Real alert book and outbox, the wiring on a manual clock, real receivers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.lifecycle import AlertBook
from core.records import DeliveryOutcome, OutboxState
from demo_broker.mosquitto import MosquittoProcess
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.receivers import Scripted
from tests.canteen.notify_life import WECOM, Life, local
from tests.canteen.notify_world import World, firing, silent, world_on

PROBES = ("1号冷冻柜", "2号冷冻柜", "3号冷冻柜")
RATE_LIMITED = Scripted(body={"errcode": 45009, "errmsg": "api freq out of limit"})


@pytest.fixture
def world(tmp_path: Path, mosquitto: MosquittoProcess, topic_prefix: str) -> Iterator[World]:
    with world_on(tmp_path, mosquitto, topic_prefix) as world:
        yield world


async def refused_digest(world: World) -> Life:
    """09:00 three freezers fall silent; 09:02 their digest to the cook is refused (45009)."""
    life = await world.life()
    world.robots.fail_next(RATE_LIMITED)
    await life.apply(*(silent(i, local(24, 9)) for i in (1, 2, 3)))
    await life.pass_minutes(2)
    [refused] = world.robots.received(WECOM)
    assert "告警汇总" in _text(refused.data) and all(p in _text(refused.data) for p in PROBES)
    return life


def acknowledge(book: AlertBook, count: int, by: str = "wang") -> list[int]:
    """The first `count` freezers' alerts acknowledged by `by`; every id, in device order."""
    alerts = sorted(book.find(firing()), key=lambda a: a.device)
    for alert in alerts[:count]:
        book.acknowledge(alert.id, by)
    return [a.id for a in alerts]


async def test_a_digest_whose_every_alert_was_acknowledged_is_withdrawn(world: World) -> None:
    life = await refused_digest(world)
    ids = acknowledge(life.book, 3)
    await life.wiring.step()  # the tick that hears of it (before the robot's minute is up)
    await life.pass_minutes(40)  # past the retry, and past the manager's level (30 min)
    await life.end()
    assert len(world.robots.received(WECOM)) == 1  # the refused request, nothing after it
    assert world.told("office") == []
    _assert_withdrawn(world, ids, "acknowledged by wang")


async def test_acknowledged_while_down_the_digest_is_withdrawn_on_start(world: World) -> None:
    life = await refused_digest(world)
    await life.end()  # 09:02: the process dies with the digest waiting for its retry
    await world.clock.set(local(24, 9, 10))
    down = world.offline()
    ids = acknowledge(down.book, 3, by="zhao")  # by the API of another process
    down.close()

    life = await world.life()
    await life.pass_minutes(40)
    await life.end()
    assert len(world.robots.received(WECOM)) == 1
    assert world.told("office") == []
    _assert_withdrawn(world, ids, "acknowledged by zhao")


async def test_a_partly_acknowledged_digest_says_so_and_links_the_rest(world: World) -> None:
    life = await refused_digest(world)
    ids = acknowledge(life.book, 2)
    await life.wiring.step()
    await life.pass_minutes(1)  # 09:03: the robot's minute is up, the digest goes out
    _, sent = world.robots.received(WECOM)
    text = _text(sent.data)
    assert "3 条告警（3 条严重），其中 2 条已有人处理" in text.splitlines()[0]
    assert text.count("已由 wang 于 2026-11-24 09:02 (UTC+08:00) 确认，无需再处理") == 2
    links = re.findall(r"/ack/[A-Za-z0-9_.-]+", text)
    assert len(links) == 1  # the third freezer's only: nothing else to acknowledge
    third = text.split("3. 3号冷冻柜")[1]
    assert "/ack/" in third and "已由 wang" not in third
    await life.pass_minutes(30)  # 09:32: the manager hears of the third alone
    await life.end()
    assert world.told("office") == [("escalated", ("3号冷冻柜",))]
    outbox = DuckDBOutboxStore(world.db)
    try:
        log = outbox.deliveries_for_alert(ids[0])
    finally:
        outbox.close()
    assert [d.outcome for d in log] == [DeliveryOutcome.RETRY, DeliveryOutcome.SENT]


def _assert_withdrawn(world: World, ids: list[int], who: str) -> None:
    outbox = DuckDBOutboxStore(world.db)  # the life has ended: its connection is closed
    try:
        [digest] = [e for e in outbox.entries() if e.kind == "digest"]
        assert digest.state is OutboxState.WITHDRAWN
        expected = ", ".join(f"{who} ({i})" for i in ids)
        assert digest.last_error == (
            f"withdrawn, not sent: every alert in it was {expected} before it went out"
        )
        for alert_id in ids:
            log = outbox.deliveries_for_alert(alert_id)
            assert [(d.notice_key, d.outcome) for d in log] == [
                (digest.key, DeliveryOutcome.RETRY),
                (digest.key, DeliveryOutcome.WITHDRAWN),
            ]
    finally:
        outbox.close()


def _text(data: dict[str, object]) -> str:
    body = data[str(data["msgtype"])]
    assert isinstance(body, dict)
    return str(body["content"])
