"""The gateway's broker session packet by packet, against a scripted broker (tests/gateway/
fake_broker.py): a persistent session is asked for, a QoS 1 message is acknowledged only when the
gateway says so and in the order it says, a stop disconnects only once the broker has read those
acknowledgements, a packet id of a dropped connection is never acknowledged on the next one, and
a redelivery (DUP=1) arrives as an ordinary message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from gateway import BrokerLink, Inbound
from tests.conftest import wait_for
from tests.gateway.fake_broker import (
    CONNECT,
    DISCONNECT,
    PUBACK,
    UNSUBSCRIBE,
    BrokerSide,
    FakeBroker,
    connack,
    fake_broker,
    parse_unsubscribe,
    puback,
    publish,
    unsuback,
)

CLIENT_ID = "gw-protocol-test"
FILTERS = ["canteen/v1/school/+/telemetry", "canteen/v1/school/bridges/+/+"]
TOPIC = "canteen/v1/school/fridge-1/telemetry"


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with fake_broker() as started:
        yield started


@pytest.fixture
async def link(broker: FakeBroker) -> AsyncIterator[BrokerLink]:
    started = BrokerLink("127.0.0.1", broker.port, CLIENT_ID, FILTERS)
    await started.start()
    yield started
    side = broker.latest
    if started.connected and side is not None:
        await asyncio.gather(started.stop(), side.answer_until_disconnect())
    else:
        await started.stop()


async def receive(link: BrokerLink, count: int) -> list[Inbound]:
    """Exactly `count` messages, however paho's thread splits them into wake-ups."""
    got: list[Inbound] = []
    while len(got) < count:
        got += await asyncio.wait_for(link.receive(count - len(got)), 10)
    return got


async def connect(broker: FakeBroker, link: BrokerLink, *, session_present: bool) -> BrokerSide:
    side = await broker.accept()
    await side.accept_session(session_present=session_present)
    await wait_for(lambda: link.subscribed, "SUBACK seen by the link", timeout_s=10)
    return side


async def test_a_persistent_session_is_asked_for_and_subscribed_only_after_suback(
    broker: FakeBroker, link: BrokerLink
) -> None:
    side = await broker.accept()
    connect, filters = await side.accept_session(session_present=False)
    assert (connect.protocol, connect.level) == ("MQTT", 4)  # MQTT 3.1.1
    assert connect.client_id == CLIENT_ID
    assert not connect.clean_session, "a clean session would drop what was not acknowledged"
    assert connect.keepalive_s == 30
    assert not connect.has_will and not connect.has_username
    assert filters == [(topic, 1) for topic in FILTERS]
    await wait_for(lambda: link.subscribed, "SUBACK seen by the link", timeout_s=10)
    assert link.connected and link.session == 1


async def test_pubacks_go_out_only_when_acked_and_in_the_order_acked(
    broker: FakeBroker, link: BrokerLink
) -> None:
    side = await connect(broker, link, session_present=False)
    for mid, payload in ((1, b"a"), (2, b"b"), (3, b"c")):
        await side.send(publish(TOPIC, payload, qos=1, mid=mid))
    await side.send(publish(TOPIC, b"q0", qos=0))
    first, second, third, unacked = await receive(link, 4)
    assert [m.payload for m in (first, second, third)] == [b"a", b"b", b"c"]
    assert (unacked.qos, unacked.payload) == (0, b"q0")

    # All four are in the gateway's hands; had paho acknowledged any on receipt, that PUBACK
    # would be on the wire before the one asked for now.
    assert link.ack([second]) == 1
    assert (await side.expect(PUBACK)).raw == puback(2)
    assert link.ack([first, unacked, third]) == 2  # QoS 0 has nothing to acknowledge
    assert [(await side.read()).raw for _ in range(2)] == [puback(1), puback(3)]

    # A stop asks for one answer after the PUBACKs and disconnects once it has it: an answer
    # means the broker read them, whatever happens to the socket afterwards.
    stopping = asyncio.create_task(link.stop())
    unsubscribe = await side.expect(UNSUBSCRIBE)  # nothing else was sent before it
    mid, filters = parse_unsubscribe(unsubscribe.body)
    assert len(filters) == 1 and filters[0] not in FILTERS  # our subscriptions stay
    await side.send(unsuback(mid))
    assert (await side.read()).kind == DISCONNECT
    await asyncio.wait_for(stopping, 10)


async def test_a_packet_id_of_a_dropped_connection_is_never_acked_on_the_next(
    broker: FakeBroker, link: BrokerLink
) -> None:
    side = await connect(broker, link, session_present=False)
    await side.send(publish(TOPIC, b"stored, not yet acked", qos=1, mid=5))
    [old] = await receive(link, 1)
    assert old == Inbound(TOPIC, b"stored, not yet acked", 1, 5, session=1)

    await side.close()  # the broker restarts before the gateway acknowledges
    await wait_for(lambda: not link.subscribed, "the link saw the drop", timeout_s=10)
    side = await connect(broker, link, session_present=True)
    # 3.1.1, 4.4: unacknowledged messages are resent first, same packet id, DUP set.
    await side.send(publish(TOPIC, b"stored, not yet acked", qos=1, mid=5, dup=True))
    await side.send(publish(TOPIC, b"new", qos=1, mid=6))
    redelivered, new = await receive(link, 2)
    assert redelivered == Inbound(TOPIC, b"stored, not yet acked", 1, 5, session=2)
    assert new == Inbound(TOPIC, b"new", 1, 6, session=2)

    # The old batch is stored now, but its id 5 belongs to the dropped connection: on this one
    # it would acknowledge the redelivery before the gateway has stored it.
    assert link.ack([old]) == 0
    assert link.ack([new]) == 1
    assert (await side.expect(PUBACK)).raw == puback(6)  # no PUBACK 5 went out before it
    assert link.ack([redelivered]) == 1
    assert (await side.expect(PUBACK)).raw == puback(5)


async def test_a_refused_subscription_is_logged(
    broker: FakeBroker, link: BrokerLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="gateway.link")
    side = await broker.accept()
    await side.accept_session(session_present=False, granted=0x80)  # e.g. refused by an ACL
    await wait_for(lambda: link.subscribed, "SUBACK seen by the link", timeout_s=10)
    assert f"refused the subscription to {', '.join(FILTERS)}" in caplog.text


async def test_a_burst_in_one_write_arrives_whole_and_in_order(
    broker: FakeBroker, link: BrokerLink
) -> None:
    side = await connect(broker, link, session_present=False)
    burst = b"".join(publish(TOPIC, str(i).encode(), qos=1, mid=i % 65535 + 1) for i in range(3000))
    await side.send(burst)
    got = await receive(link, 3000)
    assert [m.payload for m in got] == [str(i).encode() for i in range(3000)]
    assert link.ack(got) == 3000
    pubacks = [(await side.read()).raw for _ in range(3000)]
    assert pubacks == [puback(i % 65535 + 1) for i in range(3000)]


async def test_a_refused_connection_is_a_fault_and_retried(
    broker: FakeBroker, link: BrokerLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="gateway.link")
    side = await broker.accept()
    await side.expect(CONNECT)
    await side.send(connack(session_present=False, code=5))
    await wait_for(
        lambda: "refuses" in " ".join(link.faults()), "the refusal seen by the link", timeout_s=10
    )
    assert link.faults() == [
        f"broker mqtt://127.0.0.1:{broker.port} refuses the connection: not authorized"
    ]
    assert "refused the connection: not authorized" in caplog.text
    assert not link.connected
    await connect(broker, link, session_present=False)  # the link tries again
    assert link.faults() == [] and link.session == 1


async def test_a_packet_mqtt_does_not_allow_drops_the_connection_not_the_link(
    broker: FakeBroker, link: BrokerLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="gateway.link")
    side = await connect(broker, link, session_present=False)
    await side.send(publish(TOPIC, b"qos 2", qos=2, mid=1))
    await wait_for(lambda: not link.connected, "the link dropped the connection", timeout_s=10)
    assert "broke the protocol: a PUBLISH at QoS 2" in caplog.text
    await connect(broker, link, session_present=True)
    assert link.session == 2


async def test_a_broker_silent_past_the_keepalive_is_left_and_reconnected(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.link")
    link = BrokerLink("127.0.0.1", broker.port, CLIENT_ID, FILTERS, keepalive_s=1)
    await link.start()
    try:
        silent = await broker.accept()
        connect_sent, _ = await silent.accept_session(session_present=False)
        assert connect_sent.keepalive_s == 1
        # The broker now reads nothing and answers no PINGREQ (3.1.2.10: a client that hears
        # nothing for 1.5 keepalives treats the connection as broken).
        await wait_for(lambda: not link.connected, "the silent connection left", timeout_s=10)
        assert "silent past the keepalive" in caplog.text
        await connect(broker, link, session_present=True)
        assert link.session == 2
    finally:
        side = broker.latest
        if link.connected and side is not None:
            await asyncio.gather(link.stop(), side.answer_until_disconnect())
        else:
            await link.stop()
