"""The publishing side of the fuzz benchmark: one paho client at QoS 1 with a bounded window of
unacknowledged messages, and the tally of what was sent (by family, and the good readings and
events each device must then have in the store)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from bench.backlog import SESSION_TIMEOUT_S, BenchError, paho_client, start_client, stop_client
from bench.fuzz_payloads import FuzzMessage

__all__ = ["Tally", "WindowedPublisher"]

# The broker acknowledges within milliseconds; this long without a PUBACK means it is stuck.
PUBACK_STALL_S = 30.0


class WindowedPublisher:
    """Publishes as fast as the broker acknowledges, never more than `window` in flight (paho
    would otherwise queue without bound in memory)."""

    def __init__(self, port: int, window: int) -> None:
        self._client = paho_client("bench-fuzz-publisher", clean_session=True)
        self._client.max_inflight_messages_set(window)
        self._client.on_publish = self._on_publish
        self._slots = threading.Semaphore(window)
        self.sent = 0
        self.acked = 0  # written by paho's network thread only
        self._port = port

    def __enter__(self) -> WindowedPublisher:
        start_client(self._client, self._port, SESSION_TIMEOUT_S)
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        stop_client(self._client)

    def _on_publish(self, _c: paho.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        self.acked += 1
        self._slots.release()

    def publish(self, topic: str, payload: bytes) -> None:
        if not self._slots.acquire(timeout=PUBACK_STALL_S):
            raise BenchError(
                f"the broker acknowledged nothing for {PUBACK_STALL_S:.0f} s "
                f"({self.acked:,} of {self.sent:,} acknowledged)"
            )
        info = self._client.publish(topic, payload, qos=1)
        # Not connected: paho keeps a QoS 1 message and sends it once it has reconnected.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._slots.release()
            raise BenchError(f"publish to {topic!r} failed: {paho.error_string(info.rc)}")
        self.sent += 1

    def wait_all_acknowledged(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acked < self.sent:
            if time.monotonic() > deadline:
                raise BenchError(f"the broker acknowledged {self.acked:,} of {self.sent:,}")
            time.sleep(0.01)


class Tally:
    def __init__(self) -> None:
        self.messages = 0
        self.payload_bytes = 0
        self.by_family: Counter[str] = Counter()
        self.readings: Counter[str] = Counter()  # device -> good readings sent
        self.events: Counter[str] = Counter()
        self.at_stake: Counter[str] = Counter()

    def add(self, message: FuzzMessage) -> None:
        self.messages += 1
        self.payload_bytes += len(message.payload)
        self.by_family[message.family] += 1
        if message.readings:
            self.readings[message.device] += message.readings
        if message.events:
            self.events[message.device] += message.events
        if message.at_stake:
            self.at_stake[message.device] += message.at_stake

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "payload_mb": round(self.payload_bytes / 2**20, 1),
            "by_family": dict(self.by_family.most_common()),
            "good_readings_by_device": dict(sorted(self.readings.items())),
            "good_events_by_device": dict(sorted(self.events.items())),
            "at_stake_by_device": dict(sorted(self.at_stake.items())),
        }
