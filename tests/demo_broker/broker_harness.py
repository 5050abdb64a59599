"""A harness for testing the embedded MQTT broker: the broker on its own loop in a thread,
threaded paho clients, and raw MQTT packets built independently of the broker's own code."""

from __future__ import annotations

import asyncio
import queue
import socket
import struct
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from demo_broker.embedded import EmbeddedBroker

TIMEOUT = 5.0


class BrokerThread:
    """An EmbeddedBroker serving from a private event loop in a daemon thread."""

    def __init__(self, max_packet_bytes: int = 2 * 1024 * 1024) -> None:
        self.loop = asyncio.new_event_loop()
        self.broker = EmbeddedBroker(max_packet_bytes=max_packet_bytes)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> EmbeddedBroker:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.broker.start(), self.loop).result(TIMEOUT)
        return self.broker

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.broker.stop(), self.loop).result(TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(TIMEOUT)
        self.loop.close()


class Client:
    """A paho v2 MQTT 3.1.1 client whose received messages land in a queue."""

    def __init__(self, port: int, client_id: str = "", *, clean_session: bool = True) -> None:
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.session_present: bool | None = None
        self._connected = threading.Event()
        self._subacks: dict[int, list[int]] = {}
        self._suback_event = threading.Condition()
        self.paho = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        self.paho.max_inflight_messages_set(1000)
        self.paho.on_connect = self._on_connect
        self.paho.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.paho.on_subscribe = self._on_subscribe
        self.paho.connect("127.0.0.1", port, keepalive=30)
        self.paho.loop_start()
        assert self._connected.wait(TIMEOUT), "paho client did not connect"

    def _on_connect(self, _c: object, _u: object, flags: object, rc: object, _p: object) -> None:
        self.session_present = bool(getattr(flags, "session_present", False))
        self._connected.set()

    def _on_subscribe(self, _c: object, _u: object, mid: int, codes: list[Any], _p: object) -> None:
        with self._suback_event:
            self._subacks[mid] = [code.value for code in codes]
            self._suback_event.notify_all()

    def subscribe(self, topic: str, qos: int = 1) -> list[int]:
        _, mid = self.paho.subscribe(topic, qos)
        assert mid is not None
        with self._suback_event:
            assert self._suback_event.wait_for(lambda: mid in self._subacks, TIMEOUT)
            return self._subacks.pop(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.paho.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(TIMEOUT)

    def get(self) -> paho.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


# --- raw MQTT over a plain socket, independent of the broker's own packet code ------------


def mqtt_field(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return struct.pack("!H", len(raw)) + raw


def mqtt_packet(first: int, body: bytes) -> bytes:
    length, n = b"", len(body)
    while True:
        n, byte = divmod(n, 128)
        length += bytes((byte | (0x80 if n else 0),))
        if not n:
            return bytes((first,)) + length + body


def raw_connect_packet(
    client_id: str,
    *,
    clean: bool = True,
    keepalive: int = 30,
    will: tuple[str, bytes] | None = None,
    protocol: tuple[str, int] = ("MQTT", 4),
) -> bytes:
    flags = (0x02 if clean else 0) | (0x04 if will else 0)
    body = mqtt_field(protocol[0]) + bytes((protocol[1], flags)) + struct.pack("!H", keepalive)
    body += mqtt_field(client_id)
    if will:
        body += mqtt_field(will[0]) + mqtt_field(will[1])
    return mqtt_packet(0x10, body)


def raw_publish(
    topic: str, payload: bytes, qos: int = 0, packet_id: int = 1, dup: bool = False
) -> bytes:
    body = mqtt_field(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return mqtt_packet(0x30 | (dup << 3) | (qos << 1), body)


def raw_subscribe(topic_filter: str, qos: int, packet_id: int = 1) -> bytes:
    return mqtt_packet(
        0x82, struct.pack("!H", packet_id) + mqtt_field(topic_filter) + bytes((qos,))
    )


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    first = _recv_exact(sock, 1)[0]
    length, shift = 0, 0
    while True:
        byte = _recv_exact(sock, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return first, _recv_exact(sock, length)


def raw_client(port: int, client_id: str, **kwargs: Any) -> tuple[socket.socket, bytes]:
    """Open a socket, send CONNECT, return it and the CONNACK body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(raw_connect_packet(client_id, **kwargs))
    first, body = read_packet(sock)
    assert first == 0x20
    return sock, body


def assert_closed_by_broker(sock: socket.socket) -> None:
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass  # closed while our unread bytes were still in its buffer: a RST, equally closed
    finally:
        sock.close()


def assert_nothing_before_marker(client: Client, topic: str, publisher: Client) -> None:
    """Publish a marker; the next message the client sees must be it (so nothing else came)."""
    publisher.publish(topic, b"marker", qos=1)
    msg = client.get()
    assert (msg.topic, msg.payload) == (topic, b"marker")
