"""What the simulator puts on the wire in each format comes back through the gateway's adapter
as the same readings the canonical payload gives; and the schedule that drives a bridge keeps
every device on its own grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import DeviceSource, ReadingBatchBuilder, SiteConfig
from core.clock import to_epoch_ms
from core.topics import TopicScheme
from firmware_sim import build_model
from firmware_sim.schedule import LagStats, Schedule, instant_of
from firmware_sim.wire import wire_for
from gateway import TimeWindow, decode_telemetry
from gateway.adapters import ForeignRouter, MessageKind

# 11:00-13:00 in Shanghai on a school day: lunch, doors opening, cabinets running.
START = datetime(2024, 11, 25, 3, 0, tzinfo=UTC)
WINDOW = TimeWindow(to_epoch_ms(START + timedelta(hours=3)), 300_000, 86_400_000)
# What each format can carry of what our devices report.
CARRIED = {
    "zigbee2mqtt": {"temp_c", "door_open", "power_w", "energy_kwh", "humidity_pct", "battery_pct"},
    "tasmota": {"temp_c", "power_w", "energy_kwh", "voltage_v"},
    "shelly_gen2": {"temp_c", "power_w", "energy_kwh", "voltage_v", "humidity_pct", "battery_pct"},
}
KINDS = ("fridge", "freezer", "steam_cabinet", "electricity_meter")

Rows = list[tuple[str, int, float]]


def site(fmt: str) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"id": "wire-school", "name": "Wire School"},
            "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
            "meals": [{"name": "lunch", "start": "11:40", "end": "12:40"}],
            "devices": [
                {
                    "id": f"{kind}-1",
                    "kind": kind,
                    "building": "canteen",
                    "interval_s": 30,
                    "source": {"format": fmt, "id": f"{fmt}-{kind}"},
                }
                for kind in KINDS
            ],
        }
    )


def round_trip(config: SiteConfig, device_id: str) -> tuple[Rows, Rows]:
    """Two hours of one device's readings: (through its foreign wire and the adapter, through
    the canonical wire and codec), the canonical ones cut to what the format carries."""
    device = config.device(device_id)
    assert device is not None
    topics, zone = TopicScheme(), config.site.zone
    foreign_wire = wire_for(device, topics, config.site.id, zone)
    plain = device.model_copy(update={"source": DeviceSource()})
    canonical_wire = wire_for(plain, topics, config.site.id, zone)
    router = ForeignRouter(config)
    model = build_model(config, device, seed=5)
    foreign_out, canonical_out = ReadingBatchBuilder(), ReadingBatchBuilder()
    for step in range(240):
        at = START + timedelta(seconds=30 * step)
        ts_ms, metrics = to_epoch_ms(at), model.step_to(at)
        message = foreign_wire.telemetry(at, ts_ms, step, metrics)
        if message is not None:
            found = router.route(message[0])
            assert found is not None and found.device == device_id
            assert found.kind is MessageKind.TELEMETRY
            found.adapter.decode_telemetry(message[1], device_id, WINDOW, foreign_out)
        plain_message = canonical_wire.telemetry(at, ts_ms, step, metrics)
        assert plain_message is not None
        decode_telemetry(plain_message[1], config.site.id, device_id, WINDOW, canonical_out)
    carried = CARRIED[device.source.format.value]
    canonical = [(r.metric, r.ts_ms, r.value) for r in canonical_out.build() if r.metric in carried]
    return sorted((r.metric, r.ts_ms, r.value) for r in foreign_out.build()), sorted(canonical)


@pytest.mark.parametrize("fmt", sorted(CARRIED))
@pytest.mark.parametrize("kind", KINDS)
def test_each_format_decodes_to_the_canonical_readings(fmt: str, kind: str) -> None:
    foreign, canonical = round_trip(site(fmt), f"{kind}-1")
    assert canonical, "the device reported something the format carries"
    # Exact, Shelly's Wh -> kWh included: meters report whole Wh, and x * 1000 / 1000 == x then.
    assert foreign == canonical


def test_foreign_presence_matches_the_adapter() -> None:
    for fmt in CARRIED:
        config = site(fmt)
        device = config.devices[0]
        presence = wire_for(device, TopicScheme(), config.site.id, config.site.zone).presence
        found = ForeignRouter(config).route(presence.topic)
        assert found is not None and found.kind is MessageKind.PRESENCE, fmt
        assert found.adapter.decode_presence(presence.online) is True
        assert found.adapter.decode_presence(presence.offline) is False


def test_schedule_keeps_each_device_on_its_grid_and_catches_up() -> None:
    schedule = Schedule()
    schedule.add(0, 1_000, 30_000)
    schedule.add(1, 5_000, 15_000)
    schedule.add(2, 0, 60_000)
    assert schedule.next_due() == 0
    assert list(schedule.pop_due(0)) == [(0, 2)]
    # A process that fell 40 s behind takes every missed reading, in time order.
    assert list(schedule.pop_due(40_000)) == [
        (1_000, 0),
        (5_000, 1),
        (20_000, 1),
        (31_000, 0),
        (35_000, 1),
    ]
    schedule.remove(1)
    assert list(schedule.pop_due(70_000)) == [(60_000, 2), (61_000, 0)]
    assert len(schedule) == 2 and schedule.next_due() == 91_000
    assert instant_of(1_732_420_800_001) == datetime(2024, 11, 24, 4, 0, 0, 1000, tzinfo=UTC)


def test_lag_stats_are_bounded_and_ordered() -> None:
    lag = LagStats()
    for ms in [5] * 98 + [150, 4_000]:
        lag.observe(ms)
    assert lag.count == 100 and lag.max_ms == 4_000
    assert lag.quantile_ms(0.5) == 10
    assert lag.quantile_ms(0.99) == 200
    assert lag.quantile_ms(1.0) == 4_000
    lag.reset()
    assert lag.count == 0 and lag.quantile_ms(0.99) == 0.0
