"""Decoding and validating canonical payloads (DESIGN.md, wire protocol).

Telemetry is one object or a list of them (a gateway's batch)::

    {"ts": 1732420800000 | "2024-11-24T04:00:00Z", "seq": 17, "m": {"temp_c": 3.4, ...}}

A message is accepted whole or refused whole: if any item or metric is wrong, nothing of it is
stored and the reason names the item and the field. This is the hot path of ingest, so it is
plain code over dicts rather than a schema library.

Decoding is bounded so that no message, however hostile, can raise anything but `PayloadError`:
nesting is limited before the parser sees the text (CPython's parser recurses), numbers are
range-checked as exact integers before they become floats (a 400-digit literal overflows
`float()`), timestamps must lie within a few thousand years of 1970, and keys and strings that
reach the store must be printable UTF-8 (a JSON escape can smuggle in a lone surrogate, which no
UTF-8 store can encode).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.metrics import METRICS, MetricSpec, ValueType
from core.readings import DeviceEvent, ReadingBatchBuilder
from gateway.errors import PayloadError

__all__ = [
    "MAX_DEPTH",
    "TimeWindow",
    "decode_event",
    "decode_json",
    "decode_status",
    "decode_telemetry",
    "preview",
    "printable",
]

_MS_PER_DAY = 86_400_000
# Canonical telemetry nests 3 deep ([{"m": {...}}]); Shelly's NotifyStatus 4-5 deep. 32 leaves
# room for any real device while keeping the parser's recursion far from Python's limit.
MAX_DEPTH = 32
# |ts| beyond ~year 5138 (1e14 ms) is no clock, only overflow bait: refused before any arithmetic.
_TS_LIMIT_MS = 10**14
# A JSON string (with escapes) or a bracket: enough to measure nesting without parsing.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# Event types are a small vocabulary of ASCII snake_case names (cycle_start, defrost_end...).
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_EVENT_DATA_LIMIT = 64  # keys in one event's data


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


# One decoder for the process: json.loads(...) with options would build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# The decoder's scanner (set by JSONDecoder.__init__, not in its type stubs): (text, index) ->
# (document, end), StopIteration when no value starts at the index.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_OPENERS = ("{", "[")
_JSON_SPACE = " \t\n\r"  # the only whitespace JSON allows (RFC 8259, 2)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Timestamps the gateway trusts, relative to its clock's now (epoch ms)."""

    now_ms: int
    max_future_ms: int
    max_age_ms: int

    def check(self, ts_ms: int, where: str) -> None:
        if not -_TS_LIMIT_MS < ts_ms < _TS_LIMIT_MS:
            raise PayloadError(
                f"{where}ts {preview(ts_ms)} is not a time in epoch milliseconds "
                f"(|ts| < {_TS_LIMIT_MS:.0e})",
                code="bad_time",
            )
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
    """The JSON document of a payload, refused with a reason if it is not UTF-8 JSON or nests
    deeper than `MAX_DEPTH`."""
    _check_depth(payload)
    try:
        return _parse(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"payload is not UTF-8 text: {exc.reason} at byte {exc.start}", code="not_json"
        ) from None
    except RecursionError:  # a backstop: _check_depth should have refused it already
        raise PayloadError(
            f"payload nests deeper than {MAX_DEPTH} levels", code="too_deep"
        ) from None
    except ValueError as exc:  # also Python's 4,300-digit cap on integer literals
        raise PayloadError(f"payload is not valid JSON: {exc}", code="not_json") from None


def _parse(text: str) -> Any:
    """`_DECODER.decode(text)`, with the common case (a document starting with a bracket and
    ending where the text ends) parsed by the decoder's scanner directly: `decode` adds two
    Python calls and two regular-expression matches per message. Anything else, errors
    included, goes through `decode`, so its answers and error messages are the same."""
    if text[:1] in _OPENERS:
        try:
            doc, end = _SCAN(text, 0)
        except StopIteration:
            return _DECODER.decode(text)
        if end == len(text) or not text[end:].strip(_JSON_SPACE):
            return doc
    return _DECODER.decode(text)


def _check_depth(payload: bytes) -> None:
    if payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH:
        return  # the common case, decided by two C-speed counts
    depth = 0
    for token in _TOKEN.finditer(payload):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise PayloadError(
                    f"payload nests deeper than {MAX_DEPTH} levels (at byte {token.start()})",
                    code="too_deep",
                )
        elif bracket in (b"]", b"}"):
            depth -= 1


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
        raise PayloadError(f"{where}seq must be a non-negative integer, got {preview(seq)}")
    measures = item.get("m")
    if not isinstance(measures, dict) or not measures:
        raise PayloadError(f"{where}m must be a non-empty object of metrics, got {_kind(measures)}")
    append = out.append
    for name, raw in measures.items():
        append(site, device, name, ts_ms, _metric_value(name, raw, where))


def _metric_value(name: str, raw: object, where: str) -> float:
    spec: MetricSpec | None = METRICS.get(name)
    if spec is None:
        raise PayloadError(
            f"{where}m.{_key(name)}: unknown metric; known: {', '.join(sorted(METRICS))}"
        )
    if spec.value_type is ValueType.BOOLEAN:
        if type(raw) is not bool:
            raise PayloadError(f"{where}m.{name} must be true or false, got {preview(raw)}")
        return 1.0 if raw else 0.0
    if type(raw) is not float and type(raw) is not int:
        raise PayloadError(f"{where}m.{name} must be a number, got {_kind(raw)} {preview(raw)}")
    # Compared before float(): an int compares exactly with a float, and one of 400 digits
    # would overflow float(). The comparison also refuses nan and ±inf.
    if not spec.low <= raw <= spec.high:
        raise PayloadError(
            f"{where}m.{name}={preview(raw)} is outside what a sensor can report "
            f"({spec.low:g}..{spec.high:g} {spec.unit})"
        )
    return float(raw)


def parse_ts(raw: object, where: str = "") -> int:
    """Epoch milliseconds from an integer (epoch ms) or an RFC 3339 string with an offset."""
    if type(raw) is int:
        return raw
    if type(raw) is float and raw.is_integer() and abs(raw) < _TS_LIMIT_MS:
        return int(raw)
    if isinstance(raw, str):
        try:
            instant = datetime.fromisoformat(raw)
        except ValueError:
            raise PayloadError(
                f"{where}ts {preview(raw)} is not RFC 3339 (2024-11-24T08:00:00+08:00)"
            ) from None
        if instant.tzinfo is None:
            raise PayloadError(f"{where}ts {preview(raw)} has no UTC offset; add Z or +08:00")
        return math.floor(instant.timestamp() * 1000)
    if raw is None:
        raise PayloadError(f"{where}ts is missing; expected epoch ms or an RFC 3339 string")
    raise PayloadError(f"{where}ts must be epoch ms or an RFC 3339 string, got {preview(raw)}")


def decode_event(payload: bytes, site: str, device: str, window: TimeWindow) -> DeviceEvent:
    """An event: {"ts": ..., "type": "cycle_start", ...extra fields kept as data}."""
    doc = decode_json(payload)
    if not isinstance(doc, dict):
        raise PayloadError(f"an event must be an object {{ts, type, ...}}, got {_kind(doc)}")
    ts_ms = parse_ts(doc.get("ts"))
    window.check(ts_ms, "")
    kind = doc.get("type")
    if not isinstance(kind, str) or _EVENT_TYPE.fullmatch(kind) is None:
        raise PayloadError(
            f"event type must be an ASCII snake_case name of at most 64 characters "
            f"(cycle_start), got {preview(kind)}"
        )
    data = {k: v for k, v in doc.items() if k not in ("ts", "type")}
    if len(data) > _EVENT_DATA_LIMIT:
        raise PayloadError(f"an event carries at most {_EVENT_DATA_LIMIT} fields, got {len(data)}")
    _check_storable(data, "event")
    return DeviceEvent(site, device, ts_ms, kind, data)


def _check_storable(value: object, where: str) -> None:
    """Refuse what a JSON column cannot hold: keys that are not printable UTF-8, strings with
    lone surrogates, non-finite numbers (1e400 parses as inf). Iterative: depth is bounded
    already, but a recursive walk would still add to the caller's stack."""
    stack: list[tuple[object, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not printable(key) or len(key) > 64:
                    raise PayloadError(
                        f"{at}: key {preview(key)} is not printable UTF-8 text of at most 64 "
                        "characters"
                    )
                stack.append((child, f"{at}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{at}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, str) and not _utf8(item):
            raise PayloadError(f"{at}: string {preview(item)} is not valid UTF-8 text")
        elif isinstance(item, float) and not math.isfinite(item):
            raise PayloadError(f"{at}: {item} is not a finite number")
        elif type(item) is int and not -(2**63) <= item < 2**63:
            raise PayloadError(f"{at}: {preview(item)} does not fit a 64-bit integer")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> bool:
    """Printable UTF-8 text: no control characters, no lone surrogates, not empty."""
    return bool(text) and text.isprintable() and _utf8(text)


def _key(name: str) -> str:
    """A key as written when it is plain printable text, else escaped and shortened."""
    return name if len(name) <= 64 and printable(name) else preview(name)


def preview(value: object, limit: int = 40) -> str:
    """A short, storable rendering of a value for a reason: never the whole of a big value,
    never a lone surrogate (repr escapes them), never a recursion into a nested one."""
    if type(value) is int and abs(value) >= 10**20:
        return f"<integer of {len(str(abs(value)))} digits>"
    if isinstance(value, dict | list):
        return f"<{_kind(value)} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
