"""An alert's history reads in the order things happened, each row saying which clock its time
is on: a fridge's readings come late (its buffer), so the rule's resolve, stamped with the
reading's time, is recorded after the cook's acknowledgement although the temperature came
back before it. The JSON (`/api/alerts/{id}`) and the alert page list the resolve first and
say it is the reading's time, recorded after the acknowledgement below it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core.clock import StepClock
from core.records import AlertAction, AlertState, Role
from dashboard_api import ApiContext, create_app
from tests.alerts.conftest import MIDNIGHT, Harness, school, series
from tests.dashboard_api.accounts import log_in, with_accounts

TEN = MIDNIGHT + timedelta(hours=10)  # 10:00 local, Monday
COOK = "王师傅"
PASSWORD = "correct horse battery"


class Kitchen:
    def __init__(self, path: Path) -> None:
        self.harness = Harness(path, school(rules={"judge_on": "air"}), StepClock(MIDNIGHT))
        context = ApiContext(
            self.harness.config,
            self.harness.readings,
            self.harness.clock,
            lambda: {},
            alerts=self.harness.service,
        )
        context, self.accounts = with_accounts(context, path)
        self.accounts.person(COOK, Role.STAFF, PASSWORD)
        self.app = create_app(context)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://s")

    def close(self) -> None:
        self.accounts.close()
        self.harness.close()


@pytest.fixture
def kitchen(tmp_path: Path) -> Iterator[Kitchen]:
    built = Kitchen(tmp_path / "site.duckdb")
    yield built
    built.close()


async def _late_resolve(kitchen: Kitchen, client: httpx.AsyncClient) -> int:
    """Over temperature 10:00-10:45 (fires at 10:30), acknowledged at 11:00 by the cook, then
    the buffered readings from 10:45:30 on (back in band) arrive."""
    harness = kitchen.harness
    harness.feed(series("fridge-1", TEN, 30, [9.0] * 91))  # to 10:45:00
    (alert,) = harness.alerts(device="fridge-1")
    assert alert.state is AlertState.FIRING
    harness.clock.instant = TEN + timedelta(hours=1)
    staff = kitchen.accounts.token("kitchen-tablet", Role.STAFF)
    acked = await client.post(f"/api/alerts/{alert.id}/acknowledge", json={}, headers=staff)
    assert acked.status_code == 200, acked.text
    back = TEN + timedelta(minutes=45, seconds=30)
    harness.feed(series("fridge-1", back, 30, [4.0 + 0.1 * (i % 3) for i in range(20)]))
    recorded = [e.action for e in harness.service.book.history(alert.id)]
    # The store keeps recording order: the resolve after the acknowledgement.
    assert recorded.index(AlertAction.RESOLVED) > recorded.index(AlertAction.ACKNOWLEDGED)
    return alert.id


async def test_the_json_history_is_in_the_order_things_happened(kitchen: Kitchen) -> None:
    async with kitchen.client() as client:
        number = await _late_resolve(kitchen, client)
        body = (await client.get(f"/api/alerts/{number}", headers=kitchen.accounts.token())).json()
    history = body["history"]
    actions = [row["action"] for row in history]
    assert actions == ["pending", "fired", "resolved", "acknowledged"]
    assert [row["at"] for row in history] == sorted(row["at"] for row in history)
    resolved, acked = history[2], history[3]
    assert resolved["time_basis"] == "reading" and resolved["actor"] == "rule"
    assert resolved["at"].startswith("2026-11-23T10:45:30")
    assert resolved["recorded_after"] == "acknowledged"
    assert acked["time_basis"] == "acted" and acked["at"].startswith("2026-11-23T11:00:00")
    assert acked["recorded_after"] is None
    assert history[0]["time_basis"] == history[1]["time_basis"] == "reading"


_ROW = re.compile(
    r'<li data-testid="history-entry" data-action="(\w+)" data-actor="[^"]*" '
    r'data-basis="(\w+)">(.*?)</li>',
    re.S,
)


@pytest.mark.parametrize(
    ("lang", "reading", "acted", "late"),
    [
        ("zh", "读数时间", "操作时间", "记录于下方的“确认”之后"),
        ("en", "time of the reading", "when a person acted", "recorded after the “acknowledged”"),
    ],
)
async def test_the_page_says_which_time_each_row_is(
    kitchen: Kitchen, lang: str, reading: str, acted: str, late: str
) -> None:
    async with kitchen.client() as client:
        number = await _late_resolve(kitchen, client)
        assert (await log_in(client, COOK, PASSWORD)).status_code == 303
        page = (await client.get(f"/alerts/{number}?lang={lang}")).text
    rows = _ROW.findall(page)
    assert [(action, basis) for action, basis, _ in rows] == [
        ("pending", "reading"),
        ("fired", "reading"),
        ("resolved", "reading"),
        ("acknowledged", "acted"),
    ]
    resolved, acked = rows[2][2], rows[3][2]
    assert "10:45:30" in resolved and reading in resolved and late in resolved
    assert "11:00:00" in acked and acted in acked and 'data-testid="history-late"' not in acked
