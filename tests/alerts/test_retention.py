"""Food-sample retention: each meal's samples kept in band for 48 h, one record per meal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from alerts.model import AlertState, RetentionRecord, RetentionStatus, RuleId
from tests.alerts.conftest import Harness, minutes, school

DAY = date(2026, 11, 23)
ZONE = school().site.zone


def local(hh: int, mm: int, day_offset: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=day_offset), time(hh, mm), ZONE).astimezone(UTC)


def sample_fridge(
    start: datetime, end: datetime, temp: Callable[[datetime], float] = lambda _: 3.0
) -> list[tuple[str, datetime, dict[str, float]]]:
    rows, at = [], start
    while at < end:
        rows.append(("sample-1", at, {"temp_c": temp(at)}))
        at += timedelta(seconds=60)
    return rows


def lunch(harness: Harness) -> RetentionRecord:
    [record] = [
        r for r in harness.store.retention_records("test-school", DAY, DAY, "sample-1")
        if r.meal == "lunch"
    ]  # fmt: skip
    return record


def test_samples_kept_in_band_for_48_h(harness: Harness) -> None:
    harness.feed(sample_fridge(local(11, 0), local(12, 0, 2)))
    assert lunch(harness).status is RetentionStatus.IN_PROGRESS
    harness.feed(sample_fridge(local(12, 0, 2), local(13, 0, 2)))
    record = lunch(harness)
    assert record.status is RetentionStatus.KEPT
    assert record.start == local(12, 40) and record.end == local(12, 40, 2)
    assert record.completeness == 1.0 and record.minutes_out_of_band == 0.0
    assert record.min_c == record.max_c == 3.0
    assert harness.alerts(RuleId.SAMPLE_RETENTION) == []


def test_an_excursion_breaches_every_meal_in_the_fridge_at_once(harness: Harness) -> None:
    warm = (local(2, 0, 1), local(4, 0, 1))  # Tuesday 02:00-04:00: 2 h at 12 °C

    def temp(at: datetime) -> float:
        return 12.0 if warm[0] <= at < warm[1] else 3.0

    harness.feed(sample_fridge(local(11, 0), local(6, 0, 1), temp))
    record = lunch(harness)
    assert record.status is RetentionStatus.BREACHED and record.max_c == 12.0
    [alert] = harness.alerts(RuleId.SAMPLE_RETENTION)
    assert alert.state is AlertState.FIRING and alert.food_safety
    [excursion] = harness.alerts(RuleId.OVER_TEMPERATURE)
    assert alert.fired_at == excursion.fired_at  # when the over-temperature alert fired
    assert warm[0] + minutes(30) <= alert.fired_at < warm[1]
    breached = harness.store.retention_records("test-school", DAY, DAY, "sample-1")
    assert {r.meal for r in breached if r.status is RetentionStatus.BREACHED} == {"lunch", "dinner"}


def test_a_long_gap_leaves_the_samples_unverified(harness: Harness) -> None:
    rows = sample_fridge(local(11, 0), local(13, 0, 2))
    rows = [r for r in rows if not local(0, 0, 1) <= r[1] < local(6, 0, 1)]  # 6 h without data
    harness.feed(rows)
    record = lunch(harness)
    assert record.status is RetentionStatus.UNVERIFIED
    assert record.longest_gap_min == 361.0 and 0.87 < record.completeness < 0.88  # 23:59-06:00
    [alert] = harness.alerts(RuleId.SAMPLE_RETENTION)
    assert "only 88% of the retention period has readings" in alert.message.en
    assert alert.fired_at == local(12, 45, 2)


def test_a_door_opening_does_not_spoil_the_samples(harness: Harness) -> None:
    def temp(at: datetime) -> float:
        return 10.0 if local(18, 0) <= at < local(18, 5) else 3.0

    rows = sample_fridge(local(11, 0), local(13, 0, 2), temp)
    harness.feed(rows)
    record = lunch(harness)
    assert record.status is RetentionStatus.KEPT and record.minutes_out_of_band == 5.0
    assert harness.alerts(RuleId.SAMPLE_RETENTION) == []
    assert record.updated_at - record.end == minutes(5)


def test_history_uploaded_after_the_start_is_judged_on_that_history(harness: Harness) -> None:
    # Three days of the fridge's readings arrive in one burst into a service started after
    # them (a buffer uploaded after an outage): every window is judged on those readings,
    # when they pass its end, not by the clock while they are still arriving.
    rows = sample_fridge(local(11, 0), local(13, 0, 2))
    started = local(13, 1, 2)
    harness.tick(started)
    for second, index in enumerate(range(0, len(rows), 500)):
        harness.feed(rows[index : index + 500], store=False)
        harness.tick(started + timedelta(seconds=second))
    record = lunch(harness)
    assert record.status is RetentionStatus.KEPT and record.completeness == 1.0
    assert record.updated_at == record.end + minutes(5)
    assert harness.alerts(RuleId.SAMPLE_RETENTION) == []


def test_a_silent_fridge_is_unverified_after_the_lateness_by_the_clock(harness: Harness) -> None:
    # Live until 06:00 two days on, then silent: the window ends at 12:40 and is judged at
    # 12:45 by the clock, the fridge having delivered nothing for far longer than the
    # lateness; 6 h 40 min of 48 h without readings is too little to prove anything.
    rows = sample_fridge(local(11, 0), local(6, 0, 2))
    for index in range(0, len(rows), 60):
        harness.feed(rows[index : index + 60])
    for minute in range(0, 7 * 60, 5):
        harness.tick(local(6, 0, 2) + minutes(minute))
    record = lunch(harness)
    assert record.status is RetentionStatus.UNVERIFIED and record.completeness < 0.9
    assert record.updated_at == local(12, 45, 2)


def test_readings_that_arrive_out_of_order_fill_a_window_gap(harness: Harness) -> None:
    # A gateway holds the fridge's readings of Tuesday 00:00-06:00 and delivers the first
    # half at 08:00, after newer ones: they still count toward the open windows' coverage.
    rows = sample_fridge(local(11, 0), local(13, 0, 2))
    held = [r for r in rows if local(0, 0, 1) <= r[1] < local(6, 0, 1)]
    harness.feed([r for r in rows if r[1] < local(0, 0, 1)])
    harness.feed([r for r in rows if local(6, 0, 1) <= r[1] < local(8, 0, 1)])
    harness.feed(held[: len(held) // 2])  # 00:00-02:59, older than 07:59
    harness.feed([r for r in rows if r[1] >= local(8, 0, 1)])
    record = lunch(harness)
    # 02:59-06:00 is still missing: 181 min, of which 5 min (the silence threshold) count.
    assert record.longest_gap_min == 181.0
    assert record.completeness == round(1 - (181 - 5) / (48 * 60), 4)
    assert record.status is RetentionStatus.KEPT  # was 88 % and unverified without them
    assert harness.alerts(RuleId.SAMPLE_RETENTION) == []


def test_a_late_reading_out_of_band_counts_its_minutes(harness: Harness) -> None:
    rows = sample_fridge(local(11, 0), local(13, 0, 2))
    harness.feed([r for r in rows if not local(0, 0, 1) <= r[1] < local(6, 0, 1)][:1000])
    # One reading of 9 °C at 03:00 arrives late: it stands for 5 min (the silence threshold).
    harness.feed([("sample-1", local(3, 0, 1), {"temp_c": 9.0})])
    harness.feed([r for r in rows if not local(0, 0, 1) <= r[1] < local(6, 0, 1)][1000:])
    record = lunch(harness)
    assert record.minutes_out_of_band == 5.0 and record.max_c == 9.0
    assert record.longest_gap_min == 181.0  # 23:59-03:00 (03:00-06:00 is 180)


def test_a_buffer_uploaded_after_a_silent_end_corrects_the_unverified_window(
    harness: Harness,
) -> None:
    # Silent from Wednesday 06:00 (two days on) until 14:00: lunch's window ends at 12:40 and
    # is unverified by the clock at 12:45; at 14:00 the fridge uploads what it buffered.
    rows = sample_fridge(local(11, 0), local(14, 0, 2))
    for index in range(0, len(rows), 60):
        if rows[index][1] < local(6, 0, 2):
            harness.feed([r for r in rows[index : index + 60] if r[1] < local(6, 0, 2)])
    for minute in range(0, 8 * 60, 5):
        harness.tick(local(6, 0, 2) + minutes(minute))
    assert lunch(harness).status is RetentionStatus.UNVERIFIED
    [alert] = harness.alerts(RuleId.SAMPLE_RETENTION)
    assert alert.state is AlertState.FIRING
    harness.feed([r for r in rows if r[1] >= local(6, 0, 2)], store=False)
    harness.tick(local(14, 1, 2))
    record = lunch(harness)
    assert record.status is RetentionStatus.KEPT and record.completeness == 1.0
    [amendment] = record.amendments
    assert amendment["status"] == "unverified"
    assert datetime.fromisoformat(amendment["decided_at"]) == local(12, 45, 2)
    assert amendment["note_en"] == "confirmed from data received at 2026-11-25 14:01"
    [alert] = harness.alerts(RuleId.SAMPLE_RETENTION)
    assert alert.state is AlertState.RESOLVED
    history = harness.store.alert_history(alert.id)
    assert history[-1].note is not None and "confirmed from data received" in history[-1].note


def test_a_buffer_arriving_after_the_amendment_period_changes_nothing(harness: Harness) -> None:
    rows = sample_fridge(local(11, 0), local(14, 0, 2))
    harness.feed([r for r in rows if r[1] < local(6, 0, 2)])
    for hours in range(0, 90, 2):
        harness.tick(local(6, 0, 2) + timedelta(hours=hours))
    harness.feed([r for r in rows if r[1] >= local(6, 0, 2)], store=False)
    harness.tick(local(6, 0, 2) + timedelta(hours=91))
    record = lunch(harness)
    assert record.status is RetentionStatus.UNVERIFIED and record.amendments == ()
