"""Tasmota: sensor telemetry on `tele/<topic>/SENSOR` every TelePeriod, presence on
`tele/<topic>/LWT` (retained `Online`, its Last Will `Offline`)
(https://tasmota.github.io/docs/MQTT/; ENERGY fields as Home Assistant's Tasmota discovery reads
them: Total, Yesterday, Today in kWh). Examples::

    tele/kitchen-plug-3/SENSOR
    {"Time": "2026-11-24T12:00:00", "ENERGY": {"Total": 1234.567, "Today": 3.2, "Power": 85,
     "Voltage": 229}}

    tele/cold-room-probe/SENSOR
    {"Time": "2026-11-24T12:00:00", "DS18B20": {"Id": "01144A0CB6AA", "Temperature": 3.4},
     "TempUnit": "C"}

`Time` is the device's local time without an offset (unless SetOption52 adds one): it is read
in the site's time zone. ENERGY.Total is kWh, Power W (a list on multi-channel devices, which
add up), Voltage V. A temperature or humidity comes from the first sensor object that has one
(DS18B20, AM2301, SHT3X, BME280...), in °C unless `TempUnit` is "F".
"""

from __future__ import annotations

from typing import Any

from core.metrics import METRICS
from core.model import WireFormat
from core.readings import ReadingBatchBuilder
from gateway.adapters.base import (
    ForeignAdapter,
    ForeignDecoded,
    MessageKind,
    ReadingWriter,
    checked_ts,
    iso_instant_ms,
    json_object,
)
from gateway.codec import TimeWindow, preview
from gateway.errors import PayloadError

__all__ = ["TasmotaAdapter"]

KINDS = {"SENSOR": MessageKind.TELEMETRY, "LWT": MessageKind.PRESENCE}
ENERGY = (("Total", "energy_kwh"), ("Power", "power_w"), ("Voltage", "voltage_v"))


class TasmotaAdapter(ForeignAdapter):
    format = WireFormat.TASMOTA

    def filters(self) -> list[str]:
        return ["tele/+/SENSOR", "tele/+/LWT"]

    def locate(self, topic: str) -> tuple[str, MessageKind] | None:
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != "tele" or parts[2] not in KINDS:
            return None
        return parts[1], KINDS[parts[2]]

    def decode_telemetry(
        self, payload: bytes, device: str, window: TimeWindow, out: ReadingBatchBuilder
    ) -> ForeignDecoded:
        sensor = json_object(payload, "a Tasmota SENSOR message")
        raw_time = sensor.get("Time")
        ts_ms = None if raw_time is None else iso_instant_ms(raw_time, self.zone, "Time")
        ts_ms = checked_ts(ts_ms, window, "Time")
        with self.writer(out, device, ts_ms) as writer:
            _energy(sensor.get("ENERGY"), writer)
            fahrenheit = _climate(sensor, writer)
            convert = _from_fahrenheit if fahrenheit else None
            writer.mapped(sensor, partial=self.partial, convert=convert)
            return writer.result()

    def decode_presence(self, payload: bytes) -> bool:
        text = payload.strip().lower()
        if text in (b"online", b"offline"):
            return text == b"online"
        raise PayloadError(f"LWT must be Online or Offline, got {payload[:40]!r}")


def _energy(energy: object, writer: ReadingWriter) -> None:
    if energy is None:
        return
    if not isinstance(energy, dict):
        raise PayloadError(f"ENERGY must be an object, got {type(energy).__name__}")
    for field, metric in ENERGY:
        raw = energy.get(field)
        if isinstance(raw, list) and field == "Power":
            # Channels of a multi-channel device: the device draws their sum.
            if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in raw):
                raise PayloadError(f"ENERGY.Power must be numbers, got {preview(raw, 60)}")
            raw = sum(raw)
        writer.number(metric, raw, f"ENERGY.{field}")


def _climate(sensor: dict[str, Any], writer: ReadingWriter) -> bool:
    """The first sensor's temperature and humidity; whether temperatures are in °F."""
    unit = sensor.get("TempUnit", "C")
    if unit not in ("C", "F"):
        raise PayloadError(f"TempUnit must be C or F, got {preview(unit, 20)}")
    temperature = _first(sensor, "Temperature", writer)
    if temperature is not None:
        name, raw = temperature
        if unit == "F":
            raw = _celsius(raw)
        writer.number("temp_c", raw, f"{name}.Temperature")
    humidity = _first(sensor, "Humidity", writer)
    if humidity is not None:
        writer.number("humidity_pct", humidity[1], f"{humidity[0]}.Humidity")
    return bool(unit == "F")


def _celsius(raw: object) -> object:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        # Converted only within a plausible span: a huge integer would overflow the division
        # (outside it, the value is refused as out of range anyway).
        return (raw - 32) / 1.8 if -1e6 < raw < 1e6 else raw
    return raw


def _from_fahrenheit(metric: str, raw: object) -> object:
    """A mapped field in a message whose `TempUnit` is F: temperatures to °C."""
    return _celsius(raw) if METRICS[metric].unit == "°C" else raw


def _first(sensor: dict[str, Any], key: str, writer: ReadingWriter) -> tuple[str, object] | None:
    """The first sensor object carrying `key`, in payload order (Tasmota's sensor order),
    whose field the site has not mapped to something else (`source.fields`)."""
    for name, value in sensor.items():
        if name == "ENERGY" or not isinstance(value, dict) or key not in value:
            continue
        if not writer.claims(f"{name}.{key}"):
            return name, value[key]
    return None
