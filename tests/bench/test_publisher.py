"""bench.publisher against a real Mosquitto: a paho subscriber receives exactly the messages it
says it sent (each sequence number once, on its device's topic, as canonical telemetry the
gateway's decoder accepts), at QoS 1 with every PUBACK counted and at QoS 0."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.publisher import (
    RawPublisher,
    TelemetryPayloads,
    device_topics,
    encode_publish,
    run_background,
)
from core.readings import ReadingBatchBuilder
from demo_broker.mosquitto import MosquittoProcess
from gateway.codec import TimeWindow, decode_telemetry


class Collector:
    """A paho subscriber that keeps every message it receives."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes, int]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise AssertionError("the subscriber was not subscribed within 10 s")

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), message.qos))

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[tuple[str, bytes, int]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.02)
        time.sleep(0.2)  # anything beyond `count` (a duplicate) would arrive now
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _check_exact(
    received: list[tuple[str, bytes, int]], topics: list[str], count: int, begun_ms: int
) -> None:
    assert len(received) == count
    seqs = []
    window = TimeWindow(int(time.time() * 1000), 5_000, 86_400_000)
    for topic, payload, _qos in received:
        doc = json.loads(payload)
        seqs.append(doc["seq"])
        assert topic == topics[doc["seq"] % len(topics)]
        assert begun_ms <= doc["ts"] <= window.now_ms
        assert 3.0 <= doc["m"]["temp_c"] <= 5.0
        builder = ReadingBatchBuilder()
        assert decode_telemetry(payload, "s", "d", window, builder) == 1
    assert sorted(seqs) == list(range(count))


@pytest.mark.parametrize("qos", [1, 0])
def test_every_message_arrives_once_on_its_devices_topic(
    mosquitto: MosquittoProcess, topic_prefix: str, qos: int
) -> None:
    topics = device_topics(topic_prefix, "school", [f"fridge-{i}" for i in range(7)])
    collector = Collector(mosquitto.port, f"{topic_prefix}/#")
    publisher = RawPublisher(
        "127.0.0.1", mosquitto.port, f"t-{uuid.uuid4().hex[:8]}", qos=qos, max_unacked=50
    )
    begun_ms = int(time.time() * 1000)
    try:
        report = publisher.run(4_000, topics, limit=1_500)
    finally:
        publisher.close()
    received = collector.wait_for(1_500)
    collector.close()
    _check_exact(received, topics, 1_500, begun_ms)
    assert report.sent == report.acked == 1_500
    assert report.qos == qos
    assert {q for _t, _p, q in received} == {qos}
    assert report.cpu_s >= 0 and report.offered >= report.sent


def test_unacknowledged_messages_are_bounded_by_the_window(
    mosquitto: MosquittoProcess, topic_prefix: str
) -> None:
    topics = device_topics(topic_prefix, "school", ["fridge-1"])
    seen: list[int] = []
    publisher = RawPublisher(
        "127.0.0.1", mosquitto.port, f"t-{uuid.uuid4().hex[:8]}", qos=1, max_unacked=10
    )
    try:
        report = publisher.run(
            50_000, topics, limit=400, on_tick=lambda p: seen.append(p.sent - p.acked)
        )
    finally:
        publisher.close()
    assert report.acked == 400
    assert max(seen) <= 10


def test_the_process_target_counts_what_it_sent_and_the_broker_took(
    mosquitto: MosquittoProcess, topic_prefix: str
) -> None:
    topics = device_topics(topic_prefix, "school", [f"fridge-{i}" for i in range(3)])
    collector = Collector(mosquitto.port, f"{topic_prefix}/#")
    context = multiprocessing.get_context("spawn")
    stop, sent, acked, reports = (
        context.Event(),
        context.Value("q", 0),
        context.Value("q", 0),
        context.Queue(),
    )
    process = context.Process(
        target=run_background,
        args=(mosquitto.port, 2_000, topics, stop, sent, acked, 1, reports),
    )
    process.start()
    deadline = time.monotonic() + 30
    while sent.value < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    report = reports.get(timeout=30)
    process.join(30)
    assert process.exitcode == 0
    assert report["sent"] == report["acked"] == sent.value == acked.value >= 300
    received = collector.wait_for(report["sent"])
    collector.close()
    assert sorted(json.loads(p)["seq"] for _t, p, _q in received) == list(range(report["sent"]))


def test_packets_follow_mqtt_3_1_1() -> None:
    # 3.3: fixed header 0x32 (PUBLISH, QoS 1), remaining length, topic with its length, id.
    packet = encode_publish("a/b", b"xyz", 1, 258)
    assert packet == b"\x32\x0a\x00\x03a/b\x01\x02xyz"
    # A remaining length of 200 takes two bytes (2.2.3): 200 = 0x48 | 0x80, then 1.
    big = encode_publish("t", b"p" * 195, 0)
    assert big[:3] == b"\x30\xc6\x01" and len(big) == 3 + 3 + 195
    payload = TelemetryPayloads(seed=1).make(12, b'{"ts":1700000000000,"seq":')
    assert json.loads(payload)["seq"] == 12


def test_a_refused_or_missing_broker_is_an_error() -> None:
    with pytest.raises(ConnectionRefusedError):
        RawPublisher("127.0.0.1", 1, "nobody")
    with pytest.raises(ValueError, match="qos must be 0 or 1"):
        RawPublisher("127.0.0.1", 1, "nobody", qos=2)
