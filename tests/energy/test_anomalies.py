"""Anomalies against baselines of like days: a leak at night, air conditioning left on over a
holiday, a night base load that grew, gas burning outside service hours."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core.config import SiteConfig
from energy import AnomalyKind, EnergyAnomaly, Severity, find_anomalies
from ingest import DuckDBStore
from tests.energy.conftest import ZONE, Meters, local, school

SEPT_1 = date(2026, 9, 1)
OCT_31 = date(2026, 10, 31)


def school_load(t: datetime) -> float:
    """2 kW base load; 20 kW 08:00-18:00 on school days (term from 09-01, National Day off)."""
    day = t.date()
    school_day = day.weekday() < 5 and not date(2026, 10, 1) <= day <= date(2026, 10, 7)
    return 20.0 if school_day and 8 <= t.hour < 18 else 2.0


def find(config: SiteConfig, store: DuckDBStore, first: date, last: date) -> list[EnergyAnomaly]:
    return find_anomalies(config, store, first, last)


def test_air_conditioning_left_on_over_the_holiday(store: DuckDBStore, meters: Meters) -> None:
    holiday = date(2026, 10, 3)

    def load(t: datetime) -> float:
        left_on = t.date() == holiday and 9 <= t.hour < 17
        return school_load(t) + (10.0 if left_on else 0.0)

    meters.write("elec-t", "energy_kwh", SEPT_1, OCT_31, load)
    [anomaly] = find(school(), store, date(2026, 10, 1), date(2026, 10, 7))
    assert anomaly.kind is AnomalyKind.HOLIDAY_BASE_LOAD and anomaly.device == "elec-t"
    # Daytime (05:00-23:00, 18 h): 2 kW + 10 kW for 8 h = 116 kWh, a mean of 6.44 kW, against
    # 2 kW on the days without school in the 28 before: 8 weekend days and October 1-2.
    assert anomaly.use == pytest.approx(116.0)
    assert anomaly.observed == pytest.approx(116 / 18)
    assert anomaly.baseline == pytest.approx(2.0)
    assert anomaly.reference_days == 10
    assert (anomaly.start, anomaly.end) == (local(holiday, 9), local(holiday, 17))
    assert anomaly.severity is Severity.WARNING  # 4.4 kW over; critical from 3 × 2 kW
    assert "6.44 kW" in anomaly.evidence("en", ZONE) and "基线 2.00 kW" in anomaly.evidence("zh")
    assert anomaly.rule == "energy.holiday_base_load"


def test_night_base_load_above_like_nights(store: DuckDBStore, meters: Meters) -> None:
    night_of = date(2026, 10, 20)

    def load(t: datetime) -> float:
        evening = local(night_of, 23) <= t < local(night_of + timedelta(days=1), 5)
        return school_load(t) + (12.0 if evening else 0.0)

    meters.write("elec-t", "energy_kwh", SEPT_1, OCT_31, load)
    [anomaly] = find(school(), store, date(2026, 10, 19), date(2026, 10, 25))
    assert anomaly.kind is AnomalyKind.NIGHT_BASE_LOAD
    assert anomaly.use == pytest.approx(6 * 14.0)  # 23:00-05:00 at 14 kW
    assert (anomaly.observed, anomaly.baseline) == (pytest.approx(14.0), pytest.approx(2.0))
    assert anomaly.severity is Severity.CRITICAL  # 12 kW over, more than 3 × 2 kW
    assert anomaly.start == local(night_of, 23)
    assert anomaly.end == local(night_of + timedelta(days=1), 5)


def test_leak_shows_as_water_that_never_stops_at_night(store: DuckDBStore, meters: Meters) -> None:
    leak_from = local(date(2026, 10, 20), 22)

    def water(t: datetime) -> float:
        use = 0.4 if 8 <= t.hour < 18 and t.weekday() < 5 else 0.0
        return use + (0.1 if t >= leak_from else 0.0)

    meters.write("water-t", "water_m3", SEPT_1, OCT_31, water)
    # Four nights in the week (20th to 23rd) leak; one leak, one record.
    [leak] = find(school(), store, date(2026, 10, 19), date(2026, 10, 23))
    assert leak.kind is AnomalyKind.NIGHT_WATER_FLOW and leak.device == "water-t"
    assert (leak.start, leak.end, leak.days) == (
        local(date(2026, 10, 20), 23),
        local(date(2026, 10, 24), 5),
        4,
    )
    # 23:00-05:00 at 0.1 m³/h is 0.6 m³ a night; the minimum night flow is the leak itself.
    assert leak.use == pytest.approx(4 * 0.6)
    assert leak.observed == pytest.approx(0.1)
    assert leak.severity is Severity.CRITICAL  # ≥ 3 × the 0.02 m³/h threshold
    assert "(4 days)" in leak.evidence("en", ZONE) and "0.10 m³/h" in leak.evidence("en", ZONE)


def test_gas_burning_outside_service_hours(store: DuckDBStore, meters: Meters) -> None:
    # Lunch 11:30-12:30: the kitchen may run 10:00-13:30 (90 min before, 60 min after).
    forgotten = date(2026, 10, 21)

    def gas(t: datetime) -> float:
        cooking = (
            t.weekday() < 5
            and 10 <= t.hour < 13
            and not date(2026, 10, 1) <= t.date() <= date(2026, 10, 7)
        )
        burner_left_on = t.date() == forgotten and 15 <= t.hour < 18
        return (8.0 if cooking else 0.0) + (4.0 if burner_left_on else 0.0)

    meters.write("gas-c", "gas_m3", SEPT_1, OCT_31, gas)
    [anomaly] = find(school(), store, date(2026, 10, 19), date(2026, 10, 23))
    assert anomaly.kind is AnomalyKind.KITCHEN_OFF_HOURS and anomaly.device == "gas-c"
    assert anomaly.use == pytest.approx(12.0)  # 3 h at 4 m³/h
    assert (anomaly.start, anomaly.end) == (local(forgotten, 15), local(forgotten, 18))
    assert anomaly.unit == "m³/h"


def test_no_baseline_no_verdict(store: DuckDBStore, meters: Meters) -> None:
    # Two days of data cannot make a baseline of like days: nothing is claimed.
    meters.write("elec-t", "energy_kwh", date(2026, 10, 19), date(2026, 10, 20), lambda _t: 50.0)
    assert find(school(), store, date(2026, 10, 19), date(2026, 10, 20)) == []


def test_steady_school_raises_nothing(store: DuckDBStore, meters: Meters) -> None:
    meters.write("elec-t", "energy_kwh", SEPT_1, OCT_31, school_load)
    assert find(school(), store, date(2026, 10, 1), OCT_31) == []


def test_an_anomalous_night_never_becomes_baseline(store: DuckDBStore, meters: Meters) -> None:
    # From 10-05 on, 10 kW more every night: were each night's baseline learned from the
    # nights before it, the excess would become normal within days; it stays one anomaly.
    def load(t: datetime) -> float:
        late = t >= local(date(2026, 10, 5), 23) and (t.hour >= 23 or t.hour < 5)
        return school_load(t) + (10.0 if late else 0.0)

    meters.write("elec-t", "energy_kwh", SEPT_1, OCT_31, load)
    nights = [
        a
        for a in find(school(), store, date(2026, 10, 1), date(2026, 10, 30))
        if a.kind is AnomalyKind.NIGHT_BASE_LOAD
    ]
    assert [(a.start, a.days) for a in nights] == [(local(date(2026, 10, 5), 23), 26)]
