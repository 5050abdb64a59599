"""The embedded MQTT broker against real paho-mqtt/aiomqtt clients and hand-made raw packets.

paho is threaded and blocking, so most tests run the broker on its own event loop in a
background thread; the aiomqtt test runs it in the test's loop. Nothing sleeps: every wait is on
an event or a socket read with a timeout.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from demo_broker.embedded import EmbeddedBroker, topic_matches, valid_topic_filter
from tests.demo_broker.broker_harness import (
    TIMEOUT,
    BrokerThread,
    Client,
    assert_closed_by_broker,
    assert_nothing_before_marker,
    mqtt_field,
    mqtt_packet,
    raw_client,
    raw_publish,
    raw_subscribe,
    read_packet,
)

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
        sock.sendall(mqtt_packet(0x62, b"\x00\x07"))  # PUBREL
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
        again.sendall(mqtt_packet(0x40, packet_id))  # PUBACK
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
            assert read_packet(sock) == (0x30, mqtt_field("t") + b"x" * 1000)


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
