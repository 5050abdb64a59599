"""A telemetry publisher that can offer 10 k msg/s on a 2-core machine and leave the cores to the
service it loads.

Run ``python -m bench.publisher [--port P] [--rate 10000] [--seconds 10] [--qos 1]``; one JSON
object goes to stdout (without ``--port`` it starts its own loopback Mosquitto).

paho builds a message object per publish, locks, and (QoS 1) scans its queue of waiting messages
on each PUBACK: one paho process here reached ~1.5-2 k QoS 1 msg/s at a full core, so the alert
bench needed five of them for ~4.9 k msg/s and they took the cores the service needed. This one
speaks MQTT 3.1.1 on a raw socket itself: CONNECT once, then PUBLISH packets built from pre-encoded
parts (the topic's bytes with their length prefix, the payload's fixed text around the time, the
sequence number and a value from a pre-encoded list), joined per tick and written in one `send`.
A token bucket paces the offer (`rate` tokens a second, at most 50 ms of them banked: a late
tick on a busy machine is made up, a long stall is not turned into a burst); at QoS 1 at most
`max_unacked` messages wait for their PUBACK, so what it reports as acknowledged is what the
broker took. PUBACKs are read on the same thread between ticks: no second thread, no lock.

Payloads are canonical telemetry (DESIGN.md, wire protocol)::

    {"ts":<epoch ms at the tick>,"seq":<n>,"m":{"temp_c":<value>}}

message n goes to topic n mod len(topics), so each device's readings keep their order and the
stored readings' time is the publish time (the rules' age figures read it). `bench.alerts` and
other benches import `run_background` as a process target (README in `bench/`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import select
import socket
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

__all__ = [
    "PublishReport",
    "RawPublisher",
    "TelemetryPayloads",
    "encode_connect",
    "encode_publish",
    "run_background",
]

_TICK_S = 0.005
_BURST_S = 0.05  # the token bucket's depth in seconds of the rate
_PING_EVERY_S = 20.0
_KEEPALIVE_S = 60
_SEND_HIGH_WATER = 4 << 20  # bytes waiting for the socket before the bucket stops adding
_PUBACK, _PINGRESP, _CONNACK = 4, 13, 2
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"


class PublisherError(Exception):
    """The broker could not be reached, refused us, or closed the connection."""


def _length(n: int) -> bytes:
    """MQTT's variable-length remaining length (3.1.1, 2.2.3)."""
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def encode_connect(client_id: str, keepalive_s: int = _KEEPALIVE_S) -> bytes:
    """CONNECT with a clean session, no will, no credentials (3.1.1, 3.1)."""
    body = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive_s) + _string(client_id)
    return b"\x10" + _length(len(body)) + body


def encode_publish(topic: str, payload: bytes, qos: int, packet_id: int = 0) -> bytes:
    """One PUBLISH packet (3.1.1, 3.3); the packet id only at QoS 1."""
    head = _string(topic) + (struct.pack("!H", packet_id) if qos else b"")
    return bytes([0x30 | qos << 1]) + _length(len(head) + len(payload)) + head + payload


class TelemetryPayloads:
    """Canonical telemetry with pre-encoded parts: in-band fridge temperatures (3-5 °C)."""

    def __init__(self, seed: int = 7, values: int = 256) -> None:
        rng = random.Random(seed)
        self.values = [f"{rng.uniform(3.0, 5.0):.2f}".encode() for _ in range(values)]

    def make(self, seq: int, ts_part: bytes) -> bytes:
        """`ts_part` is b'{"ts":<ms>,"seq":' for the tick (built once per tick)."""
        value = self.values[seq % len(self.values)]
        return b"".join((ts_part, str(seq).encode(), b',"m":{"temp_c":', value, b"}}"))


@dataclass(frozen=True, slots=True)
class PublishReport:
    asked_msg_s: float
    qos: int
    offered: int  # tokens the bucket granted
    sent: int  # PUBLISH packets written to the socket
    acked: int  # PUBACKs received (QoS 1; equals sent at QoS 0)
    elapsed_s: float
    sent_msg_s: float
    acked_msg_s: float
    cpu_s: float  # this process's own user + system CPU time while publishing
    cpu_share: float  # of one core
    cpu_us_per_msg: float
    window_full_ticks: int  # ticks when max_unacked held the bucket back (the broker's pace)


class RawPublisher:
    """One MQTT connection publishing pre-encoded telemetry (module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        qos: int = 1,
        max_unacked: int = 5_000,
        tick_s: float = _TICK_S,
    ) -> None:
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        if not 1 <= max_unacked <= 65_535:
            raise ValueError(f"max_unacked must be 1..65535 (packet ids), got {max_unacked}")
        self.qos, self.max_unacked, self.tick_s = qos, max_unacked, tick_s
        self._sock = socket.create_connection((host, port), timeout=10)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(encode_connect(client_id))
        self._inbox = bytearray()
        self._handshake()
        self._sock.setblocking(False)
        self._out = bytearray()
        self.sent = self.acked = 0
        self._packet_id = 0
        self._last_ping = time.monotonic()

    def _handshake(self) -> None:
        while len(self._inbox) < 4:
            data = self._sock.recv(64)
            if not data:
                raise PublisherError("the broker closed the connection before CONNACK")
            self._inbox += data
        if self._inbox[0] >> 4 != _CONNACK or self._inbox[3] != 0:
            raise PublisherError(f"the broker refused the connection: {bytes(self._inbox[:4])!r}")
        del self._inbox[:4]

    def run(
        self,
        rate: float,
        topics: Sequence[str],
        *,
        stop: Callable[[], bool] = lambda: False,
        seconds: float | None = None,
        limit: int | None = None,
        payloads: TelemetryPayloads | None = None,
        on_tick: Callable[[RawPublisher], None] | None = None,
    ) -> PublishReport:
        """Offer `rate` msg/s over `topics` until `stop()`, `seconds` or `limit` messages; then
        wait (up to 10 s) for the PUBACKs still due. Returns what was offered, sent, acked."""
        if rate <= 0 or not topics:
            raise ValueError("rate must be positive and topics not empty")
        maker = payloads or TelemetryPayloads()
        heads = [_string(t) for t in topics]
        first = bytes([0x30 | self.qos << 1])
        cpu0, begun = time.process_time(), time.perf_counter()
        end = begun + seconds if seconds is not None else float("inf")
        burst = max(1.0, rate * _BURST_S)
        tokens, last, offered, full_ticks = 0.0, begun, 0, 0
        while not stop() and time.perf_counter() < end and (limit is None or self.sent < limit):
            now = time.perf_counter()
            tokens = min(burst, tokens + (now - last) * rate)
            last = now
            want = int(tokens)
            offered += want
            room = self._room(want, limit)
            full_ticks += room < want
            if room > 0 and len(self._out) < _SEND_HIGH_WATER:
                self._out += self._packets(room, heads, first, maker)
                tokens -= room
            else:
                tokens -= want  # an offer the window or the socket refused is not banked
            self._pump(now + self.tick_s)
            if on_tick is not None:
                on_tick(self)
        self._drain(10.0)
        elapsed = time.perf_counter() - begun
        cpu = time.process_time() - cpu0
        return PublishReport(
            asked_msg_s=rate,
            qos=self.qos,
            offered=offered,
            sent=self.sent,
            acked=self.acked,
            elapsed_s=round(elapsed, 3),
            sent_msg_s=round(self.sent / elapsed, 1),
            acked_msg_s=round(self.acked / elapsed, 1),
            cpu_s=round(cpu, 3),
            cpu_share=round(cpu / elapsed, 3),
            cpu_us_per_msg=round(cpu / self.sent * 1e6, 2) if self.sent else 0.0,
            window_full_ticks=full_ticks,
        )

    def _room(self, want: int, limit: int | None) -> int:
        room = want
        if self.qos:
            room = min(room, self.max_unacked - (self.sent - self.acked))
        if limit is not None:
            room = min(room, limit - self.sent)
        return max(0, room)

    def _packets(
        self, count: int, heads: list[bytes], first: bytes, maker: TelemetryPayloads
    ) -> bytes:
        ts_part = b'{"ts":' + str(int(time.time() * 1000)).encode() + b',"seq":'
        parts: list[bytes] = []
        append, qos, n = parts.append, self.qos, len(heads)
        for seq in range(self.sent, self.sent + count):
            payload = maker.make(seq, ts_part)
            head = heads[seq % n]
            if qos:
                self._packet_id = self._packet_id % 65_535 + 1
                body = len(head) + 2 + len(payload)
                append(first + _length(body) + head + struct.pack("!H", self._packet_id) + payload)
            else:
                append(first + _length(len(head) + len(payload)) + head + payload)
        self.sent += count
        if not qos:
            self.acked = self.sent
        return b"".join(parts)

    def _pump(self, until: float) -> None:
        """Write what waits and read PUBACKs until `until` (perf_counter)."""
        while True:
            wait = max(0.0, until - time.perf_counter())
            writers = [self._sock] if self._out else []
            readable, writable, _ = select.select([self._sock], writers, [], wait)
            if writable:
                try:
                    written = self._sock.send(self._out)
                except BlockingIOError:
                    written = 0
                del self._out[:written]
            if readable:
                self._read()
            if wait == 0.0:
                break
            if not readable and not writable:
                break
        if time.monotonic() - self._last_ping > _PING_EVERY_S:
            self._out += _PINGREQ
            self._last_ping = time.monotonic()

    def _read(self) -> None:
        try:
            data = self._sock.recv(1 << 16)
        except BlockingIOError:
            return
        if not data:
            raise PublisherError("the broker closed the connection")
        inbox = self._inbox
        inbox += data
        at = 0
        while len(inbox) - at >= 2:
            kind, size = inbox[at] >> 4, inbox[at + 1]
            if size & 0x80:
                raise PublisherError(f"unexpected packet of type {kind} from the broker")
            if len(inbox) - at < 2 + size:
                break
            if kind == _PUBACK:
                self.acked += 1
            elif kind != _PINGRESP:
                raise PublisherError(f"unexpected packet of type {kind} from the broker")
            at += 2 + size
        del inbox[:at]

    def _drain(self, timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while (self._out or self.acked < self.sent) and time.perf_counter() < deadline:
            self._pump(min(deadline, time.perf_counter() + 0.05))

    def close(self) -> None:
        try:
            self._sock.setblocking(True)
            self._sock.sendall(_DISCONNECT)
        except OSError:
            pass
        self._sock.close()


def device_topics(prefix: str, site: str, devices: Sequence[str]) -> list[str]:
    return [f"{prefix}/{site}/{device}/telemetry" for device in devices]


def run_background(
    port: int,
    rate: float,
    topics: Sequence[str],
    stop: MpEvent,
    sent: Synchronized[int],
    acked: Synchronized[int] | None = None,
    qos: int = 1,
    report: Any = None,
) -> None:
    """A process target: publish until `stop` is set, keeping `sent` and `acked` (shared
    counters) current every tick; put the final `PublishReport` as a dict on `report` (a
    multiprocessing queue) when given."""
    publisher = RawPublisher(
        "127.0.0.1", port, f"bench-raw-{multiprocessing.current_process().pid}", qos=qos
    )

    def tick(p: RawPublisher) -> None:
        sent.value = p.sent
        if acked is not None:
            acked.value = p.acked

    try:
        result = publisher.run(rate, topics, stop=stop.is_set, on_tick=tick)
        tick(publisher)
    finally:
        publisher.close()
    if report is not None:
        report.put(asdict(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publisher", description=__doc__)
    parser.add_argument("--port", type=int, help="a broker on 127.0.0.1 (default: start one)")
    parser.add_argument("--rate", type=float, default=10_000.0, help="msg/s to offer")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    parser.add_argument("--devices", type=int, default=1000, help="topics, one per device")
    parser.add_argument("--prefix", default="canteen/v1")
    parser.add_argument("--site", default="bench-school")
    parser.add_argument("--max-unacked", type=int, default=5_000)
    args = parser.parse_args(argv)
    topics = device_topics(args.prefix, args.site, [f"bg-{i}" for i in range(args.devices)])

    def publish(port: int) -> PublishReport:
        publisher = RawPublisher(
            "127.0.0.1", port, "bench-publisher", qos=args.qos, max_unacked=args.max_unacked
        )
        try:
            return publisher.run(args.rate, topics, seconds=args.seconds)
        finally:
            publisher.close()

    if args.port is not None:
        result = publish(args.port)
    else:
        from demo_broker.mosquitto import MosquittoProcess

        with MosquittoProcess() as broker:
            result = publish(broker.port)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
