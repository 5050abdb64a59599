"""What every foreign-format adapter shares: the route from a topic to one of our devices, and a
validating writer of canonical readings.

An adapter knows its format's topics (`filters`, `locate`), turns a telemetry payload into
canonical readings (`decode_telemetry`) and a presence payload into online/offline
(`decode_presence`). The site config maps each foreign id to our device (`device.source`); a
topic naming a foreign id the config does not have is refused with `unknown_device`. A message
is accepted whole or refused whole, as in the canonical codec. A well-formed message that
carries nothing the adapter maps (a Shelly reporting only its Wi-Fi, a button's action) yields
no readings and is not an error: the gateway counts it as ignored.
"""

from __future__ import annotations

import math
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
from gateway.codec import TimeWindow, decode_json
from gateway.errors import PayloadError

__all__ = [
    "ForeignAdapter",
    "ForeignRoute",
    "MessageKind",
    "ReadingWriter",
    "checked_ts",
    "iso_instant_ms",
    "json_object",
]


class MessageKind(StrEnum):
    TELEMETRY = "telemetry"
    PRESENCE = "presence"


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
    ) -> int:
        """Append the canonical readings of one message to `out`; returns how many."""

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
    stays in the batch."""

    __slots__ = ("_device", "_mark", "_out", "_site", "_ts_ms")

    def __init__(self, out: ReadingBatchBuilder, site: str, device: str, ts_ms: int) -> None:
        self._out, self._site, self._device, self._ts_ms = out, site, device, ts_ms
        self._mark = out.mark()

    def __enter__(self) -> ReadingWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self._out.rollback(self._mark)

    @property
    def count(self) -> int:
        return len(self._out) - self._mark

    def number(self, metric: str, raw: object, field: str, per_unit: float = 1.0) -> None:
        """A numeric field in the foreign unit, of which `per_unit` make one of the metric's
        (1000 Wh per kWh). Divided, not multiplied by 1e-3: one correctly rounded step."""
        if raw is None:  # Zigbee2MQTT sends null for a property it has not heard yet
            return
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise PayloadError(f"{field} must be a number, got {type(raw).__name__} {raw!r:.40}")
        self.value(metric, float(raw) / per_unit, field)

    def flag(self, metric: str, raw: object, field: str, *, invert: bool = False) -> None:
        if raw is None:
            return
        if type(raw) is not bool:
            raise PayloadError(f"{field} must be true or false, got {raw!r:.40}")
        self.value(metric, 1.0 if raw is not invert else 0.0, field)

    def value(self, metric: str, value: float, field: str) -> None:
        spec = METRICS[metric]
        if not spec.low <= value <= spec.high:  # also refuses nan and ±inf
            raise PayloadError(
                f"{field}={value:g} gives {metric} outside what a sensor can report "
                f"({spec.low:g}..{spec.high:g} {spec.unit})"
            )
        self._out.append(self._site, self._device, metric, self._ts_ms, value)


def iso_instant_ms(raw: object, zone: ZoneInfo, field: str) -> int:
    """Epoch ms of an ISO 8601 time; one without an offset is local time in `zone` (the site's
    time zone, where the device's clock is set)."""
    if not isinstance(raw, str):
        raise PayloadError(f"{field} must be an ISO 8601 time, got {raw!r:.40}")
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{field} {raw!r:.40} is not an ISO 8601 time") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return math.floor(instant.timestamp() * 1000)


def checked_ts(ts_ms: int | None, window: TimeWindow, field: str) -> int:
    """The message's time, or the gateway's receive time when the format carries none."""
    if ts_ms is None:
        return window.now_ms
    window.check(ts_ms, f"{field}: ")
    return ts_ms
