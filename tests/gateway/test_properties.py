"""Property tests over the canonical decoder and each foreign adapter: no generated payload, however
hostile, raises anything but `PayloadError` out of the decode path, a refused message leaves
nothing in the batch, and through the gateway a good reading beside a bad one is always stored."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import ReadingBatchBuilder
from core.clock import ManualClock, utc_from_ms
from gateway import Gateway, Inbound, PayloadError, TimeWindow, decode_event, decode_telemetry
from gateway.adapters import ForeignRouter
from ingest import DuckDBStore, StoreWriter
from tests.conftest import site_config
from tests.gateway.test_adapters import CONFIG, NOW, WINDOW

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True)

# JSON texts a device could send, plus the hostile shapes: deep nesting, huge integer literals,
# non-finite numbers, escapes of lone surrogates, control characters.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["3.4", "100.00", "nan", "1e400", "", "\ud800", "temp_c", "2025-11-24T16:00:00Z"]
    ),
)
_keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "ts",
            "m",
            "seq",
            "type",
            "temp_c",
            "door_open",
            "battery",
            "temperature",
            "contact",
            "last_seen",
            "ENERGY",
            "Total",
            "Power",
            "Time",
            "TempUnit",
            "DS18B20",
            "Temperature",
            "method",
            "params",
            "switch:0",
            "temperature:0",
            "tC",
            "apower",
            "aenergy",
            "total",
            "devicepower:0",
            "percent",
            "\ud800",
            "\x00",
        ]
    ),
)
documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=20,
)


def _raw_json(doc: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as the \ud800 escape a hostile device would send.
    return json.dumps(doc, ensure_ascii=True, allow_nan=True).encode()


hostile_texts = st.one_of(
    st.builds(lambda n: b"[" * n, st.integers(1, 20_000)),
    st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, st.integers(1, 3_000)),
    st.builds(
        lambda d: b'{"ts": %d, "m": {"temp_c": 1%s}}' % (NOW, b"0" * d), st.integers(0, 5000)
    ),
    st.builds(lambda d: b'{"ts": 1%s, "m": {"temp_c": 3}}' % (b"0" * d), st.integers(0, 5000)),
    st.binary(max_size=64),
)
payloads = st.one_of(documents.map(_raw_json), hostile_texts)


def _decodes_or_refuses(decode: Any, out: ReadingBatchBuilder) -> None:
    before = len(out)
    try:
        decode()
    except PayloadError:
        assert len(out) == before, "a refused message left readings in the batch"


@PROPERTY
@given(payload=payloads)
def test_canonical_decoder_only_refuses_with_a_reason(payload: bytes) -> None:
    out = ReadingBatchBuilder()
    out.append("s", "other", "temp_c", NOW, 1.0)
    _decodes_or_refuses(lambda: decode_telemetry(payload, "s", "d", WINDOW, out), out)
    for value in out.build().value:
        assert value == value and abs(value) < 1e300  # finite, storable
    try:
        event = decode_event(payload, "s", "d", WINDOW)
    except PayloadError:
        return
    json.dumps(event.data, allow_nan=False).encode("utf-8")  # storable as a JSON column


ROUTER = ForeignRouter(CONFIG)
FOREIGN_TOPICS = [
    "zigbee2mqtt/kitchen/fridge-1",
    "zigbee2mqtt/fridge-2-door/availability",
    "tele/kitchen-plug-1/SENSOR",
    "tele/cold-room-probe/LWT",
    "shellyplus1pm-a8032ab12345/events/rpc",
    "shellyplusht-b8d61a8b17cc/online",
]


def _shaped(topic: str) -> st.SearchStrategy[bytes]:
    """Payloads close to the format of `topic`, so the generator reaches the adapters' fields."""
    if topic.startswith("zigbee2mqtt"):
        shape = st.fixed_dictionaries(
            {},
            optional={
                k: _scalars
                for k in ("temperature", "battery", "humidity", "contact", "last_seen", "energy")
            },
        )
    elif topic.startswith("tele"):
        energy = st.fixed_dictionaries(
            {},
            optional={
                "Total": _scalars,
                "Power": _scalars | st.lists(_scalars, max_size=3),
                "Voltage": _scalars,
            },
        )
        sensor = st.fixed_dictionaries({}, optional={"Temperature": _scalars, "Humidity": _scalars})
        shape = st.fixed_dictionaries(
            {},
            optional={
                "Time": _scalars,
                "ENERGY": energy | _scalars,
                "DS18B20": sensor,
                "TempUnit": _scalars,
            },
        )
    else:
        switch = st.fixed_dictionaries(
            {},
            optional={
                "apower": _scalars,
                "voltage": _scalars,
                "aenergy": st.fixed_dictionaries({}, optional={"total": _scalars}) | _scalars,
            },
        )
        params = st.fixed_dictionaries(
            {},
            optional={
                "ts": _scalars,
                "switch:0": switch,
                "temperature:0": st.fixed_dictionaries({}, optional={"tC": _scalars}),
                "devicepower:0": st.fixed_dictionaries(
                    {},
                    optional={"battery": st.fixed_dictionaries({}, optional={"percent": _scalars})},
                ),
            },
        )
        shape = st.fixed_dictionaries(
            {
                "method": st.sampled_from(["NotifyStatus", "NotifyFullStatus", "NotifyEvent"]),
                "params": params | _scalars,
            }
        )
    return st.one_of(shape.map(_raw_json), payloads)


@PROPERTY
@given(data=st.data(), topic=st.sampled_from(FOREIGN_TOPICS))
def test_each_foreign_adapter_only_refuses_with_a_reason(data: st.DataObject, topic: str) -> None:
    payload = data.draw(_shaped(topic))
    route = ROUTER.route(topic)
    assert route is not None
    out = ReadingBatchBuilder()
    if topic.endswith(("availability", "LWT", "online")):
        _decodes_or_refuses(lambda: route.adapter.decode_presence(payload), out)
    else:
        _decodes_or_refuses(
            lambda: route.adapter.decode_telemetry(payload, route.device, WINDOW, out), out
        )
    for value in out.build().value:
        assert value == value and abs(value) < 1e300


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(bad=st.lists(payloads, min_size=1, max_size=6))
def test_a_good_reading_beside_bad_messages_is_always_stored(bad: list[bytes]) -> None:
    """Through the gateway's decode and store path into a real DuckDB: whatever sits beside
    it, the good reading is stored and every message is accounted for."""
    config = site_config("pt", gateway={"max_age_days": 30})
    store = DuckDBStore(":memory:")
    gateway = Gateway(config, StoreWriter(store), ManualClock(utc_from_ms(NOW)))
    good = Inbound(
        "pt/test-school/fridge-1/telemetry",
        b'{"ts": %d, "m": {"temp_c": 2.5}}' % (NOW - 1000),
        1,
        1,
        0,
    )
    messages = [
        Inbound("pt/test-school/fridge-2/telemetry", raw, 1, i + 2, 0) for i, raw in enumerate(bad)
    ]
    messages.insert(len(messages) // 2, good)
    decoded = gateway.decode(messages)
    asyncio.run(gateway.store(decoded))
    latest = store.latest("test-school", "fridge-1")
    assert [(v.metric, v.value) for v in latest] == [("temp_c", 2.5)]
    # Every message is accounted for: its readings stored, or a dead letter saying why.
    assert len(decoded.spans) + store.dead_letter_count() == len(messages)
    assert gateway.stats.stored == store.reading_count()
    store.close()


def test_window_refuses_overflowing_times_with_a_reason() -> None:
    window = TimeWindow(NOW, 300_000, 86_400_000)
    for ts in (10**400, -(10**400), 10**15):
        with pytest.raises(PayloadError, match="not a time in epoch milliseconds") as caught:
            window.check(ts, "")
        assert caught.value.code == "bad_time"
