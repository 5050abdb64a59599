"""The embedded MQTT broker against real paho-mqtt/aiomqtt clients and hand-made raw packets.

paho is threaded and blocking, so most tests run the broker on its own event loop in a
background thread; the aiomqtt test runs it in the test's loop. Nothing sleeps: every wait is on
an event or a socket read with a timeout.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from canteen.embedded_broker import EmbeddedBroker, topic_matches, valid_topic_filter

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


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with BrokerThread() as running:
        yield running


@pytest.fixture
def connect(broker: EmbeddedBroker) -> Iterator[Callable[..., Client]]:
    """Factory for paho clients on the broker; all are disconnected at teardown."""
    clients: list[Client] = []

    def make(client_id: str = "", *, clean_session: bool = True) -> Client:
        client = Client(broker.port, client_id, clean_session=clean_session)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- raw MQTT over a plain socket, independent of the broker's own packet code ------------


def _field(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
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
    body = _field(protocol[0]) + bytes((protocol[1], flags)) + struct.pack("!H", keepalive)
    body += _field(client_id)
    if will:
        body += _field(will[0]) + _field(will[1])
    return _packet(0x10, body)


def raw_publish(
    topic: str, payload: bytes, qos: int = 0, packet_id: int = 1, dup: bool = False
) -> bytes:
    body = _field(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return _packet(0x30 | (dup << 3) | (qos << 1), body)


def raw_subscribe(topic_filter: str, qos: int, packet_id: int = 1) -> bytes:
    return _packet(0x82, struct.pack("!H", packet_id) + _field(topic_filter) + bytes((qos,)))


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


# --- topic matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("+/+", "/x", True),
        ("#", "a/b", True),
        ("#", "$SYS/load", False),
        ("+/load", "$SYS/load", False),
        ("$SYS/#", "$SYS/load", True),
        ("a/+/c", "a/b/d", False),
    ],
)
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter.split("/"), topic.split("/")) is expected


@pytest.mark.parametrize("topic_filter", ["a/#/b", "a#", "a/b+", "", "#/"])
def test_invalid_filters(topic_filter: str) -> None:
    assert not valid_topic_filter(topic_filter)


# --- behaviour with paho ------------------------------------------------------------------


def test_publish_subscribe_qos0_and_qos1(connect: Callable[..., Client]) -> None:
    sub, pub = connect(), connect()
    assert sub.subscribe("canteen/k1/temp", qos=1) == [1]
    assert sub.subscribe("canteen/k1/door", qos=0) == [0]
    assert sub.subscribe("canteen/k1/exact2", qos=2) == [1]  # granted QoS is capped at 1
    pub.publish("canteen/k1/temp", b"q0", qos=0)
    pub.publish("canteen/k1/temp", b"q1", qos=1)
    pub.publish("canteen/k1/door", b"downgraded", qos=1)
    pub.publish("canteen/k1/exact2", b"from-q2", qos=2)
    got = [sub.get() for _ in range(4)]
    assert [(m.payload, m.qos, m.retain) for m in got] == [
        (b"q0", 0, False),
        (b"q1", 1, False),
        (b"downgraded", 0, False),
        (b"from-q2", 1, False),
    ]


def test_wildcards_and_dollar_topics(connect: Callable[..., Client]) -> None:
    sub, pub = connect(), connect()
    sub.subscribe("sensors/+/temp")
    sub.subscribe("alerts/#")
    sub.subscribe("#", qos=0)  # also matches everything else below, except $-topics
    for topic in ["sensors/k1/temp", "sensors/k1/hum", "alerts", "alerts/a/b", "$SYS/x", "z"]:
        pub.publish(topic, topic.encode(), qos=1)
    pub.publish("end", b"end", qos=1)
    got = [sub.get() for _ in range(6)]
    # Overlapping subscriptions deliver once, at the highest granted QoS.
    assert [(m.topic, m.qos) for m in got] == [
        ("sensors/k1/temp", 1),
        ("sensors/k1/hum", 0),
        ("alerts", 1),
        ("alerts/a/b", 1),
        ("z", 0),
        ("end", 0),
    ]


def test_unsubscribe_stops_delivery(connect: Callable[..., Client]) -> None:
    sub, pub = connect(), connect()
    sub.subscribe("a/+")
    sub.subscribe("b")
    unsubscribed = threading.Event()
    sub.paho.on_unsubscribe = lambda *_: unsubscribed.set()
    sub.paho.unsubscribe("a/+")
    assert unsubscribed.wait(TIMEOUT)
    pub.publish("a/x", b"gone", qos=1)
    assert_nothing_before_marker(sub, "b", pub)


def test_retained_delivered_on_subscribe_and_cleared(connect: Callable[..., Client]) -> None:
    pub = connect()
    pub.publish("site/status", b"online", qos=1, retain=True)
    first = connect()
    first.subscribe("site/#")
    msg = first.get()
    assert (msg.topic, msg.payload, msg.retain) == ("site/status", b"online", True)
    # Live delivery of a retained publish to an existing subscriber has retain=0.
    pub.publish("site/status", b"", qos=1, retain=True)
    msg = first.get()
    assert (msg.payload, msg.retain) == (b"", False)
    second = connect()
    second.subscribe("site/#")
    assert_nothing_before_marker(second, "site/marker", pub)


def test_qos2_inbound_exchange_delivers_once(
    broker: EmbeddedBroker, connect: Callable[..., Client]
) -> None:
    sub = connect()
    sub.subscribe("q2")
    sock, _ = raw_client(broker.port, "raw-q2")
    with sock:
        sock.sendall(raw_publish("q2", b"once", qos=2, packet_id=7))
        assert read_packet(sock) == (0x50, b"\x00\x07")  # PUBREC
        sock.sendall(raw_publish("q2", b"once", qos=2, packet_id=7, dup=True))
        assert read_packet(sock) == (0x50, b"\x00\x07")
        sock.sendall(_packet(0x62, b"\x00\x07"))  # PUBREL
        assert read_packet(sock) == (0x70, b"\x00\x07")  # PUBCOMP
    assert sub.get().payload == b"once"
    assert_nothing_before_marker(sub, "q2", connect())


def test_will_published_on_abrupt_close(
    broker: EmbeddedBroker, connect: Callable[..., Client]
) -> None:
    watcher = connect()
    watcher.subscribe("wills/#")
    sock, connack = raw_client(broker.port, "fridge-7", will=("wills/fridge-7", b"offline"))
    assert connack == b"\x00\x00"
    sock.close()
    msg = watcher.get()
    assert (msg.topic, msg.payload) == ("wills/fridge-7", b"offline")


def test_will_published_when_paho_socket_dies(
    broker: EmbeddedBroker, connect: Callable[..., Client]
) -> None:
    watcher = connect()
    watcher.subscribe("wills/#")
    connected = threading.Event()
    victim = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="victim")
    victim.on_connect = lambda *_: connected.set()
    victim.will_set("wills/victim", b"gone", qos=1)
    victim.connect("127.0.0.1", broker.port)
    victim.loop_start()
    try:
        assert connected.wait(TIMEOUT)
        sock = victim.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)  # what a crashed device looks like to the broker
        msg = watcher.get()
        assert (msg.topic, msg.payload) == ("wills/victim", b"gone")
    finally:
        victim.disconnect()
        victim.loop_stop()


def test_no_will_after_clean_disconnect(
    broker: EmbeddedBroker, connect: Callable[..., Client]
) -> None:
    watcher = connect()
    watcher.subscribe("wills/#")
    sock, _ = raw_client(broker.port, "polite", will=("wills/polite", b"offline"))
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    assert_closed_by_broker(sock)  # the broker has processed DISCONNECT before the marker
    assert_nothing_before_marker(watcher, "wills/marker", connect())


def test_will_on_keepalive_expiry(broker: EmbeddedBroker, connect: Callable[..., Client]) -> None:
    watcher = connect()
    watcher.subscribe("wills/#")
    sock, _ = raw_client(broker.port, "silent", keepalive=1, will=("wills/silent", b"timeout"))
    with sock:
        assert watcher.get().payload == b"timeout"  # after 1.5 x keepalive without packets
        assert_closed_by_broker(sock)


def test_takeover_closes_old_connection_and_publishes_its_will(
    broker: EmbeddedBroker, connect: Callable[..., Client]
) -> None:
    watcher = connect()
    watcher.subscribe("wills/#")
    old, _ = raw_client(broker.port, "same-id", will=("wills/same-id", b"replaced"))
    new, connack = raw_client(broker.port, "same-id")
    with new:
        assert connack == b"\x00\x00"
        assert_closed_by_broker(old)
        assert watcher.get().payload == b"replaced"
        new.sendall(b"\xc0\x00")  # PINGREQ: the new connection is alive
        assert read_packet(new) == (0xD0, b"")


def test_persistent_session_queues_qos1_while_offline(connect: Callable[..., Client]) -> None:
    sub = connect("gateway-1", clean_session=False)
    assert sub.session_present is False
    sub.subscribe("readings/#", qos=1)
    sub.close()
    pub = connect()
    for i in range(20):
        pub.publish(f"readings/{i}", str(i).encode(), qos=1)
    pub.publish("readings/qos0", b"not kept offline", qos=0)
    pub.publish("readings/last", b"last", qos=1)
    back = connect("gateway-1", clean_session=False)
    assert back.session_present is True
    payloads = [back.get().payload for _ in range(21)]
    assert payloads == [str(i).encode() for i in range(20)] + [b"last"]


def test_clean_session_discards_previous_state(connect: Callable[..., Client]) -> None:
    first = connect("kiosk", clean_session=False)
    first.subscribe("menu/#")
    first.close()
    again = connect("kiosk", clean_session=True)
    assert again.session_present is False
    pub = connect()
    pub.publish("menu/today", b"soup", qos=1)
    again.subscribe("other")
    assert_nothing_before_marker(again, "other", pub)


def test_unacked_inflight_resent_with_dup_on_reconnect(
    broker: EmbeddedBroker, connect: Callable[..., Client]
) -> None:
    sock, connack = raw_client(broker.port, "raw-persist", clean=False)
    assert connack == b"\x00\x00"
    sock.sendall(raw_subscribe("cmd/#", qos=1, packet_id=3))
    assert read_packet(sock) == (0x90, b"\x00\x03\x01")
    connect().publish("cmd/door", b"open", qos=1)
    first, body = read_packet(sock)
    assert first == 0x32  # QoS 1, no DUP
    sock.close()  # without PUBACK
    again, connack = raw_client(broker.port, "raw-persist", clean=False)
    with again:
        assert connack == b"\x01\x00"  # session present
        assert read_packet(again) == (0x3A, body)  # same packet id and payload, DUP set
        packet_id = body[2 + len("cmd/door") : 4 + len("cmd/door")]
        again.sendall(_packet(0x40, packet_id))  # PUBACK
        again.sendall(b"\xc0\x00")
        assert read_packet(again) == (0xD0, b"")  # nothing else was pending


def test_connect_return_codes(broker: EmbeddedBroker) -> None:
    sock, connack = raw_client(broker.port, "old", protocol=("MQIsdp", 3))
    sock.close()
    assert connack == b"\x00\x00"
    sock, connack = raw_client(broker.port, "new", protocol=("MQTT", 5))
    assert connack == b"\x00\x01"
    assert_closed_by_broker(sock)
    sock, connack = raw_client(broker.port, "", clean=False)
    assert connack == b"\x00\x02"
    assert_closed_by_broker(sock)
    sock, connack = raw_client(broker.port, "", clean=True)  # gets a generated id
    assert connack == b"\x00\x00"
    sock.close()


@pytest.mark.parametrize(
    "bad_bytes",
    [
        pytest.param(b"\x30\xff\xff\xff\xff\x01", id="length-field-too-long"),
        pytest.param(b"\x30\x80\x80\xc0\x01", id="oversized-3MiB"),
        pytest.param(b"\x00\x00", id="reserved-packet-type"),
        pytest.param(b"\x80\x02\x00\x01", id="subscribe-without-filters-and-bad-flags"),
        pytest.param(b"\x32\x03\x00\x01a", id="qos1-publish-truncated"),
        pytest.param(b"\x30\x04\x00\x02\xff\xfe", id="topic-not-utf8"),
        pytest.param(b"\x10\x00", id="second-connect"),
    ],
)
def test_bad_packet_closes_only_that_connection(
    broker: EmbeddedBroker, connect: Callable[..., Client], bad_bytes: bytes
) -> None:
    sub, pub = connect(), connect()
    sub.subscribe("ok")
    sock, _ = raw_client(broker.port, "vandal")
    sock.sendall(bad_bytes)
    assert_closed_by_broker(sock)
    pub.publish("ok", b"still working", qos=1)
    assert sub.get().payload == b"still working"


def test_configured_max_packet_size() -> None:
    with BrokerThread(max_packet_bytes=1024) as small:
        sock, _ = raw_client(small.port, "big")
        sock.sendall(raw_publish("t", b"x" * 1024))
        assert_closed_by_broker(sock)
        sock, _ = raw_client(small.port, "fits")
        with sock:
            sock.sendall(raw_subscribe("t", 0) + raw_publish("t", b"x" * 1000))
            assert read_packet(sock)[0] == 0x90
            assert read_packet(sock) == (0x30, _field("t") + b"x" * 1000)


def test_5000_qos1_messages_all_arrive_in_order(connect: Callable[..., Client]) -> None:
    sub, pub = connect(), connect()
    sub.subscribe("bulk/#", qos=1)
    infos = [pub.paho.publish(f"bulk/{i % 7}", str(i).encode(), qos=1) for i in range(5000)]
    for info in infos:
        info.wait_for_publish(TIMEOUT)
    payloads = [sub.get().payload for _ in range(5000)]
    assert payloads == [str(i).encode() for i in range(5000)]


# --- lifecycle and aiomqtt ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiomqtt_roundtrip_and_lifecycle() -> None:
    broker = EmbeddedBroker()
    with pytest.raises(RuntimeError, match="port=0"):
        _ = broker.port
    async with broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        with pytest.raises(RuntimeError, match="only be started once"):
            await broker.start()
        async with aiomqtt.Client("127.0.0.1", port=broker.port, identifier="aio") as client:
            await client.subscribe("canteen/+/temp", qos=1)
            await client.publish("canteen/k1/temp", b"3.5", qos=1)
            async with asyncio.timeout(TIMEOUT):
                message = await anext(aiter(client.messages))
            assert (str(message.topic), message.payload, message.qos) == (
                "canteen/k1/temp",
                b"3.5",
                1,
            )
    with pytest.raises(RuntimeError, match="only be started once"):
        async with broker:
            pass
