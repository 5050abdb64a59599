"""The DuckDB store: idempotent writes, latest values that late data cannot roll back, and
series aggregated per step (daily steps on the site's local days)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core import DeadLetter, PresenceChange, ReadingBatchBuilder
from ingest import Aggregate, DuckDBStore, StoreError

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    db = DuckDBStore(tmp_path / "store.duckdb")
    yield db
    db.close()


def batch(*rows: tuple[str, str, int, float]) -> ReadingBatchBuilder:
    out = ReadingBatchBuilder()
    for device, metric, offset_s, value in rows:
        out.append("s", device, metric, MS0 + offset_s * 1000, value)
    return out


def test_replays_overwrite_never_duplicate(store: DuckDBStore) -> None:
    store.write(batch(("f1", "temp_c", 0, 3.0), ("f1", "temp_c", 60, 3.5)).build())
    store.write(batch(("f1", "temp_c", 0, 3.0), ("f1", "temp_c", 60, 4.0)).build())
    assert store.reading_count() == 2
    [point] = store.series("s", "f1", "temp_c", T0, T0 + timedelta(hours=1), 3600, Aggregate.MAX)
    assert point.value == 4.0 and point.count == 2


def test_duplicates_inside_one_batch_keep_the_last(store: DuckDBStore) -> None:
    store.write(batch(("f1", "temp_c", 0, 1.0), ("f1", "temp_c", 0, 2.0)).build())
    assert store.reading_count() == 1
    assert store.latest("s", "f1")[0].value == 2.0


def test_late_reading_does_not_roll_back_latest(store: DuckDBStore) -> None:
    store.write(batch(("f1", "temp_c", 600, 5.0), ("f1", "door_open", 600, 1.0)).build())
    store.write(batch(("f1", "temp_c", 60, 9.0)).build())
    latest = {v.metric: (v.ts, v.value) for v in store.latest("s", "f1")}
    assert latest == {
        "door_open": (T0 + timedelta(seconds=600), 1.0),
        "temp_c": (T0 + timedelta(seconds=600), 5.0),
    }
    assert store.reading_count() == 3


def test_series_steps_and_aggregates(store: DuckDBStore) -> None:
    rows = [("f1", "temp_c", minute * 60, float(minute)) for minute in range(30)]
    rows.append(("f2", "temp_c", 0, 100.0))  # another device must not leak in
    store.write(batch(*rows).build())
    end = T0 + timedelta(minutes=30)
    for agg, expected in [
        (Aggregate.AVG, [4.5, 14.5, 24.5]),
        (Aggregate.MIN, [0.0, 10.0, 20.0]),
        (Aggregate.MAX, [9.0, 19.0, 29.0]),
        (Aggregate.LAST, [9.0, 19.0, 29.0]),
    ]:
        points = store.series("s", "f1", "temp_c", T0, end, 600, agg)
        assert [p.value for p in points] == expected, agg
        assert [p.start for p in points] == [T0 + timedelta(minutes=m) for m in (0, 10, 20)]
        assert [p.count for p in points] == [10, 10, 10]
    # The range is half-open: a reading exactly at `end` is outside.
    assert (
        store.series("s", "f1", "temp_c", T0, T0 + timedelta(minutes=1), 60, Aggregate.AVG)[0].count
        == 1
    )


def hourly(store: DuckDBStore, first: datetime, hours: int) -> None:
    out = ReadingBatchBuilder()
    for hour in range(hours):
        ts = first.astimezone(UTC) + timedelta(hours=hour)  # elapsed hours, not wall-clock
        out.append("s", "f1", "temp_c", int(ts.timestamp() * 1000), float(hour))
    store.write(out.build())


def test_daily_steps_are_local_days_of_the_site(store: DuckDBStore) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    monday = datetime(2026, 11, 23, tzinfo=shanghai)  # 00:00+08:00, Sunday 16:00 UTC
    hourly(store, monday, 48)
    days = store.series(
        "s", "f1", "temp_c", monday, monday + timedelta(days=2), 86_400, Aggregate.AVG,
        zone=shanghai,
    )  # fmt: skip
    # Two local days, two buckets of 24 readings each, both starting at local midnight; on
    # epoch-aligned (UTC) days they would be three partial ones starting at 08:00 local.
    assert [p.start for p in days] == [monday, monday + timedelta(days=1)]
    assert [p.start.astimezone(shanghai).hour for p in days] == [0, 0]
    assert [p.count for p in days] == [24, 24]
    assert [p.value for p in days] == [11.5, 35.5]  # mean of hours 0-23, of 24-47
    # Shorter steps stay on the epoch: 6 h buckets start at 02:00, 08:00... local (UTC 18:00...).
    quarters = store.series(
        "s", "f1", "temp_c", monday, monday + timedelta(days=1), 6 * 3600, Aggregate.AVG,
        zone=shanghai,
    )  # fmt: skip
    assert quarters[1].start == datetime(2026, 11, 22, 18, tzinfo=UTC)


def test_daily_steps_follow_daylight_saving_time(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    store = DuckDBStore(tmp_path / "berlin.duckdb")
    try:
        # Sunday 2026-03-29 has 23 hours in Berlin: clocks go from 02:00 to 03:00 (CET to CEST).
        saturday = datetime(2026, 3, 28, tzinfo=berlin)
        hourly(store, saturday, 24 + 23 + 24)
        days = store.series(
            "s", "f1", "temp_c", saturday, saturday + timedelta(days=3), 86_400, Aggregate.MIN,
            zone=berlin,
        )  # fmt: skip
    finally:
        store.close()
    assert [p.start.astimezone(berlin).isoformat() for p in days] == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]
    assert [p.count for p in days] == [24, 23, 24]


def test_records_dead_letters_and_presence(store: DuckDBStore) -> None:
    letter = DeadLetter(T0, "t/s/f1/telemetry", "bad", b"{", 1, "s", "f1")
    store.write_dead_letters([letter, letter])
    assert store.dead_letter_count() == 2
    assert store.dead_letters("s", 1)[0].letter == letter
    assert store.dead_letters("s", 10, reason="BAD")[0].letter.reason == "bad"
    assert store.dead_letters("s", 10, reason="other") == []
    later = T0 + timedelta(minutes=5)
    store.write_presence([PresenceChange("s", "f1", False, later)])
    store.write_presence([PresenceChange("s", "f1", True, T0)])  # arrives late: ignored
    [record] = store.presence("s")
    assert (record.online, record.since) == (False, later)


def test_reopening_the_file_keeps_data_and_closed_store_says_so(tmp_path: Path) -> None:
    path = tmp_path / "reopen.duckdb"
    first = DuckDBStore(path)
    first.write(batch(("f1", "temp_c", 0, 3.0)).build())
    first.close()
    second = DuckDBStore(path)
    assert second.reading_count() == 1
    second.close()
    with pytest.raises(StoreError, match="store is closed"):
        second.latest("s", "f1")
