"""One life of the service's notify side, for the restart tests: the real alert book and outbox
on a DuckDB file shared by every life, the real wiring (planner, dispatcher, ticks) on a manual
clock, sending to real receivers (robots over HTTP, e-mail to aiosmtpd, the wall's topic on
Mosquitto). A life ends by a stop (the planner's state saved, as `canteen serve` does on
SIGTERM) or by a crash (its saves after `freeze()` never reach the disk, as when the process is
killed before its batched save); what the alert book does while no life runs is what another
process (the API of a split deployment, a replay) writes meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.lifecycle import AlertBook
from alerts.model import Finding, Phase
from canteen.notify_wiring import PLANNER_STATE, NotifyWiring
from core.clock import ManualClock, to_epoch_ms
from core.config import SiteConfig
from core.records import Message, RuleId, Severity
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.notify.receivers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    WECOM_KEY,
    MailReceiver,
    RobotReceiver,
)
from tests.conftest import wait_for

SITE = "restart-school"
WECOM = "/cgi-bin/webhook/send"
DINGTALK = "/robot/send"
_SHANGHAI = timedelta(hours=8)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """2026-11-`day` (24 is a Tuesday) at a Shanghai wall-clock time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - _SHANGHAI


def site(robots: RobotReceiver, mail: MailReceiver, prefix: str) -> SiteConfig:
    """A kitchen: food alerts to the cook's robot and the wall, then the manager's robot after
    15 min, the principal's mail after 45, reminders every 10 min; a steam cabinet's seal
    warning to the facilities mail (reminders every 30 min), its critical to the cook, then the
    manager after 10 min; everything else to the cook, the manager after 30 min; quiet hours
    22:00-07:00; devices falling silent within 2 min are one digest."""
    devices: list[dict[str, Any]] = [
        {"id": f"fridge-{i}", "kind": "fridge", "building": "canteen", "name": f"{i}号冷藏柜"}
        for i in (1, 2)
    ]
    devices += [
        {"id": f"probe-{i}", "kind": "freezer", "building": "canteen", "name": f"{i}号冷冻柜"}
        for i in range(1, 6)
    ]
    devices.append(
        {"id": "cab-1", "kind": "steam_cabinet", "building": "canteen", "name": "1号蒸柜"}
    )
    return SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "实验小学", "timezone": "Asia/Shanghai"},
            "mqtt": {"topic_prefix": prefix, "client_id": f"{prefix}-gw"},
            "buildings": [{"id": "canteen", "name": "食堂", "kind": "canteen"}],
            "devices": devices,
            "notify": {
                "public_url": "http://127.0.0.1:9/",
                "link_secret": "restart-link-secret-0123456789ab",
                "quiet_hours": {"start": "22:00", "end": "07:00"},
                "grouping_window_s": 120,
                "channels": _channels(robots, mail, prefix),
                "people": {
                    "wang": {"display_name": "王师傅", "channels": ["kitchen"]},
                    "zhao": {"display_name": "赵经理", "channels": ["office"]},
                    "sun": {
                        "display_name": "孙校长",
                        "email": "sun@school.cn",
                        "channels": ["mail"],
                    },
                    "chen": {
                        "display_name": "Chen",
                        "email": "chen@school.cn",
                        "channels": ["mail"],
                    },
                },
                "roles": {
                    "cook_on_duty": {"default": ["wang"]},
                    "canteen_manager": {"default": ["zhao"]},
                    "principal": {"default": ["sun"]},
                    "facilities": {"default": ["chen"]},
                },
                "routes": _routes(),
            },
        }
    )


def _channels(robots: RobotReceiver, mail: MailReceiver, prefix: str) -> dict[str, Any]:
    return {
        "kitchen": {"type": "wecom", "key": WECOM_KEY, "base_url": robots.url},
        "office": {
            "type": "dingtalk",
            "access_token": DINGTALK_TOKEN,
            "secret": DINGTALK_SECRET,
            "base_url": robots.url,
        },
        "mail": {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": mail.port,
            "security": "plain",
            "sender": "alerts@school.cn",
        },
        "wall": {"type": "mqtt", "topic_prefix": prefix},
    }


def _routes() -> list[dict[str, Any]]:
    cook, manager = {"roles": ["cook_on_duty"]}, {"roles": ["canteen_manager"]}
    return [
        {
            "name": "food",
            "match": {"rules": ["over_temperature"]},
            "levels": [
                {"roles": ["cook_on_duty"], "channels": ["wall"]},
                {**manager, "after_min": 15},
                {"roles": ["principal"], "after_min": 45},
            ],
            "reminder_every_min": 10,
        },
        {
            "name": "seal-critical",
            "match": {"rules": ["seal_degradation"], "severities": ["critical"]},
            "levels": [cook, {**manager, "after_min": 10}],
            "reminder_every_min": None,
        },
        {
            "name": "seal",
            "match": {"rules": ["seal_degradation"]},
            "levels": [{"roles": ["facilities"]}, {**manager, "after_min": 60}],
            "reminder_every_min": 30,
        },
        {
            "name": "rest",
            "levels": [cook, {**manager, "after_min": 30}],
            "reminder_every_min": None,
        },
    ]


def finding(
    device: str,
    rule: RuleId,
    at: datetime,
    *,
    phase: Phase = Phase.FIRING,
    severity: Severity = Severity.CRITICAL,
) -> Finding:
    message = Message(f"{device} {rule.value}", f"{device} {rule.value}")
    evidence = {"temp_c": 10.5, "limit_c": 8.0} if rule is RuleId.OVER_TEMPERATURE else {}
    return Finding(
        device, rule, phase, to_epoch_ms(at), to_epoch_ms(at - timedelta(minutes=30)), severity,
        message, evidence,
    )  # fmt: skip


class FreezableStore(DuckDBAlertStore):
    """The real alert store; after `freeze()` the planner's saves are lost (a crash before
    they reached the disk), everything else is written as usual."""

    frozen = False

    def save_rule_state(self, site: str, states: Mapping[str, str]) -> None:
        if self.frozen:
            states = {k: v for k, v in states.items() if k != PLANNER_STATE}
        if states:
            super().save_rule_state(site, states)


class CountedWiring(NotifyWiring):
    """The wiring, counting its ticks so a test knows one has run after the clock moved."""

    ticks = 0

    async def step(self) -> None:
        await super().step()
        self.ticks += 1


class Life:
    """The notify side of one run of the service on `db`."""

    def __init__(self, config: SiteConfig, db: Path, clock: ManualClock, broker: str) -> None:
        self.clock = clock
        self._readings = DuckDBStore(db)
        self.store = FreezableStore(db)
        self.book = AlertBook(self.store, SITE, clock)
        self.wiring = CountedWiring(
            config,
            clock,
            db_path=db,
            alerts=self.store,
            book=self.book,
            broker_url=broker,
            snapshot_every_s=3600.0,  # after the first save, only a stop saves (or a tick)
        )
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> Life:
        self._running = asyncio.create_task(self.wiring.run())
        await self.settle()
        return self

    async def settle(self) -> None:
        """Until every lane rests with nothing due (what was planned went out)."""
        await asyncio.sleep(0.05)
        await asyncio.wait_for(self.wiring.dispatcher.settled(), 30)

    async def apply(self, *findings: Finding) -> None:
        self.book.apply(findings)
        await self.settle()

    async def pass_minutes(self, minutes: int) -> None:
        """Move the clock a minute at a time, a tick and the sends after each step."""
        for _ in range(minutes):
            await self.jump(timedelta(minutes=1))

    async def jump(self, by: timedelta) -> None:
        """Move the clock by `by` at once: one tick runs, then its sends go out."""
        before = self.wiring.ticks
        await self.clock.advance(by.total_seconds())
        await wait_for(lambda: self.wiring.ticks > before, "a tick", 30)
        await self.settle()

    def freeze(self) -> None:
        """From now on the planner's saves are lost: the end will be a crash."""
        self.store.frozen = True

    async def end(self) -> None:
        """Stop (or, after `freeze`, crash): the tasks end, the connections close."""
        assert self._running is not None
        self._running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._running
        await self.wiring.disconnect()
        self.wiring.close()
        self.store.close()
        self._readings.close()


class Offline:
    """The alert book while the notify side is down: what the API or a replay writes."""

    def __init__(self, db: Path, clock: ManualClock) -> None:
        self._readings = DuckDBStore(db)
        self.store = DuckDBAlertStore(db)
        self.book = AlertBook(self.store, SITE, clock)

    def close(self) -> None:
        self.store.close()
        self._readings.close()
