"""Notifications through the whole service: an over-temperature history published to a real
Mosquitto fires the rule, the planner tells the cook's WeCom robot (a real local HTTP receiver
that checks the vendor's request shape), the message names the fridge and where it stands and
carries a signed link; following the link acknowledges the alert, and its escalation to the
manager's DingTalk robot stops, while the alert nobody acknowledged escalates. A restart keeps
the planner's timers and sends what the outbox holds exactly once, even a notice the robot
answers only while the service is stopping. Time is simulated."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from alerts.notify.model import AlertFacts, Notice, NoticeKind
from alerts.notify.outbox import entry_for
from canteen.runtime import Overrides, Service
from core import ManualClock
from core.config import SiteConfig
from core.records import DeliveryOutcome, Message, OutboxState, Role, RuleId, Severity
from demo_broker.mosquitto import MosquittoProcess
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.receivers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    WECOM_KEY,
    RobotReceiver,
    Scripted,
    free_port,
)
from tests.conftest import Publisher, wait_for
from tests.dashboard_api.accounts import bearer

# 10:00 in Asia/Shanghai on a Tuesday: no quiet hours, the day shift on duty.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
MINUTE_MS = 60_000
WECOM = "/cgi-bin/webhook/send"
DINGTALK = "/robot/send"
_HIDDEN = re.compile(r'name="csrf" value="([^"]*)"')


def site(prefix: str, port: int, receiver: RobotReceiver) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"id": "e2e-school", "name": "实验小学", "timezone": "Asia/Shanghai"},
            "mqtt": {"topic_prefix": prefix, "client_id": f"notify-gw-{uuid.uuid4().hex[:8]}"},
            "rules": {"judge_on": "air"},
            "buildings": [{"id": "canteen", "name": "食堂", "kind": "canteen"}],
            "devices": [
                {
                    "id": f"fridge-{i}",
                    "kind": "fridge",
                    "building": "canteen",
                    "name": f"{i}号冷藏柜",
                    "location": "后厨",
                    "interval_s": 60,
                }
                for i in (1, 2)
            ],
            "notify": {
                "public_url": f"http://127.0.0.1:{port}/",
                "link_secret": "e2e-link-secret-0123456789abcdef",
                "channels": {
                    "kitchen": {"type": "wecom", "key": WECOM_KEY, "base_url": receiver.url},
                    "office": {
                        "type": "dingtalk",
                        "access_token": DINGTALK_TOKEN,
                        "secret": DINGTALK_SECRET,
                        "base_url": receiver.url,
                    },
                },
                "people": {
                    "wang": {"display_name": "王师傅", "channels": ["kitchen"]},
                    "zhao": {"display_name": "赵经理", "channels": ["office"]},
                },
                "roles": {
                    "cook_on_duty": {"default": ["wang"]},
                    "canteen_manager": {"default": ["zhao"]},
                },
                "routes": [
                    {
                        "name": "food",
                        "levels": [
                            {"roles": ["cook_on_duty"]},
                            {"roles": ["canteen_manager"], "after_min": 15},
                        ],
                        "reminder_every_min": None,
                    }
                ],
            },
        }
    )


@pytest.fixture
def receiver() -> Iterator[RobotReceiver]:
    clock_now: list[datetime] = [START]
    with RobotReceiver(lambda: clock_now[0]) as robots:
        yield robots


@asynccontextmanager
async def serving(
    config: SiteConfig,
    clock: ManualClock,
    broker: MosquittoProcess,
    db: Path,
    port: int,
    while_stopping: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[Service]:
    """The service running; on the way out it is stopped and `while_stopping` runs meanwhile."""
    service = Service(
        config, clock, Overrides(broker=broker.url, db=str(db), listen=f"127.0.0.1:{port}")
    )
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        await wait_for(lambda: service.gateway.subscribed and service.api_ready, "service up")
        yield service
    finally:
        stop.set()
        if while_stopping is not None:
            await while_stopping()
        await running


def answer_once_stopping(lane: str, answer: threading.Event) -> Callable[[], Awaitable[None]]:
    """Set `answer` once the stop reached the outbox lane `lane` (its task is cancelling)."""

    async def when_stopping() -> None:
        for _ in range(3000):
            tasks = [t for t in asyncio.all_tasks() if t.get_name() == f"outbox-lane:{lane}"]
            if not tasks or tasks[0].cancelling():
                break
            await asyncio.sleep(0.01)
        answer.set()

    return when_stopping


def overheat(publisher: Publisher, prefix: str, device: str, start: datetime) -> None:
    """40 minutes at 10.5 °C ending at `start`: past the fridge's 8 °C for its 30 minutes."""
    topic = f"{prefix}/e2e-school/{device}/telemetry"
    first = int(start.timestamp() * 1000) - 40 * MINUTE_MS
    for minute in range(41):
        publisher.publish(
            topic, {"ts": first + minute * MINUTE_MS, "seq": minute, "m": {"temp_c": 10.5}}
        )
    publisher.flush()


def texts(receiver: RobotReceiver, path: str) -> list[str]:
    out = []
    for rec in receiver.received(path):
        assert not rec.problems, rec.problems
        kind = rec.data["msgtype"]
        out.append(rec.data[kind].get("content") or rec.data[kind].get("text", ""))
    return out


async def advance(clock: ManualClock, minutes: int, service: Service) -> None:
    """Move the clock a minute at a time, letting the service's ticks run between steps, then
    run one notify step at the final minute: a tick still at work while the clock moved on
    sleeps its 5 s from the minute it then finds, which a clock that stopped never reaches
    (seen under load: the escalation never came)."""
    for _ in range(minutes):
        await clock.advance(60)
        await asyncio.sleep(0.05)
    assert service.notify is not None
    await service.notify.step()


async def test_alert_reaches_the_robot_and_its_link_stops_the_escalation(
    mosquitto: MosquittoProcess,
    publisher: Publisher,
    receiver: RobotReceiver,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    clock = ManualClock(START)
    receiver.now = clock.now
    config = site(topic_prefix, port, receiver)
    async with serving(config, clock, mosquitto, tmp_path / "e2e.duckdb", port) as service:
        overheat(publisher, topic_prefix, "fridge-1", START)
        overheat(publisher, topic_prefix, "fridge-2", START)
        await wait_for(lambda: len(receiver.received(WECOM)) >= 2, "both alerts on the robot")
        messages = texts(receiver, WECOM)
        one = next(m for m in messages if "1号冷藏柜" in m)
        assert "食堂" in one and "后厨" in one and "10.5" in one, one
        links = re.findall(rf"http://127\.0\.0\.1:{port}/ack/[A-Za-z0-9_.-]+", one)
        assert len(links) == 1, one
        assert not receiver.received(DINGTALK)  # the manager is told only after 15 minutes

        async with httpx.AsyncClient() as browser:
            page = await browser.get(links[0])
            assert page.status_code == 200 and "1号冷藏柜" in page.text, page.text
            form_key = _HIDDEN.search(page.text)
            assert form_key is not None, page.text
            done = await browser.post(links[0], data={"csrf": form_key.group(1)})
            assert done.status_code == 200 and 'data-testid="ack-done"' in done.text, done.text

        viewer = bearer(service.auth.create_token("e2e-viewer", Role.VIEWER))
        async with httpx.AsyncClient(base_url=service.url, headers=viewer) as api:
            open_alerts = (await api.get("/api/alerts")).json()["items"]
            by_device = {a["device"]: a for a in open_alerts}
            acked = by_device["fridge-1"]
            assert acked["state"] == "acknowledged"
            assert acked["acknowledged_by"] == "via wecom link (kitchen)"
            assert acked["acknowledged_at"] == "2026-11-24T10:00:00+08:00"  # who, and when
            assert by_device["fridge-2"]["state"] == "firing"

            await advance(clock, 16, service)
            await wait_for(lambda: len(receiver.received(DINGTALK)) >= 1, "the escalation")
            await asyncio.sleep(0.3)
            escalated = texts(receiver, DINGTALK)
            assert len(escalated) == 1 and "2号冷藏柜" in escalated[0], escalated
            assert "1号冷藏柜" not in escalated[0]

            log = (await api.get(f"/api/alerts/{acked['id']}/deliveries")).json()
            assert log["sent"] == 1, log
            (row,) = log["items"]
            assert row["channel"] == "kitchen" and row["kind"] == "fired", row
            assert row["recipients"] == ["wang"] and row["status"] == 200, row
            history = (await api.get(f"/api/alerts/{by_device['fridge-2']['id']}")).json()
            assert any(e["action"] == "escalated" for e in history["history"]), history
            missing = await api.get("/api/alerts/999999/deliveries")
            assert missing.status_code == 404, missing.text


async def test_a_restart_keeps_the_timers_and_sends_the_outbox_once(
    mosquitto: MosquittoProcess,
    publisher: Publisher,
    receiver: RobotReceiver,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    clock = ManualClock(START)
    receiver.now = clock.now
    config = site(topic_prefix, port, receiver)
    db = tmp_path / "restart.duckdb"
    # The robot gets the first notice, and answers it only once the service is stopping.
    answer = threading.Event()
    receiver.fail_next(Scripted(body={"errcode": 0, "errmsg": "ok"}, release=answer))
    stopping = answer_once_stopping("kitchen", answer)
    async with serving(config, clock, mosquitto, db, port, while_stopping=stopping):
        overheat(publisher, topic_prefix, "fridge-1", START)
        await wait_for(lambda: len(receiver.received(WECOM)) == 1, "the first notice")

    # While the service is down, a notice waits in the outbox (as one interrupted would).
    outbox = DuckDBOutboxStore(db)
    try:
        outbox.enqueue(entry_for(_waiting_notice(), clock.now()))
    finally:
        outbox.close()
    await clock.advance(60)
    async with serving(config, clock, mosquitto, db, port) as service:
        await wait_for(lambda: len(receiver.received(WECOM)) == 2, "the waiting notice")
        assert "outbox-restart-check" in texts(receiver, WECOM)[1]
        assert not receiver.received(DINGTALK)
        await advance(clock, 15, service)
        await wait_for(lambda: len(receiver.received(DINGTALK)) == 1, "escalation after restart")
        await asyncio.sleep(0.3)
        # Nothing sent twice (the devices falling silent meanwhile is an alert of its own).
        kitchen = texts(receiver, WECOM)
        assert sum("1号冷藏柜" in m for m in kitchen) == 1, kitchen
        assert sum("outbox-restart-check" in m for m in kitchen) == 1, kitchen
        (escalated,) = texts(receiver, DINGTALK)
        assert "1号冷藏柜" in escalated, escalated
    # The outbox shows each notice sent once: the answer that came during the stop was kept.
    outbox = DuckDBOutboxStore(db)
    try:
        kitchen_entries = [e for e in outbox.entries() if e.channel == "kitchen"]
        assert {"restart-check/kitchen", "1/o1/fired/L0/group/kitchen"} <= {
            e.key for e in kitchen_entries
        }, kitchen_entries
        for entry in kitchen_entries:
            assert entry.state is OutboxState.SENT, entry
            rows = outbox.deliveries_for_notice(entry.key)
            assert [r.outcome for r in rows] == [DeliveryOutcome.SENT], rows
    finally:
        outbox.close()


def _waiting_notice() -> Notice:
    facts = AlertFacts(
        alert_id=4242,
        site="e2e-school",
        site_name="实验小学",
        device="fridge-2",
        device_name="2号冷藏柜",
        location="食堂 后厨",
        rule=RuleId.OVER_TEMPERATURE,
        severity=Severity.CRITICAL,
        food_safety=True,
        since=START,
        message=Message("outbox-restart-check", "outbox-restart-check"),
    )
    return Notice(
        key="restart-check/kitchen",
        kind=NoticeKind.FIRED,
        channel="kitchen",
        recipients=("wang",),
        alerts=(facts,),
        created_at=START,
    )
