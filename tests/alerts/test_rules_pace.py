"""The live alerts service's own figures (alerts/pace.py: how late the rules judge, what the
saves cost) and its state taken a few devices per turn of the event loop, with batches judged
in between, without a restart from that state losing or doubling a finding."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import alerts.saving
from alerts.model import AlertState, RuleId
from alerts.pace import RulesPace
from alerts.service import AlertService
from core.clock import ManualClock, StepClock
from core.config import SiteConfig
from ingest import DuckDBStore, StoreWriter
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.conftest import MIDNIGHT, Harness, batch, minutes, school, series
from tests.conftest import wait_for

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)


def on_air() -> SiteConfig:
    """Judged on the air probe: the first reading over the line makes an alert pending."""
    return school(rules={"judge_on": "air"})


async def test_the_figures_say_how_old_readings_were_when_judged(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    readings, store = DuckDBStore(path), DuckDBAlertStore(path)
    clock = ManualClock(T0)
    service = AlertService(school(), store, clock, tick_s=30, snapshot_s=3600)
    writer = StoreWriter(readings)
    writer.add_listener(service.on_batch)
    assert service.pace.figures()["age_ms"] == {"p50": None, "p99": None, "max": None}
    task = asyncio.create_task(service.run(), name="alerts")
    try:
        await wait_for(lambda: service.live, "the rules to go live")
        for minute in range(32):
            # Each reading reaches the rules 90 s after its own timestamp.
            await clock.set(T0 + minutes(minute) + timedelta(seconds=90))
            await writer.readings(batch(*series("fridge-1", T0 + minutes(minute), 60, [9.0])))
            # Judged by the rules' own task before the clock moves on (its age is taken then).
            judged = minute + 1
            await wait_for(
                lambda n=judged: service.pace.readings == n,  # type: ignore[misc]
                "the reading to be judged",
            )
        await wait_for(
            lambda: service.pace.figures()["alert_book_ms"]["p50"] is not None,
            "the over-temperature finding to be saved",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    figures = service.pace.figures()
    assert figures["readings_judged"] == 32
    assert figures["age_ms"] == {"p50": 90_000.0, "p99": 90_000.0, "max": 90_000.0}
    assert figures["findings_wait_ms"]["p50"] is not None
    assert figures["thread_hop_ms"]["p50"] is not None
    # The alert book's own steps, COMMIT apart (the fired alert's batch).
    assert figures["alert_book_steps_ms"]["commit"]["p50"] is not None
    assert figures["state_snapshot_ms"] is not None  # the save on the way out
    assert figures["judge_us_per_reading"] is not None and figures["judge_us_per_reading"] > 0
    store.close()
    readings.close()


async def test_batches_judged_while_the_state_is_taken_are_not_lost_by_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state is taken one device per turn here. A crossing judged after fridge-1's state
    was taken but before the save is written with that save (the finding), and a restart from
    that state judges the stored reading again without a second alert. A crossing judged
    before freezer-1's state was taken is in that state and in the book alike."""
    monkeypatch.setattr(alerts.saving, "_SNAPSHOT_PART", 1)
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, on_air(), StepClock(T0))
    first.feed([(d, T0, {"temp_c": 3.0}) for d in ("fridge-1", "freezer-1")])
    first.service.recover(T0)
    warm = [("fridge-1", T0 + minutes(1), {"temp_c": 9.0})]
    thawed = [("freezer-1", T0 + minutes(1), {"temp_c": -5.0})]
    saving = asyncio.create_task(first.service._save_state())
    await asyncio.sleep(0)  # the save has taken fridge-1's state and yields
    for rows in (warm, thawed):
        first.readings.write(batch(*rows))
        first.clock.instant = T0 + minutes(1)
        first.service.on_batch(batch(*rows))
    await saving
    [fridge] = first.alerts(OVER, device="fridge-1")
    [freezer] = first.alerts(OVER, device="freezer-1")
    assert fridge.state is AlertState.PENDING and freezer.state is AlertState.PENDING
    first.close()

    second = Harness(path, on_air(), StepClock(T0 + minutes(1)))
    second.service.recover()
    assert [a.id for a in second.alerts(OVER, device="fridge-1")] == [fridge.id]
    assert [a.id for a in second.alerts(OVER, device="freezer-1")] == [freezer.id]
    second.feed(series("fridge-1", T0 + minutes(2), 60, [9.0] * 31))
    [again] = second.alerts(OVER, device="fridge-1")
    assert again.id == fridge.id and again.state is AlertState.FIRING
    assert again.pending_since == T0 + minutes(1)
    second.close()


def test_the_state_in_parts_is_the_whole_state(harness: Harness) -> None:
    harness.feed(series("fridge-1", T0, 30, [4.0] * 10))
    engine = harness.service.engine
    whole = engine.snapshot()
    parts: dict[str, str] = {}
    for part in engine.snapshot_parts(2):
        assert len(part) <= 2
        parts.update(part)
    assert parts == whole and set(whole) == {*engine.devices, "_offline"}


def test_the_figures_are_taken_over_the_last_batches_only() -> None:
    pace = RulesPace(keep=2)
    stamps = np.arange(100, dtype=np.int64) * 1000  # readings 0..99 s
    pace.judged(stamps, 200_000, 0.004, 0.010)  # ages 101..200 s, 40 us CPU a reading
    pace.judged(stamps, 100_000, 0.001, 0.002)
    pace.judged(stamps, 100_000, 0.001, 0.002)  # the first batch has left the window
    pace.judged(stamps[:0], 500_000, 1.0, 1.0)  # an empty batch changes nothing
    figures = pace.figures()
    assert figures["readings_judged"] == 300
    assert figures["age_ms"]["max"] == 100_000.0 and figures["age_ms"]["p50"] == 50_500.0
    assert figures["judge_us_per_reading"] == 10.0
    assert figures["judge_wall_us_per_reading"] == 20.0
    pace.saved(None, 0.001, 0.010)
    pace.saved(0.003, 0.002, 0.020)
    assert pace.figures()["findings_wait_ms"] == {"p50": 3.0, "p99": 3.0, "max": 3.0}
    assert pace.figures()["alert_book_ms"]["max"] == 20.0
