"""The embedded broker's limits: loopback only, and memory bounded however clients behave (a
limit is lowered here so a test reaches it in milliseconds)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from demo_broker import EmbeddedBroker, routing
from tests.demo_broker.broker_harness import (
    Client,
    assert_closed_by_broker,
    assert_nothing_before_marker,
    raw_client,
)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_only_a_loopback_address_is_accepted(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        EmbeddedBroker(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    assert EmbeddedBroker(host, 1883).url.endswith(":1883")


def test_a_new_client_id_beyond_the_session_limit_is_refused(
    broker: EmbeddedBroker, connect: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "MAX_SESSIONS", 2)
    connect("gateway", clean_session=False).close()  # a persistent session stays held
    device = connect("fridge-1")
    sock, connack = raw_client(broker.port, "fridge-2")
    assert connack == b"\x00\x03"  # server unavailable
    assert_closed_by_broker(sock)
    device.close()  # a clean session ends with its connection and frees its place
    again = connect("fridge-2")
    assert again.session_present is False
    back = connect("gateway", clean_session=False)  # a known client id is never refused
    assert back.session_present is True


def test_an_offline_session_keeps_its_newest_messages_within_its_byte_budget(
    connect: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each message is a 2-byte topic length, the 1-byte topic "q" and a 100-byte payload: the
    # budget of 1,000 bytes holds the newest 9 of them.
    monkeypatch.setattr(routing, "MAX_SESSION_BYTES", 1_000)
    sub = connect("slow", clean_session=False)
    sub.subscribe("q", qos=1)
    sub.close()
    pub = connect()
    for i in range(30):
        pub.publish("q", f"{i:03d}".encode() * 33 + b"!", qos=1)
    back = connect("slow", clean_session=False)
    received = [back.get().payload[:3] for _ in range(9)]
    assert received == [f"{i:03d}".encode() for i in range(21, 30)]
    assert_nothing_before_marker(back, "q", pub)


def test_retained_topics_beyond_the_limit_are_delivered_but_not_kept(
    connect: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "MAX_RETAINED", 2)
    live = connect()
    live.subscribe("status/#")
    pub = connect()
    for device in ("a", "b", "c"):
        pub.publish(f"status/{device}", b"online", qos=1, retain=True)
    assert sorted(live.get().topic for _ in range(3)) == ["status/a", "status/b", "status/c"]
    pub.publish("status/a", b"offline", qos=1, retain=True)  # a kept topic is still updated
    assert live.get().payload == b"offline"
    later = connect()
    later.subscribe("status/#")
    kept = {m.topic: m.payload for m in (later.get(), later.get())}
    assert kept == {"status/a": b"offline", "status/b": b"online"}
    assert_nothing_before_marker(later, "status/marker", pub)
