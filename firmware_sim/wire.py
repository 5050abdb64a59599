"""What a simulated device's messages look like on the wire: our canonical format, or one of the
foreign formats kitchens already run (`device.source.format`).

Each device gets one `DeviceWire`: its telemetry topic and payload, its events (canonical only)
and its presence topic with the two payloads its Last Will and its announcements use
(telemetry topic, retained presence topic, online / offline)::

    canonical    {prefix}/{site}/{id}/telemetry   {prefix}/{site}/{id}/status  online / offline
    zigbee2mqtt  zigbee2mqtt/{name}               zigbee2mqtt/{name}/availability
                                                  {"state":"online"} / {"state":"offline"}
    tasmota      tele/{topic}/SENSOR              tele/{topic}/LWT             Online / Offline
    shelly_gen2  {shelly id}/events/rpc           {shelly id}/online           true / false

A foreign format carries only what its devices can report: a Zigbee door sensor has no
compressor flag, a Tasmota plug no door. Metrics the format has no field for are left out, and a
reading with nothing left is not sent (the device counts it as `unencodable`). Foreign formats
have no event message, so events are not sent either. Values pass through unrounded (a real
Tasmota rounds to `TempRes`/`EnergyRes`) so a round trip through the gateway's adapter is exact.
The gateway's adapters (`gateway/adapters/`) decode these independently; tests hold the two
sides to the same readings.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zlib import crc32
from zoneinfo import ZoneInfo

from core.clock import to_epoch_ms
from core.model import Device, WireFormat
from core.topics import Channel, TopicScheme
from firmware_sim.models import Metrics, SimEvent

__all__ = ["DeviceWire", "Message", "Presence", "wire_for"]

Message = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class Presence:
    """A retained presence topic; the Last Will carries `offline`."""

    topic: str
    online: bytes
    offline: bytes


class DeviceWire(ABC):
    """How one device's readings and events are published."""

    __slots__ = ("presence",)

    def __init__(self, presence: Presence) -> None:
        self.presence = presence

    @abstractmethod
    def telemetry(self, at: datetime, ts_ms: int, seq: int, metrics: Metrics) -> Message | None:
        """The message for one reading taken at `at` (= `ts_ms`); None if nothing can be sent."""

    def event(self, event: SimEvent) -> Message | None:
        """The message for a controller event; foreign formats have none."""
        return None


def wire_for(device: Device, topics: TopicScheme, site: str, zone: ZoneInfo) -> DeviceWire:
    """The wire of `device` as its site config describes it (`device.source`)."""
    source = device.source
    if source.format is WireFormat.CANONICAL or source.id is None:
        return CanonicalWire(topics, site, device.id)
    if source.format is WireFormat.ZIGBEE2MQTT:
        return Zigbee2MqttWire(source.id)
    if source.format is WireFormat.TASMOTA:
        return TasmotaWire(source.id, zone)
    return ShellyGen2Wire(source.id)


class CanonicalWire(DeviceWire):
    """DESIGN.md, wire protocol: `{"ts": epoch ms, "seq": n, "m": {...}}`."""

    __slots__ = ("_event_topic", "_telemetry_topic")

    def __init__(self, topics: TopicScheme, site: str, device_id: str) -> None:
        status = topics.device_topic(site, device_id, Channel.STATUS)
        super().__init__(Presence(status, b"online", b"offline"))
        self._telemetry_topic = topics.device_topic(site, device_id, Channel.TELEMETRY)
        self._event_topic = topics.device_topic(site, device_id, Channel.EVENT)

    def telemetry(self, at: datetime, ts_ms: int, seq: int, metrics: Metrics) -> Message | None:
        return self._telemetry_topic, _json({"ts": ts_ms, "seq": seq, "m": metrics})

    def event(self, event: SimEvent) -> Message | None:
        document = {"ts": to_epoch_ms(event.ts), "type": event.type, **event.data}
        return self._event_topic, _json(document)


# Zigbee2MQTT publishes a device's state as one JSON object on zigbee2mqtt/<friendly_name>, with
# the properties its "Exposes" list names (zigbee2mqtt.io, MQTT topics and messages; device pages
# such as DWS003: temperature °C, battery %, contact "true = closed", linkquality).
Z2M_FIELDS = {
    "temp_c": "temperature",
    "humidity_pct": "humidity",
    "battery_pct": "battery",
    "power_w": "power",
    "energy_kwh": "energy",
}


class Zigbee2MqttWire(DeviceWire):
    __slots__ = ("_lqi", "_topic")

    def __init__(self, friendly_name: str) -> None:
        # Availability payload is JSON since Zigbee2MQTT 1.22 (plain online/offline before).
        topic = f"zigbee2mqtt/{friendly_name}"
        super().__init__(
            Presence(f"{topic}/availability", b'{"state":"online"}', b'{"state":"offline"}')
        )
        self._topic = topic
        # A fixed, plausible link quality per device (LQI 0-255); the gateway ignores it.
        self._lqi = 60 + crc32(friendly_name.encode()) % 150

    def telemetry(self, at: datetime, ts_ms: int, seq: int, metrics: Metrics) -> Message | None:
        state: dict[str, Any] = {}
        for metric, value in metrics.items():
            if metric == "door_open":
                state["contact"] = not value  # contact true means the door is CLOSED
            elif metric in Z2M_FIELDS:
                state[Z2M_FIELDS[metric]] = value
        if not state:
            return None
        state["linkquality"] = self._lqi
        # advanced.last_seen: ISO_8601 adds the time of the message (JavaScript toISOString).
        state["last_seen"] = at.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        return self._topic, _json(state)


TASMOTA_ENERGY = (("energy_kwh", "Total"), ("power_w", "Power"), ("voltage_v", "Voltage"))


class TasmotaWire(DeviceWire):
    """`tele/<topic>/SENSOR` every TelePeriod: `Time` is the device's local time without an
    offset; `ENERGY` carries Total (kWh), Power (W), Voltage (V) on metering plugs; a DS18B20
    probe reports under its own name with `TempUnit` (tasmota.github.io, MQTT and sensors)."""

    __slots__ = ("_probe_id", "_topic", "_zone")

    def __init__(self, topic: str, zone: ZoneInfo) -> None:
        super().__init__(Presence(f"tele/{topic}/LWT", b"Online", b"Offline"))
        self._topic = f"tele/{topic}/SENSOR"
        self._zone = zone
        self._probe_id = f"{crc32(topic.encode()):012X}"  # the probe's 1-Wire address

    def telemetry(self, at: datetime, ts_ms: int, seq: int, metrics: Metrics) -> Message | None:
        sensor: dict[str, Any] = {}
        energy = {field: metrics[m] for m, field in TASMOTA_ENERGY if m in metrics}
        if energy:
            sensor["ENERGY"] = energy
        if "temp_c" in metrics:
            sensor["DS18B20"] = {"Id": self._probe_id, "Temperature": metrics["temp_c"]}
            sensor["TempUnit"] = "C"
        if not sensor:
            return None
        local = at.astimezone(self._zone).replace(tzinfo=None)
        return self._topic, _json({"Time": local.isoformat(timespec="seconds"), **sensor})


class ShellyGen2Wire(DeviceWire):
    """`<id>/events/rpc` NotifyStatus: `params.ts` is Unix seconds; each changed component
    appears under `type:id` with its status fields (shelly-api-docs.shelly.cloud gen2:
    Notifications; Switch: apower W, voltage V, aenergy.total Wh; Temperature: tC, tF;
    Humidity: rh; DevicePower: battery.percent).
    Presence is `<id>/online` true/false, the will being false."""

    __slots__ = ("_id", "_topic")

    def __init__(self, shelly_id: str) -> None:
        super().__init__(Presence(f"{shelly_id}/online", b"true", b"false"))
        self._id = shelly_id
        self._topic = f"{shelly_id}/events/rpc"

    def telemetry(self, at: datetime, ts_ms: int, seq: int, metrics: Metrics) -> Message | None:
        params: dict[str, Any] = {"ts": ts_ms / 1000}
        switch: dict[str, Any] = {}
        if "power_w" in metrics:
            switch["apower"] = metrics["power_w"]
        if "voltage_v" in metrics:
            switch["voltage"] = metrics["voltage_v"]
        if "energy_kwh" in metrics:
            switch["aenergy"] = {"total": round(float(metrics["energy_kwh"]) * 1000, 3)}
        if switch:
            params["switch:0"] = {"id": 0, **switch}
        if "temp_c" in metrics:
            celsius = float(metrics["temp_c"])
            params["temperature:0"] = {"id": 0, "tC": celsius, "tF": round(celsius * 1.8 + 32, 1)}
        if "humidity_pct" in metrics:
            params["humidity:0"] = {"id": 0, "rh": metrics["humidity_pct"]}
        if "battery_pct" in metrics:
            params["devicepower:0"] = {"id": 0, "battery": {"percent": metrics["battery_pct"]}}
        if len(params) == 1:
            return None
        doc = {"src": self._id, "dst": f"{self._id}/events", "method": "NotifyStatus"}
        return self._topic, _json({**doc, "params": params})


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
