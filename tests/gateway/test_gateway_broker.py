"""The gateway against a real Mosquitto: bad input is dead-lettered and counted while good data
beside it is stored, and a restart in the middle of a stream loses nothing."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.clock import SystemClock
from core.config import SiteConfig
from core.readings import Reading
from demo_broker.mosquitto import MosquittoProcess
from gateway import Gateway
from ingest import DuckDBStore, StoreWriter
from tests.conftest import Publisher, site_config, wait_for

SITE = "test-school"


class RunningGateway:
    def __init__(self, config: SiteConfig, broker: MosquittoProcess, db: Path) -> None:
        self.store = DuckDBStore(db)
        self.writer = StoreWriter(self.store)
        self.stored: list[Reading] = []  # in the order stored, which is the order acknowledged
        self.writer.add_listener(self.stored.extend)
        self.gateway = Gateway(
            config, self.writer, SystemClock(), broker_url=broker.url, stages=self.writer.stages
        )
        self.task = asyncio.create_task(self.gateway.run(), name="gateway-under-test")

    async def wait_subscribed(self) -> None:
        """Until the broker has confirmed the subscription: from then on nothing published is
        missed."""
        await wait_for(lambda: self.gateway.subscribed, "gateway subscribed")

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        self.store.close()


@pytest.fixture
async def running(
    topic_prefix: str, mosquitto: MosquittoProcess, tmp_path: Path
) -> AsyncIterator[RunningGateway]:
    gw = RunningGateway(site_config(topic_prefix), mosquitto, tmp_path / "gw.duckdb")
    await gw.wait_subscribed()
    yield gw
    await gw.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


def mixed_payloads(prefix: str, count: int) -> tuple[list[tuple[str, bytes]], int, dict[str, int]]:
    """`count` messages, good ones interleaved with every kind of bad one.
    Returns (messages, good readings expected, expected dead letters per reason fragment)."""
    base = now_ms() - 600_000
    topic = f"{prefix}/{SITE}/fridge-1/telemetry"
    bad: list[tuple[str, str, bytes]] = [
        ("not valid JSON: Expecting", topic, b'{"ts": 1, "m": {'),
        ("must be a number", topic, b'{"ts": %d, "m": {"temp_c": "3.4"}}' % base),
        ("must be true or false", topic, b'{"ts": %d, "m": {"door_open": 1}}' % base),
        ("NaN is not a number", topic, b'{"ts": %d, "m": {"temp_c": NaN}}' % base),
        ("Infinity is not a number", topic, b'{"ts": %d, "m": {"temp_c": Infinity}}' % base),
        ("unknown device", f"{prefix}/{SITE}/fridge-99/telemetry", b'{"ts": %d, "m": {}}' % base),
        (
            "exceeds the limit",
            topic,
            json.dumps({"ts": base, "m": {}, "pad": "x" * 1_048_576}).encode(),
        ),
        (
            "ahead of the gateway clock",
            topic,
            b'{"ts": %d, "m": {"temp_c": 3}}' % (base + 366 * 86_400_000),
        ),
        ("ts is missing", topic, b'{"seq": 1, "m": {"temp_c": 3.1}}'),
        ("m must be a non-empty object", topic, b'{"ts": %d, "seq": 2}' % base),
        ("unknown metric", topic, b'{"ts": %d, "m": {"tempc": 3.1}}' % base),
        ("not UTF-8", topic, b"\xff\xfe\x00garbage"),
        ("item 1: expected an object", topic, b'[{"ts": %d, "m": {"temp_c": 3}}, 7]' % base),
    ]
    messages: list[tuple[str, bytes]] = []
    expected_bad: dict[str, int] = {}
    good = 0
    for i in range(count):
        if i % 2 == 0:
            device = f"fridge-{i % 3 + 1}"
            ts = base + i
            if i % 4 == 0:  # a gateway's batch of two readings times two metrics
                payload = [
                    {"ts": ts, "seq": i, "m": {"temp_c": 3.0, "door_open": False}},
                    {"ts": ts + 500_000, "seq": i, "m": {"temp_c": 3.1, "door_open": True}},
                ]
                good += 4
            else:
                payload = {"ts": ts, "seq": i, "m": {"temp_c": 4.2, "power_w": 85.0}}
                good += 2
            messages.append((f"{prefix}/{SITE}/{device}/telemetry", json.dumps(payload).encode()))
        else:
            reason, bad_topic, raw = bad[(i // 2) % len(bad)]
            messages.append((bad_topic, raw))
            expected_bad[reason] = expected_bad.get(reason, 0) + 1
    return messages, good, expected_bad


async def test_bad_input_is_dead_lettered_and_good_data_stored(
    running: RunningGateway, publisher: Publisher, topic_prefix: str
) -> None:
    messages, good, expected_bad = mixed_payloads(topic_prefix, 1000)
    for topic, payload in messages:
        publisher.publish(topic, payload)
    await asyncio.to_thread(publisher.flush)
    await wait_for(lambda: running.gateway.stats.acked >= 1000, "1000 messages acknowledged")

    assert running.store.reading_count() == good
    letters = running.store.dead_letters(SITE, 1000)
    assert len(letters) == sum(expected_bad.values()) == 500
    for fragment, count in expected_bad.items():
        matching = [x for x in letters if fragment in x.letter.reason]
        assert len(matching) == count, f"{fragment!r}: {len(matching)} of {count}"
    huge = next(x.letter for x in letters if "exceeds the limit" in x.letter.reason)
    assert huge.payload_size > 1_048_576
    assert len(huge.payload) == 16 * 1024  # kept, but capped

    # The loop is still consuming afterwards.
    publisher.publish(
        f"{topic_prefix}/{SITE}/fridge-2/telemetry", {"ts": now_ms(), "m": {"temp_c": 5.5}}
    )
    await asyncio.to_thread(publisher.flush)
    await wait_for(lambda: running.store.reading_count() == good + 1, "reading after bad input")
    latest = {v.metric: v.value for v in running.store.latest(SITE, "fridge-2")}
    assert latest["temp_c"] == 5.5
    assert (
        running.gateway.stats.dead_letters["not_json"]
        == expected_bad["not valid JSON: Expecting"]
        + (expected_bad["not UTF-8"])
        + expected_bad["NaN is not a number"]
        + expected_bad["Infinity is not a number"]
    )


async def test_presence_and_events_from_their_topics(
    running: RunningGateway, publisher: Publisher, topic_prefix: str
) -> None:
    publisher.publish(f"{topic_prefix}/{SITE}/fridge-1/status", b"online")
    publisher.publish(f"{topic_prefix}/{SITE}/fridge-2/status", b"offline")
    publisher.publish(f"{topic_prefix}/{SITE}/fridge-3/status", b"maybe")
    publisher.publish(
        f"{topic_prefix}/{SITE}/fridge-3/event", {"ts": now_ms(), "type": "defrost_start"}
    )
    await asyncio.to_thread(publisher.flush)
    await wait_for(lambda: running.gateway.stats.acked >= 4, "status messages acknowledged")
    presence = {p.device: p.online for p in running.store.presence(SITE)}
    assert presence == {"fridge-1": True, "fridge-2": False}
    [letter] = running.store.dead_letters(SITE, 10)
    assert "status must be 'online' or 'offline'" in letter.letter.reason
    assert running.writer.stats.events == 1


async def test_restart_mid_stream_loses_nothing(
    topic_prefix: str, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    config = site_config(topic_prefix)
    db = tmp_path / "restart.duckdb"
    total = 6000
    first = RunningGateway(config, mosquitto, db)
    await first.wait_subscribed()
    base = now_ms() - 3_600_000

    def publish_stream() -> None:
        pub = Publisher(mosquitto)
        for i in range(total):
            payload = {"ts": base + i, "seq": i, "m": {"temp_c": round(3 + math.sin(i), 2)}}
            pub.publish(f"{topic_prefix}/{SITE}/fridge-{i % 3 + 1}/telemetry", payload)
            if i % 500 == 0:
                pub.flush()
                time.sleep(0.02)  # a steady stream, so the restart lands in the middle
        pub.close()

    def seqs(readings: list[Reading]) -> list[int]:
        return [r.ts_ms - base for r in readings]

    stream = asyncio.create_task(asyncio.to_thread(publish_stream))
    await wait_for(lambda: first.gateway.stats.acked > 1000, "first gateway mid-stream")
    await first.stop()
    stopped_at = first.gateway.stats.acked
    assert stopped_at < total, "the restart must happen while messages are still arriving"
    # One reading per message, acknowledged in the order stored: these the broker may drop.
    acked_by_first = set(seqs(first.stored[:stopped_at]))

    second = RunningGateway(config, mosquitto, db)
    await stream
    # The broker hands one session its messages in the order they were published, redeliveries
    # first: once the last one is in, everything the broker held for us has arrived.
    await wait_for(lambda: total - 1 in seqs(second.stored), "the last message of the stream")
    received = seqs(second.stored)
    assert len(received) == len(set(received)), "a message delivered twice to the second gateway"
    assert acked_by_first.isdisjoint(received), "the broker redelivered an acknowledged message"
    assert acked_by_first | set(received) == set(range(total)), "a message was lost"
    assert second.gateway.stats.messages == total - stopped_at
    assert second.store.reading_count() == total
    await second.stop()
