"""Canonical payload decoding: what is accepted, and the reason given for what is not."""

from __future__ import annotations

import json

import pytest

from core import ReadingBatchBuilder
from gateway import PayloadError, TimeWindow, decode_event, decode_status, decode_telemetry

NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z
WINDOW = TimeWindow(NOW, max_future_ms=300_000, max_age_ms=30 * 86_400_000)


def decode(payload: object) -> list[tuple[str, int, float]]:
    out = ReadingBatchBuilder()
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    decode_telemetry(raw, "s", "d", WINDOW, out)
    batch = out.build()
    return [(r.metric, r.ts_ms, r.value) for r in batch]


def test_single_object_with_numbers_and_flags() -> None:
    rows = decode({"ts": NOW, "seq": 3, "m": {"temp_c": 3.4, "door_open": True, "power_w": 80}})
    assert rows == [("temp_c", NOW, 3.4), ("door_open", NOW, 1.0), ("power_w", NOW, 80.0)]


def test_batch_list_and_rfc3339_with_offset() -> None:
    rows = decode(
        [
            {"ts": "2025-11-25T00:00:00+08:00", "m": {"temp_c": 2.0}},
            {"ts": "2025-11-24T16:00:30Z", "m": {"temp_c": 2.5}},
        ]
    )
    assert rows == [("temp_c", NOW, 2.0), ("temp_c", NOW + 30_000, 2.5)]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "payload is not valid JSON"),
        (b'{"ts": %d, "m": {"temp_c": NaN}}' % NOW, "NaN is not a number JSON allows"),
        (b'{"ts": %d, "m": {"temp_c": -Infinity}}' % NOW, "-Infinity is not a number"),
        (b'{"ts": %d, "m": {"temp_c": 1e999}}' % NOW, "outside what a sensor can report"),
        ({"ts": NOW, "m": {"temp_c": 900}}, "m.temp_c=900 is outside what a sensor can report"),
        ({"ts": NOW, "m": {"temp_c": True}}, "m.temp_c must be a number, got a boolean"),
        ({"ts": NOW, "m": {"door_open": "no"}}, "m.door_open must be true or false"),
        ({"ts": NOW, "m": {"Temp": 1}}, "m.Temp: unknown metric"),
        ({"ts": NOW, "m": {}}, "m must be a non-empty object"),
        ({"ts": NOW, "seq": -1, "m": {"temp_c": 1}}, "seq must be a non-negative integer"),
        ({"m": {"temp_c": 1}}, "ts is missing"),
        ({"ts": NOW // 1000, "m": {"temp_c": 1}}, "epoch seconds? ts must be epoch milliseconds"),
        ({"ts": NOW + 400_000, "m": {"temp_c": 1}}, "ahead of the gateway clock"),
        ({"ts": "2025-11-24 16:00", "m": {"temp_c": 1}}, "has no UTC offset"),
        ({"ts": "yesterday", "m": {"temp_c": 1}}, "is not RFC 3339"),
        ([], "expected an object {ts, seq, m} or a non-empty list"),
        ("text", "got a string"),
        ([{"ts": NOW, "m": {"temp_c": 1}}, {"ts": NOW}], "item 1: m must be a non-empty object"),
    ],
)
def test_refused_with_reason(payload: object, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode(payload)
    assert reason in caught.value.reason


def test_a_refused_batch_adds_nothing() -> None:
    out = ReadingBatchBuilder()
    good = json.dumps({"ts": NOW, "m": {"temp_c": 1.0}}).encode()
    bad = json.dumps([{"ts": NOW, "m": {"temp_c": 1.0}}, {"ts": NOW, "m": {"x": 1}}]).encode()
    decode_telemetry(good, "s", "d", WINDOW, out)
    with pytest.raises(PayloadError):
        decode_telemetry(bad, "s", "d", WINDOW, out)
    assert len(out) == 1


def test_events_and_status() -> None:
    event = decode_event(
        b'{"ts": %d, "type": "cycle_start", "program": "P2"}' % NOW, "s", "d", WINDOW
    )
    assert (event.kind, event.ts_ms, event.data) == ("cycle_start", NOW, {"program": "P2"})
    with pytest.raises(PayloadError, match="event type must be"):
        decode_event(b'{"ts": %d, "type": "cycle start"}' % NOW, "s", "d", WINDOW)
    assert decode_status(b"online") is True
    assert decode_status(b"offline\n") is False
    with pytest.raises(PayloadError, match="status must be 'online' or 'offline'"):
        decode_status(b"1")
