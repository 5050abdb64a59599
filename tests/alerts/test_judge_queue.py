"""The live rules' queue (alerts/judge_queue.py): a device whose reading crosses a line is judged
before the others, each device's readings stay in the order they were stored, and a stop judges
what is still queued before the last save, so a restart from that state misses nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import alerts.live_judge
from alerts.engine import EngineOutput
from alerts.judge_queue import JudgeQueue
from alerts.model import AlertQuery, AlertState, RuleId
from alerts.samples import Sample
from alerts.service import AlertService
from core.clock import ManualClock, StepClock, to_epoch_ms
from core.config import SiteConfig
from core.model import Limits
from ingest import DuckDBStore, StoreWriter
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.conftest import MIDNIGHT, SITE, Harness, batch, minutes, school, series
from tests.conftest import wait_for

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)
FRIDGE = Limits(low_c=0.0, high_c=8.0)


def fridges(count: int) -> SiteConfig:
    """`count` fridges judged on the air with no duration: one reading over 8 °C fires."""
    devices = [
        {"id": f"fridge-{n}", "kind": "fridge", "building": "canteen", "interval_s": 30}
        for n in range(count)
    ]
    return school(
        devices=devices, rules={"judge_on": "air"}, limits={"fridge": {"alert_after_min": 0}}
    )


def temps(
    device: str, start: datetime, values: list[float]
) -> list[tuple[str, datetime, dict[str, float]]]:
    return series(device, start, 30, values)


def queue(*devices: str) -> JudgeQueue:
    return JudgeQueue(SITE, {device: FRIDGE for device in devices})


def test_a_device_crossing_a_line_is_taken_before_older_ones() -> None:
    waiting = queue("a", "b", "c")
    waiting.add(batch(*temps("a", T0, [4.0, 4.1]), *temps("b", T0, [4.0])))
    waiting.add(batch(*temps("c", T0, [4.0, 9.5])))  # c crosses 8 °C
    assert waiting.readings == 5
    taken = waiting.take(1)
    assert [device for device, _ in taken] == ["c"]
    assert [s.values["temp_c"] for s in taken[0][1]] == [4.0, 9.5]
    assert [device for device, _ in waiting.take(10)] == ["a", "b"]  # then the oldest first
    assert not waiting and waiting.readings == 0


def test_each_device_keeps_its_order_across_batches_and_urgency() -> None:
    waiting = queue("a", "b")
    waiting.add(batch(*temps("a", T0, [4.0, 4.2])))
    waiting.add(batch(*temps("b", T0, [4.0])))
    waiting.add(batch(*temps("a", T0 + minutes(1), [9.0])))  # a's third reading crosses
    [(device, samples)] = waiting.take(1)
    assert device == "a"
    assert [s.ts_ms for s in samples] == [
        to_epoch_ms(T0 + timedelta(seconds=30 * i)) for i in range(3)
    ]


def test_coming_back_into_band_is_urgent_too_and_unknown_devices_are_left_out() -> None:
    waiting = queue("a", "b")
    waiting.add(batch(*temps("a", T0, [9.0])))
    waiting.take(10)
    waiting.add(batch(*temps("b", T0, [4.0]), *temps("stranger", T0, [4.0])))
    waiting.add(batch(*temps("a", T0 + minutes(1), [5.0])))  # back under 8 °C: clears
    assert [device for device, _ in waiting.take(1)] == ["a"]
    assert [device for device, _ in waiting.take(10)] == ["b"]
    assert not waiting


def test_new_limits_move_the_band() -> None:
    waiting = queue("a", "b")
    waiting.limits_changed("a", Limits(high_c=3.0))
    waiting.add(batch(*temps("b", T0, [4.0]), *temps("a", T0, [4.0])))
    assert [device for device, _ in waiting.take(1)] == ["a"]
    assert [device for device, _ in waiting.take_device("b")] == ["b"]
    assert waiting.take_device("b") == [] and waiting.readings == 0


async def test_the_crossing_goes_out_before_the_backlog_is_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merged batch of many in-band readings and one crossing: the crossing's device is judged
    first, the others after it a slice per turn of the event loop, every reading in the end."""
    monkeypatch.setattr(alerts.live_judge, "_JUDGE_TURN_S", 0.0)  # one slice a turn of the loop
    monkeypatch.setattr(alerts.live_judge, "_JUDGE_SLICE", 10)
    path = tmp_path / "canteen.duckdb"
    readings, store = DuckDBStore(path), DuckDBAlertStore(path)
    clock = ManualClock(T0 + minutes(30))
    service = AlertService(fridges(40), store, clock)
    query = AlertQuery(SITE, states=tuple(AlertState), rule=OVER, limit=1000)
    writer = StoreWriter(readings)
    writer.add_listener(service.on_batch)
    judged: list[list[str]] = []  # the devices of each slice, in the order judged
    judge = service.engine.judge

    def recorded(groups: list[tuple[str, list[Sample]]], *, live: bool = True) -> EngineOutput:
        judged.append([device for device, _ in groups])
        return judge(groups, live=live)

    monkeypatch.setattr(service.engine, "judge", recorded)
    task = asyncio.create_task(service.run(), name="alerts")
    try:
        await wait_for(lambda: service.live, "the rules to go live")
        rows = [row for n in range(40) for row in temps(f"fridge-{n}", T0, [4.0] * 20)]
        rows += temps("fridge-39", T0 + minutes(10), [12.0])  # the last device, the crossing
        await writer.readings(batch(*rows))
        marks = service.engine.devices
        done = to_epoch_ms(T0 + timedelta(seconds=30 * 19))
        await wait_for(lambda: not service._live.queue, "the backlog to be judged")
        assert all(marks[f"fridge-{n}"].watermark_ms == done for n in range(39))
        assert marks["fridge-39"].watermark_ms == to_epoch_ms(T0 + minutes(10))
        # The crossing's device first, alone in its slice; the others oldest first after it,
        # a slice per turn of the event loop.
        assert judged[0] == ["fridge-39"]
        others = sorted(f"fridge-{n}" for n in range(39))  # one batch: by name
        assert [d for part in judged[1:] for d in part] == others
        assert len(judged) == 40
        await wait_for(lambda: bool(service.book.find(query)), "the alert to be raised")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(a.device, a.state) for a in service.book.find(query)] == [
        ("fridge-39", AlertState.FIRING)
    ]
    store.close()
    readings.close()


async def test_a_stop_judges_what_is_queued_before_the_last_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled with readings still queued: they are judged and their state saved, so the
    next start begins after them and the alert they raised is there once."""
    monkeypatch.setattr(alerts.live_judge, "_JUDGE_TURN_S", 0.0)
    monkeypatch.setattr(alerts.live_judge, "_JUDGE_SLICE", 1)
    path = tmp_path / "canteen.duckdb"
    readings, store = DuckDBStore(path), DuckDBAlertStore(path)
    clock = ManualClock(T0 + minutes(30))
    service = AlertService(fridges(10), store, clock)
    writer = StoreWriter(readings)
    writer.add_listener(service.on_batch)
    task = asyncio.create_task(service.run(), name="alerts")
    await wait_for(lambda: service.live, "the rules to go live")
    rows = [row for n in range(10) for row in temps(f"fridge-{n}", T0, [4.0] * 5 + [9.0])]
    await writer.readings(batch(*rows))
    assert service._live.queue.readings > 0  # still queued when the stop comes
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not service._live.queue
    store.close()
    readings.close()

    again = Harness(path, fridges(10), StepClock(T0 + minutes(30)))
    again.service.recover()
    last = to_epoch_ms(T0 + timedelta(seconds=150))
    assert all(again.service.engine.devices[f"fridge-{n}"].watermark_ms == last for n in range(10))
    over = again.alerts(OVER)
    assert sorted(a.device for a in over) == [f"fridge-{n}" for n in range(10)]
    again.close()
