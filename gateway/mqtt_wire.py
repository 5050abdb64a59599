"""The MQTT 3.1.1 packets the gateway's session speaks, encoded and parsed (OASIS MQTT 3.1.1).

The gateway only subscribes: it sends CONNECT, SUBSCRIBE, PUBACK, UNSUBSCRIBE (the stop's
barrier), PINGREQ and DISCONNECT, and reads CONNACK, SUBACK, PUBLISH (QoS 0 and 1: it subscribes
at QoS 1, so the broker never sends QoS 2, 3.8.4), UNSUBACK and PINGRESP. `PacketReader` cuts a
byte stream into packets: many per `feed` (a burst of PUBLISH arrives in one read), each a
slice of the one buffer, so a message costs a few slices, not a read of its own.
"""

from __future__ import annotations

import struct

__all__ = [
    "CONNACK",
    "DISCONNECT",
    "PINGREQ",
    "PINGRESP",
    "PUBLISH",
    "SUBACK",
    "UNSUBACK",
    "Packet",
    "PacketReader",
    "ProtocolError",
    "connect_packet",
    "parse_publish",
    "puback",
    "subscribe_packet",
    "unsubscribe_packet",
]

# Control packet types (3.1.1, 2.2.1), the high nibble of the first byte.
CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK, PINGRESP = 2, 3, 4, 9, 11, 13
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"
_MAX_REMAINING = 268_435_455  # 2.2.3: four length bytes at most

# CONNACK return codes (3.2.2.3).
CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class ProtocolError(Exception):
    """The broker sent something MQTT 3.1.1 does not allow here."""


# A received packet: its type nibble, its flags nibble, its variable header and payload. A plain
# tuple: one is made per message received.
Packet = tuple[int, int, bytes]


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _length(len(body)) + body


def connect_packet(
    client_id: str,
    keepalive_s: int,
    *,
    clean_session: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """CONNECT (3.1): no will; a persistent session unless `clean_session`."""
    flags = (0x02 if clean_session else 0) | (0x80 if username is not None else 0)
    flags |= 0x40 if username is not None and password is not None else 0
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s)
    body += _string(client_id)
    if username is not None:
        body += _string(username)
        if password is not None:
            body += _string(password)
    return _packet(0x10, body)


def subscribe_packet(mid: int, filters: list[tuple[str, int]]) -> bytes:
    """SUBSCRIBE (3.8): its fixed header's flags are 0b0010."""
    body = struct.pack("!H", mid) + b"".join(_string(f) + bytes([q]) for f, q in filters)
    return _packet(0x82, body)


def unsubscribe_packet(mid: int, filters: list[str]) -> bytes:
    """UNSUBSCRIBE (3.10): flags 0b0010 as well."""
    return _packet(0xA2, struct.pack("!H", mid) + b"".join(_string(f) for f in filters))


_PUBACKS = [b""] + [b"\x40\x02" + struct.pack("!H", mid) for mid in range(1, 65_536)]


def puback(mid: int) -> bytes:
    """PUBACK (3.4) of packet id `mid` (built once for every id)."""
    return _PUBACKS[mid]


def parse_publish(flags: int, body: bytes) -> tuple[str, bytes, int, int]:
    """Topic (UTF-8, undecodable bytes replaced), payload, QoS and packet id (0 at QoS 0)."""
    qos = (flags >> 1) & 0x03
    if qos > 1:
        raise ProtocolError(f"a PUBLISH at QoS {qos}: the gateway subscribed at QoS 1")
    if len(body) < 2:
        raise ProtocolError("a PUBLISH too short for its topic")
    size = (body[0] << 8) | body[1]
    end = 2 + size
    topic = body[2:end].decode("utf-8", "replace")
    if qos:
        if len(body) < end + 2:
            raise ProtocolError("a QoS 1 PUBLISH without its packet id")
        return topic, body[end + 2 :], qos, (body[end] << 8) | body[end + 1]
    if len(body) < end:
        raise ProtocolError("a PUBLISH shorter than its topic")
    return topic, body[end:], 0, 0


class PacketReader:
    """Cuts received bytes into packets; keeps a partial packet for the next `feed`."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Packet]:
        buffer = self._buffer + data if self._buffer else data
        packets: list[Packet] = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            first = buffer[at]
            remaining, shift, pos = 0, 0, at + 1
            while True:
                if pos >= end:
                    self._buffer = buffer[at:]
                    return packets
                byte = buffer[pos]
                remaining |= (byte & 0x7F) << shift
                pos += 1
                if not byte & 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("a remaining length longer than four bytes")
            if remaining > _MAX_REMAINING:
                raise ProtocolError(f"a packet of {remaining} bytes")
            if pos + remaining > end:
                break
            packets.append((first >> 4, first & 0x0F, buffer[pos : pos + remaining]))
            at = pos + remaining
        self._buffer = buffer[at:]
        return packets
