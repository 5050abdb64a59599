"""The site's meters as a hierarchy (building → main meter → sub-meters) and what the store
needs to read their counters: register facts from the config, resets from config and events.

A meter replacement or reset is declared in the config (`counter.resets`) or by an event of
kind `meter_replaced` / `meter_reset` on the meter's event topic, whose data may carry `start`
(the new register's first value, default 0) and `final` (the old register's last value).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import utc_from_ms
from core.config import SiteConfig
from core.energy_model import Tariff
from core.model import Building, Carrier, Device, MeterCategory, MeterCounter
from core.readings import DeviceEvent
from ingest.store import CounterMark, CounterSpec, SiteStore

__all__ = ["METER_EVENT_KINDS", "Meter", "counter_specs", "site_meters"]

log = logging.getLogger(__name__)

METER_EVENT_KINDS = ("meter_replaced", "meter_reset")


@dataclass(frozen=True, slots=True)
class Meter:
    device: Device
    building: Building
    carrier: Carrier
    category: MeterCategory
    children: tuple[str, ...]
    tariff: Tariff | None

    @property
    def id(self) -> str:
        return self.device.id

    @property
    def is_main(self) -> bool:
        return self.device.parent is None


def site_meters(config: SiteConfig) -> list[Meter]:
    """Every meter of the site in config order, with its building, children and tariff."""
    buildings = {b.id: b for b in config.buildings}
    children: dict[str, list[str]] = {}
    for device in config.devices:
        if device.parent is not None:
            children.setdefault(device.parent, []).append(device.id)
    meters = []
    for device in config.devices:
        carrier = device.kind.carrier
        category = device.meter_category
        if carrier is None or category is None:
            continue
        meters.append(
            Meter(
                device=device,
                building=buildings[device.building],
                carrier=carrier,
                category=category,
                children=tuple(children.get(device.id, ())),
                tariff=_tariff_of(config, device, carrier),
            )
        )
    return meters


def _tariff_of(config: SiteConfig, device: Device, carrier: Carrier) -> Tariff | None:
    """The device's own tariff, else its parent's, else the site's first for the carrier."""
    node: Device | None = device
    while node is not None:
        if node.tariff is not None:
            return next(t for t in config.tariffs if t.id == node.tariff)
        node = config.device(node.parent) if node.parent else None
    return next((t for t in config.tariffs if t.carrier is carrier), None)


def counter_specs(
    config: SiteConfig, meters: Sequence[Meter], store: SiteStore, start: datetime, end: datetime
) -> list[CounterSpec]:
    """What the store needs to read each meter's counter over [start, end)."""
    reach = timedelta(days=config.energy.bridge_days)
    events = store.device_events(config.site.id, METER_EVENT_KINDS, start - reach, end + reach)
    declared: dict[str, list[CounterMark]] = {}
    for event in events:
        mark = _mark_of(event)
        if mark is not None:
            declared.setdefault(event.device, []).append(mark)
    return [_spec(config, meter, declared.get(meter.id, [])) for meter in meters]


def _spec(config: SiteConfig, meter: Meter, events: list[CounterMark]) -> CounterSpec:
    counter = meter.device.counter or MeterCounter()
    marks = [CounterMark(r.at, r.start, r.final) for r in counter.resets]
    return CounterSpec(
        device=meter.id,
        metric=meter.carrier.metric,
        multiplier=counter.multiplier,
        modulus=counter.modulus,
        max_rate_per_h=counter.max_rate,
        resolution=counter.resolution,
        gap_s=config.energy.gap_intervals * meter.device.interval_s,
        marks=tuple(sorted([*marks, *events], key=lambda m: m.at)),
    )


def _mark_of(event: DeviceEvent) -> CounterMark | None:
    start = _as_number(event.data.get("start", 0.0))
    final = _as_number(event.data.get("final"))
    if start is None or (event.data.get("final") is not None and final is None):
        log.warning(
            "ignored %s event of %s at %s: start and final must be numbers, got %r",
            event.kind,
            event.device,
            utc_from_ms(event.ts_ms).isoformat(),
            event.data,
        )
        return None
    return CounterMark(utc_from_ms(event.ts_ms), start, final)


def _as_number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
