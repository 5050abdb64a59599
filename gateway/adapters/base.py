"""What every foreign-format adapter shares: the route from a topic to one of our devices, and a
validating writer of canonical readings.

An adapter knows its format's topics (`filters`, `locate`), turns a telemetry payload into
canonical readings (`decode_telemetry`) and a presence payload into online/offline
(`decode_presence`). The site config maps each foreign id to our device (`device.source`); a
topic naming a foreign id the config does not have is refused with `unknown_device`.

Partial acceptance: a foreign message is refused whole when its time or a primary reading
(temperature, door, power, energy) is bad, but a bad secondary field (`SECONDARY`: battery,
voltage, humidity, signal; nothing a rule or report reads) is dropped with a note while the
readings beside it are stored: a Zigbee converter's odd battery string must not cost a fridge its
temperature. The gateway keeps each note as a dead letter (`dropped_field`). Canonical messages
stay accepted or refused whole. A well-formed message that
carries nothing the adapter maps (a Shelly reporting only its Wi-Fi, a button's action) yields
no readings and is not an error: the gateway counts it as ignored.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from core.metrics import METRICS
from core.model import WireFormat
from core.readings import ReadingBatchBuilder
from gateway.codec import TimeWindow, decode_json, preview
from gateway.errors import PayloadError

__all__ = [
    "SECONDARY",
    "ForeignAdapter",
    "ForeignDecoded",
    "ForeignRoute",
    "MessageKind",
    "ReadingWriter",
    "checked_ts",
    "iso_instant_ms",
    "json_object",
]

# Metrics no rule or report depends on: a bad one is dropped, not the message.
SECONDARY = frozenset({"battery_pct", "voltage_v", "humidity_pct", "rssi_dbm"})
# A decimal number as text ("100.00", "-3.5", "1e2"); float() alone would also take "nan",
# "inf" and "1_000", which no device means.
_NUMERIC_TEXT = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?\s*")


class MessageKind(StrEnum):
    TELEMETRY = "telemetry"
    PRESENCE = "presence"


@dataclass(frozen=True, slots=True)
class ForeignDecoded:
    """What one foreign message gave: how many readings, and the fields dropped (with why)."""

    count: int
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ForeignRoute:
    """Where a foreign topic goes: which adapter decodes it, for which of our devices."""

    adapter: ForeignAdapter
    device: str
    kind: MessageKind


class ForeignAdapter(ABC):
    format: ClassVar[WireFormat]

    def __init__(self, site: str, zone: ZoneInfo, sources: Mapping[str, str]) -> None:
        """`sources`: foreign id -> our device id, for the devices of this format."""
        self.site = site
        self.zone = zone
        self._sources = dict(sources)

    @abstractmethod
    def filters(self) -> list[str]:
        """The topic filters to subscribe to."""

    @abstractmethod
    def locate(self, topic: str) -> tuple[str, MessageKind] | None:
        """The foreign id and message kind of a topic of this format; None if it is not one."""

    @abstractmethod
    def decode_telemetry(
        self, payload: bytes, device: str, window: TimeWindow, out: ReadingBatchBuilder
    ) -> ForeignDecoded:
        """Append the canonical readings of one message to `out`; says how many, and which
        secondary fields were dropped."""

    @abstractmethod
    def decode_presence(self, payload: bytes) -> bool:
        """True for this format's online payload, False for its offline one."""

    def route(self, topic: str) -> ForeignRoute | None:
        """The route of a topic of this format; raises `unknown_device` for a foreign id the
        site config does not map."""
        located = self.locate(topic)
        if located is None:
            return None
        source, kind = located
        device = self._sources.get(source)
        if device is None:
            raise PayloadError(
                f"{self.format.value} device {source!r} is not the source of any device of site "
                f"{self.site!r}; map it with source: {{format: {self.format.value}, id: {source}}}",
                code="unknown_device",
            )
        return ForeignRoute(self, device, kind)


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    doc = decode_json(payload)
    if not isinstance(doc, dict):
        raise PayloadError(f"{what} must be a JSON object, got {type(doc).__name__}")
    return doc


class ReadingWriter:
    """Appends one message's readings, validated as canonical ones are (type and the range a
    sensor can report). Use as a context manager: if the block raises, nothing of the message
    stays in the batch. A bad `SECONDARY` metric does not raise: it is left out and noted in
    `dropped`. `numeric_text` accepts numbers sent as decimal strings, for ecosystems whose
    devices are known to send them."""

    __slots__ = ("_device", "_mark", "_numeric_text", "_out", "_site", "_ts_ms", "dropped")

    def __init__(
        self,
        out: ReadingBatchBuilder,
        site: str,
        device: str,
        ts_ms: int,
        *,
        numeric_text: bool = False,
    ) -> None:
        self._out, self._site, self._device, self._ts_ms = out, site, device, ts_ms
        self._numeric_text = numeric_text
        self._mark = out.mark()
        self.dropped: list[str] = []

    def __enter__(self) -> ReadingWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self._out.rollback(self._mark)

    @property
    def count(self) -> int:
        return len(self._out) - self._mark

    def result(self) -> ForeignDecoded:
        return ForeignDecoded(self.count, tuple(self.dropped))

    def number(self, metric: str, raw: object, field: str, per_unit: float = 1.0) -> None:
        """A numeric field in the foreign unit, of which `per_unit` make one of the metric's
        (1000 Wh per kWh). Divided, not multiplied by 1e-3: one correctly rounded step."""
        if raw is None:  # Zigbee2MQTT sends null for a property it has not heard yet
            return
        try:
            self.value(metric, self._number(raw, field) / per_unit, field)
        except PayloadError as exc:
            self._drop_or_raise(metric, exc)

    def flag(self, metric: str, raw: object, field: str, *, invert: bool = False) -> None:
        if raw is None:
            return
        if type(raw) is not bool:
            raise PayloadError(f"{field} must be true or false, got {preview(raw)}")
        self.value(metric, 1.0 if raw is not invert else 0.0, field)

    def value(self, metric: str, value: float, field: str) -> None:
        spec = METRICS[metric]
        if not spec.low <= value <= spec.high:  # also refuses nan and ±inf
            raise PayloadError(
                f"{field}={value:g} gives {metric} outside what a sensor can report "
                f"({spec.low:g}..{spec.high:g} {spec.unit})"
            )
        self._out.append(self._site, self._device, metric, self._ts_ms, value)

    def _number(self, raw: object, field: str) -> float:
        if isinstance(raw, str) and self._numeric_text and _NUMERIC_TEXT.fullmatch(raw):
            return float(raw)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            allowed = "a number or a decimal string" if self._numeric_text else "a number"
            raise PayloadError(
                f"{field} must be {allowed}, got {type(raw).__name__} {preview(raw)}"
            )
        if isinstance(raw, int) and not -1e300 < raw < 1e300:  # float() would overflow
            raise PayloadError(f"{field}={preview(raw)} is not a value any sensor reports")
        return float(raw)

    def _drop_or_raise(self, metric: str, exc: PayloadError) -> None:
        if metric not in SECONDARY:
            raise exc
        self.dropped.append(exc.reason)


def iso_instant_ms(raw: object, zone: ZoneInfo, field: str) -> int:
    """Epoch ms of an ISO 8601 time; one without an offset is local time in `zone` (the site's
    time zone, where the device's clock is set)."""
    if not isinstance(raw, str):
        raise PayloadError(f"{field} must be an ISO 8601 time, got {preview(raw)}")
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{field} {preview(raw)} is not an ISO 8601 time") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return math.floor(instant.timestamp() * 1000)


def checked_ts(ts_ms: int | None, window: TimeWindow, field: str) -> int:
    """The message's time, or the gateway's receive time when the format carries none."""
    if ts_ms is None:
        return window.now_ms
    window.check(ts_ms, f"{field}: ")
    return ts_ms
