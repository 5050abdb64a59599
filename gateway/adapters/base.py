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

Mapped fields (`device.source.fields`): a site names fields of a device's message that the
format's usual mapping does not read, or reads as something else (a two-channel sensor's second
probe in the kitchen air, `ambient_temp_c`; a probe in a glycol bottle, `food_temp_c`). A mapped
field is read as its metric, validated as any other; the usual mapping then neither writes that
metric nor reads that field, so a first-sensor default moves on to the next sensor. A mapped
field missing from a message of a format that sends the device's whole state (Tasmota,
Zigbee2MQTT) is a `dropped_field` note beside the readings stored: a wrong name or a probe that
fell off the bus shows, not a silence. Formats that send only what changed (Shelly's
NotifyStatus) leave it out without a note.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from core.metrics import METRICS, ValueType
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
    # Whether a message may leave out fields the device has (only what changed): a mapped field
    # missing from one is then no note.
    partial: ClassVar[bool] = False

    def __init__(
        self,
        site: str,
        zone: ZoneInfo,
        sources: Mapping[str, str],
        fields: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`sources`: foreign id -> our device id, for the devices of this format; `fields`:
        our device id -> its mapped fields (path -> metric, `device.source.fields`)."""
        self.site = site
        self.zone = zone
        self._sources = dict(sources)
        self._fields = {device: dict(paths) for device, paths in (fields or {}).items() if paths}

    def writer(
        self, out: ReadingBatchBuilder, device: str, ts_ms: int, *, numeric_text: bool = False
    ) -> ReadingWriter:
        """A writer of one message's readings for `device`, knowing its mapped fields."""
        return ReadingWriter(
            out,
            self.site,
            device,
            ts_ms,
            numeric_text=numeric_text,
            fields=self._fields.get(device),
        )

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

    __slots__ = (
        "_device",
        "_fields",
        "_mapped_metrics",
        "_mark",
        "_numeric_text",
        "_out",
        "_site",
        "_ts_ms",
        "dropped",
    )

    def __init__(
        self,
        out: ReadingBatchBuilder,
        site: str,
        device: str,
        ts_ms: int,
        *,
        numeric_text: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        self._out, self._site, self._device, self._ts_ms = out, site, device, ts_ms
        self._numeric_text = numeric_text
        self._fields = dict(fields or {})
        self._mapped_metrics = frozenset(self._fields.values())
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

    def claims(self, field: str) -> bool:
        """Whether `field` is mapped (`source.fields`): the usual mapping leaves it alone."""
        return field in self._fields

    def mapped(
        self,
        root: dict[str, Any],
        *,
        partial: bool,
        convert: Callable[[str, object], object] | None = None,
    ) -> None:
        """The mapped fields found under `root`, each as its metric; `convert` takes a metric
        and the field's raw value to the metric's unit (°F to °C)."""
        for path, metric in self._fields.items():
            found, raw, missing = _at_path(root, path)
            if not found:
                if not partial:
                    self.dropped.append(f"{missing} (source.fields maps {path} to {metric})")
                continue
            if convert is not None:
                raw = convert(metric, raw)
            if METRICS[metric].value_type is ValueType.BOOLEAN:
                self._flag(metric, raw, path, invert=False)
            else:
                self._number_of(metric, raw, path, 1.0)

    def number(self, metric: str, raw: object, field: str, per_unit: float = 1.0) -> None:
        """A numeric field in the foreign unit, of which `per_unit` make one of the metric's
        (1000 Wh per kWh). Divided, not multiplied by 1e-3: one correctly rounded step. Not
        read where the site maps the field or the metric itself (`mapped`)."""
        if metric in self._mapped_metrics or field in self._fields:
            return
        self._number_of(metric, raw, field, per_unit)

    def flag(self, metric: str, raw: object, field: str, *, invert: bool = False) -> None:
        if metric in self._mapped_metrics or field in self._fields:
            return
        self._flag(metric, raw, field, invert=invert)

    def _number_of(self, metric: str, raw: object, field: str, per_unit: float) -> None:
        if raw is None:  # Zigbee2MQTT sends null for a property it has not heard yet
            return
        try:
            self.value(metric, self._number(raw, field) / per_unit, field)
        except PayloadError as exc:
            self._drop_or_raise(metric, exc)

    def _flag(self, metric: str, raw: object, field: str, *, invert: bool) -> None:
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


def _at_path(root: dict[str, Any], path: str) -> tuple[bool, object, str]:
    """The value at a dotted path of object keys: (found, value, what is missing if not)."""
    value: object = root
    walked: list[str] = []
    for key in path.split("."):
        if not isinstance(value, dict):
            where = ".".join(walked)
            return False, None, f"{where} is {type(value).__name__}, not an object"
        if key not in value:
            return False, None, f"{'.'.join([*walked, key])} is not in the message"
        value = value[key]
        walked.append(key)
    return True, value, ""


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
