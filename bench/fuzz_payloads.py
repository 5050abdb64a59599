"""The fuzz benchmark's site and its good messages: canonical telemetry (single and batches),
events, and Zigbee2MQTT, Tasmota and Shelly Gen2 messages, each with the readings the store must
then hold. `bench.fuzz_stream` mixes them, seeded, with the hostile families of
`bench.fuzz_hostile`.

How a loss stays visible
    Writes are idempotent on (site, device, metric, ts), so two good readings sharing a key would
    hide a loss. Every good message of a device takes the next second of that device's own clock
    (`GOOD_START_S` ago onwards, one second apart: Tasmota's `Time` has whole seconds, and never
    later than `GOOD_END_S` ago), so each good reading has a key of its own. Hostile payloads
    that must carry a valid time to reach their bad part take times from an older window
    (`HOSTILE_START_S` ago, a millisecond apart); those without a time get the gateway's receipt
    time, after the good window. A reading stored from a hostile payload is told apart by its
    time, and never overwrites a good one.
    Mutated good payloads go to devices of their own (`Role.MUTANT`), and the Zigbee2MQTT states
    with a numeric string beside a good temperature to one of their own (`Role.AT_STAKE`), so
    what the gateway makes of them is counted apart from the good devices' exact figures.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "DEVICES",
    "GATEWAY_CLIENT_ID",
    "GOOD_END_S",
    "GOOD_START_S",
    "HOSTILE_START_S",
    "SITE",
    "TOPIC_PREFIX",
    "ZONE",
    "Clocks",
    "Format",
    "FuzzDevice",
    "FuzzMessage",
    "GoodMessages",
    "Role",
    "dumps",
    "site_document",
]

SITE = "fuzz-school"
TOPIC_PREFIX = "canteen/v1"
GATEWAY_CLIENT_ID = "bench-fuzz-gateway"
ZONE = "Asia/Shanghai"
# Both windows lie inside the gateway's default max_age_days (30) and end well before now, so
# no good reading is refused for its time (max_future_skew_s 300) even in a long run.
GOOD_START_S = 7 * 86_400
GOOD_END_S = 86_400
HOSTILE_START_S = 15 * 86_400


class Role(StrEnum):
    GOOD = "good"  # every reading sent must be stored, exactly
    AT_STAKE = "at_stake"  # good readings beside a questionable field (numeric strings)
    MUTANT = "mutant"  # receives mutated payloads: whatever survives validation is stored


class Format(StrEnum):
    CANONICAL = "canonical"
    ZIGBEE2MQTT = "zigbee2mqtt"
    TASMOTA = "tasmota"
    SHELLY_GEN2 = "shelly_gen2"


@dataclass(frozen=True, slots=True)
class FuzzDevice:
    id: str
    kind: str
    format: Format = Format.CANONICAL
    source: str = ""  # the device's id in its foreign format
    role: Role = Role.GOOD

    @property
    def topic(self) -> str:
        """Where its telemetry goes."""
        if self.format is Format.ZIGBEE2MQTT:
            return f"zigbee2mqtt/{self.source}"
        if self.format is Format.TASMOTA:
            return f"tele/{self.source}/SENSOR"
        if self.format is Format.SHELLY_GEN2:
            return f"{self.source}/events/rpc"
        return f"{TOPIC_PREFIX}/{SITE}/{self.id}/telemetry"

    @property
    def event_topic(self) -> str:
        return f"{TOPIC_PREFIX}/{SITE}/{self.id}/event"


DEVICES = (
    FuzzDevice("fridge-1", "fridge"),
    FuzzDevice("fridge-2", "fridge"),
    FuzzDevice("freezer-1", "freezer"),
    FuzzDevice("elec-1", "electricity_meter"),
    FuzzDevice("disinfect-1", "disinfection_cabinet"),
    FuzzDevice("fridge-3", "fridge", Format.ZIGBEE2MQTT, "kitchen-fridge-3"),
    FuzzDevice("plug-1", "electricity_meter", Format.TASMOTA, "kitchen-plug-1"),
    FuzzDevice("elec-2", "electricity_meter", Format.SHELLY_GEN2, "shellypro1pm-a8032ab0f001"),
    FuzzDevice("fridge-4", "fridge", Format.ZIGBEE2MQTT, "cold-room-4", Role.AT_STAKE),
    FuzzDevice("fridge-9", "fridge", role=Role.MUTANT),
    FuzzDevice("fridge-8", "fridge", Format.ZIGBEE2MQTT, "mutant-fridge-8", Role.MUTANT),
    FuzzDevice("plug-9", "electricity_meter", Format.TASMOTA, "mutant-plug-9", Role.MUTANT),
    FuzzDevice(
        "elec-9", "electricity_meter", Format.SHELLY_GEN2, "shellyplus1pm-mutant9", Role.MUTANT
    ),
)


def site_document() -> dict[str, Any]:
    """The site config `canteen serve` runs with (written as YAML)."""

    def entry(device: FuzzDevice) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": device.id, "kind": device.kind, "building": "canteen"}
        if device.kind == "disinfection_cabinet":
            doc["method"] = "infrared"
        if device.format is not Format.CANONICAL:
            doc["source"] = {"format": device.format.value, "id": device.source}
        return doc

    return {
        "site": {"id": SITE, "name": "Fuzz school", "timezone": ZONE},
        "mqtt": {"client_id": GATEWAY_CLIENT_ID, "topic_prefix": TOPIC_PREFIX},
        "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
        "devices": [entry(device) for device in DEVICES],
    }


@dataclass(frozen=True, slots=True)
class FuzzMessage:
    family: str
    topic: str
    payload: bytes
    device: str = ""  # the device whose readings (events) below the store must hold
    readings: int = 0
    events: int = 0
    at_stake: int = 0  # readings beside a questionable field (Role.AT_STAKE)


def dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class Clocks:
    """Event times that never repeat: a second per good message of a device, a millisecond per
    hostile payload (module docstring)."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self._good_start = (now_ms // 1000 - GOOD_START_S) * 1000
        self._good_end = (now_ms // 1000 - GOOD_END_S) * 1000
        self._good: dict[str, int] = {}
        self._hostile = now_ms - HOSTILE_START_S * 1000

    @property
    def good_window_ms(self) -> tuple[int, int]:
        """[start, end) of the good readings' times."""
        return self._good_start, self._good_end

    def good(self, device: str) -> int:
        step = self._good.get(device, 0)
        self._good[device] = step + 1
        ts = self._good_start + step * 1000
        if ts >= self._good_end:  # 518 400 messages of one device would get here
            raise ValueError(f"too many good messages for {device}: its times leave the window")
        return ts

    def hostile(self) -> int:
        self._hostile += 1
        return self._hostile


_CANONICAL_METRICS = {
    "fridge": ("temp_c", "door_open", "compressor_on"),
    "freezer": ("temp_c", "door_open", "compressor_on"),
    "electricity_meter": ("power_w", "energy_kwh", "voltage_v"),
    "disinfection_cabinet": ("temp_c", "door_open"),
}


class GoodMessages:
    """Valid messages of each format for a device; each returns (payload, readings)."""

    def __init__(self, rng: random.Random, clocks: Clocks) -> None:
        self.rng = rng
        self.clocks = clocks
        self.zone = ZoneInfo(ZONE)
        self._seq: dict[str, int] = {}

    def telemetry(self, device: FuzzDevice, items: int = 0) -> tuple[bytes, int]:
        """One object, or a list of `items` objects (a gateway's batch)."""
        docs = [self._item(device) for _ in range(max(1, items))]
        readings = sum(len(doc["m"]) for doc in docs)
        return dumps(docs if items else docs[0]), readings

    def _item(self, device: FuzzDevice) -> dict[str, Any]:
        names = _CANONICAL_METRICS[device.kind]
        chosen = self.rng.sample(names, self.rng.randint(1, len(names)))
        seq = self._seq.get(device.id, 0)
        self._seq[device.id] = seq + 1
        return {
            "ts": self.clocks.good(device.id),
            "seq": seq,
            "m": {name: self._value(name, device.kind) for name in chosen},
        }

    def _value(self, metric: str, kind: str) -> float | bool:
        rng = self.rng
        if metric in ("door_open", "compressor_on"):
            return rng.random() < 0.3
        if metric == "temp_c":
            centre = {"freezer": -18.0, "disinfection_cabinet": 90.0}.get(kind, 4.0)
            return round(centre + rng.uniform(-3, 3), 2)
        if metric == "voltage_v":
            return round(rng.uniform(215, 235), 1)
        return round(rng.uniform(0, 20_000), 3)  # power_w, energy_kwh

    def event(self, device: FuzzDevice) -> tuple[bytes, int]:
        kind = self.rng.choice(("cycle_start", "cycle_end"))
        doc = {"ts": self.clocks.good(device.id), "type": kind, "program": "infrared"}
        if kind == "cycle_end":
            doc["peak_c"] = round(self.rng.uniform(120, 135), 1)
        return dumps(doc), 1

    def zigbee2mqtt(self, device: FuzzDevice) -> tuple[bytes, int]:
        state = {
            "temperature": round(self.rng.uniform(1, 7), 2),
            "humidity": round(self.rng.uniform(30, 90), 1),
            "battery": self.rng.randint(5, 100),
            "contact": self.rng.random() < 0.8,
            "linkquality": self.rng.randint(0, 255),
            "last_seen": self.iso_utc(self.clocks.good(device.id)),
        }
        return dumps(state), 4  # temperature, humidity, battery, contact -> door_open

    def tasmota(self, device: FuzzDevice) -> tuple[bytes, int]:
        local = datetime.fromtimestamp(self.clocks.good(device.id) / 1000, self.zone)
        sensor = {
            "Time": local.replace(tzinfo=None).isoformat(timespec="seconds"),
            "ENERGY": {
                "Total": round(self.rng.uniform(0, 9000), 3),
                "Today": 1.2,
                "Power": self.rng.randint(0, 3000),
                "Voltage": self.rng.randint(215, 235),
            },
        }
        return dumps(sensor), 3  # Total, Power, Voltage

    def shelly(self, device: FuzzDevice) -> tuple[bytes, int]:
        frame = {
            "src": device.source,
            "dst": f"{device.source}/events",
            "method": self.rng.choice(("NotifyStatus", "NotifyFullStatus")),
            "params": {
                "ts": self.clocks.good(device.id) / 1000,
                "switch:0": {
                    "id": 0,
                    "apower": round(self.rng.uniform(0, 3000), 1),
                    "voltage": round(self.rng.uniform(215, 235), 1),
                    "aenergy": {"total": round(self.rng.uniform(0, 9e6), 3)},
                },
            },
        }
        return dumps(frame), 3  # apower, voltage, aenergy.total

    def of_format(self, device: FuzzDevice) -> tuple[bytes, int]:
        if device.format is Format.ZIGBEE2MQTT:
            return self.zigbee2mqtt(device)
        if device.format is Format.TASMOTA:
            return self.tasmota(device)
        if device.format is Format.SHELLY_GEN2:
            return self.shelly(device)
        return self.telemetry(device, self.rng.choice((0, 0, 3)))

    @staticmethod
    def iso_utc(ts_ms: int) -> str:
        at = datetime.fromtimestamp(ts_ms / 1000, UTC)
        return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
