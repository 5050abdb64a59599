"""Report periods and the local calendar of slots, including a day with a daylight-saving
change (a site outside China), so day and tariff boundaries stay on the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.energy_model import SchoolCalendar, Tariff
from energy import EnergyError, PeriodKind, ReportPeriod
from energy.slots import SlotCalendar
from energy.tariffs import PERIODS, slot_periods


def test_parse_and_neighbours() -> None:
    october = ReportPeriod.parse(PeriodKind.MONTH, "2026-10")
    assert (october.first, october.last, october.days) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        31,
    )
    assert october.previous().label == "2026-09" and october.year_before().label == "2025-10"
    assert ReportPeriod.month(2026, 1).previous().label == "2025-12"
    week = ReportPeriod.parse(PeriodKind.WEEK, "2026-W43")
    assert (week.first, week.last) == (date(2026, 10, 19), date(2026, 10, 25))
    assert week.previous().label == "2026-W42"
    assert week.year_before().first == date(2025, 10, 20)  # 52 weeks: a Monday for a Monday
    day = ReportPeriod.parse(PeriodKind.DAY, "2026-10-20")
    assert day.year_before().first.weekday() == day.first.weekday()
    start, end = october.bounds(ZoneInfo("Asia/Shanghai"))
    assert (start, end) == (
        datetime(2026, 9, 30, 16, tzinfo=UTC),
        datetime(2026, 10, 31, 16, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (PeriodKind.MONTH, "2026-1", "'2026-1' is not a month; use YYYY-MM"),
        (PeriodKind.WEEK, "2026-W54", "'2026-W54' is not a week; use YYYY-Www"),
        (PeriodKind.DAY, "2026-02-30", "'2026-02-30' is not a day; use YYYY-MM-DD"),
    ],
)
def test_bad_periods_say_the_form(kind: PeriodKind, text: str, message: str) -> None:
    with pytest.raises(EnergyError, match=message):
        ReportPeriod.parse(kind, text)


def test_daylight_saving_day_has_23_hours_of_wall_clock_slots() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    calendar = SlotCalendar.build(SchoolCalendar(), berlin, date(2026, 3, 28), date(2026, 3, 30))
    assert list(calendar.day_start) == [0, 96, 96 + 92, 96 + 92 + 96]
    spring = calendar.minute[96:188]
    assert spring[7] == 105 and spring[8] == 180  # 01:45, then 03:00
    tariff = Tariff.model_validate(
        {
            "id": "t",
            "name": "t",
            "carrier": "electricity",
            "prices": {"peak": 2, "flat": 1},
            "bands": [
                {"period": "flat", "start": "00:00", "end": "08:00"},
                {"period": "peak", "start": "08:00", "end": "24:00"},
            ],
        }
    )
    periods = slot_periods(tariff, calendar)[96:188]
    # 00:00-08:00 is 7 hours of wall clock on that day: 28 flat slots, then 64 peak.
    assert [PERIODS[p].value for p in periods].count("flat") == 28
