"""Meter registers that reset, are replaced or roll over: the day's use worked out by hand,
never a negative value, never a spike; what cannot be explained is held for review."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core import DeviceEvent
from core.model import Carrier
from energy.periods import ReportPeriod
from energy.report import EnergyReport, MeterDay, build_report
from ingest import DuckDBStore
from ingest.store import PairKind
from tests.energy.conftest import Meters, constant, local, school

DAY = date(2026, 10, 20)  # a Tuesday in term


def meter_day(report: EnergyReport, meter: str) -> MeterDay:
    [row] = [d for d in report.meter_days if d.meter == meter and d.day == DAY]
    return row


def with_counter(device: str, **counter: object) -> list[dict[str, object]]:
    devices = [d.model_dump(exclude_defaults=True) for d in school().devices]
    for d in devices:
        if d["id"] == device:
            d["counter"] = counter
    return devices


def test_declared_reset_counts_from_zero(store: DuckDBStore, meters: Meters) -> None:
    # 4 kW: 1 kWh per 15 min. The register is cleared at 10:00 (declared, no final reading):
    # the 10:00 reading is 0, and 09:45-10:00 is unknown (one step, 1 kWh, not booked).
    reset_at = local(DAY, 10)
    meters.write(
        "elec-t",
        "energy_kwh",
        DAY,
        DAY,
        constant(4.0),
        start=5000.0,
        shown=lambda t, v: v - (5000.0 + 40) if t >= reset_at else v,
    )
    devices = with_counter("elec-t", resets=[{"at": reset_at.isoformat(), "kind": "reset"}])
    report = build_report(school(devices=devices), store, ReportPeriod.day(DAY))
    day = meter_day(report, "elec-t")
    assert day.measured == 95.0
    assert day.completeness == pytest.approx(95 / 96)
    [step] = [s.step for s in report.steps if s.meter.id == "elec-t"][:1]
    assert (step.kind, step.usage, step.start) == (
        PairKind.RESET,
        None,
        reset_at - timedelta(minutes=15),
    )


def test_replacement_event_with_final_reading_loses_nothing(
    store: DuckDBStore, meters: Meters
) -> None:
    # The meter is swapped at 14:05; the old register read 5056.3333 (its 14:00 reading 5056
    # plus 5 min at 4 kW); the new one starts at 12.5, so at 14:15 it reads 12.5 + 10 min.
    swap = local(DAY, 14, 5)
    old_final = 5000.0 + 56 + 4 * 5 / 60
    meters.write(
        "elec-t",
        "energy_kwh",
        DAY,
        DAY,
        constant(4.0),
        start=5000.0,
        shown=lambda t, v: v - old_final + 12.5 if t > swap else v,
    )
    event = DeviceEvent(
        "test-school",
        "elec-t",
        int(swap.timestamp() * 1000),
        "meter_replaced",
        {"start": 12.5, "final": old_final},
    )
    store.write_events([event])
    report = build_report(school(), store, ReportPeriod.day(DAY))
    assert meter_day(report, "elec-t").measured == pytest.approx(96.0)
    assert meter_day(report, "elec-t").completeness == 1.0
    kinds = [
        (s.step.kind, round(s.step.usage or 0, 6)) for s in report.steps if s.meter.id == "elec-t"
    ]
    assert kinds == [
        (PairKind.RESET, round(4 * 5 / 60, 6)),
        (PairKind.RESET, round(4 * 10 / 60, 6)),
    ]


def test_undeclared_replacement_is_held_for_review_not_booked(
    store: DuckDBStore, meters: Meters
) -> None:
    swap = local(DAY, 14, 5)
    meters.write(
        "elec-t",
        "energy_kwh",
        DAY,
        DAY,
        constant(4.0),
        start=5000.0,
        shown=lambda t, v: v - 5000.0 if t > swap else v,
    )
    report = build_report(school(), store, ReportPeriod.day(DAY))
    day = meter_day(report, "elec-t")
    assert day.measured == 95.0 and day.completeness == pytest.approx(95 / 96)
    [step] = [s.step for s in report.steps if s.meter.id == "elec-t"]
    assert (step.kind, step.usage) == (PairKind.DECREASE, None)
    assert step.kind.for_review


def test_rollover_is_plain_use(store: DuckDBStore, meters: Meters) -> None:
    # A 5-digit register at 99 950 kWh; at 4 kW it passes 100 000 at 12:30.
    meters.write(
        "elec-t",
        "energy_kwh",
        DAY,
        DAY,
        constant(4.0),
        start=99_950.0,
        shown=lambda _t, v: v % 100_000,
    )
    devices = with_counter("elec-t", modulus=100_000, max_rate=50)
    report = build_report(school(devices=devices), store, ReportPeriod.day(DAY))
    assert meter_day(report, "elec-t").measured == pytest.approx(96.0)
    [step] = [s.step for s in report.steps if s.meter.id == "elec-t"]
    assert step.kind is PairKind.ROLLOVER and step.end == local(DAY, 12, 30)


def test_multiplier_scales_the_register(store: DuckDBStore, meters: Meters) -> None:
    # Behind a 50/5 current transformer the register turns 10 times slower than the use.
    meters.write("elec-t", "energy_kwh", DAY, DAY, constant(0.4), start=10.0)
    devices = with_counter("elec-t", multiplier=10)
    report = build_report(school(devices=devices), store, ReportPeriod.day(DAY))
    assert meter_day(report, "elec-t").measured == pytest.approx(96.0)


def test_impossible_jump_is_held_for_review(store: DuckDBStore, meters: Meters) -> None:
    glitch = local(DAY, 9)
    meters.write(
        "elec-t",
        "energy_kwh",
        DAY,
        DAY,
        constant(4.0),
        start=100.0,
        shown=lambda t, v: v + 10_000 if t >= glitch else v,
    )
    devices = with_counter("elec-t", max_rate=50)
    report = build_report(school(devices=devices), store, ReportPeriod.day(DAY))
    assert meter_day(report, "elec-t").measured == 95.0
    [step] = [s.step for s in report.steps if s.meter.id == "elec-t"]
    assert (step.kind, step.usage, step.end) == (PairKind.JUMP, None, glitch)
    assert all(d.measured >= 0 for d in report.meter_days)


def test_water_meter_reset_in_cubic_metres(store: DuckDBStore, meters: Meters) -> None:
    # 1.2 m³/h = 0.3 m³ per 15 min; cleared at 03:12 by a firmware update and declared by an
    # event with no final reading: 03:00-03:12 is unknown, 03:12-03:15 counts from 0.
    cleared = local(DAY, 3, 12)
    meters.write(
        "water-t",
        "water_m3",
        DAY,
        DAY,
        constant(1.2),
        start=300.0,
        shown=lambda t, v: v - (300.0 + 3.6 + 1.2 * 12 / 60) if t > cleared else v,
    )
    event = DeviceEvent(
        "test-school", "water-t", int(cleared.timestamp() * 1000), "meter_reset", {}
    )
    store.write_events([event])
    report = build_report(school(), store, ReportPeriod.day(DAY))
    day = meter_day(report, "water-t")
    assert day.carrier is Carrier.WATER
    assert day.measured == pytest.approx(28.8 - 1.2 * 12 / 60)
    assert day.completeness == pytest.approx(1 - 12 / (24 * 60))
