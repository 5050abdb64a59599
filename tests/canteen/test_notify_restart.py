"""Notifications across a restart, as the people on the receiving end see them: the service's
notify side stops or crashes at awkward moments and starts again, on a simulated clock, with
the real alert book and outbox on one DuckDB file and real receivers (the cook's WeCom robot
and the manager's DingTalk robot over HTTP, the principal's and facilities' mail on aiosmtpd,
the canteen's wall display on Mosquitto). Each test states what each person must have received:
nothing twice, nothing missing, timers counted from what happened, not from the restart."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.model import AlertQuery, AlertState, Finding, Phase
from alerts.notify.links import verify
from core.clock import ManualClock
from core.config import SiteConfig
from core.records import OutboxState, RuleId, Severity
from demo_broker.mosquitto import MosquittoProcess
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.receivers import MailReceiver, RobotReceiver, Scripted
from tests.canteen.notify_life import (
    DINGTALK,
    SITE,
    WECOM,
    Life,
    Offline,
    finding,
    local,
    site,
)

_KINDS = (  # the headline's words (alerts.notify.render), most specific first
    ("告警提醒", "reminder"),
    ("告警升级", "escalated"),
    ("已恢复", "resolved"),
    ("告警汇总", "digest"),
    ("告警", "fired"),
)
_NAMES = re.compile(r"\d号(?:冷藏柜|冷冻柜|蒸柜)")


@dataclass(frozen=True)
class Seen:
    """One message as a person saw it: where, what kind, about which devices."""

    where: str
    kind: str
    devices: tuple[str, ...]


class WallWatcher:
    """The canteen's wall display: every alert-topic message, as it arrives."""

    def __init__(self, broker: MosquittoProcess, prefix: str) -> None:
        self.messages: list[tuple[str, str]] = []  # (topic, idempotency key or "" to clear)
        subscribed = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"wall-{uuid.uuid4().hex[:8]}"
        )
        self._client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/{SITE}/alerts/#", qos=1)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        assert subscribed.wait(10), "the wall display could not subscribe"

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        if msg.retain:  # what a reconnect would replay, not a new message
            return
        key = json.loads(msg.payload)["key"] if msg.payload else ""
        self.messages.append((msg.topic, key))

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class World:
    config: SiteConfig
    clock: ManualClock
    db: Path
    broker: MosquittoProcess
    robots: RobotReceiver
    mail: MailReceiver
    wall: WallWatcher

    async def life(self) -> Life:
        return await Life(self.config, self.db, self.clock, self.broker.url).start()

    def offline(self) -> Offline:
        return Offline(self.db, self.clock)

    def seen(self) -> list[Seen]:
        out: list[Seen] = []
        for path, where in ((WECOM, "kitchen"), (DINGTALK, "office")):
            for rec in self.robots.received(path):
                assert not rec.problems, rec.problems
                kind = rec.data["msgtype"]
                body = rec.data[kind]
                text = body.get("content") or body.get("text", "")
                out.append(Seen(where, _kind(text), _devices(text)))
        for envelope, message in self.mail.handler.messages:
            text = f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}"  # type: ignore[union-attr]
            for rcpt in envelope.rcpt_tos:
                out.append(Seen(rcpt.split("@")[0], _kind(text), _devices(text)))
        return out

    def told(self, where: str) -> list[tuple[str, tuple[str, ...]]]:
        return [(s.kind, s.devices) for s in self.seen() if s.where == where]


def _kind(text: str) -> str:
    head = text.strip().splitlines()[0]
    return next(kind for word, kind in _KINDS if word in head)


def _devices(text: str) -> tuple[str, ...]:
    return tuple(sorted(set(_NAMES.findall(text))))


@pytest.fixture
def world(tmp_path: Path, mosquitto: MosquittoProcess, topic_prefix: str) -> Iterator[World]:
    clock = ManualClock(local(24, 9))
    with RobotReceiver(clock.now) as robots, MailReceiver("plain", None) as mail:
        wall = WallWatcher(mosquitto, topic_prefix)
        try:
            config = site(robots, mail, topic_prefix)
            yield World(config, clock, tmp_path / "canteen.duckdb", mosquitto, robots, mail, wall)
        finally:
            wall.close()


FRIDGE, FRIDGE_2 = ("1号冷藏柜",), ("2号冷藏柜",)
CABINET = ("1号蒸柜",)


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
    first, second = (a.id for a in sorted(down.book.find(_open()), key=lambda a: a.device))
    down.book.acknowledge(first, "zhao")  # by the API
    alert_id, audience = verify(_link(world, "2号冷藏柜"), LINK_SECRET, clock.now())
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
    [alert] = down.book.find(_open())
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
    [alert] = life.book.find(_open())
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


LINK_SECRET = "restart-link-secret-0123456789ab"


def seal(at: datetime, severity: Severity) -> Finding:
    return finding("cab-1", RuleId.SEAL_DEGRADATION, at, severity=severity)


def silent(probe: int, at: datetime) -> Finding:
    return finding(f"probe-{probe}", RuleId.OFFLINE, at)


def overheated(fridge: int, at: datetime) -> Finding:
    return finding(f"fridge-{fridge}", RuleId.OVER_TEMPERATURE, at)


def _open() -> AlertQuery:
    return AlertQuery(site=SITE, states=(AlertState.FIRING,))


def _link(world: World, device_name: str) -> str:
    for rec in world.robots.received(WECOM):
        text = rec.data[rec.data["msgtype"]]["content"]
        if device_name in text:
            found = re.search(r"/ack/([A-Za-z0-9_.-]+)", text)
            assert found is not None, text
            return found.group(1)
    raise AssertionError(f"no message about {device_name}")
