"""Decoding and validating canonical payloads (DESIGN.md, wire protocol).

Telemetry is one object or a list of them (a gateway's batch)::

    {"ts": 1732420800000 | "2024-11-24T04:00:00Z", "seq": 17, "m": {"temp_c": 3.4, ...}}

A message is accepted whole or refused whole: if any item or metric is wrong, nothing of it is
stored and the reason names the item and the field. This is the hot path of ingest, so it is
plain code over dicts rather than a schema library.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.metrics import METRICS, MetricSpec, ValueType
from core.readings import DeviceEvent, ReadingBatchBuilder
from gateway.errors import PayloadError

__all__ = ["TimeWindow", "decode_event", "decode_json", "decode_status", "decode_telemetry"]

_MS_PER_DAY = 86_400_000


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


# One decoder for the process: json.loads(...) with options would build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Timestamps the gateway trusts, relative to its clock's now (epoch ms)."""

    now_ms: int
    max_future_ms: int
    max_age_ms: int

    def check(self, ts_ms: int, where: str) -> None:
        if ts_ms > self.now_ms + self.max_future_ms:
            ahead = (ts_ms - self.now_ms) / 1000
            raise PayloadError(
                f"{where}ts is {_span(ahead)} ahead of the gateway clock; "
                f"at most {_span(self.max_future_ms / 1000)} is allowed (device clock wrong?)",
                code="bad_time",
            )
        if ts_ms < self.now_ms - self.max_age_ms:
            hint = " (epoch seconds? ts must be epoch milliseconds)" if ts_ms < 10**11 else ""
            raise PayloadError(
                f"{where}ts is older than {self.max_age_ms / _MS_PER_DAY:g} days{hint}",
                code="bad_time",
            )


def _span(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s"


def decode_json(payload: bytes) -> Any:
    try:
        return _DECODER.decode(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"payload is not UTF-8 text: {exc.reason} at byte {exc.start}", code="not_json"
        ) from None
    except ValueError as exc:
        raise PayloadError(f"payload is not valid JSON: {exc}", code="not_json") from None


def decode_telemetry(
    payload: bytes, site: str, device: str, window: TimeWindow, out: ReadingBatchBuilder
) -> int:
    """Append the readings of one telemetry message to `out`; returns how many were added."""
    doc = decode_json(payload)
    mark = out.mark()
    try:
        if isinstance(doc, dict):
            _decode_item(doc, site, device, window, out, "")
        elif isinstance(doc, list) and doc:
            for index, item in enumerate(doc):
                if not isinstance(item, dict):
                    raise PayloadError(f"item {index}: expected an object, got {_kind(item)}")
                _decode_item(item, site, device, window, out, f"item {index}: ")
        else:
            raise PayloadError(
                f"expected an object {{ts, seq, m}} or a non-empty list of them, got {_kind(doc)}"
            )
    except PayloadError:
        out.rollback(mark)
        raise
    return len(out) - mark


def _decode_item(
    item: dict[str, Any],
    site: str,
    device: str,
    window: TimeWindow,
    out: ReadingBatchBuilder,
    where: str,
) -> None:
    ts_ms = parse_ts(item.get("ts"), where)
    window.check(ts_ms, where)
    seq = item.get("seq")
    if seq is not None and (type(seq) is not int or seq < 0):
        raise PayloadError(f"{where}seq must be a non-negative integer, got {seq!r}")
    measures = item.get("m")
    if not isinstance(measures, dict) or not measures:
        raise PayloadError(f"{where}m must be a non-empty object of metrics, got {_kind(measures)}")
    append = out.append
    for name, raw in measures.items():
        append(site, device, name, ts_ms, _metric_value(name, raw, where))


def _metric_value(name: str, raw: object, where: str) -> float:
    spec: MetricSpec | None = METRICS.get(name)
    if spec is None:
        raise PayloadError(f"{where}m.{name}: unknown metric; known: {', '.join(sorted(METRICS))}")
    if spec.value_type is ValueType.BOOLEAN:
        if type(raw) is not bool:
            raise PayloadError(f"{where}m.{name} must be true or false, got {raw!r}")
        return 1.0 if raw else 0.0
    if type(raw) is not float and type(raw) is not int:
        raise PayloadError(f"{where}m.{name} must be a number, got {_kind(raw)} {raw!r:.40}")
    value = float(raw)
    if not spec.low <= value <= spec.high:  # also refuses nan and ±inf
        raise PayloadError(
            f"{where}m.{name}={value:g} is outside what a sensor can report "
            f"({spec.low:g}..{spec.high:g} {spec.unit})"
        )
    return value


def parse_ts(raw: object, where: str = "") -> int:
    """Epoch milliseconds from an integer (epoch ms) or an RFC 3339 string with an offset."""
    if type(raw) is int:
        return raw
    if type(raw) is float and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            instant = datetime.fromisoformat(raw)
        except ValueError:
            raise PayloadError(
                f"{where}ts {raw!r} is not RFC 3339 (2024-11-24T08:00:00+08:00)"
            ) from None
        if instant.tzinfo is None:
            raise PayloadError(f"{where}ts {raw!r} has no UTC offset; add Z or +08:00")
        return math.floor(instant.timestamp() * 1000)
    if raw is None:
        raise PayloadError(f"{where}ts is missing; expected epoch ms or an RFC 3339 string")
    raise PayloadError(f"{where}ts must be epoch ms or an RFC 3339 string, got {raw!r:.40}")


def decode_event(payload: bytes, site: str, device: str, window: TimeWindow) -> DeviceEvent:
    """An event: {"ts": ..., "type": "cycle_start", ...extra fields kept as data}."""
    doc = decode_json(payload)
    if not isinstance(doc, dict):
        raise PayloadError(f"an event must be an object {{ts, type, ...}}, got {_kind(doc)}")
    ts_ms = parse_ts(doc.get("ts"))
    window.check(ts_ms, "")
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind.isidentifier():
        raise PayloadError(f"event type must be a snake_case name, got {kind!r:.40}")
    data = {k: v for k, v in doc.items() if k not in ("ts", "type")}
    return DeviceEvent(site, device, ts_ms, kind, data)


def decode_status(payload: bytes) -> bool:
    """Presence: True for 'online', False for 'offline'."""
    text = payload.strip().lower()
    if text == b"online":
        return True
    if text == b"offline":
        return False
    raise PayloadError(f"status must be 'online' or 'offline', got {payload[:40]!r}")


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), type(value).__name__)
