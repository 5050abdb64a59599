"""How the gateway forms batches, against a real Mosquitto (gateway/service.py, module docstring):
a message that finds the store idle is handed over at once, whatever the linger; while the store
writes a batch, what arrives is decoded into one next batch, handed over when the store is free,
in the order received, and acknowledged only after it is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.clock import SystemClock
from core.readings import DeadLetter, DeviceEvent, PresenceChange, ReadingBatch
from demo_broker.mosquitto import MosquittoProcess
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


def reading(seq: int, base: int) -> dict[str, object]:
    return {"ts": base + seq, "seq": seq, "m": {"temp_c": 3.5}}


@pytest.mark.parametrize("linger_ms", [0, 60_000])
async def test_batches_follow_the_store_not_a_fixed_linger(
    mosquitto: MosquittoProcess,
    publisher: Publisher,
    topic_prefix: str,
    tmp_path: Path,
    linger_ms: int,
) -> None:
    config = site_config(topic_prefix, gateway={"batch_linger_ms": linger_ms})
    sink = GatedSink(tmp_path / "batching.duckdb")
    gateway = Gateway(config, sink, SystemClock(), broker_url=mosquitto.url)
    task = asyncio.create_task(gateway.run(), name="gateway-under-test")
    topic = f"{topic_prefix}/{SITE}/fridge-1/telemetry"
    base = now_ms() - 60_000
    try:
        await wait_for(lambda: gateway.subscribed, "gateway subscribed")
        # The store is idle: the first message goes out alone and at once. With a fixed
        # linger of 60 s it would have waited a minute, far beyond wait_for's 30 s.
        sink.gate.clear()
        publisher.publish(topic, reading(0, base))
        await wait_for(lambda: len(sink.batches) == 1, "the first message handed to the store")
        assert sink.batches == [[base]]
        assert gateway.stats.acked == 0, "acknowledged before it was stored"

        # While the store is held, 200 more arrive: none is acknowledged meanwhile.
        for seq in range(1, 201):
            publisher.publish(topic, reading(seq, base))
        await asyncio.to_thread(publisher.flush)
        if linger_ms:
            # Decoded into the open batch while the store is busy (with no linger, the
            # decoder waits behind the one-batch queue instead).
            await wait_for(lambda: gateway.stats.messages == 201, "all 201 decoded")
        assert gateway.stats.acked == 0
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
    if linger_ms:
        # The batch stayed open while the store was busy: one batch after the first.
        assert len(sink.batches) == 2
    else:
        # A linger of 0 hands each batch over once decoded: one waits in the queue, one waits
        # to be queued, and the rest gathers in the link meanwhile, one batch more.
        assert 2 <= len(sink.batches) <= 4
