"""The gateway's MQTT 3.1.1 packets: a stream cut into packets however the reads split it, a
QoS 1 PUBLISH's packet id, and what the standard does not allow refused with a reason."""

from __future__ import annotations

import pytest

from gateway.mqtt_wire import (
    PUBLISH,
    SUBACK,
    PacketReader,
    ProtocolError,
    connect_packet,
    parse_publish,
    puback,
    subscribe_packet,
    unsubscribe_packet,
)
from tests.gateway.fake_broker import parse_connect, parse_subscribe, parse_unsubscribe
from tests.gateway.fake_broker import publish as broker_publish
from tests.gateway.fake_broker import suback as broker_suback


def test_a_stream_is_cut_into_packets_whatever_the_reads() -> None:
    big = b"x" * 300  # a two-byte remaining length (3.1.1, 2.2.3)
    stream = (
        broker_publish("a/b", b"one", qos=1, mid=7)
        + broker_publish("a/c", big, qos=0)
        + broker_suback(3, [1, 0x80])
        + broker_publish("a/d", b"", qos=1, mid=65535)
    )
    whole = PacketReader().feed(stream)
    for size in (1, 2, 3, 5, 64):
        reader, cut = PacketReader(), []
        for at in range(0, len(stream), size):
            cut += reader.feed(stream[at : at + size])
        assert cut == whole
    assert [kind for kind, _f, _b in whole] == [PUBLISH, PUBLISH, SUBACK, PUBLISH]
    assert parse_publish(whole[0][1], whole[0][2]) == ("a/b", b"one", 1, 7)
    assert parse_publish(whole[1][1], whole[1][2]) == ("a/c", big, 0, 0)
    assert parse_publish(whole[3][1], whole[3][2]) == ("a/d", b"", 1, 65535)


def test_a_topic_that_is_not_utf8_is_kept_with_replacement_characters() -> None:
    raw = b"\x30\x06\x00\x02\xff/ok"
    [(_kind, flags, body)] = PacketReader().feed(raw)
    assert parse_publish(flags, body) == ("\ufffd/", b"ok", 0, 0)


def test_what_mqtt_3_1_1_does_not_allow_is_refused() -> None:
    with pytest.raises(ProtocolError, match="QoS 2"):
        parse_publish(0x04, b"\x00\x01a\x00\x01")
    with pytest.raises(ProtocolError, match="packet id"):
        parse_publish(0x02, b"\x00\x01a")
    with pytest.raises(ProtocolError, match="longer than four bytes"):
        PacketReader().feed(b"\x30\xff\xff\xff\xff\x01")


def test_the_packets_the_gateway_sends_read_back() -> None:
    connect = parse_connect(connect_packet("gw-1", 30, username="gw", password="pw")[2:])
    assert (connect.client_id, connect.keepalive_s, connect.clean_session) == ("gw-1", 30, False)
    assert connect.has_username
    assert parse_subscribe(subscribe_packet(9, [("a/#", 1)])[2:]) == (9, [("a/#", 1)])
    assert parse_unsubscribe(unsubscribe_packet(4, ["x"])[2:]) == (4, ["x"])
    assert puback(258) == b"\x40\x02\x01\x02"
