"""A canteen for the page tests: named devices with locations, a morning of readings that puts
each tile in a known state at noon, the real rules on a real DuckDB file, and two people who
log in through the login form (a viewer and a staff member).

At noon (Monday 2026-11-23, Asia/Shanghai) the tiles read:

| device    | what happened                                  | status  |
| --------- | ---------------------------------------------- | ------- |
| fridge-1  | 3.9-4.2 °C all morning                         | ok      |
| fridge-2  | 9 °C since 10:30 (over-temperature firing)     | alert   |
| fridge-3  | 9 °C 09:00-09:40, then back (alert resolved)   | alert   |
| fridge-4  | in band, then 9 °C for the last 5 min          | warning |
| freezer-1 | -18 °C, but its presence says offline          | offline |
| sample-1  | nothing since 10:00 (reports every 30 s)       | stale   |
| ir-1      | disinfection cabinet, never heated             | ...     |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from core.clock import StepClock
from core.readings import PresenceChange
from core.records import Role
from dashboard_api import ApiContext, create_app
from tests.alerts.conftest import SITE, Harness, school, series
from tests.dashboard_api.accounts import Accounts, log_in, with_accounts

__all__ = [
    "NOON",
    "PASSWORD",
    "STAFF",
    "VIEWER",
    "Site",
    "form_csrf",
    "page_site",
    "signed_in",
    "tile_of",
]

ZONE = school().site.zone
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=ZONE).astimezone(UTC)  # Monday, local
NOON = MIDNIGHT + timedelta(hours=12)
SIX = MIDNIGHT + timedelta(hours=6)
PASSWORD = "correct horse battery"
VIEWER = "李老师"
STAFF = "王师傅"


def _device(id: str, kind: str, name: str, location: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "kind": kind,
        "building": "canteen",
        "name": name,
        "location": location,
        "interval_s": 60,
        **extra,
    }


DEVICES = [
    _device("fridge-1", "fridge", "冷藏柜 A", "主厨房北墙"),
    _device("fridge-2", "fridge", "冷藏柜 B", "备餐间"),
    _device("fridge-3", "fridge", "冷藏柜 C", "面点间"),
    _device("fridge-4", "fridge", "冷藏柜 D", "凉菜间"),
    _device("freezer-1", "freezer", "冷冻柜", "仓库"),
    _device("sample-1", "sample_fridge", "留样柜", "留样间", interval_s=30),
    _device("ir-1", "disinfection_cabinet", "红外消毒柜", "洗消间", method="infrared"),
]


@dataclass
class Site:
    app: FastAPI
    harness: Harness
    accounts: Accounts

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://school"
        )

    def close(self) -> None:
        self.accounts.close()
        self.harness.close()


def _minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def _in_band(m: int) -> float:
    return 3.9 + 0.1 * (m % 4)  # never stuck: the sensor-fault rule watches for a flat line


def _feed(harness: Harness) -> None:
    n = _minutes(SIX, NOON)  # 06:00 .. 11:59, one reading a minute
    at = [SIX + timedelta(minutes=m) for m in range(n)]
    firing = [
        9.0 if t >= MIDNIGHT + timedelta(hours=10, minutes=30) else _in_band(m)
        for m, t in enumerate(at)
    ]
    was = [
        9.0
        if MIDNIGHT + timedelta(hours=9) <= t < MIDNIGHT + timedelta(hours=9, minutes=40)
        else _in_band(m)
        for m, t in enumerate(at)
    ]
    late = [9.0 if t >= NOON - timedelta(minutes=5) else _in_band(m) for m, t in enumerate(at)]
    rows = series("fridge-1", SIX, 60, [_in_band(m) for m in range(n)])
    rows += series("fridge-2", SIX, 60, firing)
    rows += series("fridge-3", SIX, 60, was)
    rows += series("fridge-4", SIX, 60, late)
    rows += series("freezer-1", SIX, 60, [-18.0 + 0.1 * (m % 3) for m in range(n)])
    rows += series("sample-1", SIX, 30, [_in_band(m) for m in range(2 * 4 * 60)])  # to 10:00
    rows += series("ir-1", SIX, 60, [25.0 + 0.1 * (m % 3) for m in range(n)])
    harness.feed(sorted(rows, key=lambda row: row[1]))
    harness.readings.write_presence(
        [PresenceChange(SITE, "freezer-1", False, NOON - timedelta(minutes=20))]
    )


def page_site(path: Path, **sections: Any) -> Site:
    """The canteen on a DuckDB file at `path`; `sections` adds site-config sections (a school
    calendar, say)."""
    config = school(devices=DEVICES, rules={"judge_on": "air"}, **sections)
    harness = Harness(path, config, StepClock(MIDNIGHT))
    _feed(harness)
    harness.clock.instant = NOON
    context = ApiContext(
        harness.config, harness.readings, harness.clock, lambda: {}, alerts=harness.service
    )
    context, accounts = with_accounts(context, path)
    accounts.person(VIEWER, Role.VIEWER, PASSWORD)
    accounts.person(STAFF, Role.STAFF, PASSWORD)
    return Site(create_app(context), harness, accounts)


async def signed_in(client: httpx.AsyncClient, name: str) -> httpx.AsyncClient:
    answer = await log_in(client, name, PASSWORD)
    assert answer.status_code == 303, answer.text
    return client


_TILE = re.compile(r'<article class="tile status-(\w+)" id="tile-([\w.-]+)"(.*?)</article>', re.S)


def tile_of(html: str, device: str) -> tuple[str, str]:
    """(status, the tile's HTML) of the device's tile on the overview."""
    for status, found, body in _TILE.findall(html):
        if found == device:
            return status, body
    raise AssertionError(f"no tile for {device}")


_FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def form_csrf(html: str) -> str:
    found = _FORM_CSRF.search(html)
    assert found is not None, html
    return found.group(1)
