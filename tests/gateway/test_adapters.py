"""Foreign payloads as the real projects publish them decode to the same readings as the
canonical payload saying the same; bad ones are refused with a reason that says why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import ReadingBatchBuilder, SiteConfig
from gateway import PayloadError, TimeWindow, decode_telemetry
from gateway.adapters import ForeignRoute, ForeignRouter, MessageKind

NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z = 2025-11-25T00:00:00 in Shanghai
WINDOW = TimeWindow(NOW, max_future_ms=300_000, max_age_ms=30 * 86_400_000)
SITE = "test-school"

Rows = list[tuple[str, int, float]]


def foreign_config(*sources: tuple[str, str, str]) -> SiteConfig:
    """A site whose devices (id, format, foreign id) speak foreign formats."""
    return SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "Test School", "timezone": "Asia/Shanghai"},
            "buildings": [{"id": "canteen", "name": "Canteen"}],
            "devices": [
                {"id": d, "kind": "fridge", "building": "canteen", "source": {"format": f, "id": i}}
                for d, f, i in sources
            ],
        }
    )


CONFIG = foreign_config(
    ("fridge-1", "zigbee2mqtt", "kitchen/fridge-1"),
    ("fridge-2", "zigbee2mqtt", "fridge-2-door"),
    ("plug-1", "tasmota", "kitchen-plug-1"),
    ("probe-1", "tasmota", "cold-room-probe"),
    ("meter-1", "shelly_gen2", "shellyplus1pm-a8032ab12345"),
    ("ht-1", "shelly_gen2", "shellyplusht-b8d61a8b17cc"),
)
ROUTER = ForeignRouter(CONFIG)


def route(topic: str) -> ForeignRoute:
    found = ROUTER.route(topic)
    assert found is not None, topic
    return found


def foreign(topic: str, payload: object) -> Rows:
    found = route(topic)
    assert found.kind is MessageKind.TELEMETRY
    out = ReadingBatchBuilder()
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    found.adapter.decode_telemetry(raw, found.device, WINDOW, out)
    return sorted((r.metric, r.ts_ms, r.value) for r in out.build())


def canonical(device: str, payload: dict[str, Any]) -> Rows:
    out = ReadingBatchBuilder()
    decode_telemetry(json.dumps(payload).encode(), SITE, device, WINDOW, out)
    return sorted((r.metric, r.ts_ms, r.value) for r in out.build())


def test_zigbee2mqtt_state_is_the_canonical_reading() -> None:
    state = {
        "temperature": 3.4,
        "contact": True,  # closed: the door is shut
        "battery": 97,
        "linkquality": 120,
        "last_seen": "2025-11-24T16:00:00.000Z",
    }
    expected = canonical(
        "fridge-1", {"ts": NOW, "m": {"temp_c": 3.4, "door_open": False, "battery_pct": 97}}
    )
    assert foreign("zigbee2mqtt/kitchen/fridge-1", state) == expected
    opened = foreign("zigbee2mqtt/fridge-2-door", {**state, "contact": False})
    assert ("door_open", NOW, 1.0) in opened
    assert route("zigbee2mqtt/fridge-2-door").device == "fridge-2"


@pytest.mark.parametrize(
    "last_seen", ["2025-11-25T00:00:00.000+0800", "2025-11-24T16:00:00.000Z", NOW]
)
def test_zigbee2mqtt_last_seen_in_every_setting(last_seen: object) -> None:
    rows = foreign("zigbee2mqtt/fridge-2-door", {"temperature": 4.0, "last_seen": last_seen})
    assert rows == [("temp_c", NOW, 4.0)]


def test_a_format_without_time_takes_the_receive_time() -> None:
    assert foreign("zigbee2mqtt/fridge-2-door", {"temperature": 4.0}) == [("temp_c", NOW, 4.0)]
    rows = foreign("tele/cold-room-probe/SENSOR", {"DS18B20": {"Temperature": 2.5}})
    assert rows == [("temp_c", WINDOW.now_ms, 2.5)]


def test_tasmota_energy_in_local_time_is_the_canonical_reading() -> None:
    sensor = {
        "Time": "2025-11-25T00:00:00",  # Shanghai local time, no offset
        "ENERGY": {
            "TotalStartTime": "2024-09-01T08:00:00",
            "Total": 1234.567,
            "Yesterday": 3.1,
            "Today": 1.2,
            "Power": 85,
            "Factor": 0.94,
            "Voltage": 229,
            "Current": 0.37,
        },
    }
    expected = canonical(
        "plug-1", {"ts": NOW, "m": {"energy_kwh": 1234.567, "power_w": 85, "voltage_v": 229}}
    )
    assert foreign("tele/kitchen-plug-1/SENSOR", sensor) == expected


def test_tasmota_probe_in_fahrenheit_and_multichannel_power() -> None:
    rows = foreign(
        "tele/cold-room-probe/SENSOR",
        {
            "Time": "2025-11-25T00:00:00",
            "DS18B20": {"Id": "01144A0CB6AA", "Temperature": 38.3},
            "TempUnit": "F",
        },
    )
    [(metric, ts, celsius)] = rows
    assert (metric, ts) == ("temp_c", NOW) and celsius == pytest.approx(3.5)
    rows = foreign(
        "tele/kitchen-plug-1/SENSOR", {"Time": "2025-11-25T00:00:00", "ENERGY": {"Power": [40, 45]}}
    )
    assert rows == [("power_w", NOW, 85.0)]


def test_shelly_notify_status_is_the_canonical_reading() -> None:
    frame = {
        "src": "shellyplus1pm-a8032ab12345",
        "dst": "shellyplus1pm-a8032ab12345/events",
        "method": "NotifyStatus",
        "params": {
            "ts": NOW / 1000,
            "switch:0": {
                "id": 0,
                "apower": 85.2,
                "voltage": 229.1,
                "aenergy": {"total": 1234567.0},
                "temperature": {"tC": 41.0},
            },
            "temperature:101": {"id": 101, "tC": 9.9},
            "temperature:100": {"id": 100, "tC": 3.4, "tF": 38.1},
        },
    }
    expected = canonical(
        "meter-1",
        {
            "ts": NOW,
            "m": {"power_w": 85.2, "voltage_v": 229.1, "energy_kwh": 1234.567, "temp_c": 3.4},
        },
    )
    assert foreign("shellyplus1pm-a8032ab12345/events/rpc", frame) == expected


def test_shelly_full_status_of_a_battery_sensor_and_events_without_readings() -> None:
    full = {
        "src": "shellyplusht-b8d61a8b17cc",
        "method": "NotifyFullStatus",
        "params": {
            "ts": NOW / 1000,
            "devicepower:0": {
                "id": 0,
                "battery": {"V": 5.9, "percent": 88},
                "external": {"present": False},
            },
            "humidity:0": {"id": 0, "rh": 42.2},
            "temperature:0": {"id": 0, "tC": 19.8, "tF": 67.6},
            "wifi": {"rssi": -60},
        },
    }
    expected = canonical(
        "ht-1", {"ts": NOW, "m": {"battery_pct": 88, "humidity_pct": 42.2, "temp_c": 19.8}}
    )
    assert foreign("shellyplusht-b8d61a8b17cc/events/rpc", full) == expected
    event = {
        "src": "shellyplusht-b8d61a8b17cc",
        "method": "NotifyEvent",
        "params": {"ts": NOW / 1000, "events": []},
    }
    assert foreign("shellyplusht-b8d61a8b17cc/events/rpc", event) == []
    wifi_only = {"method": "NotifyStatus", "params": {"ts": NOW / 1000, "wifi": {"rssi": -61}}}
    assert foreign("shellyplusht-b8d61a8b17cc/events/rpc", wifi_only) == []


@pytest.mark.parametrize(
    ("topic", "payload", "online"),
    [
        ("zigbee2mqtt/kitchen/fridge-1/availability", b'{"state":"online"}', True),
        ("zigbee2mqtt/fridge-2-door/availability", b'{"state":"offline"}', False),
        ("zigbee2mqtt/fridge-2-door/availability", b"offline", False),  # legacy payload
        ("tele/kitchen-plug-1/LWT", b"Online", True),
        ("tele/kitchen-plug-1/LWT", b"Offline", False),
        ("shellyplusht-b8d61a8b17cc/online", b"true", True),
        ("shellyplusht-b8d61a8b17cc/online", b"false", False),
    ],
)
def test_presence_of_each_format(topic: str, payload: bytes, online: bool) -> None:
    found = route(topic)
    assert found.kind is MessageKind.PRESENCE
    assert found.adapter.decode_presence(payload) is online


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": "warm"}',
            "temperature must be a number or a decimal string, got str 'warm'",
        ),
        ("zigbee2mqtt/fridge-2-door", b'{"contact": "open"}', "contact must be true or false"),
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 900}',
            "temperature=900 gives temp_c outside",
        ),
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 3, "last_seen": "noon"}',
            "last_seen 'noon' is not an ISO 8601 time",
        ),
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 3, "last_seen": "2030-01-01T00:00:00Z"}',
            "ahead of the gateway clock",
        ),
        ("zigbee2mqtt/fridge-2-door", b"[1, 2]", "must be a JSON object, got list"),
        ("zigbee2mqtt/fridge-2-door", b"{nope", "not valid JSON"),
        (
            "tele/kitchen-plug-1/SENSOR",
            b'{"Time": "2025-11-25T00:00:00", "ENERGY": 5}',
            "ENERGY must be an object",
        ),
        (
            "tele/kitchen-plug-1/SENSOR",
            b'{"Time": "2025-11-25T00:00:00", "ENERGY": {"Total": "1.2"}}',
            "ENERGY.Total must be a number, got str",
        ),
        (
            "tele/kitchen-plug-1/SENSOR",
            b'{"Time": "2025-11-25T00:00:00", "ENERGY": {"Power": [1, "x"]}}',
            "ENERGY.Power must be numbers",
        ),
        (
            "tele/cold-room-probe/SENSOR",
            b'{"DS18B20": {"Temperature": 3}, "TempUnit": "K"}',
            "TempUnit must be C or F",
        ),
        (
            "tele/cold-room-probe/SENSOR",
            b'{"Time": 17, "DS18B20": {"Temperature": 3}}',
            "Time must be an ISO 8601 time",
        ),
        (
            "shellyplusht-b8d61a8b17cc/events/rpc",
            b'{"method": "NotifyStatus", "params": 3}',
            "params must be an object",
        ),
        (
            "shellyplusht-b8d61a8b17cc/events/rpc",
            b'{"method": "NotifyStatus", "params": {"ts": "now"}}',
            "params.ts must be Unix seconds",
        ),
        (
            "shellyplus1pm-a8032ab12345/events/rpc",
            b'{"method": "NotifyStatus", "params": {"switch:0": {"aenergy": 5}}}',
            "switch:0.aenergy must be an object",
        ),
        (
            "shellyplus1pm-a8032ab12345/events/rpc",
            b'{"method": "NotifyStatus", "params": {"switch:0": {"apower": -5}}}',
            "switch:0.apower=-5 gives power_w outside",
        ),
    ],
)
def test_bad_foreign_payloads_are_refused_whole_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    found = route(topic)
    out = ReadingBatchBuilder()
    out.append(SITE, "other", "temp_c", NOW, 1.0)
    with pytest.raises(PayloadError, match=reason.replace("(", r"\(")):
        found.adapter.decode_telemetry(payload, found.device, WINDOW, out)
    assert len(out) == 1  # nothing of the refused message stayed in the batch


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("zigbee2mqtt/fridge-2-door/availability", b'{"state":"gone"}'),
        ("tele/kitchen-plug-1/LWT", b"Maybe"),
        ("shellyplusht-b8d61a8b17cc/online", b"1"),
    ],
)
def test_bad_presence_is_refused(topic: str, payload: bytes) -> None:
    found = route(topic)
    with pytest.raises(PayloadError, match="must be"):
        found.adapter.decode_presence(payload)


@pytest.mark.parametrize(
    ("topic", "fragment"),
    [
        ("zigbee2mqtt/hallway-light", "zigbee2mqtt device 'hallway-light' is not the source"),
        ("zigbee2mqtt/hallway-light/availability", "zigbee2mqtt device 'hallway-light'"),
        ("tele/tasmota_5C1E3F/SENSOR", "tasmota device 'tasmota_5C1E3F'"),
        (
            "shellyplus2pm-000000000000/events/rpc",
            "shelly_gen2 device 'shellyplus2pm-000000000000'",
        ),
    ],
)
def test_a_foreign_id_the_config_does_not_map_is_an_unknown_device(
    topic: str, fragment: str
) -> None:
    with pytest.raises(PayloadError, match=fragment) as caught:
        ROUTER.route(topic)
    assert caught.value.code == "unknown_device"
    assert "map it with source:" in caught.value.reason


def test_topics_of_no_format_are_not_routed() -> None:
    assert ROUTER.route("canteen/v1/test-school/fridge-1/telemetry") is None
    assert ROUTER.route("stat/kitchen-plug-1/RESULT") is None


def test_only_formats_in_the_config_are_subscribed() -> None:
    assert ROUTER.filters() == [
        "zigbee2mqtt/+",
        "zigbee2mqtt/+/availability",
        "zigbee2mqtt/kitchen/fridge-1",
        "zigbee2mqtt/kitchen/fridge-1/availability",
        "tele/+/SENSOR",
        "tele/+/LWT",
        "+/events/rpc",
        "+/online",
    ]
    tasmota_only = ForeignRouter(foreign_config(("plug-1", "tasmota", "kitchen-plug-1")))
    assert tasmota_only.filters() == ["tele/+/SENSOR", "tele/+/LWT"]
    canonical_only = SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "S"},
            "buildings": [{"id": "b", "name": "B"}],
            "devices": [{"id": "f", "kind": "fridge", "building": "b"}],
        }
    )
    assert ForeignRouter(canonical_only).filters() == []


def decoded(topic: str, payload: bytes) -> tuple[Rows, tuple[str, ...]]:
    found = route(topic)
    out = ReadingBatchBuilder()
    result = found.adapter.decode_telemetry(payload, found.device, WINDOW, out)
    assert result.count == len(out)
    return sorted((r.metric, r.ts_ms, r.value) for r in out.build()), result.dropped


@pytest.mark.parametrize(
    ("topic", "payload", "kept", "dropped"),
    [
        # Some Zigbee converters publish numbers as strings: accepted where they are numeric.
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 3.4, "battery": "100.00", "last_seen": 1764000000000}',
            [("battery_pct", NOW, 100.0), ("temp_c", NOW, 3.4)],
            (),
        ),
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": "-18.5", "last_seen": 1764000000000}',
            [("temp_c", NOW, -18.5)],
            (),
        ),
        # A bad secondary field is dropped with a note; the temperature beside it is kept.
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 3.4, "battery": "full", "last_seen": 1764000000000}',
            [("temp_c", NOW, 3.4)],
            ("battery must be a number or a decimal string, got str 'full'",),
        ),
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 3.4, "battery": "nan", "humidity": 1e400, "last_seen": 1764000000000}',
            [("temp_c", NOW, 3.4)],
            (
                "humidity=inf gives humidity_pct outside what a sensor can report (0..100 %)",
                "battery must be a number or a decimal string, got str 'nan'",
            ),
        ),
        (
            "tele/kitchen-plug-1/SENSOR",
            b'{"Time": "2025-11-25T00:00:00", "ENERGY": {"Total": 1.5, "Voltage": "230V"}}',
            [("energy_kwh", NOW, 1.5)],
            ("ENERGY.Voltage must be a number, got str '230V'",),
        ),
        (
            "shellyplusht-b8d61a8b17cc/events/rpc",
            b'{"method": "NotifyStatus", "params": {"ts": 1764000000, "temperature:0": {"tC": 4},'
            b' "devicepower:0": {"battery": {"percent": 1%s}}}}' % (b"0" * 400),
            [("temp_c", NOW, 4.0)],
            (
                "devicepower:0.battery.percent=<integer of 401 digits> is not a value any sensor reports",
            ),
        ),
    ],
)
def test_foreign_numeric_strings_and_partial_acceptance(
    topic: str, payload: bytes, kept: Rows, dropped: tuple[str, ...]
) -> None:
    assert decoded(topic, payload) == (kept, dropped)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        # Primary readings and times refuse the whole message, also when they are hostile.
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 1%s}' % (b"0" * 400),
            "not a value any sensor",
        ),
        (
            "zigbee2mqtt/fridge-2-door",
            b'{"temperature": 3, "last_seen": 1%s}' % (b"0" * 400),
            "not a time in epoch milliseconds",
        ),
        (
            "shellyplusht-b8d61a8b17cc/events/rpc",
            b'{"method": "NotifyStatus", "params": {"ts": 1%s}}' % (b"0" * 400),
            "params.ts must be Unix seconds, got <integer of 401 digits>",
        ),
        (
            "tele/cold-room-probe/SENSOR",
            b'{"DS18B20": {"Temperature": 1%s}, "TempUnit": "F"}' % (b"0" * 400),
            "not a value any sensor",
        ),
        (
            "tele/kitchen-plug-1/SENSOR",
            b'{"ENERGY": {"Power": [1, 1%s]}}' % (b"0" * 400),
            "not a value any sensor",
        ),
        ("zigbee2mqtt/fridge-2-door", b"[" * 10_000, "nests deeper than 32 levels"),
    ],
)
def test_hostile_primary_fields_refuse_the_message_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(PayloadError, match=reason):
        decoded(topic, payload)


def test_shelly_component_ids_that_int_cannot_read_are_skipped() -> None:
    payload = b'{"method": "NotifyStatus", "params": {"ts": 1764000000, "temperature:\\u00b2": {"tC": 9}, "temperature:0": {"tC": 4}}}'
    assert decoded("shellyplusht-b8d61a8b17cc/events/rpc", payload) == ([("temp_c", NOW, 4.0)], ())


MAPPED = SiteConfig.model_validate(
    {
        "site": {"id": SITE, "name": "Test School", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "canteen", "name": "Canteen"}],
        "devices": [
            {"id": device, "kind": "fridge", "building": "canteen", "source": source}
            for device, source in (
                # a two-probe Tasmota: the second DS18B20 hangs in the kitchen air
                (
                    "fridge-t",
                    {
                        "format": "tasmota",
                        "id": "two-probe",
                        "fields": {"DS18B20-2.Temperature": "ambient_temp_c"},
                    },
                ),
                # the first probe sits in a glycol bottle: the air is the second one
                (
                    "fridge-g",
                    {
                        "format": "tasmota",
                        "id": "glycol-first",
                        "fields": {"DS18B20-1.Temperature": "food_temp_c"},
                    },
                ),
                # a Zigbee sensor with an external probe, read as the air; its own is the room
                (
                    "fridge-z",
                    {
                        "format": "zigbee2mqtt",
                        "id": "probe-ext",
                        "fields": {
                            "external_temperature": "temp_c",
                            "temperature": "ambient_temp_c",
                        },
                    },
                ),
                # a Shelly add-on with two probes, each named
                (
                    "fridge-s",
                    {
                        "format": "shelly_gen2",
                        "id": "shellyplus1-addon",
                        "fields": {
                            "temperature:100.tC": "temp_c",
                            "temperature:101.tC": "ambient_temp_c",
                        },
                    },
                ),
            )
        ],
    }
)
MAPPED_ROUTER = ForeignRouter(MAPPED)


def mapped(topic: str, payload: object) -> tuple[Rows, tuple[str, ...]]:
    found = MAPPED_ROUTER.route(topic)
    assert found is not None and found.kind is MessageKind.TELEMETRY
    out = ReadingBatchBuilder()
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    result = found.adapter.decode_telemetry(raw, found.device, WINDOW, out)
    assert result.count == len(out)
    return sorted((r.metric, r.ts_ms, r.value) for r in out.build()), result.dropped


TWO_PROBES = {
    "Time": "2025-11-25T00:00:00",
    "DS18B20-1": {"Id": "01144A0CB6AA", "Temperature": 3.4},
    "DS18B20-2": {"Id": "01144A0CB6BB", "Temperature": 24.5},
    "TempUnit": "C",
}


def test_a_mapped_second_probe_is_the_kitchen_and_the_first_stays_the_air() -> None:
    rows, dropped = mapped("tele/two-probe/SENSOR", TWO_PROBES)
    assert rows == [("ambient_temp_c", NOW, 24.5), ("temp_c", NOW, 3.4)] and not dropped
    # The usual first-sensor reading skips a probe mapped to something else.
    rows, _ = mapped("tele/glycol-first/SENSOR", TWO_PROBES)
    assert rows == [("food_temp_c", NOW, 3.4), ("temp_c", NOW, 24.5)]
    fahrenheit = {
        **TWO_PROBES,
        "DS18B20-1": {"Temperature": 38.3},
        "DS18B20-2": {"Temperature": 76.1},
        "TempUnit": "F",
    }
    rows, _ = mapped("tele/two-probe/SENSOR", fahrenheit)
    assert [(m, pytest.approx(v)) for m, _, v in rows] == [
        ("ambient_temp_c", pytest.approx(24.5)),
        ("temp_c", pytest.approx(3.5)),
    ]


def test_a_mapped_field_replaces_the_usual_one_in_each_format() -> None:
    state = {"temperature": 23.9, "external_temperature": "4.1", "battery": 90}
    rows, dropped = mapped("zigbee2mqtt/probe-ext", state)
    assert rows == [
        ("ambient_temp_c", NOW, 23.9),
        ("battery_pct", NOW, 90.0),
        ("temp_c", NOW, 4.1),
    ]
    assert not dropped
    both = {"temperature:100": {"id": 100, "tC": 3.9}, "temperature:101": {"id": 101, "tC": 22}}
    frame = {"method": "NotifyStatus", "params": {"ts": NOW / 1000, **both}}
    rows, _ = mapped("shellyplus1-addon/events/rpc", frame)
    assert rows == [("ambient_temp_c", NOW, 22.0), ("temp_c", NOW, 3.9)]
    # NotifyStatus carries what changed: the kitchen probe alone is not the cabinet's air.
    frame["params"] = {"ts": NOW / 1000, "temperature:101": {"id": 101, "tC": 22.5}}
    assert mapped("shellyplus1-addon/events/rpc", frame) == ([("ambient_temp_c", NOW, 22.5)], ())


def test_a_mapped_field_missing_or_bad_is_said_and_costs_only_what_it_must() -> None:
    # A probe fallen off the bus (or a misspelt name): the rest is stored, the absence noted.
    one = {"Time": "2025-11-25T00:00:00", "DS18B20-1": {"Temperature": 3.4}}
    rows, dropped = mapped("tele/two-probe/SENSOR", one)
    assert rows == [("temp_c", NOW, 3.4)]
    assert dropped == (
        "DS18B20-2 is not in the message (source.fields maps DS18B20-2.Temperature to "
        "ambient_temp_c)",
    )
    flat = {**one, "DS18B20-2": 24.5}
    assert mapped("tele/two-probe/SENSOR", flat)[1] == (
        "DS18B20-2 is float, not an object (source.fields maps DS18B20-2.Temperature to "
        "ambient_temp_c)",
    )
    # A bad value of a mapped primary metric refuses the message, naming the field.
    bad = {**one, "DS18B20-2": {"Temperature": "hot"}}
    with pytest.raises(PayloadError, match=r"DS18B20-2\.Temperature must be a number, got str"):
        mapped("tele/two-probe/SENSOR", bad)
    far = {**one, "DS18B20-2": {"Temperature": 1e9}}
    with pytest.raises(PayloadError, match="outside what a sensor can report"):
        mapped("tele/two-probe/SENSOR", far)
    # Zigbee2MQTT's null (a property not heard yet) is no reading and no note.
    rows, dropped = mapped(
        "zigbee2mqtt/probe-ext", {"temperature": 23.9, "external_temperature": None}
    )
    assert rows == [("ambient_temp_c", NOW, 23.9)] and not dropped
