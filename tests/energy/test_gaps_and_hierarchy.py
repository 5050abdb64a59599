"""A month with a meter offline for two days: the gap stays a gap with its known total, the
completeness says how much was measured; sub-meters and what they leave unaccounted."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from energy.periods import ReportPeriod
from energy.report import EnergyReport, LineRole, ReportLine, build_report
from energy.submetering import LineStatus, WarningKind
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
    # Its cost is spread by the meter's own profile on comparable days (school days 8-9 and
    # 15-31 at a constant 4 kW): 2 kW over Mon 00:00 to Wed 00:00 is 16 h valley, 18 h flat,
    # 14 h peak (Guangdong bands), so 2 × (16 × 0.247 + 18 × 0.65 + 14 × 1.105) = 62.244 CNY
    # rather than 96 kWh at the flat 0.65; shown as estimated.
    assert total.current.cost_estimated == pytest.approx(62.244)
    assert total.current.gap_bases == ("profile",)
    assert total.current.gap_use_by_period == pytest.approx((0.0, 28.0, 36.0, 32.0))
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
    total = lines(report, "teaching", "electricity")["total"].current
    assert total.consumption == 96.0
    # No other day of data, so no comparable day: the gap falls back to the flat price.
    assert total.gap_bases == ("flat",)
    assert total.cost_estimated == pytest.approx(12 * 0.65)


def canteen_day(t: datetime) -> float:
    """Kitchen load: 10 kW from 10:00 to 14:00 on school days, 1 kW at any other time."""
    school_day = t.weekday() < 5
    return 10.0 if school_day and 10 <= t.hour < 14 else 1.0


def test_use_across_a_gap_is_priced_by_the_meter_profile_on_comparable_days(
    store: DuckDBStore, meters: Meters
) -> None:
    week = ReportPeriod.week(date(2026, 10, 19))
    wednesday, saturday = date(2026, 10, 21), date(2026, 10, 24)
    meters.write(
        "elec-c",
        "energy_kwh",
        date(2026, 10, 12),
        week.last,
        canteen_day,
        silent=lambda t: any(local(d, 9) < t < local(d, 15) for d in (wednesday, saturday)),
    )
    report = build_report(school(), store, week)
    total = lines(report, "canteen", "electricity")["total"].current
    # Wednesday 09:00-15:00: 1 + 40 + 1 = 42 kWh across the gap. The school-day profile puts
    # 1 kWh in 09-10 (flat), 20 in 10-12 (peak), 20 in 12-14 (flat), 1 in 14-15 (peak).
    # Saturday 09:00-15:00 at the weekend's 1 kW: flat 09-10 and 12-14 (3), peak 10-12 and
    # 14-15 (3). Peak 24 kWh at 1.105, flat 24 kWh at 0.65: 26.52 + 15.60 = 42.12 CNY, where
    # the flat price alone gave 48 × 0.65 = 31.20 (26 % low).
    assert total.across_gaps == pytest.approx(48.0)
    assert total.gap_use_by_period == pytest.approx((0.0, 24.0, 24.0, 0.0))
    assert total.cost_estimated == pytest.approx(42.12)
    assert total.gap_bases == ("profile",)
    # Only the gap's price moved: the measured use and its cost per period are as before.
    measured_cost = sum(total.cost_by_period)
    assert total.cost == pytest.approx(measured_cost + 42.12)
    assert sum(total.use_by_period) + total.across_gaps == pytest.approx(total.consumption)


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


def test_a_sub_meter_above_its_main_meter_is_a_metering_error(
    store: DuckDBStore, meters: Meters
) -> None:
    week = ReportPeriod.week(date(2026, 10, 19))
    meters.write("elec-t", "energy_kwh", week.first, week.last, constant(10.0))
    # Wired as a whole-building meter: it sees nearly twice what the main meter sees.
    meters.write("elec-t-light", "energy_kwh", week.first, week.last, constant(19.8))
    meters.write("elec-t-hvac", "energy_kwh", week.first, week.last, constant(5.0))
    report = build_report(school(), store, week)
    teaching = lines(report, "teaching", "electricity")
    light, hvac, rest = teaching["lighting_sockets"], teaching["hvac"], teaching["unaccounted"]
    assert (light.status, light.share_pct) == (LineStatus.METERING_ERROR, None)
    assert (rest.status, rest.share_pct) == (LineStatus.METERING_ERROR, None)
    assert hvac.status is LineStatus.OK and hvac.share_pct == pytest.approx(50.0)
    [warning] = report.warnings
    assert warning.kind is WarningKind.SUB_EXCEEDS_PARENT and warning.meters == ("elec-t-light",)
    assert warning.message("en").startswith(
        "metering error: sub-meter elec-t-light used 3,326.4 kWh, more than main meter elec-t "
        "(1,680.0 kWh, 198%)"
    )
    assert "计量错误：分表 elec-t-light" in warning.message("zh")


def test_sub_meters_within_the_accuracy_class_are_not_flagged(
    store: DuckDBStore, meters: Meters
) -> None:
    week = ReportPeriod.week(date(2026, 10, 19))
    meters.write("elec-t", "energy_kwh", week.first, week.last, constant(10.0))
    meters.write("elec-t-light", "energy_kwh", week.first, week.last, constant(5.04))
    meters.write("elec-t-hvac", "energy_kwh", week.first, week.last, constant(5.04))
    report = build_report(school(), store, week)
    rest = lines(report, "teaching", "electricity")["unaccounted"]
    # 0.8 % more than the main meter: inside class 1's ±1 %, shown as it is.
    assert report.warnings == () and rest.status is LineStatus.OK
    assert rest.share_pct == pytest.approx(-0.8)


def test_unaccounted_on_a_day_the_main_meter_has_a_gap_is_not_known(
    store: DuckDBStore, meters: Meters
) -> None:
    day = date(2026, 10, 20)
    first, last = date(2026, 10, 19), date(2026, 10, 21)
    # Silent from 18:00 on the 20th to 06:00 on the 21st: the gap crosses the day's end, so
    # its use is in neither day and main − sub on the 20th would be about −30 %.
    meters.write(
        "elec-t",
        "energy_kwh",
        first,
        last,
        constant(10.0),
        silent=lambda t: local(day, 18) < t < local(last, 6),
    )
    meters.write("elec-t-light", "energy_kwh", first, last, constant(3.0))
    meters.write("elec-t-hvac", "energy_kwh", first, last, constant(5.0))
    report = build_report(school(), store, ReportPeriod.day(day))
    teaching = lines(report, "teaching", "electricity")
    rest = teaching["unaccounted"]
    assert rest.status is LineStatus.NOT_KNOWN and rest.share_pct is None
    assert teaching["hvac"].share_pct is None  # its share of a short main figure means nothing
    [warning] = report.warnings
    assert warning.kind is WarningKind.UNACCOUNTED_NOT_KNOWN
    assert (warning.meters, warning.value) == (("elec-t",), pytest.approx(6.0))
    assert "未分项用量未知：elec-t 有 6.0 小时未计量" in warning.message("zh")
    # The day before, measured throughout by every meter, is known.
    nextday = build_report(school(), store, ReportPeriod.day(date(2026, 10, 19)))
    assert lines(nextday, "teaching", "electricity")["unaccounted"].status is LineStatus.OK
    assert nextday.warnings == ()
