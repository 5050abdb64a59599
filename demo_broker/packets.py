"""MQTT 3.1.1 wire format for :mod:`demo_broker.embedded`.

Only what a broker needs: cutting the inbound byte stream into packets, decoding the packets a
client sends and encoding the packets a server sends. Nothing here does I/O, so every function
can be exercised with plain bytes. Any violation of the format raises :class:`MalformedPacketError`;
the broker answers that by closing the offending connection.
"""

from __future__ import annotations

from dataclasses import dataclass

# Control packet types (MQTT 3.1.1 section 2.2.1).
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

PINGRESP_PACKET = b"\xd0\x00"
SUBACK_FAILURE = 0x80

# "MQTT" level 4 is 3.1.1; "MQIsdp" level 3 is 3.1, whose CONNECT has the same layout.
_SUPPORTED_PROTOCOLS = {("MQTT", 4), ("MQIsdp", 3)}
_MAX_LENGTH_MULTIPLIER = 128**3  # the remaining length field has at most four bytes


class MalformedPacketError(ValueError):
    """The client sent bytes that are not a valid MQTT packet; its connection must close."""


class PacketTooLargeError(MalformedPacketError):
    """A packet is larger than the broker's configured maximum."""


class UnsupportedProtocolError(MalformedPacketError):
    """CONNECT names a protocol other than MQTT 3.1.1/3.1; answered with CONNACK code 1."""


class FrameDecoder:
    """Cuts a TCP byte stream into ``(first byte, body)`` frames.

    Incoming bytes accumulate in one bytearray and whole frames are sliced out of it, so the
    only per-byte Python work is the one-to-four byte remaining-length field.
    """

    __slots__ = ("_buf", "_max")

    def __init__(self, max_packet_bytes: int) -> None:
        self._buf = bytearray()
        self._max = max_packet_bytes

    def feed(self, data: bytes) -> tuple[list[tuple[int, bytes]], MalformedPacketError | None]:
        """Add ``data``; return the complete frames and the error that stopped decoding, if any.

        Frames before a bad one are still returned so that a client's valid packets are handled
        before its connection is closed.
        """
        buf = self._buf
        buf += data
        frames: list[tuple[int, bytes]] = []
        pos = 0
        error: MalformedPacketError | None = None
        try:
            while len(buf) - pos >= 2:
                header = _decode_length(buf, pos + 1)
                if header is None:
                    break
                length, start = header
                size = start - pos + length
                if size > self._max:
                    # Rejected from the header alone: the body is never buffered.
                    raise PacketTooLargeError(
                        f"packet of {size} bytes exceeds limit of {self._max}"
                    )
                end = start + length
                if end > len(buf):
                    break
                frames.append((buf[pos], bytes(buf[start:end])))
                pos = end
        except MalformedPacketError as exc:
            error = exc
            pos = len(buf)
        del buf[:pos]
        return frames, error


def _decode_length(buf: bytearray, pos: int) -> tuple[int, int] | None:
    """Decode the remaining length at ``pos``: ``(length, body start)`` or None if incomplete."""
    length = 0
    multiplier = 1
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        length += (byte & 0x7F) * multiplier
        if byte < 0x80:
            return length, pos
        multiplier *= 128
        if multiplier > _MAX_LENGTH_MULTIPLIER:
            raise MalformedPacketError("remaining length field longer than four bytes")
    return None


class _Fields:
    """Sequential reader for the fixed-width and length-prefixed fields of a packet body."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise MalformedPacketError("packet body truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self._take(2), "big")

    def binary(self) -> bytes:
        return self._take(self.u16())

    def text(self) -> str:
        return decode_text(self.binary())


def decode_text(raw: bytes) -> str:
    """Decode an MQTT UTF-8 string; U+0000 is forbidden by section 1.5.3."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacketError("string is not valid UTF-8") from exc
    if "\x00" in text:
        raise MalformedPacketError("string contains U+0000")
    return text


@dataclass(slots=True)
class ConnectRequest:
    """The parts of a CONNECT packet the broker acts on (credentials are read and dropped)."""

    client_id: str
    clean_session: bool
    keepalive: int
    will_topic: str | None
    will_payload: bytes
    will_qos: int
    will_retain: bool


def decode_connect(body: bytes) -> ConnectRequest:
    fields = _Fields(body)
    name = fields.text()
    level = fields.u8()
    # Checked before the rest is parsed: other versions (e.g. MQTT 5) lay out CONNECT differently.
    if (name, level) not in _SUPPORTED_PROTOCOLS:
        raise UnsupportedProtocolError(f"unsupported protocol {name!r} level {level}")
    flags = fields.u8()
    if flags & 0x01:
        raise MalformedPacketError("reserved CONNECT flag is set")
    keepalive = fields.u16()
    client_id = fields.text()
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    will_topic: str | None = None
    will_payload = b""
    if flags & 0x04:
        if will_qos == 3:
            raise MalformedPacketError("will QoS 3")
        will_topic = fields.text()
        will_payload = fields.binary()
    elif will_qos or will_retain:
        raise MalformedPacketError("will QoS/retain set without will flag")
    if flags & 0x40 and not flags & 0x80:
        raise MalformedPacketError("password flag without username flag")
    if flags & 0x80:
        fields.text()  # username: accepted and ignored
    if flags & 0x40:
        fields.binary()  # password: accepted and ignored
    return ConnectRequest(
        client_id, bool(flags & 0x02), keepalive, will_topic, will_payload, will_qos, will_retain
    )


def decode_publish(flags: int, body: bytes) -> tuple[str, bytes, int, int, bytes]:
    """Return ``(topic, topic field, qos, packet id, payload)``.

    The topic field is the length-prefixed topic exactly as received, kept so fan-out can copy it
    into outgoing packets without re-encoding. The packet id is 0 for QoS 0.
    """
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacketError("PUBLISH with QoS 3")
    if len(body) < 2:
        raise MalformedPacketError("PUBLISH body truncated")
    topic_end = 2 + ((body[0] << 8) | body[1])
    payload_start = topic_end + 2 if qos else topic_end
    if len(body) < payload_start:
        raise MalformedPacketError("PUBLISH body truncated")
    packet_id = 0
    if qos:
        packet_id = (body[topic_end] << 8) | body[topic_end + 1]
        if packet_id == 0:
            raise MalformedPacketError("PUBLISH with packet id 0")
    topic = decode_text(body[2:topic_end])
    return topic, body[:topic_end], qos, packet_id, body[payload_start:]


def decode_subscribe(body: bytes) -> tuple[int, list[tuple[str, int]]]:
    """Return ``(packet id, [(filter, requested qos), ...])``."""
    fields = _Fields(body)
    packet_id = fields.u16()
    requests: list[tuple[str, int]] = []
    while not fields.at_end():
        topic_filter = fields.text()
        options = fields.u8()
        if options > 2:
            raise MalformedPacketError(f"invalid requested QoS byte {options:#x}")
        requests.append((topic_filter, options))
    if not requests:
        raise MalformedPacketError("SUBSCRIBE without topic filters")
    return packet_id, requests


def decode_unsubscribe(body: bytes) -> tuple[int, list[str]]:
    fields = _Fields(body)
    packet_id = fields.u16()
    filters: list[str] = []
    while not fields.at_end():
        filters.append(fields.text())
    if not filters:
        raise MalformedPacketError("UNSUBSCRIBE without topic filters")
    return packet_id, filters


def decode_packet_id(body: bytes) -> int:
    """Body of PUBACK/PUBREC/PUBREL/PUBCOMP: exactly one packet id."""
    if len(body) != 2:
        raise MalformedPacketError(f"acknowledgement body of {len(body)} bytes, expected 2")
    return (body[0] << 8) | body[1]


def encode_length(n: int) -> bytes:
    if n < 128:  # the common case for acks and small telemetry messages
        return bytes((n,))
    out = bytearray()
    while n:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
    return bytes(out)


def encode_topic(topic: str) -> bytes:
    raw = topic.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def encode_publish(
    topic_field: bytes, payload: bytes, qos: int, retain: bool, dup: bool, packet_id: int
) -> bytes:
    first = 0x30 | (dup << 3) | (qos << 1) | retain
    if qos:
        size = len(topic_field) + 2 + len(payload)
        return b"".join(
            (
                bytes((first,)),
                encode_length(size),
                topic_field,
                packet_id.to_bytes(2, "big"),
                payload,
            )
        )
    size = len(topic_field) + len(payload)
    return b"".join((bytes((first,)), encode_length(size), topic_field, payload))


def encode_connack(session_present: bool, return_code: int) -> bytes:
    return bytes((CONNACK << 4, 2, int(session_present), return_code))


def encode_ack(packet_type: int, packet_id: int) -> bytes:
    """PUBACK, PUBREC, PUBCOMP or UNSUBACK (all: fixed header plus packet id)."""
    return bytes((packet_type << 4, 2, packet_id >> 8, packet_id & 0xFF))


def encode_suback(packet_id: int, return_codes: list[int]) -> bytes:
    body = packet_id.to_bytes(2, "big") + bytes(return_codes)
    return bytes((SUBACK << 4,)) + encode_length(len(body)) + body
