"""Shelly Gen2+: RPC notifications on `<shelly id>/events/rpc`, presence on `<shelly id>/online`
(retained `true`, its Last Will `false`). Example (https://shelly-api-docs.shelly.cloud/gen2/:
General/Notifications, ComponentsAndServices/Switch and /Temperature, Addons/ShellySensorAddon)::

    shellyplus1pm-a8032ab12345/events/rpc
    {"src": "shellyplus1pm-a8032ab12345", "dst": "shellyplus1pm-a8032ab12345/events",
     "method": "NotifyStatus",
     "params": {"ts": 1795924800.0, "switch:0": {"id": 0, "apower": 85.2,
                "aenergy": {"total": 1234567.0}}, "temperature:0": {"id": 0, "tC": 3.4}}}

`params.ts` is Unix seconds (UTC). NotifyStatus carries only the components that changed, and
NotifyFullStatus all of them; both are read the same way. NotifyEvent (buttons, alarms) carries
no readings. Components map as: `switch:N` or `pm1:N` apower (W) -> power_w, voltage (V) ->
voltage_v, aenergy.total (Wh) -> energy_kwh / 1000; `temperature:N` tC -> temp_c (add-on probes
have ids 100-199); `humidity:N` rh -> humidity_pct; `devicepower:N` battery.percent ->
battery_pct. Where a device has several instances of a type, the lowest id in the message is the
one read; as NotifyStatus carries only what changed, a device with several probes names each
one in `source.fields` (`temperature:100.tC: temp_c`, `temperature:101.tC: ambient_temp_c`).
`switch:N.temperature` is the relay's own temperature, not a probe's, so it is not mapped.
"""

from __future__ import annotations

from typing import Any

from core.model import WireFormat
from core.readings import ReadingBatchBuilder
from gateway.adapters.base import (
    ForeignAdapter,
    ForeignDecoded,
    MessageKind,
    ReadingWriter,
    checked_ts,
    json_object,
)
from gateway.codec import TimeWindow, preview
from gateway.errors import PayloadError

__all__ = ["ShellyGen2Adapter"]

STATUS_METHODS = ("NotifyStatus", "NotifyFullStatus")
METERED = ("switch", "pm1")


class ShellyGen2Adapter(ForeignAdapter):
    format = WireFormat.SHELLY_GEN2
    partial = True  # NotifyStatus carries only the components that changed

    def filters(self) -> list[str]:
        return ["+/events/rpc", "+/online"]

    def locate(self, topic: str) -> tuple[str, MessageKind] | None:
        parts = topic.split("/")
        if len(parts) == 3 and parts[1:] == ["events", "rpc"]:
            return parts[0], MessageKind.TELEMETRY
        if len(parts) == 2 and parts[1] == "online":
            return parts[0], MessageKind.PRESENCE
        return None

    def decode_telemetry(
        self, payload: bytes, device: str, window: TimeWindow, out: ReadingBatchBuilder
    ) -> ForeignDecoded:
        frame = json_object(payload, "a Shelly RPC notification")
        if frame.get("method") not in STATUS_METHODS:
            return ForeignDecoded(0)
        params = frame.get("params")
        if not isinstance(params, dict):
            raise PayloadError(f"params must be an object, got {type(params).__name__}")
        ts_ms = checked_ts(_ts_ms(params.get("ts")), window, "params.ts")
        with self.writer(out, device, ts_ms) as writer:
            components = _lowest_instances(params, writer)
            _metering(components, writer)
            _sensors(components, writer)
            writer.mapped(params, partial=self.partial)
            return writer.result()

    def decode_presence(self, payload: bytes) -> bool:
        text = payload.strip()
        if text in (b"true", b"false"):
            return text == b"true"
        raise PayloadError(f"online must be true or false, got {payload[:40]!r}")


def _ts_ms(raw: object) -> int | None:
    if raw is None:
        return None
    # Unix seconds within ±3,000 years of 1970; compared before any arithmetic, so neither a
    # 400-digit integer nor inf can overflow (nan fails the comparison).
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not -1e11 < raw < 1e11:
        raise PayloadError(f"params.ts must be Unix seconds, got {preview(raw)}")
    return round(raw * 1000)


def _lowest_instances(
    params: dict[str, Any], writer: ReadingWriter
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Component type -> (key, status) of its lowest-id instance ("temperature:100") among
    those of which the site maps no field (`source.fields`)."""
    found: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for key, status in params.items():
        kind, _, number = key.partition(":")
        # isdecimal, not isdigit: int() refuses "²", which isdigit() accepts.
        if not isinstance(status, dict) or not number.isdecimal() or len(number) > 9:
            continue
        if any(writer.claims(f"{key}.{name}") for name in status):
            continue
        if kind not in found or int(number) < found[kind][0]:
            found[kind] = (int(number), key, status)
    return {kind: (key, status) for kind, (_, key, status) in found.items()}


def _metering(components: dict[str, tuple[str, dict[str, Any]]], writer: ReadingWriter) -> None:
    metered = next((components[k] for k in METERED if k in components), None)
    if metered is None:
        return
    key, status = metered
    writer.number("power_w", status.get("apower"), f"{key}.apower")
    writer.number("voltage_v", status.get("voltage"), f"{key}.voltage")
    energy = status.get("aenergy")
    if energy is not None:
        if not isinstance(energy, dict):
            raise PayloadError(f"{key}.aenergy must be an object, got {type(energy).__name__}")
        writer.number("energy_kwh", energy.get("total"), f"{key}.aenergy.total", per_unit=1000)


def _sensors(components: dict[str, tuple[str, dict[str, Any]]], writer: ReadingWriter) -> None:
    if "temperature" in components:
        key, status = components["temperature"]
        writer.number("temp_c", status.get("tC"), f"{key}.tC")
    if "humidity" in components:
        key, status = components["humidity"]
        writer.number("humidity_pct", status.get("rh"), f"{key}.rh")
    if "devicepower" in components:
        key, status = components["devicepower"]
        battery = status.get("battery")
        if isinstance(battery, dict):
            writer.number("battery_pct", battery.get("percent"), f"{key}.battery.percent")
