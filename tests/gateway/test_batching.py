"""How the gateway forms batches, against a real Mosquitto (gateway/service.py, module docstring):
after quiet traffic a message is handed to the store at once, whatever the linger; a burst that
arrives while the store is slow is stored in a few batches, in the order received, and
acknowledged only after it is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from core.clock import SystemClock
from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch, ReadingBatchBuilder
from demo_broker.mosquitto import MosquittoProcess
from gateway.batching import DecodedBatch, merged
from gateway.isolation import ReadingSpan, readings_of
from gateway.link import Inbound
from gateway.service import Gateway
from ingest import DuckDBStore, StoreWriter
from tests.conftest import Publisher, site_config, wait_for
from tests.gateway.test_gateway_broker import SITE, now_ms


class GatedSink:
    """A real DuckDB store behind a gate the test opens: a store that is slow on demand. It
    records each reading batch's timestamps, in the order the batches reached it."""

    def __init__(self, db: Path) -> None:
        self.store = DuckDBStore(db)
        self._writer = StoreWriter(self.store)
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def readings(self, batch: ReadingBatch) -> None:
        self.batches.append(batch.ts_ms.tolist())
        await self.gate.wait()
        await self._writer.readings(batch)

    async def events(self, events: Sequence[DeviceEvent]) -> None:
        await self._writer.events(events)

    async def presence(self, changes: Sequence[PresenceChange]) -> None:
        await self._writer.presence(changes)

    async def dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self._writer.dead_letters(letters)


def acked(gateway: Gateway, count: int) -> Callable[[], bool]:
    return lambda: gateway.stats.acked == count


def reading(seq: int, base: int) -> dict[str, object]:
    return {"ts": base + seq, "seq": seq, "m": {"temp_c": 3.5}}


async def test_quiet_traffic_is_stored_at_once_whatever_the_linger(
    mosquitto: MosquittoProcess, publisher: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    # A fixed linger of 60 s would hold the message a minute, far beyond wait_for's 30 s.
    config = site_config(topic_prefix, gateway={"batch_linger_ms": 60_000})
    sink = GatedSink(tmp_path / "quiet.duckdb")
    gateway = Gateway(config, sink, SystemClock(), broker_url=mosquitto.url)
    task = asyncio.create_task(gateway.run(), name="gateway-under-test")
    topic = f"{topic_prefix}/{SITE}/fridge-1/telemetry"
    base = now_ms() - 60_000
    try:
        await wait_for(lambda: gateway.subscribed, "gateway subscribed")
        for seq in range(3):  # one at a time, as a quiet site sends them
            publisher.publish(topic, reading(seq, base))
            await wait_for(acked(gateway, seq + 1), f"message {seq} stored")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        sink.store.close()
    assert sink.batches == [[base], [base + 1], [base + 2]]


@pytest.mark.parametrize("linger_ms", [0, 50])
async def test_a_burst_behind_a_slow_store_is_stored_in_order_in_few_batches(
    mosquitto: MosquittoProcess,
    publisher: Publisher,
    topic_prefix: str,
    tmp_path: Path,
    linger_ms: int,
) -> None:
    config = site_config(topic_prefix, gateway={"batch_linger_ms": linger_ms})
    sink = GatedSink(tmp_path / "burst.duckdb")
    gateway = Gateway(config, sink, SystemClock(), broker_url=mosquitto.url)
    task = asyncio.create_task(gateway.run(), name="gateway-under-test")
    topic = f"{topic_prefix}/{SITE}/fridge-1/telemetry"
    base = now_ms() - 60_000
    try:
        await wait_for(lambda: gateway.subscribed, "gateway subscribed")
        sink.gate.clear()  # the store is slow: nothing it is handed is stored yet
        publisher.publish(topic, reading(0, base))
        await wait_for(lambda: len(sink.batches) == 1, "the first message handed to the store")
        for seq in range(1, 201):
            publisher.publish(topic, reading(seq, base))
        await asyncio.to_thread(publisher.flush)
        await wait_for(
            lambda: gateway.stats.messages + gateway.pending() == 201, "all 201 received"
        )
        assert gateway.stats.acked == 0, "acknowledged before it was stored"
        sink.gate.set()
        await wait_for(lambda: gateway.stats.acked == 201, "all 201 acknowledged")
        assert sink.store.reading_count() == 201
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        sink.store.close()

    seqs = [ts - base for batch in sink.batches for ts in batch]
    assert seqs == list(range(201)), "readings reached the store out of order or twice"
    # The first alone; behind it the two queued go out as one, then the one that waited to be
    # queued, and the rest gathered in the link meanwhile: one batch more.
    assert len(sink.batches) <= 4


def test_batches_that_waited_together_are_merged_in_order_with_their_spans() -> None:
    def decoded(seqs: list[int], closed_at: float) -> DecodedBatch:
        builder = ReadingBatchBuilder()
        spans = []
        for seq in seqs:
            message = Inbound(f"t/{seq}", b"", 1, seq, 1)
            start = len(builder)
            for metric in ("temp_c", "door_open"):
                builder.append(SITE, "fridge-1", metric, seq, float(seq))
            spans.append(ReadingSpan(start, len(builder), message))
        messages = [s.message for s in spans]
        batch = DecodedBatch(
            messages, builder.build(), messages, [s.end for s in spans], [], [], []
        )
        batch.closed_at = closed_at
        return batch

    first, second = decoded([1, 2], 10.0), decoded([3], 11.0)
    batch = merged([first, second])
    assert [m.mid for m in batch.messages] == [1, 2, 3]
    assert batch.readings.ts_ms.tolist() == [1, 1, 2, 2, 3, 3]
    assert [(s.start, s.end, s.message.mid) for s in batch.spans] == [
        (0, 2, 1),
        (2, 4, 2),
        (4, 6, 3),
    ]
    assert readings_of(batch.readings, batch.spans[2:]).value.tolist() == [3.0, 3.0]
    assert batch.closed_at == 10.0  # the oldest: how long the first waited
    assert merged([first]) is first
