"""The gateway's feed to the rules, against a real Mosquitto and DuckDB: while the rules take
readings early they have them before the store does (a write that hangs does not hold an
alert), otherwise once stored; across the switch every reading is told once, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from core.clock import SystemClock
from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch
from demo_broker.mosquitto import MosquittoProcess
from gateway import Gateway
from ingest import DuckDBStore, StoreWriter
from tests.conftest import Publisher, site_config, wait_for

SITE = "test-school"


class GatedSink:
    """The real store writer behind a gate the test opens: a write that hangs."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self.gate = asyncio.Event()
        self.gate.set()
        self.stored = 0  # readings the store has returned from
        self.writes = 0

    async def readings(self, batch: ReadingBatch) -> None:
        await self.gate.wait()
        await self.writer.readings(batch)
        self.stored += len(batch)
        self.writes += 1

    async def events(self, events: Sequence[DeviceEvent]) -> None:
        await self.writer.events(events)

    async def presence(self, changes: Sequence[PresenceChange]) -> None:
        await self.writer.presence(changes)

    async def dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self.writer.dead_letters(letters)


class Rules:
    """A feed that records what it was told and how much the store had then."""

    def __init__(self, sink: GatedSink, *, early: bool) -> None:
        self.sink = sink
        self.early = early
        self.told: list[tuple[int, float]] = []  # (ts, value) in the order told
        self.stored_when_told: list[int] = []
        self.batches = 0

    def takes_early(self) -> bool:
        return self.early

    def on_batch(self, batch: ReadingBatch) -> None:
        self.stored_when_told.append(self.sink.stored)
        self.batches += 1
        self.told += list(zip(batch.ts_ms.tolist(), batch.value.tolist(), strict=True))


class Running:
    def __init__(
        self, prefix: str, broker: MosquittoProcess, db: Path, *, early: bool, linger_ms: float = 50
    ) -> None:
        self.store = DuckDBStore(db)
        self.sink = GatedSink(StoreWriter(self.store))
        self.rules = Rules(self.sink, early=early)
        config = site_config(prefix, gateway={"batch_linger_ms": linger_ms})
        self.gateway = Gateway(config, self.sink, SystemClock(), broker_url=broker.url)
        self.gateway.feed_rules(self.rules)
        self.prefix = prefix
        self.task = asyncio.create_task(self.gateway.run(), name="gateway-under-test")

    def publish(self, publisher: Publisher, ts: int, value: float) -> None:
        topic = f"{self.prefix}/{SITE}/fridge-1/telemetry"
        publisher.publish(topic, {"ts": ts, "m": {"temp_c": value}})

    async def stop(self) -> None:
        self.sink.gate.set()
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        self.store.close()


@pytest.fixture
async def feed(
    request: pytest.FixtureRequest, topic_prefix: str, mosquitto: MosquittoProcess, tmp_path: Path
) -> AsyncIterator[Running]:
    """The gateway feeding rules that take readings early (`request.param` True) or late."""
    early, linger_ms = request.param if isinstance(request.param, tuple) else (request.param, 50)
    db = tmp_path / "feed.duckdb"
    running = Running(topic_prefix, mosquitto, db, early=early, linger_ms=linger_ms)
    await wait_for(lambda: running.gateway.subscribed, "gateway subscribed")
    yield running
    await running.stop()


EARLY = pytest.mark.parametrize("feed", [True], indirect=True, ids=["early"])
# Early rules, and a store that waits 400 ms for more after a busy batch.
EARLY_SLOW_WRITES = pytest.mark.parametrize("feed", [(True, 400)], indirect=True, ids=["early"])
LATE = pytest.mark.parametrize("feed", [False], indirect=True, ids=["late"])


def base_ms() -> int:
    return int(time.time() * 1000) - 60_000


@EARLY
async def test_early_rules_have_a_reading_while_its_write_hangs(
    feed: Running, publisher: Publisher
) -> None:
    early = feed
    early.sink.gate.clear()
    base = base_ms()
    early.publish(publisher, base, 9.5)
    await wait_for(lambda: len(early.rules.told) == 1, "the rules told before the store")
    assert early.sink.stored == 0 and early.store.latest(SITE, "fridge-1") == []
    early.sink.gate.set()
    await wait_for(lambda: early.sink.stored == 1, "the reading stored")
    await asyncio.sleep(0.1)
    assert early.rules.told == [(base, 9.5)]  # once, not again when stored


@LATE
async def test_late_rules_wait_for_the_store(feed: Running, publisher: Publisher) -> None:
    late = feed
    late.sink.gate.clear()
    base = base_ms()
    late.publish(publisher, base, 3.0)
    await wait_for(lambda: late.gateway.pending() == 0, "decoded")
    await asyncio.sleep(0.2)
    assert late.rules.told == []
    late.sink.gate.set()
    await wait_for(lambda: len(late.rules.told) == 1, "the rules told once stored")
    assert late.rules.stored_when_told == [1]


@LATE
async def test_the_switch_to_early_keeps_every_reading_once_in_order(
    feed: Running, publisher: Publisher
) -> None:
    late = feed
    base = base_ms()
    for i in range(5):  # stored and told the late way
        late.publish(publisher, base + i * 1000, float(i))
    await wait_for(lambda: len(late.rules.told) == 5, "five told once stored")
    late.sink.gate.clear()  # the next write hangs: its readings wait, untold
    for i in (5, 6):  # one in the hanging write, one queued behind it
        late.publish(publisher, base + i * 1000, float(i))
        publisher.flush()
        await wait_for(lambda: late.gateway.pending() == 0, "decoded")
        await asyncio.sleep(0.2)
    assert len(late.rules.told) == 5
    late.rules.early = True  # the rules have caught up: early from the next batch on
    late.publish(publisher, base + 7_000, 7.0)
    await wait_for(lambda: len(late.rules.told) == 8, "the waiting ones, then the new one")
    assert late.sink.stored == 5  # told before the store had them
    late.sink.gate.set()
    await wait_for(lambda: late.sink.stored == 8, "all stored")
    await asyncio.sleep(0.1)
    assert late.rules.told == [(base + i * 1000, float(i)) for i in range(8)]


@EARLY_SLOW_WRITES
async def test_a_busy_stream_reaches_the_rules_in_parts_the_store_writes_together(
    feed: Running, publisher: Publisher
) -> None:
    """The store's write lingers for more after a busy batch; the rules do not wait for it: the
    decoder hands each part over within its own short linger."""
    early = feed
    base = base_ms()
    sent = 0
    for _ in range(12):  # bursts of 100 readings, 50 ms apart: ~2 k msg/s for 0.6 s
        for _ in range(100):
            early.publish(publisher, base + sent * 10, 4.0 + (sent % 7) / 10)
            sent += 1
        publisher.flush()
        await asyncio.sleep(0.05)
    await wait_for(lambda: early.sink.stored == sent, "every reading stored", timeout_s=20)
    assert [ts for ts, _ in early.rules.told] == [base + i * 10 for i in range(sent)]
    # Told in many parts, written in few: each part did not wait for the 400 ms write linger.
    assert early.rules.batches >= 2 * early.sink.writes, (early.rules.batches, early.sink.writes)
