"""Cost under time-of-use tariffs, by hand: a day crossing every period, seasons, tiers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.energy_model import Tariff, TariffPeriod
from energy.periods import ReportPeriod
from energy.report import EnergyReport, LineRole, ReportLine, build_report
from energy.tariffs import PERIODS, tiered_cost
from ingest import DuckDBStore
from tests.energy.conftest import Meters, constant, school

JULY_15 = date(2026, 7, 15)


def line(
    report: EnergyReport, building: str | None, carrier: str, role: LineRole = LineRole.TOTAL
) -> ReportLine:
    for candidate in report.lines:
        b = candidate.building.id if candidate.building else None
        if b == building and candidate.carrier.value == carrier and candidate.role is role:
            return candidate
    raise AssertionError(f"no {role} line for {building} {carrier}")


def test_a_summer_day_crosses_every_period(store: DuckDBStore, meters: Meters) -> None:
    # 4 kW all day. July has critical peak 11-12 and 15-17 inside the peak bands, so:
    # valley 0-8 = 8 h, flat 8-10, 12-14, 19-24 = 9 h, peak 10-11, 14-15, 17-19 = 4 h,
    # critical 11-12, 15-17 = 3 h.
    meters.write("elec-t", "energy_kwh", JULY_15, JULY_15, constant(4.0), start=1000.0)
    report = build_report(school(), store, ReportPeriod.day(JULY_15))
    teaching = line(report, "teaching", "electricity")
    use = dict(zip(PERIODS, teaching.current.use_by_period, strict=True))
    assert use == {
        TariffPeriod.CRITICAL_PEAK: 12.0,
        TariffPeriod.PEAK: 16.0,
        TariffPeriod.FLAT: 36.0,
        TariffPeriod.VALLEY: 32.0,
    }
    # flat 0.65; peak 0.65 × 1.7 = 1.105; valley 0.65 × 0.38 = 0.247; critical 1.105 × 1.25
    cost = dict(zip(PERIODS, teaching.current.cost_by_period, strict=True))
    assert cost == pytest.approx(
        {
            TariffPeriod.CRITICAL_PEAK: 12 * 1.38125,
            TariffPeriod.PEAK: 16 * 1.105,
            TariffPeriod.FLAT: 36 * 0.65,
            TariffPeriod.VALLEY: 32 * 0.247,
        }
    )
    assert teaching.current.consumption == 96.0
    assert teaching.current.cost == pytest.approx(65.559)
    assert teaching.current.completeness == 1.0
    assert teaching.per_m2 == pytest.approx(96 / 2000) and teaching.per_occupant == pytest.approx(
        0.24
    )


def test_outside_the_critical_months_the_windows_are_plain_peak(
    store: DuckDBStore, meters: Meters
) -> None:
    day = date(2026, 10, 14)
    meters.write("elec-t", "energy_kwh", day, day, constant(4.0))
    report = build_report(school(), store, ReportPeriod.day(day))
    use = line(report, "teaching", "electricity").current.use_by_period
    assert use == (0.0, 28.0, 36.0, 32.0)  # peak 10-12 and 14-19 = 7 h


def test_a_declared_hot_day_gets_critical_peak(store: DuckDBStore, meters: Meters) -> None:
    # Guangdong: also on days forecast at 35 °C or more, declared under critical_peak.dates.
    hot = date(2026, 10, 14)
    tariffs = [t.model_dump() for t in school().tariffs]
    tariffs[0]["critical_peak"]["dates"] = [hot]
    meters.write("elec-t", "energy_kwh", hot, hot + timedelta(days=1), constant(4.0))
    config = school(tariffs=tariffs)
    on_the_day = build_report(config, store, ReportPeriod.day(hot))
    next_day = build_report(config, store, ReportPeriod.day(hot + timedelta(days=1)))
    assert line(on_the_day, "teaching", "electricity").current.use_by_period == (
        12.0,
        16.0,
        36.0,
        32.0,
    )
    assert line(next_day, "teaching", "electricity").current.use_by_period == (
        0.0,
        28.0,
        36.0,
        32.0,
    )


def test_tiered_water_is_priced_on_the_months_volume(store: DuckDBStore, meters: Meters) -> None:
    # 0.5 m³/h = 12 m³ a day. Tier 1 ends at 100 m³ a month (4.0), above costs 6.0.
    first, last = date(2026, 10, 1), date(2026, 10, 10)
    meters.write("water-t", "water_m3", first, last, constant(0.5))
    report = build_report(school(), store, ReportPeriod.day(date(2026, 10, 9)))
    water = line(report, "teaching", "water")
    # Oct 1-8 used 96 m³; on the 9th 4 m³ fall in tier 1 and 8 m³ in tier 2.
    assert water.current.consumption == 12.0
    assert water.current.cost == pytest.approx(4 * 4.0 + 8 * 6.0)


def test_tiered_cost_crosses_tiers() -> None:
    tiers = Tariff.model_validate(
        {
            "id": "w",
            "name": "w",
            "carrier": "water",
            "tiers": [{"up_to": 10, "price": 1.0}, {"up_to": 20, "price": 2.0}, {"price": 5.0}],
        }
    ).tiers
    assert tiered_cost(tiers, 0, 5) == 5.0
    assert tiered_cost(tiers, 8, 15) == 2 * 1.0 + 10 * 2.0 + 3 * 5.0
    assert tiered_cost(tiers, 30, 1) == 5.0
