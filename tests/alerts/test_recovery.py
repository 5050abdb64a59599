"""The live service across a restart and while the API acts: what arrives while the rules'
state is restored is judged after it, and a re-learn asked for over the API never holds up
the batches. The stores are real DuckDB files; one of their calls is held at a gate the test
opens, so "while restoring" and "while saving" are exact moments, not sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.engine import EngineOutput
from alerts.model import Alert, AlertAction, AlertQuery, AlertState, RuleId
from alerts.service import AlertService
from core.clock import ManualClock, StepClock, to_epoch_ms
from core.records import Role
from dashboard_api import ApiContext, create_app
from ingest import DuckDBStore, StoreWriter
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.conftest import MIDNIGHT, SITE, Harness, batch, minutes, school, series
from tests.conftest import wait_for
from tests.dashboard_api.accounts import with_accounts

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)
RELEARN = {"reason": "new gasket fitted"}


def warm(start_min: int, count: int) -> list[tuple[str, datetime, dict[str, float]]]:
    """fridge-1 at 9 °C, a reading a minute: above its 8 °C limit."""
    return series("fridge-1", T0 + minutes(start_min), 60, [9.0] * count)


class GatedAlertStore(DuckDBAlertStore):
    """The real alert store; the first call of `gated` waits until the test opens the gate."""

    def __init__(self, path: Path, gated: str) -> None:
        super().__init__(path)
        self.gated = gated
        self.entered = threading.Event()
        self.gate = threading.Event()

    def _pass(self, name: str) -> None:
        if name == self.gated and not self.gate.is_set():
            self.entered.set()
            assert self.gate.wait(timeout=30), "the test never opened the gate"

    def load_rule_state(self, site: str) -> dict[str, str]:
        self._pass("load_rule_state")
        return super().load_rule_state(site)

    def save_rule_state(self, site: str, states: Any) -> None:
        self._pass("save_rule_state")
        super().save_rule_state(site, states)


@dataclass
class Live:
    """An alert service running as `canteen serve` runs it: fed by the store writer."""

    service: AlertService
    store: GatedAlertStore
    readings: DuckDBStore
    writer: StoreWriter
    clock: ManualClock

    async def report(self, rows: list[tuple[str, datetime, dict[str, float]]]) -> None:
        """Each reading as it would arrive: the clock at its time, stored, then listened to."""
        for row in rows:
            await self.clock.set(row[1])
            await self.writer.readings(batch(row))

    def alerts(self) -> list[Alert]:
        query = AlertQuery(SITE, states=tuple(AlertState), rule=OVER)
        return self.service.book.find(query)

    def firing(self) -> bool:
        return any(a.state is AlertState.FIRING for a in self.alerts())


@contextlib.asynccontextmanager
async def running(path: Path, gated: str, start: datetime, **options: Any) -> AsyncIterator[Live]:
    readings = DuckDBStore(path)
    store = GatedAlertStore(path, gated)
    clock = ManualClock(start)
    service = AlertService(school(), store, clock, **options)
    writer = StoreWriter(readings)
    writer.add_listener(service.on_batch)
    task = asyncio.create_task(service.run(), name="alerts")
    try:
        yield Live(service, store, readings, writer, clock)
    finally:
        store.gate.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
        readings.close()


@pytest.mark.parametrize("hold_readings", [200_000, 5], ids=["held", "read-back"])
async def test_a_warm_fridge_reported_while_restoring_raises_its_alert(
    tmp_path: Path, hold_readings: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(warm(0, 5))  # 9 °C for 5 min, then the service stops
    first.service.save_state()
    first.close()

    caplog.set_level(logging.INFO, logger="alerts.service")
    live = running(path, "load_rule_state", T0 + minutes(5), hold_readings=hold_readings)
    async with live as restarted:
        await wait_for(restarted.store.entered.is_set, "the restore to start")
        # 40 more minutes at 9 °C arrive while the saved state is still being read.
        await restarted.report(warm(5, 40))
        assert not restarted.service.live and not restarted.firing()
        restarted.store.gate.set()
        await wait_for(restarted.firing, "the over-temperature alert to fire")
        [alert] = restarted.alerts()
        # The same alert as if the service had never stopped: pending from the first warm
        # reading, firing 30 min later (8 °C for 30 min, DESIGN.md).
        assert alert.pending_since == T0 and alert.fired_at == T0 + minutes(30)
        history = [e.action for e in restarted.service.book.history(alert.id)]
        assert history == [AlertAction.PENDING, AlertAction.FIRED]
        await wait_for(lambda: restarted.service.live, "the service to go live")
    read_back = "reading them back from the store instead" in caplog.text
    assert read_back is (hold_readings == 5)


async def test_batches_are_judged_while_an_api_relearn_saves_the_rules_state(
    tmp_path: Path,
) -> None:
    async with running(tmp_path / "canteen.duckdb", "save_rule_state", T0) as live:
        await wait_for(lambda: live.service.live, "the service to go live")
        context = ApiContext(school(), live.readings, live.clock, lambda: {}, alerts=live.service)
        context, accounts = with_accounts(context, tmp_path / "canteen.duckdb")
        manager = accounts.token("canteen manager", Role.STAFF)
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers=manager
        ) as client:
            relearn = asyncio.create_task(
                client.post("/api/devices/fridge-1/seal-health/relearn", json=RELEARN)
            )
            await wait_for(live.store.entered.is_set, "the re-learn to be saving the state")
            # The state write is held; 40 minutes of readings still reach the rules and are
            # judged meanwhile (by the judging task, not behind the save).
            await live.report(warm(0, 40))
            fridge = live.service.engine.devices["fridge-1"]
            last = to_epoch_ms(T0 + minutes(39))
            await wait_for(lambda: fridge.watermark_ms == last, "the readings to be judged")
            assert not relearn.done()
            live.store.gate.set()
            response = await relearn
        assert response.status_code == 200, response.text
        accounts.close()
        await wait_for(live.firing, "the over-temperature alert to fire")
        [alert] = live.alerts()
        assert alert.fired_at == T0 + minutes(30)
    # No lock guards the rules: the event loop owns them, the API hands its work over.
    lock_type = type(threading.Lock())
    for owner in (live.service, live.service.engine):
        assert not [n for n, v in vars(owner).items() if isinstance(v, lock_type)]


async def test_a_relearn_asked_from_another_thread_runs_where_the_rules_run(
    tmp_path: Path,
) -> None:
    async with running(tmp_path / "canteen.duckdb", "none", T0) as live:
        await wait_for(lambda: live.service.live, "the service to go live")
        engine = live.service.engine
        ran_on: list[int] = []
        relearn = engine.relearn_seal

        def spied(device: str, by: str, reason: str) -> EngineOutput:
            ran_on.append(threading.get_ident())
            return relearn(device, by, reason)

        engine.relearn_seal = spied  # type: ignore[method-assign]
        request = live.service.relearn_seal_live("fridge-1", "cook", "door rehung")
        changes = await asyncio.to_thread(asyncio.run, request)
        assert changes == [] and ran_on == [threading.get_ident()]
        assert "fridge-1" in live.store.load_rule_state(SITE)  # saved before it returned
        with pytest.raises(RuntimeError, match="belong to the running service's event loop"):
            live.service.save_state()


def test_batches_given_before_a_synchronous_recover_are_judged_after_it(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "canteen.duckdb", school(), StepClock(T0 + minutes(40)))
    rows = batch(*warm(0, 40))
    harness.readings.write(rows)
    harness.service.on_batch(rows)  # before the state is restored: held
    assert not harness.service.live and harness.alerts(OVER) == []
    harness.service.recover(T0 + minutes(10))  # the store is replayed up to here...
    [alert] = harness.alerts(OVER)  # ...the held batch carries on to the alert
    assert harness.service.live and alert.fired_at == T0 + minutes(30)
    harness.close()
