"""The seeded mix of the fuzz benchmark: which family each message belongs to and in what
proportion, and the two families that are part good, part hostile: a Zigbee2MQTT state with a
numeric string beside a good temperature, and random byte mutations of good payloads. The same
seed gives the same families and contents (times are relative to the start of the run)."""

from __future__ import annotations

import random
from collections.abc import Iterator

from bench.fuzz_hostile import HOSTILE_FAMILIES, HostileMessages
from bench.fuzz_payloads import (
    DEVICES,
    Clocks,
    Format,
    FuzzDevice,
    FuzzMessage,
    GoodMessages,
    Role,
    dumps,
)

__all__ = ["GOOD_FAMILIES", "WEIGHTS", "FuzzStream", "mutate"]

GOOD_FAMILIES = ("telemetry", "telemetry_batch", "event", "zigbee2mqtt", "tasmota", "shelly_gen2")
# About 60 % good, so that good data always sits beside bad in the gateway's batches; huge
# strings are rare because each is up to 300 KiB on the wire.
WEIGHTS: dict[str, float] = {
    "telemetry": 24,
    "telemetry_batch": 9,
    "event": 4,
    "zigbee2mqtt": 7,
    "tasmota": 7,
    "shelly_gen2": 7,
    "z2m_numeric_string": 3,
    "mutation": 8,
    "deep_nesting": 3,
    "big_integer": 3,
    "huge_float": 2,
    "nan_infinity": 2,
    "lone_surrogate": 3,
    "invalid_utf8": 3,
    "empty": 2,
    "huge_string": 0.3,
    "wrong_type": 5,
    "unknown_metric": 3,
    "unknown_device": 3,
    "bad_topic": 2,
}
# Bytes an insertion picks from: JSON's structure, digits and escapes make the likeliest damage.
_INSERTS = b'{}[]",:0123456789.-eE \\u'


class FuzzStream:
    def __init__(self, seed: int, now_ms: int, exclude: frozenset[str] = frozenset()) -> None:
        unknown = exclude - set(WEIGHTS)
        if unknown:
            raise ValueError(f"unknown families {sorted(unknown)}; known: {', '.join(WEIGHTS)}")
        weights = {family: w for family, w in WEIGHTS.items() if family not in exclude}
        self.rng = random.Random(seed)
        self.clocks = Clocks(now_ms)
        self.good = GoodMessages(self.rng, self.clocks)
        self.hostile = HostileMessages(self.rng, self.clocks)
        self._families = list(weights)
        self._cumulative = _cumulative(list(weights.values()))
        self._by_role = {role: [d for d in DEVICES if d.role is role] for role in Role}
        good = self._by_role[Role.GOOD]
        self._canonical = [d for d in good if d.format is Format.CANONICAL]
        self._cabinet = next(d for d in good if d.kind == "disinfection_cabinet")
        self._foreign = {d.format.value: d for d in good if d.format is not Format.CANONICAL}

    def messages(self, count: int) -> Iterator[FuzzMessage]:
        for _ in range(count):
            (family,) = self.rng.choices(self._families, cum_weights=self._cumulative)
            yield self._message(family)

    def _message(self, family: str) -> FuzzMessage:
        hostile = HOSTILE_FAMILIES.get(family)
        if hostile is not None:
            return hostile(self.hostile)
        if family == "z2m_numeric_string":
            return self._numeric_string()
        if family == "mutation":
            return self._mutation()
        return self._good(family)

    def _good(self, family: str) -> FuzzMessage:
        if family == "event":
            payload, events = self.good.event(self._cabinet)
            return FuzzMessage(
                family, self._cabinet.event_topic, payload, self._cabinet.id, 0, events
            )
        if family in self._foreign:
            device = self._foreign[family]
            payload, readings = self.good.of_format(device)
        else:
            device = self.rng.choice(self._canonical)
            items = self.rng.randint(2, 10) if family == "telemetry_batch" else 0
            payload, readings = self.good.telemetry(device, items)
        return FuzzMessage(family, device.topic, payload, device.id, readings)

    def _numeric_string(self) -> FuzzMessage:
        """A good temperature and contact beside a number sent as a string (some Zigbee
        converters do): the two good readings are at stake."""
        device = self._by_role[Role.AT_STAKE][0]
        field = self.rng.choice(("battery", "humidity"))
        state = {
            "temperature": round(self.rng.uniform(1, 7), 2),
            "contact": True,
            field: self.rng.choice(("100.00", "97", "45.5")),
            "last_seen": self.good.iso_utc(self.clocks.good(device.id)),
        }
        return FuzzMessage("z2m_numeric_string", device.topic, dumps(state), device.id, at_stake=2)

    def _mutation(self) -> FuzzMessage:
        device: FuzzDevice = self.rng.choice(self._by_role[Role.MUTANT])
        topic = device.topic
        if device.format is Format.CANONICAL and self.rng.random() < 0.2:
            payload, _ = self.good.event(device)
            topic = device.event_topic
        else:
            payload, _ = self.good.of_format(device)
        return FuzzMessage("mutation", topic, mutate(self.rng, payload), device.id)


def mutate(rng: random.Random, payload: bytes) -> bytes:
    """One to eight random byte edits: flip a bit, overwrite, insert, delete, repeat a slice,
    and (rarely) truncate."""
    data = bytearray(payload)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(data)) if data else 0
        op = rng.choices(range(6), weights=(3, 3, 3, 3, 2, 1))[0]
        if op == 0 and data:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[pos] = rng.randrange(256)
        elif op == 2:
            data.insert(pos, rng.choice(_INSERTS))
        elif op == 3 and data:
            del data[pos]
        elif op == 4:
            data[pos:pos] = data[pos : pos + rng.randint(1, 16)]
        elif op == 5:
            del data[pos:]
    return bytes(data)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out
