"""A scripted MQTT 3.1.1 broker for protocol tests, after paho.mqtt.python's own test suite: the
test accepts the client's connection, reads each packet it sends and writes exact packets back,
so what the gateway puts on the wire is checked byte for byte.

Only what the gateway's session uses is spoken: CONNECT/CONNACK, SUBSCRIBE/SUBACK,
UNSUBSCRIBE/UNSUBACK, PUBLISH/PUBACK, PINGREQ/PINGRESP and DISCONNECT (MQTT 3.1.1, section 3). Every read has a
timeout, so a packet that never comes fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

__all__ = [
    "CONNECT",
    "DISCONNECT",
    "PINGREQ",
    "PUBACK",
    "PUBLISH",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "BrokerSide",
    "Connect",
    "FakeBroker",
    "Packet",
    "connack",
    "fake_broker",
    "parse_connect",
    "parse_subscribe",
    "parse_unsubscribe",
    "puback",
    "publish",
    "suback",
    "unsuback",
]

READ_TIMEOUT_S = 10.0

# Control packet types, the high nibble of the fixed header's first byte (3.1.1, 2.2.1).
CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14


@dataclass(frozen=True, slots=True)
class Packet:
    kind: int
    flags: int  # the low nibble of the first byte
    body: bytes

    @property
    def raw(self) -> bytes:
        """The whole packet as it was on the wire."""
        return bytes([self.kind << 4 | self.flags]) + _remaining_length(len(self.body)) + self.body


@dataclass(frozen=True, slots=True)
class Connect:
    protocol: str
    level: int
    clean_session: bool
    keepalive_s: int
    client_id: str
    has_will: bool
    has_username: bool


def _remaining_length(n: int) -> bytes:
    """The variable-length encoding of 3.1.1, 2.2.3: seven bits a byte, high bit = more."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def _read_string(body: bytes, at: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("!H", body, at)
    return body[at + 2 : at + 2 + length].decode("utf-8"), at + 2 + length


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return Packet(kind, flags, body).raw


def connack(*, session_present: bool, code: int = 0) -> bytes:
    return _packet(CONNACK, 0, bytes([int(session_present), code]))


def suback(mid: int, granted: list[int]) -> bytes:
    """`granted`: the QoS granted per filter, or 0x80 for a refused one (3.1.1, 3.9.3)."""
    return _packet(SUBACK, 0, struct.pack("!H", mid) + bytes(granted))


def unsuback(mid: int) -> bytes:
    return _packet(UNSUBACK, 0, struct.pack("!H", mid))


def publish(topic: str, payload: bytes, *, qos: int, mid: int = 0, dup: bool = False) -> bytes:
    flags = int(dup) << 3 | qos << 1
    packet_id = struct.pack("!H", mid) if qos else b""
    return _packet(PUBLISH, flags, _string(topic) + packet_id + payload)


def puback(mid: int) -> bytes:
    return _packet(PUBACK, 0, struct.pack("!H", mid))


def parse_connect(body: bytes) -> Connect:
    protocol, at = _read_string(body, 0)
    level, flags = body[at], body[at + 1]
    (keepalive,) = struct.unpack_from("!H", body, at + 2)
    client_id, _ = _read_string(body, at + 4)
    return Connect(
        protocol=protocol,
        level=level,
        clean_session=bool(flags & 0x02),
        keepalive_s=keepalive,
        client_id=client_id,
        has_will=bool(flags & 0x04),
        has_username=bool(flags & 0x80),
    )


def parse_unsubscribe(body: bytes) -> tuple[int, list[str]]:
    """The packet id and the filters of an UNSUBSCRIBE."""
    (mid,) = struct.unpack_from("!H", body, 0)
    at, filters = 2, []
    while at < len(body):
        topic, at = _read_string(body, at)
        filters.append(topic)
    return mid, filters


def parse_subscribe(body: bytes) -> tuple[int, list[tuple[str, int]]]:
    """The packet id and each (filter, requested QoS) of a SUBSCRIBE."""
    (mid,) = struct.unpack_from("!H", body, 0)
    at, filters = 2, []
    while at < len(body):
        topic, at = _read_string(body, at)
        filters.append((topic, body[at]))
        at += 1
    return mid, filters


class BrokerSide:
    """The broker's end of one client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self) -> Packet:
        """The client's next packet; PINGREQs are answered and skipped (keepalive is not what
        these tests are about)."""
        while True:
            packet = await asyncio.wait_for(self._read_one(), READ_TIMEOUT_S)
            if packet.kind != PINGREQ:
                return packet
            await self.send(_packet(PINGRESP, 0, b""))

    async def _read_one(self) -> Packet:
        first = (await self._reader.readexactly(1))[0]
        length, shift = 0, 0
        while True:
            digit = (await self._reader.readexactly(1))[0]
            length |= (digit & 0x7F) << shift
            shift += 7
            if not digit & 0x80:
                break
        body = await self._reader.readexactly(length)
        return Packet(first >> 4, first & 0x0F, body)

    async def expect(self, kind: int) -> Packet:
        packet = await self.read()
        assert packet.kind == kind, f"expected packet type {kind}, got {packet.raw!r}"
        return packet

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def accept_session(
        self, *, session_present: bool, granted: int = 1
    ) -> tuple[Connect, list[tuple[str, int]]]:
        """CONNECT → CONNACK, SUBSCRIBE → SUBACK granting `granted` to every filter."""
        connect = parse_connect((await self.expect(CONNECT)).body)
        await self.send(connack(session_present=session_present))
        mid, filters = parse_subscribe((await self.expect(SUBSCRIBE)).body)
        await self.send(suback(mid, [granted] * len(filters)))
        return connect, filters

    async def answer_until_disconnect(self) -> None:
        """Answer whatever the client sends while it stops, until its DISCONNECT or EOF."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while (packet := await self.read()).kind != DISCONNECT:
                if packet.kind == UNSUBSCRIBE:
                    mid, _ = parse_unsubscribe(packet.body)
                    await self.send(unsuback(mid))

    async def close(self) -> None:
        """Drop the connection, as a broker that restarts does."""
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class FakeBroker:
    def __init__(self) -> None:
        self._accepted: asyncio.Queue[BrokerSide] = asyncio.Queue()
        self._connections: list[BrokerSide] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        side = BrokerSide(reader, writer)
        self._connections.append(side)
        await self._accepted.put(side)

    @property
    def latest(self) -> BrokerSide | None:
        return self._connections[-1] if self._connections else None

    async def accept(self) -> BrokerSide:
        """The next client connection (paho's reconnect waits its backoff of about 1 s first)."""
        return await asyncio.wait_for(self._accepted.get(), READ_TIMEOUT_S)

    async def stop(self) -> None:
        for side in self._connections:
            await side.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@asynccontextmanager
async def fake_broker() -> AsyncIterator[FakeBroker]:
    broker = FakeBroker()
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
