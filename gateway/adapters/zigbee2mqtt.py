"""Zigbee2MQTT: a device's state as one JSON object on `zigbee2mqtt/<friendly_name>`, its
availability on `zigbee2mqtt/<friendly_name>/availability`
(https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html). Example::

    zigbee2mqtt/kitchen-fridge-1
    {"temperature": 3.4, "contact": true, "battery": 97, "linkquality": 120,
     "last_seen": "2026-11-24T04:00:00.000Z"}

Properties follow each device's "Exposes" list: temperature °C, humidity %, battery %, power W,
energy kWh; `contact` is true when the contact is closed, so a door is open when it is false
(e.g. https://www.zigbee2mqtt.io/devices/DWS003.html: "closed (= true) or open (= false)").
`linkquality` is an LQI (0-255), not a signal strength in dBm, so it is not mapped; nor is
`voltage`, which is millivolts of the battery on sensors but volts of the mains on plugs.
`last_seen` is there only when Zigbee2MQTT's `advanced.last_seen` is set (ISO_8601, ISO_8601_local
or epoch ms); without it a reading takes the gateway's receive time.

A friendly name may contain `/` (`kitchen/fridge`): such names get exact subscriptions, the
others come through `zigbee2mqtt/+`. Bridge topics (`zigbee2mqtt/bridge/...`) and commands
(`/set`, `/get`) match neither.
"""

from __future__ import annotations

from typing import Any

from core.model import WireFormat
from core.readings import ReadingBatchBuilder
from gateway.adapters.base import (
    ForeignAdapter,
    ForeignDecoded,
    MessageKind,
    checked_ts,
    iso_instant_ms,
    json_object,
)
from gateway.codec import TimeWindow, decode_json
from gateway.errors import PayloadError

__all__ = ["Zigbee2MqttAdapter"]

BASE = "zigbee2mqtt"
AVAILABILITY = "/availability"
NUMBERS = {
    "temperature": "temp_c",
    "humidity": "humidity_pct",
    "battery": "battery_pct",
    "power": "power_w",
    "energy": "energy_kwh",
}


class Zigbee2MqttAdapter(ForeignAdapter):
    format = WireFormat.ZIGBEE2MQTT

    def filters(self) -> list[str]:
        nested = sorted(name for name in self._sources if "/" in name)
        exact = [f"{BASE}/{name}{suffix}" for name in nested for suffix in ("", AVAILABILITY)]
        return [f"{BASE}/+", f"{BASE}/+{AVAILABILITY}", *exact]

    def locate(self, topic: str) -> tuple[str, MessageKind] | None:
        if not topic.startswith(BASE + "/"):
            return None
        name = topic[len(BASE) + 1 :]
        if name in self._sources:
            return name, MessageKind.TELEMETRY
        if name.endswith(AVAILABILITY):
            return name[: -len(AVAILABILITY)], MessageKind.PRESENCE
        return name, MessageKind.TELEMETRY

    def decode_telemetry(
        self, payload: bytes, device: str, window: TimeWindow, out: ReadingBatchBuilder
    ) -> ForeignDecoded:
        state = json_object(payload, "a Zigbee2MQTT state")
        ts_ms = checked_ts(self._last_seen(state.get("last_seen")), window, "last_seen")
        with self.writer(out, device, ts_ms, numeric_text=True) as writer:
            for field, metric in NUMBERS.items():
                writer.number(metric, state.get(field), field)
            writer.flag("door_open", state.get("contact"), "contact", invert=True)
            writer.mapped(state, partial=self.partial)
            return writer.result()

    def decode_presence(self, payload: bytes) -> bool:
        # JSON {"state": "online"} since Zigbee2MQTT 1.22; a plain word before (legacy).
        text = payload.strip()
        plain = {"state": text.decode("utf-8", "replace")}
        doc: Any = decode_json(text) if text.startswith(b"{") else plain
        state = doc.get("state") if isinstance(doc, dict) else None
        if state in ("online", "offline"):
            return bool(state == "online")
        raise PayloadError(
            f'availability must be {{"state": "online"|"offline"}}, got {text!r:.60}'
        )

    def _last_seen(self, raw: object) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw  # last_seen: epoch (milliseconds)
        return iso_instant_ms(raw, self.zone, "last_seen")
