"""A month with a meter offline for two days: the gap stays a gap with its known total, the
completeness says how much was measured; sub-meters and what they leave unaccounted."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from energy.periods import ReportPeriod
from energy.report import EnergyReport, LineRole, ReportLine, build_report
from ingest import DuckDBStore
from tests.energy.conftest import Meters, constant, local, school

OCTOBER = ReportPeriod.month(2026, 10)
OFF, BACK = local(date(2026, 10, 12)), local(date(2026, 10, 14))


def lines(report: EnergyReport, building: str, carrier: str) -> dict[str, ReportLine]:
    out = {}
    for line in report.lines:
        if line.building and line.building.id == building and line.carrier.value == carrier:
            key = line.role.value if line.role is not LineRole.SUB else line.category.value  # type: ignore[union-attr]
            out[key] = line
    return out


def offline_then_slower(t: datetime) -> float:
    """4 kW, but 2 kW while the meter is offline (nobody sees it; only the total is known)."""
    return 2.0 if OFF <= t < BACK else 4.0


def test_month_with_a_meter_offline_for_two_days(store: DuckDBStore, meters: Meters) -> None:
    meters.write(
        "elec-t",
        "energy_kwh",
        date(2026, 10, 1),
        date(2026, 10, 31),
        offline_then_slower,
        start=20_000.0,
        silent=lambda t: OFF < t < BACK,
    )
    report = build_report(school(), store, OCTOBER)
    total = lines(report, "teaching", "electricity")["total"]
    # 29 measured days at 96 kWh, and the gap's 48 h × 2 kW = 96 kWh known only in total.
    assert total.current.consumption == pytest.approx(29 * 96 + 96)
    assert total.current.across_gaps == pytest.approx(96.0)
    assert total.current.completeness == pytest.approx(29 / 31)
    days = {d.day.day: d for d in report.meter_days if d.meter == "elec-t"}
    assert [days[d].completeness for d in (11, 12, 13, 14)] == [1.0, 0.0, 0.0, 1.0]
    assert days[12].measured == days[13].measured == 0.0
    assert days[12].across_gaps == 0.0  # the gap spans two days: in the month, not in a day
    [gap] = [s for s in report.steps if s.meter.id == "elec-t"]
    assert (gap.step.gap, gap.step.usage, gap.step.start, gap.step.end) == (True, 96.0, OFF, BACK)
    # Its cost has no time of use: priced at the flat price and shown as estimated.
    assert total.current.cost_estimated == pytest.approx(96 * 0.65)
    # September and October 2025 have no data: no comparison rather than -100 %.
    assert total.previous is None and total.change_previous_pct is None
    assert total.year_before is None and total.change_year_pct is None


def test_a_gap_inside_one_day_is_booked_to_that_day(store: DuckDBStore, meters: Meters) -> None:
    day = date(2026, 10, 20)
    meters.write(
        "elec-t",
        "energy_kwh",
        day,
        day,
        constant(4.0),
        silent=lambda t: local(day, 9) < t < local(day, 12),
    )
    report = build_report(school(), store, ReportPeriod.day(day))
    [row] = [d for d in report.meter_days if d.meter == "elec-t"]
    assert (row.measured, row.across_gaps, row.completeness) == (84.0, 12.0, pytest.approx(0.875))
    assert lines(report, "teaching", "electricity")["total"].current.consumption == 96.0


def test_sub_meters_and_the_unaccounted_rest(store: DuckDBStore, meters: Meters) -> None:
    week = ReportPeriod.week(date(2026, 10, 19))
    first, last = week.first, week.last
    meters.write("elec-t", "energy_kwh", first, last, constant(10.0))
    meters.write("elec-t-light", "energy_kwh", first, last, constant(3.0))
    meters.write("elec-t-hvac", "energy_kwh", first, last, constant(5.0))
    report = build_report(school(), store, week)
    teaching = lines(report, "teaching", "electricity")
    assert teaching["total"].current.consumption == 7 * 240.0
    assert teaching["lighting_sockets"].current.consumption == 7 * 72.0
    assert teaching["lighting_sockets"].share_pct == pytest.approx(30.0)
    assert teaching["hvac"].share_pct == pytest.approx(50.0)
    rest = teaching["unaccounted"]
    assert rest.current.consumption == pytest.approx(7 * 48.0) and rest.share_pct == pytest.approx(
        20.0
    )
    assert rest.current.cost == pytest.approx(teaching["total"].current.cost * 0.2)  # type: ignore[operator]
    site = [x for x in report.lines if x.building is None and x.carrier.value == "electricity"]
    assert [x.current.consumption for x in site] == [7 * 240.0]  # main meters only, never subs


def test_change_against_the_previous_period(store: DuckDBStore, meters: Meters) -> None:
    meters.write("elec-t", "energy_kwh", date(2026, 10, 12), date(2026, 10, 18), constant(4.0))
    last = meters.write(
        "elec-t",
        "energy_kwh",
        date(2026, 10, 19),
        date(2026, 10, 25),
        constant(5.0),
        start=7 * 96.0,
    )
    assert last == 7 * 96 + 7 * 120 + 1.25  # the reading after the last day closes it
    report = build_report(school(), store, ReportPeriod.week(date(2026, 10, 19)))
    total = lines(report, "teaching", "electricity")["total"]
    assert total.previous is not None and total.previous.consumption == pytest.approx(7 * 96.0)
    assert total.change_previous_pct == pytest.approx(25.0)
