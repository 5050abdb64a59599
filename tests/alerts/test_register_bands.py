"""A past day of the temperature log is judged by the limits in force that day, not today's:
three days of a fridge's readings on a real DuckDB file, its high limit lowered by an admin
on Tuesday noon and set back to the config's on Wednesday noon.

Every day the fridge reads 4 °C, except 09:00-10:00 and 15:00-16:00 local at 6 °C (60 readings
of a minute each: 60 min). Against the config's 8 °C neither counts; against the admin's 5 °C
each counts 60 min. So: Monday 0 (8 °C all day), Tuesday 60 (the afternoon, under 5 °C),
Wednesday 60 (the morning, under 5 °C; back to 8 °C from noon)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from alerts.registers import temperature_log
from core import ReadingBatchBuilder
from core.admin_records import LimitPeriod
from core.model import Limits
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.conftest import MIDNIGHT, SITE, school

MONDAY, TUESDAY, WEDNESDAY = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
TUESDAY_NOON = MIDNIGHT + timedelta(days=1, hours=12)
WEDNESDAY_NOON = MIDNIGHT + timedelta(days=2, hours=12)
THURSDAY = MIDNIGHT + timedelta(days=3)
HISTORY = [
    LimitPeriod(SITE, "fridge-1", "high_c", 5.0, TUESDAY_NOON, WEDNESDAY_NOON, "赵校长", "新菜单"),
    LimitPeriod(SITE, "fridge-1", "high_c", None, WEDNESDAY_NOON, None, "赵校长", "恢复"),
    # Another device's and another field's periods change nothing here.
    LimitPeriod(SITE, "fridge-1", "alert_after_min", 10.0, MIDNIGHT, None, "赵校长", "更严"),
]


def _value(minute_of_day: int) -> float:
    warm = 540 <= minute_of_day < 600 or 900 <= minute_of_day < 960
    return 6.0 if warm else 4.0


@pytest.fixture
def registers(tmp_path: Path) -> Iterator[DuckDBAlertStore]:
    path = tmp_path / "bands.duckdb"
    readings = DuckDBStore(path)
    builder = ReadingBatchBuilder()
    for minute in range(3 * 24 * 60):
        ts = int((MIDNIGHT + timedelta(minutes=minute)).timestamp() * 1000)
        builder.append(SITE, "fridge-1", "temp_c", ts, _value(minute % 1440))
    readings.write(builder.build())
    store = DuckDBAlertStore(path)
    yield store
    store.close()
    readings.close()


def test_each_day_is_judged_by_its_own_limits(registers: DuckDBAlertStore) -> None:
    config = school()
    device = config.device("fridge-1")
    assert device is not None
    log = temperature_log(registers, config, device, MONDAY, WEDNESDAY, THURSDAY, history=HISTORY)
    out = {d.day: d.minutes_out_of_band for d in log.days}
    assert out == {MONDAY: 0.0, TUESDAY: 60.0, WEDNESDAY: 60.0}
    # The day's own figures stay whole-day figures on a split day.
    tuesday = log.days[1]
    assert (tuesday.readings, tuesday.max_c, tuesday.completeness) == (1440, 6.0, 1.0)
    bands = {day: [(s.start, s.band) for s in spans] for day, spans in log.day_bands.items()}
    assert bands[MONDAY] == [(MIDNIGHT, (0.0, 8.0))]
    assert bands[TUESDAY] == [
        (MIDNIGHT + timedelta(days=1), (0.0, 8.0)),
        (TUESDAY_NOON, (0.0, 5.0)),
    ]
    assert bands[WEDNESDAY] == [
        (MIDNIGHT + timedelta(days=2), (0.0, 5.0)),
        (WEDNESDAY_NOON, (0.0, 8.0)),
    ]
    changes = [(c.at, c.field, c.before, c.after, c.by, c.reason) for c in log.changes]
    assert changes == [
        (TUESDAY_NOON, "high_c", 8.0, 5.0, "赵校长", "新菜单"),
        (WEDNESDAY_NOON, "high_c", 5.0, 8.0, "赵校长", "恢复"),
    ]


def test_today_s_override_does_not_rewrite_past_days(registers: DuckDBAlertStore) -> None:
    config = school()
    device = config.device("fridge-1")
    assert device is not None
    # Today an admin lowers the high limit to 5 °C: in force from Thursday only.
    config.set_limit_override("fridge-1", Limits(high_c=5.0))
    today = [LimitPeriod(SITE, "fridge-1", "high_c", 5.0, THURSDAY, None, "赵校长", "今天")]
    log = temperature_log(registers, config, device, MONDAY, WEDNESDAY, THURSDAY, history=today)
    assert [d.minutes_out_of_band for d in log.days] == [0.0, 0.0, 0.0]
    assert (log.low_c, log.high_c) == (0.0, 5.0)  # the band in force now
    assert log.changes == []  # not within the period
    # Without a history (no admin store) every day is judged by today's limits, as before.
    flat = temperature_log(registers, config, device, MONDAY, WEDNESDAY, THURSDAY)
    assert [d.minutes_out_of_band for d in flat.days] == [120.0, 120.0, 120.0]


def test_a_one_band_period_is_read_once_per_band(registers: DuckDBAlertStore) -> None:
    config = school()
    device = config.device("fridge-1")
    assert device is not None
    reads: list[tuple[int, float | None]] = []
    original = registers.daily_temperature_log

    def counted(*args: object, **kwargs: object) -> object:
        reads.append((len(args[2]), args[4]))  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    registers.daily_temperature_log = counted  # type: ignore[method-assign]
    temperature_log(registers, config, device, MONDAY, WEDNESDAY, THURSDAY, history=[])
    assert reads == [(3, 8.0)]  # three days, one read
