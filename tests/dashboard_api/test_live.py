"""Live updates: the hub's fan-out (snapshot, coalescing, dropping a client that stays behind)
over a real DuckDB store, and /api/live end to end through the real service and Mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.lifecycle import AlertChange
from canteen.runtime import Overrides, Service
from core import PresenceChange, ReadingBatchBuilder
from core.clock import SystemClock
from core.readings import ReadingBatch
from core.records import Alert, AlertAction, AlertState, Message, Role, RuleId, Severity
from dashboard_api.live import LiveEvent, LiveHub
from demo_broker.mosquitto import MosquittoProcess
from ingest import DuckDBStore
from tests.conftest import Publisher, site_config, wait_for
from tests.dashboard_api.accounts import bearer

SITE = "test-school"
NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def batch(*rows: tuple[str, str, int, float]) -> ReadingBatch:
    """Readings (device, metric, minutes after NOW, value)."""
    builder = ReadingBatchBuilder()
    for device, metric, minute, value in rows:
        ts = int((NOW + timedelta(minutes=minute)).timestamp() * 1000)
        builder.append(SITE, device, metric, ts, value)
    return builder.build()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = DuckDBStore(tmp_path / "live.duckdb")
    opened.write(batch(("fridge-1", "temp_c", -5, 3.5), ("fridge-1", "door_open", -5, 1.0)))
    opened.write_presence([PresenceChange(SITE, "fridge-1", True, NOW)])
    yield opened
    opened.close()


async def drained(hub: LiveHub, subscriber: Any) -> list[LiveEvent]:
    events = await subscriber.next_events(hub, 1.0)
    assert events is not None, "nothing was waiting"
    return list(events)


async def test_snapshot_on_connect_holds_stored_values_and_presence(store: DuckDBStore) -> None:
    hub = LiveHub(site_config("canteen/v1"), store)
    subscriber = await hub.subscribe()
    snap = hub.snapshot(subscriber)
    assert snap.kind == "snapshot"
    fridge = snap.data["devices"]["fridge-1"]
    assert fridge["values"]["temp_c"] == {
        "value": 3.5,
        "unit": "°C",
        "ts": "2026-11-24T11:55:00+08:00",
    }
    assert fridge["values"]["door_open"]["value"] is True
    assert fridge["online"] is True
    # A filtered client sees only its devices.
    only_two = await hub.subscribe(["fridge-2"])
    assert hub.snapshot(only_two).data["devices"] == {}
    # A later reading replaces the snapshot's value; a late (older) one does not.
    hub.on_batch(batch(("fridge-1", "temp_c", 1, 4.0)))
    hub.on_batch(batch(("fridge-1", "temp_c", -30, 9.0)))
    again = hub.snapshot(await hub.subscribe())
    assert again.data["devices"]["fridge-1"]["values"]["temp_c"]["value"] == 4.0
    assert again.id > snap.id  # a reconnect's snapshot is newer than what it had


async def test_slow_subscriber_coalesces_then_is_dropped_fast_ones_unaffected(
    store: DuckDBStore,
) -> None:
    hub = LiveHub(site_config("canteen/v1"), store, queue_size=2, max_backlog=3)
    fast = await hub.subscribe()
    slow = await hub.subscribe()
    other = await hub.subscribe(["fridge-3"])
    seen_fast: list[LiveEvent] = []
    # Two updates fill the slow client's queue; the next ones coalesce per (device, metric).
    for minute in range(1, 7):
        hub.on_batch(batch(("fridge-1", "temp_c", minute, 4.0 + minute)))
        seen_fast += await drained(hub, fast)
    assert [e.data["values"]["temp_c"]["value"] for e in seen_fast] == [
        5.0,
        6.0,
        7.0,
        8.0,
        9.0,
        10.0,
    ]
    assert len(slow.queue) == 2 and len(slow.backlog) == 1 and slow.coalesced == 4
    # Catching up gives the queued updates and then only the latest coalesced value.
    caught_up = await drained(hub, slow)
    assert [e.data["values"]["temp_c"]["value"] for e in caught_up] == [5.0, 6.0, 10.0]
    assert caught_up[-1].id > caught_up[1].id
    # Behind again, on more keys than the backlog holds: dropped with a final reload event.
    for minute, device in enumerate(["fridge-1", "fridge-2", "fridge-1", "fridge-2"], start=10):
        hub.on_batch(batch((device, "temp_c", minute, 3.0), (device, "door_open", minute, 0.0)))
        seen_fast += await drained(hub, fast)
    assert slow.dropped and hub.dropped == 1 and hub.subscribers == 2
    final = await drained(hub, slow)
    assert [e.kind for e in final] == ["reload"]
    assert final[0].data == {"reason": "backlog"}
    # The fast client got every update, in order; the filtered one got none of them.
    assert not fast.dropped and len(seen_fast) == 10
    assert [e.id for e in seen_fast] == sorted(e.id for e in seen_fast)
    assert await other.next_events(hub, 0.05) is None


async def test_one_batch_gives_each_client_the_devices_it_follows(store: DuckDBStore) -> None:
    hub = LiveHub(site_config("canteen/v1"), store)
    everything = await hub.subscribe()
    one = await hub.subscribe(["fridge-2"])
    hub.on_batch(
        batch(
            ("fridge-1", "temp_c", 1, 4.0),
            ("fridge-2", "temp_c", 1, 5.0),
            ("fridge-2", "door_open", 1, 1.0),
        )
    )
    all_events = await drained(hub, everything)
    assert [(e.kind, e.data["device"]) for e in all_events] == [
        ("reading", "fridge-1"),
        ("reading", "fridge-2"),
    ]
    mine = await drained(hub, one)
    assert mine == all_events[1:]  # the same event (id and text), not a copy
    assert mine[0].data["values"]["door_open"]["value"] is True
    assert hub.text_of(mine) == mine[0].text() and mine[0].text().startswith(f"id: {mine[0].id}")


async def test_a_window_of_batches_goes_out_once_per_device_in_one_shared_piece(
    store: DuckDBStore,
) -> None:
    """Batches stored within `flush_s` wake each client once, with one event per device
    holding its latest values, encoded once for every client that follows all devices."""
    hub = LiveHub(site_config("canteen/v1"), store, flush_s=0.05)
    first, second = await hub.subscribe(), await hub.subscribe()
    filtered = await hub.subscribe(["fridge-2"])
    hub.on_batch(batch(("fridge-1", "temp_c", 1, 4.0), ("fridge-2", "temp_c", 1, 5.0)))
    hub.on_batch(batch(("fridge-1", "temp_c", 2, 4.5), ("fridge-1", "door_open", 2, 1.0)))
    assert not first.queue  # nothing is sent before the window ends
    seen = await drained(hub, first)
    assert [(e.kind, e.data["device"]) for e in seen] == [
        ("reading", "fridge-1"),
        ("reading", "fridge-2"),
    ]
    fridge = seen[0].data["values"]
    assert fridge["temp_c"]["value"] == 4.5 and fridge["door_open"]["value"] is True
    assert hub.chunk_of(await drained(hub, second)) is hub.chunk_of(seen)
    assert [e.data["device"] for e in await drained(hub, filtered)] == ["fridge-2"]
    # A client connecting while updates are gathered: the others get them first, and its
    # snapshot (which holds them) is newer than any of them.
    hub.on_batch(batch(("fridge-1", "temp_c", 3, 4.75)))
    late = await hub.subscribe()
    [sent] = await drained(hub, first)
    assert hub.snapshot(late).id >= sent.id
    assert hub.snapshot(late).data["devices"]["fridge-1"]["values"]["temp_c"]["value"] == 4.75
    assert await late.next_events(hub, 0.1) is None


async def test_presence_and_other_sites_readings(store: DuckDBStore) -> None:
    hub = LiveHub(site_config("canteen/v1"), store)
    subscriber = await hub.subscribe(["fridge-2"])
    foreign = ReadingBatchBuilder()
    foreign.append("other-school", "fridge-2", "temp_c", 0, 1.0)
    hub.on_batch(foreign.build())
    hub.on_presence([PresenceChange(SITE, "fridge-2", False, NOW)])
    events = await drained(hub, subscriber)
    assert [(e.kind, e.data) for e in events] == [
        (
            "presence",
            {"device": "fridge-2", "online": False, "presence_since": "2026-11-24T12:00:00+08:00"},
        )
    ]
    assert "temp_c" not in json.dumps(hub.snapshot(subscriber).data)


async def test_a_client_left_behind_too_long_is_dropped(store: DuckDBStore) -> None:
    hub = LiveHub(site_config("canteen/v1"), store, queue_size=1, behind_s=0.0, flush_s=0.0)
    slow = await hub.subscribe()
    hub.on_batch(batch(("fridge-1", "temp_c", 1, 4.0)))
    hub.on_batch(batch(("fridge-1", "temp_c", 2, 4.1)))
    await asyncio.sleep(0.01)
    hub.on_batch(batch(("fridge-1", "temp_c", 3, 4.2)))
    assert slow.dropped
    assert [e.data for e in await drained(hub, slow)] == [{"reason": "behind"}]


async def test_an_alert_change_from_the_rules_thread_reaches_the_loop(
    store: DuckDBStore,
) -> None:
    hub = LiveHub(site_config("canteen/v1"), store)
    subscriber = await hub.subscribe(["fridge-1"])
    alert = Alert(
        id=7,
        site=SITE,
        device="fridge-1",
        rule=RuleId.OVER_TEMPERATURE,
        severity=Severity.CRITICAL,
        state=AlertState.FIRING,
        food_safety=True,
        condition_active=True,
        pending_since=NOW,
        message=Message("冷藏温度过高", "Fridge too warm"),
        evidence={},
        updated_at=NOW + timedelta(minutes=30),
    )
    # The alerts service tells its listeners from its worker thread.
    await asyncio.to_thread(hub.on_alert_change, AlertChange(alert, AlertAction.FIRED))
    events = await drained(hub, subscriber)
    assert [e.kind for e in events] == ["alert"]
    assert events[0].data["alert"] == {
        "id": 7,
        "rule": "over_temperature",
        "severity": "critical",
        "state": "firing",
        "action": "fired",
        "condition_active": True,
        "updated_at": "2026-11-24T12:30:00+08:00",
    }


# -- end to end -------------------------------------------------------------------------------


@pytest.fixture
async def service(
    mosquitto: MosquittoProcess, tmp_path: Path, topic_prefix: str
) -> AsyncIterator[Service]:
    config = site_config(topic_prefix)
    running = Service(
        config,
        SystemClock(),
        Overrides(broker=mosquitto.url, db=str(tmp_path / "e2e.duckdb"), listen="127.0.0.1:0"),
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(running.run(stop))
    try:
        await wait_for(lambda: running.gateway.connected and running.api_ready, "service up")
        yield running
    finally:
        stop.set()
        await serving


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    kind, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            yield kind, json.loads(data)
            kind, data = "", ""


async def test_a_published_reading_reaches_the_live_stream(
    service: Service, publisher: Publisher, topic_prefix: str
) -> None:
    headers = bearer(service.auth.create_token("wall-display", Role.VIEWER))
    async with httpx.AsyncClient(base_url=service.url, timeout=10, headers=headers) as api:
        refused = await api.get("/api/live", params={"device": "fridge-9"})
        assert refused.status_code == 404 and "fridge-9" in refused.json()["message"]
        other_site = await api.get("/api/live", params={"site": "elsewhere"})
        assert other_site.status_code == 404
        params = {"device": ["fridge-2"], "site": SITE}
        async with api.stream("GET", "/api/live", params=params) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            kind, snapshot = await anext(events)
            assert kind == "snapshot" and snapshot["devices"] == {}
            await wait_for(lambda: service.live.subscribers == 1, "the client subscribed")
            ts = datetime.now(UTC).replace(microsecond=0)
            topic = f"{topic_prefix}/{SITE}/fridge-2/telemetry"
            publisher.publish(topic, {"ts": ts.isoformat(), "seq": 1, "m": {"temp_c": 6.25}})
            publisher.flush()
            kind, update = await asyncio.wait_for(anext(events), 10)
    assert kind == "reading" and update["device"] == "fridge-2"
    assert update["values"]["temp_c"]["value"] == 6.25
    assert update["values"]["temp_c"]["ts"] == ts.astimezone(service.config.site.zone).isoformat()
    await wait_for(lambda: service.live.subscribers == 0, "the closed stream unsubscribed", 10)
