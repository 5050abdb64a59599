"""What the generated Mosquitto config keeps when the broker dies without a goodbye (SIGKILL,
an out-of-memory kill, a power cut): the gateway's queued readings as of the last autosave.

Mosquitto acknowledges a QoS 1 publish (PUBACK) once the message is in memory and saves memory to
its persistence file only every `AUTOSAVE_INTERVAL_S`. So the guarantee these tests state is:
a reading the broker acknowledged more than `UNSAVED_WINDOW_S` before it was killed reaches the
store after the broker and the gateway come back; a reading acknowledged within that window and
not yet stored by the gateway may be lost (the device will not resend it: it had its PUBACK).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.clock import SystemClock
from core.config import SiteConfig
from demo_broker.mosquitto import UNSAVED_WINDOW_S, MosquittoProcess
from gateway import Gateway
from ingest import Aggregate, DuckDBStore, StoreWriter
from tests.conftest import Publisher, site_config, wait_for

SITE = "test-school"
DEVICE = "fridge-1"
# A save takes time, and a broker busy with a stream turns its loop less often than every 0.1 s:
# half a second on top of its own bound. (A PUBACK is heard after the broker stored the message,
# so its age as the device sees it never overstates the broker's.)
SAFE_AGE_S = UNSAVED_WINDOW_S + 0.5
# Readings one second apart, starting 10 h ago (inside the gateway's 30-day age limit), so
# each reading of the series is its own 1 s bucket and its seq is recoverable from its time.
BASE_S = int(time.time()) - 10 * 3600


def telemetry(seq: int) -> dict[str, Any]:
    return {"ts": (BASE_S + seq) * 1000, "seq": seq, "m": {"temp_c": 3.4}}


def stored_seqs(store: DuckDBStore) -> set[int]:
    start = datetime.fromtimestamp(BASE_S, UTC)
    points = store.series(
        SITE, DEVICE, "temp_c", start, start + timedelta(hours=10), 1, Aggregate.LAST
    )
    return {int(p.start.timestamp()) - BASE_S for p in points}


class RunningGateway:
    """The project's gateway with its DuckDB store; its session outlives it (clean session off)."""

    def __init__(self, config: SiteConfig, broker: MosquittoProcess, db: Path) -> None:
        self.store = DuckDBStore(db)
        self.gateway = Gateway(
            config, StoreWriter(self.store), SystemClock(), broker_url=broker.url
        )
        self.task = asyncio.create_task(self.gateway.run(), name="gateway-under-test")

    async def wait_connected(self) -> None:
        await wait_for(lambda: self.gateway.connected, "gateway connected")

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        self.store.close()


class TimedPublisher:
    """A QoS 1 device that publishes a steady stream and notes when each PUBACK arrived."""

    def __init__(self, broker: MosquittoProcess, topic: str, rate_per_s: int) -> None:
        self.topic, self.rate = topic, rate_per_s
        self.acked_at: dict[int, float] = {}  # packet id -> time.monotonic() of its PUBACK
        self.mid_of: dict[int, int] = {}  # seq -> packet id
        self._halt = threading.Event()
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-device-{uuid.uuid4().hex[:6]}",
        )
        self._client.max_inflight_messages_set(1000)
        self._client.on_publish = self._on_publish
        connected = threading.Event()
        self._client.on_connect = lambda *_: connected.set()
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        assert connected.wait(10), "test device could not connect"
        self._thread = threading.Thread(target=self._stream, name="test-device", daemon=True)

    def _on_publish(self, _c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        self.acked_at[mid] = time.monotonic()

    def _stream(self) -> None:
        chunk, seq = self.rate // 20, 0
        while not self._halt.is_set() and seq + chunk < 65_000:  # packet ids must not wrap
            for _ in range(chunk):
                info = self._client.publish(self.topic, json.dumps(telemetry(seq)), qos=1)
                self.mid_of[seq] = info.mid
                seq += 1
            time.sleep(0.05)

    def start(self) -> None:
        self._thread.start()

    def halt(self) -> None:
        """Stop at once: no reconnect to a restarted broker, no retransmission."""
        self._halt.set()
        self._thread.join(5)
        self._client.loop_stop()

    def acked_before(self, moment: float) -> dict[int, float]:
        """seq -> age of its PUBACK at `moment`, for each message acknowledged before it."""
        ages = {}
        for seq, mid in self.mid_of.items():
            at = self.acked_at.get(mid)
            if at is not None and at < moment:
                ages[seq] = moment - at
        return ages


async def wait_for_save(broker: MosquittoProcess) -> None:
    """Until the broker next saves: each save writes a new file and renames it over the old."""

    def identity() -> tuple[int, int] | None:
        with contextlib.suppress(FileNotFoundError):
            stat = broker.persistence_file.stat()
            return stat.st_ino, stat.st_mtime_ns
        return None

    before = identity()
    await wait_for(lambda: identity() not in (before, None), "a save", UNSAVED_WINDOW_S + 2)


@pytest.fixture
def killable_broker() -> Iterator[MosquittoProcess]:
    with MosquittoProcess() as broker:
        yield broker


async def test_queued_readings_saved_before_a_kill_are_delivered_after_it(
    killable_broker: MosquittoProcess, topic_prefix: str, tmp_path: Path
) -> None:
    """Deterministic: readings queued for the offline gateway, a save interval passes, SIGKILL:
    every one of them is stored once the broker and the gateway are back."""
    config, db = site_config(topic_prefix), tmp_path / "gw.duckdb"
    first = RunningGateway(config, killable_broker, db)
    await first.wait_connected()  # creates the persistent session and its subscription
    await first.stop()

    total = 3000
    device = Publisher(killable_broker)
    for seq in range(total):
        device.publish(f"{topic_prefix}/{SITE}/{DEVICE}/telemetry", telemetry(seq))
    await asyncio.to_thread(device.close)  # every reading has its PUBACK
    await asyncio.sleep(SAFE_AGE_S)

    assert killable_broker.persistence_file.exists(), killable_broker.log_text()
    assert "Error saving" not in killable_broker.log_text()
    killable_broker.kill()
    await asyncio.to_thread(killable_broker.start)

    second = RunningGateway(config, killable_broker, db)
    try:
        await wait_for(lambda: second.store.reading_count() == total, f"{total} readings")
        assert stored_seqs(second.store) == set(range(total))
    finally:
        await second.stop()


async def test_a_kill_under_load_loses_only_the_unsaved_window(
    killable_broker: MosquittoProcess, topic_prefix: str, tmp_path: Path
) -> None:
    """Under load: a device publishes 1500 readings/s; the gateway stores the first ones, then
    is away (a restart, a slow store) while the broker queues the rest; SIGKILL mid-stream, a
    while after a save. Every reading acknowledged more than SAFE_AGE_S before the kill is stored
    after the restart; the ones acknowledged after the broker's last save are lost, as a tail."""
    config, db = site_config(topic_prefix), tmp_path / "gw.duckdb"
    first = RunningGateway(config, killable_broker, db)
    await first.wait_connected()
    device = TimedPublisher(killable_broker, f"{topic_prefix}/{SITE}/{DEVICE}/telemetry", 1500)
    device.start()
    await asyncio.sleep(1.0)
    await first.stop()
    store = DuckDBStore(db)
    stored_live = len(stored_seqs(store))
    store.close()
    # Kill between two saves, once seconds of backlog are older than SAFE_AGE_S.
    await asyncio.sleep(SAFE_AGE_S)
    await wait_for_save(killable_broker)
    await asyncio.sleep(UNSAVED_WINDOW_S / 3)

    killed_at = time.monotonic()
    killable_broker.kill()
    await asyncio.to_thread(device.halt)
    acked = device.acked_before(killed_at)
    safe = {seq for seq, age in acked.items() if age > SAFE_AGE_S}
    assert len(safe) - stored_live > 2000, "the kill must find a saved backlog to lose"

    await asyncio.to_thread(killable_broker.start)
    second = RunningGateway(config, killable_broker, db)
    try:
        await second.wait_connected()
        marker = max(acked) + 1000  # queued behind everything the broker restored
        late = Publisher(killable_broker)
        late.publish(f"{topic_prefix}/{SITE}/{DEVICE}/telemetry", telemetry(marker))
        await asyncio.to_thread(late.close)
        await wait_for(lambda: marker in stored_seqs(second.store), "the marker after the drain")
        stored = stored_seqs(second.store)
    finally:
        await second.stop()

    missing_safe = sorted(safe - stored)
    assert not missing_safe, (
        f"{len(missing_safe)} readings acknowledged more than {SAFE_AGE_S:.1f} s before the "
        f"kill were lost, e.g. seq {missing_safe[:5]}"
    )
    window = set(acked) - safe
    lost = window - stored
    # The kill was a crash, not a clean stop (which saves): what came after the last save is
    # gone, as the tail of the stream, never a hole in the record.
    assert lost, "nothing was lost: the broker saved at its death, this was no crash"
    assert min(lost) > max(window & stored, default=-1)
    print(  # the figures the issue asks for, shown with pytest -s
        f"\nacknowledged before the kill: {len(acked)}, of which older than {SAFE_AGE_S:.1f} s: "
        f"{len(safe)}, all stored; younger: {len(window)}, lost: {len(lost)}"
        f" (acknowledged in the last {max((acked[s] for s in lost), default=0):.2f} s)"
    )
