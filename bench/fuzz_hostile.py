"""Hostile messages of the fuzz benchmark, one method per family. Each must be refused whole
(dead-lettered, or ignored where a foreign format carries nothing we map) and none may stop the
service. They go to the good devices' own topics, between good messages, so that one that harms
the gateway harms the good data beside it. A payload that needs a valid time to reach its bad
part takes one from the hostile window (`bench.fuzz_payloads`), so nothing accepted from it can
overwrite a good reading."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bench.fuzz_payloads import (
    DEVICES,
    SITE,
    TOPIC_PREFIX,
    ZONE,
    Clocks,
    Format,
    FuzzDevice,
    FuzzMessage,
    Role,
)

__all__ = ["HOSTILE_FAMILIES", "HostileMessages"]

DEPTH = 10_000  # the figure; CPython's json recursion limit is about 1000
BIG = 400  # digits: beyond any float (1e308) but under int's str limit (4300 digits)
HUGE_SIZES = (64 * 1024, 200 * 1024, 300 * 1024)  # the last beyond max_payload_bytes (256 KiB)

_OPEN_LISTS = b"[" * DEPTH
_CLOSED_LISTS = _OPEN_LISTS + b"]" * DEPTH
_OBJECTS = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH

Variant = Callable[[], tuple[str, bytes]]


def _good(fmt: Format) -> list[FuzzDevice]:
    return [d for d in DEVICES if d.role is Role.GOOD and d.format is fmt]


class HostileMessages:
    def __init__(self, rng: random.Random, clocks: Clocks) -> None:
        self.rng = rng
        self.clocks = clocks
        self.zone = ZoneInfo(ZONE)
        self.canonical = [d for d in _good(Format.CANONICAL) if d.kind != "disinfection_cabinet"]
        self.cabinet = next(d for d in DEVICES if d.kind == "disinfection_cabinet")
        self.z2m = _good(Format.ZIGBEE2MQTT)[0]
        self.tasmota = _good(Format.TASMOTA)[0]
        self.shelly = _good(Format.SHELLY_GEN2)[0]

    # -- helpers ---------------------------------------------------------------------------------

    def _pick(self, family: str, variants: Sequence[Variant]) -> FuzzMessage:
        topic, payload = self.rng.choice(variants)()
        return FuzzMessage(family, topic, payload)

    def _telemetry(self) -> str:
        return self.rng.choice(self.canonical).topic

    def _t(self) -> int:
        return self.clocks.hostile()

    def _z2m_seen(self) -> str:
        at = datetime.fromtimestamp(self._t() / 1000, UTC)
        return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _tasmota_time(self) -> str:
        local = datetime.fromtimestamp(self._t() / 1000, self.zone).replace(tzinfo=None)
        return local.isoformat(timespec="seconds")

    def _shelly(self, params: str) -> tuple[str, bytes]:
        frame = f'{{"src":"{self.shelly.source}","method":"NotifyStatus","params":{params}}}'
        return self.shelly.topic, frame.encode()

    def _number(self) -> str:
        digits = "".join(self.rng.choices("0123456789", k=BIG - 1))
        return self.rng.choice("123456789") + digits

    def _foreign_topic(self) -> str:
        return self.rng.choice((self.z2m, self.tasmota, self.shelly)).topic

    # -- the families ----------------------------------------------------------------------------

    def deep_nesting(self) -> FuzzMessage:
        t, ev = self._t(), self.cabinet.event_topic
        return self._pick(
            "deep_nesting",
            [
                lambda: (self._telemetry(), _OPEN_LISTS),
                lambda: (self._telemetry(), _CLOSED_LISTS),
                lambda: (self._telemetry(), _OBJECTS),
                lambda: (self._telemetry(), b'{"ts":%d,"m":%s}' % (t, _OBJECTS)),
                lambda: (self._telemetry(), b'{"ts":%d,"m":{"temp_c":%s}}' % (t, _CLOSED_LISTS)),
                lambda: (ev, b'{"ts":%d,"type":"cycle_start","data":%s}' % (t, _OBJECTS)),
                lambda: (self._foreign_topic(), self.rng.choice((_OPEN_LISTS, _OBJECTS))),
            ],
        )

    def big_integer(self) -> FuzzMessage:
        n, t = self._number(), self._t()
        sign = self.rng.choice(("", "-"))
        return self._pick(
            "big_integer",
            [
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"temp_c":{sign}{n}}}}}'.encode()),
                lambda: (self._telemetry(), f'{{"ts":{n},"m":{{"temp_c":3.5}}}}'.encode()),
                lambda: (self._telemetry(), f'[{{"ts":{t},"m":{{"power_w":{n}}}}}]'.encode()),
                lambda: (self.cabinet.event_topic, f'{{"ts":{n},"type":"cycle_end"}}'.encode()),
                lambda: (
                    self.z2m.topic,
                    f'{{"temperature":{n},"last_seen":"{self._z2m_seen()}"}}'.encode(),
                ),
                lambda: (self.z2m.topic, f'{{"temperature":3.1,"last_seen":{n}}}'.encode()),
                lambda: (
                    self.tasmota.topic,
                    f'{{"Time":"{self._tasmota_time()}","ENERGY":{{"Total":{n}}}}}'.encode(),
                ),
                lambda: self._shelly(f'{{"ts":{n},"temperature:0":{{"tC":3.0}}}}'),
                lambda: self._shelly(
                    f'{{"ts":{t / 1000},"switch:0":{{"aenergy":{{"total":{n}}}}}}}'
                ),
            ],
        )

    def huge_float(self) -> FuzzMessage:
        t, f = self._t(), self.rng.choice(("1e400", "-1e400", "1.8e308", "123e99999"))
        return self._pick(
            "huge_float",
            [
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"temp_c":{f}}}}}'.encode()),
                lambda: (self._telemetry(), f'{{"ts":{f},"m":{{"temp_c":3.5}}}}'.encode()),
                lambda: (
                    self.z2m.topic,
                    f'{{"battery":{f},"last_seen":"{self._z2m_seen()}"}}'.encode(),
                ),
                lambda: (
                    self.tasmota.topic,
                    f'{{"Time":"{self._tasmota_time()}","ENERGY":{{"Power":[{f},1]}}}}'.encode(),
                ),
                lambda: self._shelly(f'{{"ts":{f},"switch:0":{{"apower":1.0}}}}'),
            ],
        )

    def nan_infinity(self) -> FuzzMessage:
        t, c = self._t(), self.rng.choice(("NaN", "Infinity", "-Infinity"))
        return self._pick(
            "nan_infinity",
            [
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"temp_c":{c}}}}}'.encode()),
                lambda: (self._telemetry(), f'{{"ts":{c},"m":{{"door_open":true}}}}'.encode()),
                lambda: (self.z2m.topic, f'{{"temperature":{c}}}'.encode()),
                lambda: self._shelly(f'{{"ts":{c}}}'),
                lambda: (self.cabinet.event_topic, f'{{"ts":{t},"type":"x","v":{c}}}'.encode()),
            ],
        )

    def lone_surrogate(self) -> FuzzMessage:
        t, s = self._t(), self.rng.choice((r"\ud800", r"\udfff", r"\udc00x"))
        ev = self.cabinet.event_topic
        return self._pick(
            "lone_surrogate",
            [
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"{s}":3}}}}'.encode()),
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"temp_c{s}":3}}}}'.encode()),
                lambda: (
                    self._telemetry(),
                    f'{{"ts":"2025-01-01{s}","m":{{"temp_c":3}}}}'.encode(),
                ),
                lambda: (ev, f'{{"ts":{t},"type":"cycle_start","{s}":1}}'.encode()),
                lambda: (ev, f'{{"ts":{t},"type":"cycle_end","note":"{s}"}}'.encode()),
                lambda: (ev, f'{{"ts":{t},"type":"{s}"}}'.encode()),
                lambda: (self.z2m.topic, f'{{"last_seen":"{s}","temperature":3}}'.encode()),
                lambda: (self.tasmota.topic, f'{{"Time":"{s}","ENERGY":{{"Total":1}}}}'.encode()),
            ],
        )

    def invalid_utf8(self) -> FuzzMessage:
        t = self._t()
        garbage = self.rng.choice((b"\xff\xfe\xfd", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"))
        return self._pick(
            "invalid_utf8",
            [
                lambda: (self._telemetry(), garbage),
                lambda: (self._telemetry(), b'{"ts":%d,"m":{"temp_c%s":3}}' % (t, garbage)),
                lambda: (self._telemetry(), b'{"ts":%d,"m":{"temp_c":3},"x":"%s"}' % (t, garbage)),
                lambda: (self.cabinet.event_topic, b'{"ts":%d,"type":"%s"}' % (t, garbage)),
                lambda: (self._foreign_topic(), b'{"temperature":3,"x":"%s"}' % garbage),
                lambda: (f"{TOPIC_PREFIX}/{SITE}/fridge-1/status", b"online" + garbage),
            ],
        )

    def empty(self) -> FuzzMessage:
        topics = [
            self._telemetry(),
            self.cabinet.event_topic,
            f"{TOPIC_PREFIX}/{SITE}/fridge-2/status",
            self.z2m.topic,
            self.tasmota.topic,
            self.shelly.topic,
            f"{self.shelly.source}/online",
        ]
        return FuzzMessage("empty", self.rng.choice(topics), b"")

    def huge_string(self) -> FuzzMessage:
        t, text = self._t(), "x" * self.rng.choice(HUGE_SIZES)
        return self._pick(
            "huge_string",
            [
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"temp_c":"{text}"}}}}'.encode()),
                lambda: (self._telemetry(), f'{{"ts":{t},"m":{{"{text}":1}}}}'.encode()),
                lambda: (self.cabinet.event_topic, f'{{"ts":{t},"type":"{text}"}}'.encode()),
                lambda: (self.z2m.topic, f'{{"last_seen":"{text}"}}'.encode()),
            ],
        )

    def wrong_type(self) -> FuzzMessage:
        t = self._t()
        docs = [
            "42", "null", "true", '"text"', "[]", "{}", "[1,2]", f'{{"ts":{t}}}',
            f'{{"ts":{t},"m":{{}}}}', f'{{"ts":{t},"m":[]}}', f'{{"ts":{t},"m":null}}',
            f'{{"ts":{t},"m":{{"temp_c":"3.4"}}}}', f'{{"ts":{t},"m":{{"temp_c":true}}}}',
            f'{{"ts":{t},"m":{{"temp_c":null}}}}', f'{{"ts":{t},"m":{{"temp_c":[3.4]}}}}',
            f'{{"ts":{t},"m":{{"door_open":1}}}}', f'{{"ts":{t},"m":{{"door_open":"true"}}}}',
            '{"ts":"yesterday","m":{"temp_c":3}}', '{"ts":true,"m":{"temp_c":3}}',
            f'{{"ts":[{t}],"m":{{"temp_c":3}}}}', f'{{"ts":{t // 1000},"m":{{"temp_c":3}}}}',
            '{"ts":"2025-11-24T08:00:00","m":{"temp_c":3}}',
            f'{{"ts":{t},"seq":-1,"m":{{"temp_c":3}}}}',
            f'{{"ts":{t},"seq":"7","m":{{"temp_c":3}}}}',
            f'[{{"ts":{t},"m":{{"temp_c":3}}}},5]', f'{{"ts":{t},"m":{{"temp_c":1000}}}}',
            f'{{"ts":{t},"m":{{"rssi_dbm":5}}}}', f'{{"ts":{t},"m":{{"battery_pct":150}}}}',
        ]  # fmt: skip
        foreign: list[tuple[str, bytes]] = [
            (self.z2m.topic, b'{"temperature":"3.4"}'),
            (self.z2m.topic, b'{"contact":"true"}'),
            (self.z2m.topic, b"[]"),
            (self.tasmota.topic, b'{"ENERGY":"x"}'),
            (self.tasmota.topic, b'{"TempUnit":"K","DS18B20":{"Temperature":3}}'),
            (self.tasmota.topic, b'{"Time":5,"ENERGY":{"Total":1}}'),
            (self.tasmota.topic, b'{"ENERGY":{"Power":[1,"2"]}}'),
            self._shelly("[]"),
            self._shelly('{"ts":"now"}'),
            self._shelly(f'{{"ts":{t / 1000},"switch:0":{{"aenergy":5}}}}'),
            (self.cabinet.event_topic, b'{"ts":%d,"type":5}' % t),
            (self.cabinet.event_topic, b'{"ts":%d,"type":"cycle start"}' % t),
            (self.cabinet.event_topic, b"[]"),
        ]
        if self.rng.random() < 0.6:
            return FuzzMessage("wrong_type", self._telemetry(), self.rng.choice(docs).encode())
        topic, payload = self.rng.choice(foreign)
        return FuzzMessage("wrong_type", topic, payload)

    def unknown_metric(self) -> FuzzMessage:
        t = self._t()
        name = self.rng.choice(("temperature", "temp_f", "TEMP_C", "temp_c ", "", "__proto__"))
        doc = f'{{"ts":{t},"m":{{"{name}":3.4}}}}'
        return FuzzMessage("unknown_metric", self._telemetry(), doc.encode())

    def unknown_device(self) -> FuzzMessage:
        t, ghost = self._t(), f"ghost-{self.rng.randrange(1000)}"
        good = f'{{"ts":{t},"m":{{"temp_c":3.4}}}}'.encode()
        topics = [
            f"{TOPIC_PREFIX}/{SITE}/{ghost}/telemetry",
            f"{TOPIC_PREFIX}/{SITE}/冰箱-{ghost}/telemetry",
            f"{TOPIC_PREFIX}/{SITE}/{ghost}/event",
            f"zigbee2mqtt/{ghost}",
            f"tele/{ghost}/SENSOR",
            f"shellyplus1-{ghost}/events/rpc",
            f"{ghost}/online",
        ]
        return FuzzMessage("unknown_device", self.rng.choice(topics), good)

    def bad_topic(self) -> FuzzMessage:
        """Topics inside the gateway's subscriptions that are not what they should be, and
        presence payloads that say neither online nor offline."""
        bridges = f"{TOPIC_PREFIX}/{SITE}/bridges/gw-{self.rng.randrange(9)}"
        variants = [
            (f"{bridges}/nonsense", b"online"),
            (f"{bridges}/status", b"maybe"),
            (f"{bridges}/devices", b'{"not": "a list"}'),
            (f"{bridges}/devices", b'["fridge-1", 7, null]'),
            (f"{TOPIC_PREFIX}/{SITE}/fridge-1/status", b"perhaps"),
            (f"{self.z2m.topic}/availability", b'{"state":"sideways"}'),
            (self.tasmota.topic.replace("SENSOR", "LWT"), b"Sleeping"),
            (f"{self.shelly.source}/online", b"maybe"),
            ("zigbee2mqtt/bridge", b'{"state":"online"}'),
        ]
        topic, payload = self.rng.choice(variants)
        return FuzzMessage("bad_topic", topic, payload)


HOSTILE_FAMILIES: dict[str, Callable[[HostileMessages], FuzzMessage]] = {
    "deep_nesting": HostileMessages.deep_nesting,
    "big_integer": HostileMessages.big_integer,
    "huge_float": HostileMessages.huge_float,
    "nan_infinity": HostileMessages.nan_infinity,
    "lone_surrogate": HostileMessages.lone_surrogate,
    "invalid_utf8": HostileMessages.invalid_utf8,
    "empty": HostileMessages.empty,
    "huge_string": HostileMessages.huge_string,
    "wrong_type": HostileMessages.wrong_type,
    "unknown_metric": HostileMessages.unknown_metric,
    "unknown_device": HostileMessages.unknown_device,
    "bad_topic": HostileMessages.bad_topic,
}
