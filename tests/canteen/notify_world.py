"""The world around the notify side in the restart tests (`test_notify_restart*.py`): the real
receivers people read (the kitchen's WeCom robot and the manager's DingTalk robot over HTTP,
the principal's and facilities' mail on aiosmtpd, the canteen's wall display on Mosquitto), a
manual clock, one DuckDB file for every life, and what each person saw, message by message
(kind and devices, read from the message itself)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from alerts.model import AlertQuery, AlertState, Finding
from core.clock import ManualClock
from core.config import SiteConfig
from core.records import RuleId, Severity
from demo_broker.mosquitto import MosquittoProcess
from tests.alerts.notify.receivers import MailReceiver, RobotReceiver
from tests.canteen.notify_life import DINGTALK, SITE, WECOM, Life, Offline, finding, local, site

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
                out.append(Seen(where, kind_of(text), _devices(text)))
        for envelope, message in self.mail.handler.messages:
            text = f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}"  # type: ignore[union-attr]
            for rcpt in envelope.rcpt_tos:
                out.append(Seen(rcpt.split("@")[0], kind_of(text), _devices(text)))
        return out

    def told(self, where: str) -> list[tuple[str, tuple[str, ...]]]:
        return [(s.kind, s.devices) for s in self.seen() if s.where == where]


def kind_of(text: str) -> str:
    head = text.strip().splitlines()[0]
    return next(kind for word, kind in _KINDS if word in head)


def _devices(text: str) -> tuple[str, ...]:
    return tuple(sorted(set(_NAMES.findall(text))))


@contextmanager
def world_on(tmp_path: Path, broker: MosquittoProcess, prefix: str) -> Iterator[World]:
    """Receivers up, a clock at Tuesday 09:00 in Shanghai, the DuckDB file not yet made."""
    clock = ManualClock(local(24, 9))
    with RobotReceiver(clock.now) as robots, MailReceiver("plain", None) as mail:
        wall = WallWatcher(broker, prefix)
        try:
            config = site(robots, mail, prefix)
            yield World(config, clock, tmp_path / "canteen.duckdb", broker, robots, mail, wall)
        finally:
            wall.close()


FRIDGE, FRIDGE_2 = ("1号冷藏柜",), ("2号冷藏柜",)
CABINET = ("1号蒸柜",)
LINK_SECRET = "restart-link-secret-0123456789ab"


def seal(at: datetime, severity: Severity) -> Finding:
    return finding("cab-1", RuleId.SEAL_DEGRADATION, at, severity=severity)


def silent(probe: int, at: datetime) -> Finding:
    return finding(f"probe-{probe}", RuleId.OFFLINE, at)


def overheated(fridge: int, at: datetime) -> Finding:
    return finding(f"fridge-{fridge}", RuleId.OVER_TEMPERATURE, at)


def firing() -> AlertQuery:
    return AlertQuery(site=SITE, states=(AlertState.FIRING,))


def resolved() -> AlertQuery:
    return AlertQuery(site=SITE, states=(AlertState.RESOLVED,))


def ack_token(world: World, device_name: str) -> str:
    """The token of the acknowledge link the kitchen robot got about `device_name`."""
    for rec in world.robots.received(WECOM):
        text = rec.data[rec.data["msgtype"]]["content"]
        if device_name in text:
            found = re.search(r"/ack/([A-Za-z0-9_.-]+)", text)
            assert found is not None, text
            return found.group(1)
    raise AssertionError(f"no message about {device_name}")
