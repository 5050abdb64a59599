"""The disinfection register: compliant, incomplete (with the figures) or missed per meal,
judged in local time, alerted within 15 min after the window closes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from alerts.model import AlertState, DisinfectionRecord, DisinfectionStatus, RuleId
from alerts.register_export import RegisterName, RegisterSources, build_document
from core.clock import StepClock
from ingest.duckdb_calibration import DuckDBCalibrationStore
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, school

ZONE_DAY = date(2026, 11, 23)  # Monday, local
ZONE = school().site.zone
LUNCH_WINDOW_END = MIDNIGHT + timedelta(hours=14, minutes=10)  # 14:10 local


def local(hh: int, mm: int, day: date = ZONE_DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE).astimezone(UTC)


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


def test_a_silent_cabinet_is_unconfirmed_by_the_clock_within_15_min(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", None, 0.0, 0, hours=2))  # data until 13:00, then silence
    for minute in range(0, 20):
        harness.tick(LUNCH_WINDOW_END + minutes(minute))
    record = lunch_record(harness, "ir-1")
    # No data is no proof either way: a warning to check by hand, not a missed meal.
    assert record.status is DisinfectionStatus.UNCONFIRMED
    assert record.reason.zh == "未确认：消毒柜自 12:59 起无数据"
    assert record.reason.en == "unconfirmed: cabinet silent since 12:59"
    [alert] = harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)
    assert alert.severity.value == "warning" and alert.state is AlertState.FIRING
    assert alert.fired_at is not None and alert.fired_at - LUNCH_WINDOW_END <= minutes(15)
    assert "请到现场检查消毒柜" in alert.message.zh and "Check the cabinet" in alert.message.en
    assert harness.alerts(RuleId.DISINFECTION) == []


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


@pytest.mark.parametrize(
    ("meal_days", "missed"),
    [
        (None, []),  # a day school: the cabinet stands idle at the weekend, nothing is due
        (["school_day", "weekend"], ["breakfast", "lunch", "dinner"]),  # boarders eat on Saturday
    ],
)
def test_an_idle_cabinet_is_missed_only_on_days_meals_are_served(
    tmp_path: Path, meal_days: list[str] | None, missed: list[str]
) -> None:
    saturday = ZONE_DAY - timedelta(days=2)
    config = school(calendar={"meal_days": meal_days}) if meal_days else school()
    harness = Harness(tmp_path / "c.duckdb", config, StepClock(MIDNIGHT - timedelta(days=2)))
    try:
        idle = cabinet_day("ir-1", None, 0.0, 0, start=local(5, 0, saturday), hours=17)
        for index in range(0, len(idle), 200):
            harness.feed(idle[index : index + 200])
        records = harness.store.disinfection_records("test-school", saturday, saturday, "ir-1")
        assert [(r.meal, r.status.value) for r in records] == [(m, "missed") for m in missed]
        assert len(harness.alerts(RuleId.DISINFECTION)) == (1 if missed else 0)
    finally:
        harness.close()


def test_meals_before_the_first_reading_are_not_judged(harness: Harness) -> None:
    harness.feed(cabinet_day("ir-1", None, 0.0, 0, start=local(15, 0), hours=1))
    assert harness.store.disinfection_records("test-school", ZONE_DAY, ZONE_DAY, "ir-1") == []


# -- event time: history that arrives after the fact (DESIGN.md, time) --------------------------

WINDOW = timedelta(minutes=90)  # DESIGN.md: a compliant cycle within 90 min after each meal
DELAY = timedelta(minutes=5)  # disinfection_decision_delay_min
# late_data_intervals x a 15 s cabinet = 60 s, which is also the floor (late_data_min_s)
LATENESS = timedelta(seconds=60)
Cycle = tuple[datetime, float, float]  # start, plateau °C, hold min


def cabinet_history(
    device: str, start: datetime, end: datetime, cycles: list[Cycle]
) -> list[tuple[str, datetime, dict[str, float]]]:
    """A cabinet every 15 s from `start` to `end`, idling at 25 °C, with the cycles of
    `cabinet_day` (12 min heating, the plateau for the hold, then venting and cooling)."""
    rows = []
    for at, plateau, hold in cycles:
        rows += cabinet_day(device, at, plateau, hold, start=at, hours=1.5)
    busy = {at for _, at, _ in rows}
    at = start
    while at < end:
        if at not in busy:
            rows.append((device, at, {"temp_c": 25.0}))
        at += timedelta(seconds=15)
    return sorted((r for r in rows if start <= r[1] < end), key=lambda r: r[1])


def meals_between(start: datetime, end: datetime) -> list[tuple[date, str, datetime]]:
    """(service date, meal, meal end) of every meal whose verdict falls due in [start, end), on
    the days the school serves meals (its calendar: Monday to Friday by default)."""
    ends = {"breakfast": time(7, 40), "lunch": time(12, 40), "dinner": time(18, 20)}
    config = school()
    zone = config.site.zone
    found = []
    day = start.astimezone(zone).date()
    while datetime.combine(day, time(0), zone) < end:
        served = config.calendar.day_type(day) in config.calendar.meal_days
        for meal, clock in ends.items() if served else ():
            meal_end = datetime.combine(day, clock, zone).astimezone(UTC)
            if start <= meal_end and meal_end + WINDOW + DELAY <= end:
                found.append((day, meal, meal_end))
        day += timedelta(days=1)
    return found


def deliver_in_one_burst(
    harness: Harness, rows: list[tuple[str, datetime, dict[str, float]]], started: datetime
) -> None:
    """A service started at `started` receives all of `rows` at once, in the batches a gateway
    hands over, ticking after each one as the live service does (a second apart)."""
    harness.tick(started)
    for index in range(0, len(rows), 2000):
        harness.feed(rows[index : index + 2000], store=False)
        harness.tick(started + timedelta(seconds=1 + index // 2000))


TEN_DAYS_FROM = local(6, 0)  # Monday 06:00 local, before breakfast
TEN_DAYS_TO = TEN_DAYS_FROM + timedelta(days=10)


def test_ten_days_of_history_arriving_after_the_start_are_judged_on_that_history(
    harness: Harness,
) -> None:
    # An infrared cabinet uploads ten days of its buffer (a network outage, or a school moving
    # its records in) into a service started just after: every meal had a compliant cycle. The
    # weekend between serves no meals: the idle cabinet is not "missed" then.
    meals = meals_between(TEN_DAYS_FROM, TEN_DAYS_TO)
    assert len(meals) == 24
    cycles = [(end + minutes(20), 125.0, 15.0) for _, _, end in meals]
    rows = cabinet_history("ir-1", TEN_DAYS_FROM, TEN_DAYS_TO, cycles)
    started = TEN_DAYS_TO + minutes(1)
    deliver_in_one_burst(harness, rows, started)
    for minute in range(1, 30):  # then it is silent for half an hour
        harness.tick(started + minutes(minute))
    records = harness.store.disinfection_records(
        "test-school", ZONE_DAY, ZONE_DAY + timedelta(days=10), "ir-1"
    )
    assert [(r.service_date, r.meal) for r in records] == [(d, m) for d, m, _ in meals]
    assert {r.status for r in records} == {DisinfectionStatus.COMPLIANT}
    # Each meal is decided when the cabinet's own readings pass its window, not at the start.
    assert [r.decided_at for r in records] == [end + WINDOW + DELAY for _, _, end in meals]
    assert harness.alerts(RuleId.DISINFECTION) == []


def test_spoiled_cycles_in_history_are_each_flagged_once_its_readings_pass(
    harness: Harness,
) -> None:
    meals = meals_between(TEN_DAYS_FROM, TEN_DAYS_TO)
    spoiled: dict[int, tuple[float, float] | None] = {
        3: (113.0, 20.0),  # too cool: 113 °C, below the 120 °C of GB 17988
        8: (125.0, 6.0),  # too short: 6 of the 10 min
        14: None,  # no cycle at all
        23: None,  # the last meal of the upload
    }
    cycles = []
    for index, (_, _, end) in enumerate(meals):
        plateau, hold = spoiled.get(index, (125.0, 15.0)) or (0.0, 0.0)
        if plateau:
            cycles.append((end + minutes(20), plateau, hold))
    rows = cabinet_history("ir-1", TEN_DAYS_FROM, TEN_DAYS_TO, cycles)
    deliver_in_one_burst(harness, rows, TEN_DAYS_TO + minutes(1))
    records = harness.store.disinfection_records(
        "test-school", ZONE_DAY, ZONE_DAY + timedelta(days=10), "ir-1"
    )
    expected = {3: "incomplete", 8: "incomplete", 14: "missed", 23: "missed"}
    assert {i: r.status.value for i, r in enumerate(records) if r.status.value != "compliant"} == (
        expected
    )
    assert [r.decided_at for r in records] == [end + WINDOW + DELAY for _, _, end in meals]
    assert records[3].max_temp_c == 113.0 and records[8].hold_min == 6.0
    [alert] = harness.alerts(RuleId.DISINFECTION)
    assert alert.occurrences == 4  # one alert for the cabinet, each meal an occurrence


def test_a_cabinet_that_falls_silent_is_judged_after_the_lateness_by_the_clock(
    harness: Harness,
) -> None:
    # Live: each reading arrives as it is taken; the last at 14:14:30, before lunch's verdict
    # is due at 14:15 (window end 14:10 + 5 min). No cycle ran.
    rows = cabinet_day("ir-1", None, 0.0, 0, hours=3.25)[:-1]  # 11:00 to 14:14:30
    for row in rows:
        harness.feed([row])
    last = rows[-1][1]
    assert last == local(14, 14) + timedelta(seconds=30)
    for second in (0, 15):  # silent for less than the lateness when the verdict falls due
        harness.tick(local(14, 15) + timedelta(seconds=second))
        assert harness.store.disinfection_records("test-school", ZONE_DAY, ZONE_DAY, "ir-1") == []
    harness.tick(local(14, 15) + timedelta(seconds=30))
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.UNCONFIRMED
    assert record.decided_at == last + LATENESS  # 14:15:30, by the real clock
    [alert] = harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)
    assert alert.fired_at == last + LATENESS


# -- a cabinet silent over lunch, then its buffer (issue 11: catch-up after an outage) ----------

SILENT_FROM, BACK_AT = local(12, 30), local(16, 30)  # 4 h without the link


def silent_over_lunch(harness: Harness, rows: list[tuple[str, datetime, dict[str, float]]]) -> None:
    """Live until 12:30, then nothing until lunch's verdict has been given on silence."""
    live = [r for r in rows if r[1] < SILENT_FROM]
    for index in range(0, len(live), 40):
        harness.feed(live[index : index + 40])
    for minute in range(0, 30):
        harness.tick(LUNCH_WINDOW_END + minutes(minute))
    assert lunch_record(harness, "ir-1").status is DisinfectionStatus.UNCONFIRMED


def upload_at_back(harness: Harness, rows: list[tuple[str, datetime, dict[str, float]]]) -> None:
    harness.clock.instant = BACK_AT
    harness.feed([r for r in rows if SILENT_FROM <= r[1] < BACK_AT], store=False)
    harness.tick(BACK_AT + minutes(1))


def test_a_buffered_compliant_cycle_confirms_the_unconfirmed_line(harness: Harness) -> None:
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=5.5)
    silent_over_lunch(harness, rows)
    [warning] = harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)
    upload_at_back(harness, rows)
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.COMPLIANT and record.hold_min == 15.0
    assert record.decided_at == BACK_AT + minutes(1)
    # The correction is kept beside the line: what it said, when, and what confirmed it.
    [amendment] = record.amendments
    assert amendment["status"] == "unconfirmed"
    assert amendment["reason_en"] == "unconfirmed: cabinet silent since 12:29"
    assert datetime.fromisoformat(amendment["decided_at"]) == LUNCH_WINDOW_END + DELAY
    assert datetime.fromisoformat(amendment["amended_at"]) == BACK_AT + minutes(1)
    assert amendment["note_en"] == "confirmed from data received at 2026-11-23 16:31"
    assert amendment["note_zh"] == "已根据 2026-11-23 16:31 收到的数据确认"
    [resolved] = harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)
    assert resolved.id == warning.id and resolved.state is AlertState.RESOLVED
    history = harness.store.alert_history(resolved.id)
    assert history[-1].note is not None and "lunch: compliant" in history[-1].note
    assert harness.alerts(RuleId.DISINFECTION) == []


def test_a_cabinet_that_sends_nothing_stays_unconfirmed(harness: Harness) -> None:
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=5.5)
    silent_over_lunch(harness, rows)
    # Days later, past the amendment period (72 h), nothing has come: the line stays
    # unconfirmed and the warning waits for a person.
    for hours in (1, 24, 80):
        harness.tick(LUNCH_WINDOW_END + timedelta(hours=hours))
    assert lunch_record(harness, "ir-1").status is DisinfectionStatus.UNCONFIRMED
    [warning] = harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)
    assert warning.state is AlertState.FIRING
    # A buffer arriving after the amendment period changes nothing.
    harness.clock.instant = LUNCH_WINDOW_END + timedelta(hours=81)
    harness.feed([r for r in rows if r[1] >= SILENT_FROM], store=False)
    harness.tick(LUNCH_WINDOW_END + timedelta(hours=81, minutes=1))
    assert lunch_record(harness, "ir-1").status is DisinfectionStatus.UNCONFIRMED
    assert harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)[0].state is AlertState.FIRING


def test_a_cabinet_back_without_its_buffer_is_not_judged_on_the_hole(harness: Harness) -> None:
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=6)
    silent_over_lunch(harness, rows)
    harness.feed([r for r in rows if r[1] >= BACK_AT])  # live again, the window never sent
    harness.tick(local(17, 1))
    assert lunch_record(harness, "ir-1").status is DisinfectionStatus.UNCONFIRMED
    assert harness.alerts(RuleId.DISINFECTION) == []


def test_a_buffered_cycle_at_90_c_turns_the_line_failed_with_a_critical_alert(
    harness: Harness,
) -> None:
    rows = cabinet_day("ir-1", local(13, 0), 90.0, 20, hours=5.5)
    silent_over_lunch(harness, rows)
    upload_at_back(harness, rows)
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.INCOMPLETE and record.max_temp_c == 90.0
    assert record.reason.en == "under temperature: reached only 90.0 °C, below 120.0 °C"
    [amendment] = record.amendments
    assert amendment["note_en"] == "corrected from data received at 2026-11-23 16:31"
    [alert] = harness.alerts(RuleId.DISINFECTION)
    assert alert.severity.value == "critical" and alert.state is AlertState.FIRING
    assert alert.fired_at == BACK_AT + minutes(1)
    [warning] = harness.alerts(RuleId.DISINFECTION_UNCONFIRMED)
    assert warning.state is AlertState.RESOLVED


def test_a_cabinet_whose_history_is_still_arriving_is_not_judged_on_the_rest(
    harness: Harness,
) -> None:
    # The demo's catch-up: the service runs at 14:20, the history from 11:00 arrives at about
    # 12 simulated minutes per second of real time. Lunch's cycle at 13:00 comes in time.
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=3.5)
    started = local(14, 20)
    harness.tick(started)
    for second, index in enumerate(range(0, len(rows), 48)):
        harness.feed(rows[index : index + 48])
        harness.tick(started + timedelta(seconds=second))
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.COMPLIANT
    assert record.decided_at == LUNCH_WINDOW_END + DELAY
    assert harness.alerts(RuleId.DISINFECTION) == []


def test_readings_overtaken_by_newer_ones_still_count_until_the_meal_is_judged(
    harness: Harness,
) -> None:
    # A gateway whose latency drops: the cycle's hold (13:12 to 13:27) arrives after the
    # readings that follow it. The meal is not judged yet, so they still count.
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15)
    overtaken = [r for r in rows if local(13, 12) <= r[1] < local(13, 27)]
    newer = [r for r in rows if local(13, 27) <= r[1] < local(13, 45)]
    harness.feed([r for r in rows if r[1] < local(13, 12)])
    harness.feed(newer)
    harness.feed(overtaken)
    harness.feed([r for r in rows if r[1] >= local(13, 45)])
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.COMPLIANT and record.hold_min == 15.0


def test_a_verdict_given_on_data_is_final(harness: Harness) -> None:
    # The cabinet's readings pass lunch's deadline without the 13:00-13:40 ones: missed, on
    # data. A gateway then hands over that old batch (a cycle, out of order): the line stays.
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=4)
    held = [r for r in rows if local(13, 0) <= r[1] < local(13, 40)]
    harness.feed([r for r in rows if r[1] < local(13, 0)])
    harness.feed([r for r in rows if r[1] >= local(13, 40)])
    assert lunch_record(harness, "ir-1").status is DisinfectionStatus.MISSED
    harness.feed(held)
    harness.tick(local(15, 5))
    record = lunch_record(harness, "ir-1")
    assert record.status is DisinfectionStatus.MISSED and record.amendments == ()
    assert record.decided_at == LUNCH_WINDOW_END + DELAY
    [alert] = harness.alerts(RuleId.DISINFECTION)
    assert alert.severity.value == "critical"
    assert harness.alerts(RuleId.DISINFECTION_UNCONFIRMED) == []


def test_the_register_document_shows_the_correction_beside_the_line(harness: Harness) -> None:
    rows = cabinet_day("ir-1", local(13, 0), 125.0, 15, hours=5.5)
    silent_over_lunch(harness, rows)
    upload_at_back(harness, rows)
    calibration = DuckDBCalibrationStore(harness.path)
    try:
        sources = RegisterSources(
            harness.config, harness.store, calibration, harness.service.book.find
        )
        cabinet = harness.config.device("ir-1")
        now = harness.clock.now()
        document = build_document(
            sources, RegisterName.DISINFECTION, cabinet, ZONE_DAY, ZONE_DAY, now, "en"
        )
    finally:
        calibration.close()
    meals, handled = document.tables
    # The warning is listed with the alerts the register's period saw, resolved by the data.
    assert [row[2] for row in handled.rows] == ["disinfection unconfirmed"]
    [lunch] = [row for row in meals.rows if row[1] == "lunch"]
    assert lunch[3] == "compliant"
    assert lunch[9] == (
        "reached 125.0 °C, held ≥120.0 °C for 15 min (was unconfirmed: cabinet silent since "
        "12:29, 2026-11-23 14:15; confirmed from data received at 2026-11-23 16:31)"
    )
