"""The disinfection register: compliant, incomplete (with the figures) or missed per meal,
judged in local time, alerted within 15 min after the window closes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from alerts.model import AlertState, DisinfectionRecord, DisinfectionStatus, RuleId
from core.clock import StepClock
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, school

ZONE_DAY = date(2026, 11, 23)  # Monday, local
LUNCH_WINDOW_END = MIDNIGHT + timedelta(hours=14, minutes=10)  # 14:10 local


def local(hh: int, mm: int, day: date = ZONE_DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=school().site.zone).astimezone(UTC)


def cabinet_day(
    device: str,
    cycle_at: datetime | None,
    plateau: list[float] | float,
    hold_min: float,
    *,
    start: datetime | None = None,
    hours: float = 4.0,
) -> list[tuple[str, datetime, dict[str, float]]]:
    """A cabinet idling at 25 °C every 15 s, with one cycle: 12 min heating to 10 K short of
    the plateau, the plateau for `hold_min`, then venting (a drop of 20 K) and cooling.
    `plateau` may list the readings of the hold one by one. Starts at 11:00 local by default:
    breakfast, before the first reading, is not judged."""
    start = start or local(11, 0)
    rows = []
    step = timedelta(seconds=15)
    heat = 48  # readings: 12 min
    holds = plateau if isinstance(plateau, list) else [plateau] * (int(hold_min * 4) + 1)
    top = holds[0]
    profile = [25.0 + (top - 35.0) * (i + 1) / heat for i in range(heat)] + holds
    profile += [top - 20.0 - (top - 50.0) * (i + 1) / 40 for i in range(40)]
    at, index = start, None
    while at < start + timedelta(hours=hours):
        if cycle_at is not None and index is None and at >= cycle_at:
            index = 0
        if index is not None and index < len(profile):
            temp, index = profile[index], index + 1
        else:
            temp = 25.0
        rows.append((device, at, {"temp_c": temp}))
        at += step
    return rows


def lunch_record(harness: Harness, device: str) -> DisinfectionRecord:
    records = harness.store.disinfection_records("test-school", ZONE_DAY, ZONE_DAY, device)
    [record] = [r for r in records if r.meal == "lunch"]
    return record


def test_a_compliant_lunch_cycle_is_recorded_in_local_and_utc_time(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", local(13, 0), 125.0, 15))
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.COMPLIANT
    # Lunch ends 12:40 Asia/Shanghai = 04:40 UTC; the window closes 90 min later.
    assert record.window_start == datetime(2026, 11, 23, 4, 40, tzinfo=UTC)
    assert record.window_end == datetime(2026, 11, 23, 6, 10, tzinfo=UTC)
    assert record.decided_at == datetime(2026, 11, 23, 6, 15, tzinfo=UTC)  # 14:15 local
    assert record.max_temp_c == 125.0 and record.hold_min == 15.0
    assert harness.alerts(RuleId.DISINFECTION) == []


@pytest.mark.parametrize(
    ("hold", "status"), [(10.0, DisinfectionStatus.COMPLIANT), (9.5, DisinfectionStatus.INCOMPLETE)]
)
def test_the_hold_at_exactly_the_minimum_is_compliant(
    harness: Harness, hold: float, status: DisinfectionStatus
) -> None:
    harness.feed(cabinet_day("ir-1", local(13, 0), 125.0, hold))
    record = lunch_record(harness, "ir-1")
    assert record.status is status and record.hold_min == hold


def test_an_incomplete_cycle_alerts_with_its_figures(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", local(13, 0), 125.0, 6.75))
    record = lunch_record(harness, "ir-1")
    assert record.reason.en == "held ≥120.0 °C for only 6.8 min of the 10 min required"
    [alert] = harness.alerts(RuleId.DISINFECTION)
    assert alert.state is AlertState.FIRING and alert.fired_at == local(14, 15)
    assert alert.food_safety and alert.evidence["status"] == "incomplete"
    assert "午餐" in alert.message.zh and "2026-11-23" in alert.message.zh


def test_an_under_temperature_cycle_says_how_hot_it_got(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", local(13, 0), 113.0, 20))
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.INCOMPLETE
    assert record.reason.en == "under temperature: reached only 113.0 °C, below 120.0 °C"
    assert record.reason.zh == "温度不足：最高 113.0 °C，未达到 120.0 °C"


def test_a_missed_meal_alerts_by_the_clock_within_15_min(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", None, 0.0, 0, hours=2))  # data until 13:00, then silence
    for minute in range(0, 20):
        harness.tick(LUNCH_WINDOW_END + minutes(minute))
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.MISSED
    [alert] = harness.alerts(RuleId.DISINFECTION)
    assert alert.fired_at - LUNCH_WINDOW_END <= timedelta(minutes=15)


def test_steam_at_boiling_is_judged_with_the_probe_tolerance(harness: Harness) -> None:
    # A steam cabinet reads 99.6-100.4 °C at the boil; one noisy 99.3 reading is not a loss.
    boil = [99.6, 100.0, 100.4, 99.8] * 10 + [99.3] + [100.1, 99.7] * 10
    harness.feed(cabinet_day("steam-1", local(13, 0), boil, 0))
    record = lunch_record(harness, "steam-1")
    assert record.status is DisinfectionStatus.COMPLIANT
    assert record.hold_threshold_c == 99.5 and record.target_c == 100.0


def test_a_real_loss_of_steam_breaks_the_hold(harness: Harness) -> None:
    boil = [100.0] * 24 + [98.0] * 12 + [100.0] * 24  # 6 min, a 3 min dip, 6 min
    harness.feed(cabinet_day("steam-1", local(13, 0), boil, 0))
    record = lunch_record(harness, "steam-1")
    assert record.status is DisinfectionStatus.INCOMPLETE and record.hold_min == 5.8


def test_a_meal_across_midnight_is_judged_on_its_own_date(tmp_path: Path) -> None:
    night = {"name": "supper", "start": "23:30", "end": "00:20"}
    config = school(meals=[night])
    harness = Harness(tmp_path / "c.duckdb", config, StepClock(MIDNIGHT))
    try:
        # Supper of Monday 23 Nov ends 00:20 Tuesday; its window runs to 01:50 Tuesday.
        cycle = local(0, 40, ZONE_DAY + timedelta(days=1))
        harness.feed(cabinet_day("ir-1", cycle, 125.0, 15, start=local(20, 0), hours=6.5))
        [record] = harness.store.disinfection_records("test-school", ZONE_DAY, ZONE_DAY, "ir-1")
        assert record.meal == "supper" and record.service_date == ZONE_DAY
        assert record.window_start == local(0, 20, ZONE_DAY + timedelta(days=1))
        assert record.status is DisinfectionStatus.COMPLIANT
        assert record.window_end.astimezone(config.site.zone).strftime("%H:%M") == "01:50"
    finally:
        harness.close()


def test_meals_before_the_first_reading_are_not_judged(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", None, 0.0, 0, start=local(15, 0), hours=1))
    assert harness.store.disinfection_records("test-school", ZONE_DAY, ZONE_DAY, "ir-1") == []
