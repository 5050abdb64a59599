"""A restart in the middle of a pending duration: saved rule state, the readings stored since
and the alerts table together let the service continue as if it had never stopped."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.model import Alert, AlertAction, AlertQuery, AlertState, RuleId
from alerts.service import AlertService
from core.clock import ManualClock, StepClock
from ingest import DuckDBStore, StoreError, StoreWriter
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.conftest import MIDNIGHT, SITE, Harness, batch, minutes, school, series
from tests.conftest import wait_for

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)


def warm(start_min: int, count: int) -> list[tuple[str, datetime, dict[str, float]]]:
    return series("fridge-1", T0 + minutes(start_min), 60, [9.0] * count)


def restarted(path: Path, at_min: int) -> Harness:
    harness = Harness(path, school(), StepClock(T0 + minutes(at_min)))
    harness.service.recover()
    return harness


def test_restart_with_saved_state_continues_the_pending_duration(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(warm(0, 15))
    first.service.save_state()
    [pending] = first.alerts(OVER)
    first.close()

    second = restarted(path, 15)
    second.feed(warm(15, 16))
    [alert] = second.alerts(OVER)
    assert alert.id == pending.id and alert.state is AlertState.FIRING
    assert alert.pending_since == T0 and alert.fired_at == T0 + minutes(30)
    second.close()


def test_readings_stored_after_the_last_snapshot_are_replayed(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(warm(0, 5))
    first.service.save_state()  # the last snapshot before the crash...
    first.feed(warm(5, 20))  # ...these are stored, not snapshotted
    first.close()

    second = restarted(path, 25)
    second.feed(warm(25, 6))
    [alert] = second.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.fired_at == T0 + minutes(30)
    actions = [e.action for e in second.store.alert_history(alert.id)]
    assert actions == [AlertAction.PENDING, AlertAction.FIRED]  # the replay doubled nothing
    second.close()


def test_without_any_saved_state_the_rules_are_rebuilt_from_history(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(warm(0, 20))
    first.close()

    second = restarted(path, 20)
    second.feed(warm(20, 11))
    [alert] = second.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.pending_since == T0
    second.close()


async def test_the_live_service_listens_ticks_and_saves_its_state(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    readings = DuckDBStore(path)
    store = DuckDBAlertStore(path)
    clock = ManualClock(T0)
    service = AlertService(school(), store, clock, tick_s=30, snapshot_s=60)
    writer = StoreWriter(readings)
    writer.add_listener(service.on_batch)
    task = asyncio.create_task(service.run(), name="alerts")
    try:
        for minute in range(32):
            await clock.set(T0 + minutes(minute))
            await writer.readings(batch(*warm(minute, 1)))
        await wait_for(
            lambda: any(a.state is AlertState.FIRING for a in _alerts(service)),
            "the over-temperature alert to fire",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "fridge-1" in store.load_rule_state("test-school")
    store.close()
    readings.close()


def _alerts(service: AlertService) -> list[Alert]:
    return service.book.find(AlertQuery("test-school", rule=OVER))


def test_a_saved_state_this_release_cannot_read_starts_that_device_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state saved by another release (or damaged) must not stop the service on start: the
    device learns again from the stored readings, and its over-temperature is still caught."""
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(warm(0, 15))
    first.service.save_state()
    saved = json.loads(first.store.load_rule_state(SITE)["fridge-1"])
    for name in saved["rules"]:
        saved["rules"][name] = {"written_by": "a later release", "cycles": [1, 2]}
    first.store.save_rule_state(SITE, {"fridge-1": json.dumps(saved)})
    first.close()

    with caplog.at_level(logging.WARNING, logger="alerts.engine"):
        second = restarted(path, 15)
    assert "saved rule state of fridge-1 could not be read" in caplog.text
    second.feed(warm(15, 16))
    [alert] = second.alerts(OVER)
    assert alert.state is AlertState.FIRING
    second.close()


def test_rule_states_are_saved_together_and_the_newest_one_wins(tmp_path: Path) -> None:
    """A thousand devices' states are one write (they were a committed statement each, seconds
    of the alert book's connection); saving again replaces them, other sites are untouched, and
    a state that is not JSON fails the whole save, leaving the previous states in place."""
    store = DuckDBAlertStore(tmp_path / "canteen.duckdb")
    try:
        first = {f"fridge-{i}": json.dumps({"watermark_ms": i}) for i in range(1000)}
        store.save_rule_state(SITE, first)
        store.save_rule_state("other-school", {"fridge-1": "{}"})
        store.save_rule_state(SITE, {"fridge-7": '{"watermark_ms": 70}'})
        store.save_rule_state(SITE, {})
        saved = store.load_rule_state(SITE)
        assert len(saved) == 1000
        assert json.loads(saved["fridge-7"]) == {"watermark_ms": 70}
        assert json.loads(saved["fridge-999"]) == {"watermark_ms": 999}
        assert store.load_rule_state("other-school") == {"fridge-1": "{}"}
        with pytest.raises(StoreError):
            store.save_rule_state(SITE, {"fridge-1": '{"watermark_ms": 5}', "fridge-2": "{"})
        assert json.loads(store.load_rule_state(SITE)["fridge-1"]) == {"watermark_ms": 1}
    finally:
        store.close()


def test_a_food_probe_reporting_apart_is_remembered_across_a_restart(tmp_path: Path) -> None:
    # The probe in the food reports apart from the air, every 5 min; the service restarts
    # between two of its reports. The air's reports after the restart are judged on the
    # probe's latest reading, saved with the rule's state, and the alert fires on time.
    path = tmp_path / "canteen.duckdb"

    def rows(start_min: int, count: int) -> list[tuple[str, datetime, dict[str, float]]]:
        air = series("fridge-1", T0 + minutes(start_min), 60, [4.0] * count)
        stock = [
            ("fridge-1", T0 + minutes(m) + timedelta(seconds=30), {"food_temp_c": 9.0})
            for m in range(start_min, start_min + count)
            if m % 5 == 0
        ]
        return sorted(air + stock, key=lambda row: row[1])

    first = Harness(path, school(), StepClock(T0))
    first.feed(rows(0, 13))
    first.service.save_state()
    first.close()
    second = restarted(path, 13)
    second.feed(rows(13, 20))
    [alert] = second.alerts(OVER)
    assert alert.state is AlertState.FIRING and alert.pending_since == T0 + minutes(1)
    assert alert.fired_at == T0 + minutes(31)
    second.close()
