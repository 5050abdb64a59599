"""A school's database file survives upgrades: a file written by the release before schema
versions were kept opens and reads back whole, a later migration that adds a column keeps every
row, and a file from a newer release is refused rather than written to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.readings import DeadLetter, DeviceEvent, ReadingBatchBuilder
from core.records import (
    Alert,
    AlertAction,
    AlertHistoryEntry,
    AlertQuery,
    AlertState,
    DisinfectionRecord,
    DisinfectionStatus,
    FoodDecision,
    Message,
    RetentionRecord,
    RetentionStatus,
    RuleId,
    SealHealthPoint,
    Severity,
)
from ingest import Aggregate, DuckDBStore, StoreError, duckdb_schema
from ingest.duckdb_alerts import DuckDBAlertStore
from ingest.duckdb_rows import RecordTable
from ingest.migrations import Migration

# The tables exactly as release d8454af created them (`git show d8454af:ingest/duckdb_store.py`
# and `d8454af:ingest/duckdb_alerts.py`, `_SCHEMA`), before schema versions were kept.
D8454AF_READINGS = """
CREATE TABLE IF NOT EXISTS readings (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL,
    PRIMARY KEY (site, device, metric, ts));
CREATE TABLE IF NOT EXISTS latest (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL,
    PRIMARY KEY (site, device, metric));
CREATE SEQUENCE IF NOT EXISTS dead_letter_ids;
CREATE TABLE IF NOT EXISTS dead_letters (
    id BIGINT PRIMARY KEY DEFAULT nextval('dead_letter_ids'),
    received_at TIMESTAMP NOT NULL, topic VARCHAR NOT NULL, site VARCHAR, device VARCHAR,
    reason VARCHAR NOT NULL, payload BLOB NOT NULL, payload_size BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS presence (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, online BOOLEAN NOT NULL,
    since TIMESTAMP NOT NULL, PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS device_events (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL, data JSON NOT NULL, PRIMARY KEY (site, device, ts, kind));
"""
D8454AF_ALERTS = """
CREATE SEQUENCE IF NOT EXISTS alert_ids;
CREATE TABLE IF NOT EXISTS alerts (
    id BIGINT PRIMARY KEY DEFAULT nextval('alert_ids'),
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, rule VARCHAR NOT NULL,
    severity VARCHAR NOT NULL, state VARCHAR NOT NULL, food_safety BOOLEAN NOT NULL,
    condition_active BOOLEAN NOT NULL, pending_since TIMESTAMP NOT NULL,
    message_zh VARCHAR NOT NULL, message_en VARCHAR NOT NULL, evidence JSON NOT NULL,
    updated_at TIMESTAMP NOT NULL, fired_at TIMESTAMP, occurrences INTEGER NOT NULL,
    acknowledged_at TIMESTAMP, acknowledged_by VARCHAR, resolved_at TIMESTAMP,
    resolved_by VARCHAR, closed_at TIMESTAMP, closed_by VARCHAR, corrective_action VARCHAR,
    food_decision VARCHAR, food_reason VARCHAR, note VARCHAR, last_finding_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS alert_history (
    alert_id BIGINT NOT NULL, "at" TIMESTAMP NOT NULL, action VARCHAR NOT NULL,
    state VARCHAR NOT NULL, actor VARCHAR NOT NULL, note VARCHAR);
CREATE TABLE IF NOT EXISTS disinfection_register (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, meal VARCHAR NOT NULL,
    service_date DATE NOT NULL, window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL, target_c DOUBLE NOT NULL, hold_threshold_c DOUBLE NOT NULL,
    required_hold_min DOUBLE NOT NULL, decided_at TIMESTAMP NOT NULL,
    reason_zh VARCHAR NOT NULL, reason_en VARCHAR NOT NULL, cycles INTEGER NOT NULL,
    cycle_start TIMESTAMP, cycle_end TIMESTAMP, max_temp_c DOUBLE, hold_min DOUBLE,
    PRIMARY KEY (site, device, meal, service_date));
CREATE TABLE IF NOT EXISTS sample_retention (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, meal VARCHAR NOT NULL,
    service_date DATE NOT NULL, "start" TIMESTAMP NOT NULL, "end" TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL, low_c DOUBLE, high_c DOUBLE, updated_at TIMESTAMP NOT NULL,
    min_c DOUBLE, max_c DOUBLE, minutes_out_of_band DOUBLE NOT NULL,
    completeness DOUBLE NOT NULL, longest_gap_min DOUBLE NOT NULL,
    PRIMARY KEY (site, device, meal, service_date));
CREATE TABLE IF NOT EXISTS seal_health (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
    health DOUBLE NOT NULL, evidence JSON NOT NULL, PRIMARY KEY (site, device, ts));
CREATE TABLE IF NOT EXISTS rule_state (
    site VARCHAR NOT NULL, name VARCHAR NOT NULL, state JSON NOT NULL,
    PRIMARY KEY (site, name));
"""

# Rows as that release wrote them: naive UTC timestamps, enums as values, JSON text.
D8454AF_ROWS = """
INSERT INTO readings VALUES
    ('s', 'fridge-1', 'temp_c', '2026-11-23 02:00:00', 3.5),
    ('s', 'fridge-1', 'temp_c', '2026-11-23 02:01:00', 9.5);
INSERT INTO latest VALUES ('s', 'fridge-1', 'temp_c', '2026-11-23 02:01:00', 9.5);
INSERT INTO dead_letters (received_at, topic, site, device, reason, payload, payload_size)
    VALUES ('2026-11-23 02:02:00', 'canteen/v1/s/fridge-1/telemetry', 's', 'fridge-1',
            'not JSON', '\\x7B'::BLOB, 1);
INSERT INTO presence VALUES ('s', 'fridge-1', false, '2026-11-23 02:03:00');
INSERT INTO device_events VALUES
    ('s', 'ir-1', '2026-11-23 04:50:00', 'cycle_start', '{"program": "ir"}');
INSERT INTO alerts (site, device, rule, severity, state, food_safety, condition_active,
    pending_since, message_zh, message_en, evidence, updated_at, fired_at, occurrences,
    acknowledged_at, acknowledged_by, resolved_at, resolved_by, closed_at, closed_by,
    corrective_action, food_decision, food_reason, note, last_finding_at)
    VALUES ('s', 'fridge-1', 'over_temperature', 'critical', 'closed', true, false,
            '2026-11-23 02:01:00', '冷藏超温', 'fridge too warm', '{"max_c": 9.5, "limit": "8"}',
            '2026-11-23 03:00:00', '2026-11-23 02:31:00', 2,
            '2026-11-23 02:35:00', 'cook', '2026-11-23 02:50:00', 'rule',
            '2026-11-23 03:00:00', 'manager', 'moved food to freezer-1', 'discarded',
            'above 8 °C for 45 min', 'door left open', '2026-11-23 02:49:00');
INSERT INTO alert_history VALUES
    (1, '2026-11-23 02:31:00', 'fired', 'firing', 'rule', NULL),
    (1, '2026-11-23 03:00:00', 'closed', 'closed', 'manager', 'moved food to freezer-1');
INSERT INTO disinfection_register VALUES ('s', 'ir-1', 'lunch', '2026-11-23',
    '2026-11-23 04:40:00', '2026-11-23 06:10:00', 'compliant', 120.0, 120.0, 10.0,
    '2026-11-23 06:10:00', '合格', 'compliant', 1,
    '2026-11-23 04:50:00', '2026-11-23 05:20:00', 124.5, 18.0);
INSERT INTO sample_retention VALUES ('s', 'sample-1', 'lunch', '2026-11-23',
    '2026-11-23 04:40:00', '2026-11-25 04:40:00', 'in_progress', 0.0, 8.0,
    '2026-11-23 06:00:00', NULL, NULL, 0.0, 0.0, 0.0);
INSERT INTO seal_health VALUES
    ('s', 'fridge-1', '2026-11-23 00:00:00', 0.8, '{"tau_min": 12.5, "baseline_tau_min": 10}');
INSERT INTO rule_state VALUES ('s', 'over_temperature', '{"devices": {}}');
"""


def at(hh: int, mm: int, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC)


CLOSED_ALERT = Alert(
    id=1,
    site="s",
    device="fridge-1",
    rule=RuleId.OVER_TEMPERATURE,
    severity=Severity.CRITICAL,
    state=AlertState.CLOSED,
    food_safety=True,
    condition_active=False,
    pending_since=at(2, 1),
    message=Message("冷藏超温", "fridge too warm"),
    evidence={"max_c": 9.5, "limit": "8"},
    updated_at=at(3, 0),
    fired_at=at(2, 31),
    occurrences=2,
    acknowledged_at=at(2, 35),
    acknowledged_by="cook",
    resolved_at=at(2, 50),
    resolved_by="rule",
    closed_at=at(3, 0),
    closed_by="manager",
    corrective_action="moved food to freezer-1",
    food_decision=FoodDecision.DISCARDED,
    food_reason="above 8 °C for 45 min",
    note="door left open",
    last_finding_at=at(2, 49),
)


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A database written by release d8454af: its DDL, a few rows in every table."""
    path = tmp_path / "d8454af.duckdb"
    con = duckdb.connect(str(path))
    con.execute(D8454AF_READINGS)
    con.execute(D8454AF_ALERTS)
    con.execute(D8454AF_ROWS)
    con.close()
    return path


def ledger(path: Path) -> list[tuple[str, int]]:
    con = duckdb.connect(str(path))
    try:
        rows = con.execute(
            "SELECT component, version FROM schema_migrations ORDER BY component, version"
        ).fetchall()
    finally:
        con.close()
    return [(str(c), int(v)) for c, v in rows]


def test_a_file_of_release_d8454af_opens_and_reads_back_whole(old_file: Path) -> None:
    store, alerts = DuckDBStore(old_file), DuckDBAlertStore(old_file)
    try:
        [point] = store.series("s", "fridge-1", "temp_c", at(2, 0), at(3, 0), 3600, Aggregate.MAX)
        assert (point.start, point.value, point.count) == (at(2, 0), 9.5, 2)
        [latest] = store.latest("s", "fridge-1")
        assert (latest.metric, latest.ts, latest.value) == ("temp_c", at(2, 1), 9.5)
        [letter] = store.dead_letters("s", 10)
        assert letter.letter == DeadLetter(
            at(2, 2), "canteen/v1/s/fridge-1/telemetry", "not JSON", b"{", 1, "s", "fridge-1"
        )
        [presence] = store.presence("s")
        assert (presence.device, presence.online, presence.since) == ("fridge-1", False, at(2, 3))
        assert store.device_events("s", ["cycle_start"], at(0, 0), at(6, 0)) == [
            DeviceEvent(
                "s", "ir-1", int(at(4, 50).timestamp() * 1000), "cycle_start", {"program": "ir"}
            )
        ]

        assert alerts.alert("s", 1) == CLOSED_ALERT
        assert alerts.find_alerts(AlertQuery("s")) == [CLOSED_ALERT]
        assert alerts.alert_history(1) == [
            AlertHistoryEntry(1, at(2, 31), AlertAction.FIRED, AlertState.FIRING, "rule"),
            AlertHistoryEntry(
                1, at(3, 0), AlertAction.CLOSED, AlertState.CLOSED, "manager",
                "moved food to freezer-1",
            ),
        ]  # fmt: skip
        assert alerts.disinfection_records("s", date(2026, 11, 23), date(2026, 11, 23), None) == [
            DisinfectionRecord(
                "s", "ir-1", "lunch", date(2026, 11, 23), at(4, 40), at(6, 10),
                DisinfectionStatus.COMPLIANT, 120.0, 120.0, 10.0, at(6, 10),
                Message("合格", "compliant"), 1, at(4, 50), at(5, 20), 124.5, 18.0,
            )
        ]  # fmt: skip
        assert alerts.retention_records("s", date(2026, 11, 23), date(2026, 11, 23), None) == [
            RetentionRecord(
                "s", "sample-1", "lunch", date(2026, 11, 23), at(4, 40), at(4, 40, day=25),
                RetentionStatus.IN_PROGRESS, 0.0, 8.0, at(6, 0),
            )
        ]  # fmt: skip
        assert alerts.seal_health("s", "fridge-1", at(0, 0), at(1, 0)) == [
            SealHealthPoint(
                "s", "fridge-1", at(0, 0), 0.8, {"tau_min": 12.5, "baseline_tau_min": 10}
            )
        ]
        assert alerts.load_rule_state("s") == {"over_temperature": '{"devices": {}}'}
        # Today's writes land in the old tables; the sequences carried over (no reused id).
        builder = ReadingBatchBuilder()
        builder.append("s", "fridge-1", "temp_c", int(at(2, 2).timestamp() * 1000), 4.0)
        assert store.write(builder.build()) == 1
        assert store.latest("s", "fridge-1")[0].value == 4.0
        store.write_dead_letters([letter.letter])
        assert [x.id for x in store.dead_letters("s", 10)] == [2, 1]
        assert alerts.create_alert(_open_alert()).id == 2
    finally:
        store.close()
        alerts.close()
    known = [("alerts", v) for v in range(1, len(duckdb_schema.ALERTS) + 1)]
    readings = [("readings", v) for v in range(1, len(duckdb_schema.READINGS) + 1)]
    assert ledger(old_file) == [*known, *readings]


def test_a_migration_adding_a_column_upgrades_an_old_file_keeping_every_row(
    old_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    following = len(duckdb_schema.ALERTS) + 1
    escalation = Migration(
        following,
        "alerts: escalation level",
        ("ALTER TABLE alerts ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0",),
    )
    monkeypatch.setattr(duckdb_schema, "ALERTS", (*duckdb_schema.ALERTS, escalation))
    alerts = DuckDBAlertStore(old_file)
    try:
        assert alerts.alert("s", 1) == CLOSED_ALERT
        assert len(alerts.alert_history(1)) == 2
        assert alerts.create_alert(_open_alert()).id == 2
    finally:
        alerts.close()
    assert ledger(old_file) == [("alerts", v) for v in range(1, following + 1)]
    con = duckdb.connect(str(old_file))
    try:
        rows = con.execute("SELECT id, escalation_level FROM alerts ORDER BY id").fetchall()
    finally:
        con.close()
    assert rows == [(1, 0), (2, 0)]


def test_a_file_from_a_newer_release_is_refused(old_file: Path) -> None:
    known = len(duckdb_schema.READINGS)
    con = duckdb.connect(str(old_file))
    con.execute(
        f"""CREATE TABLE schema_migrations (component VARCHAR NOT NULL, version INTEGER NOT NULL,
               applied_at TIMESTAMP NOT NULL, summary VARCHAR NOT NULL,
               PRIMARY KEY (component, version));
           INSERT INTO schema_migrations VALUES ('readings', 1, now(), 'v1'),
                                                ('readings', {known + 1}, now(), 'from the future')"""
    )
    con.close()
    expected = rf"'readings' tables are at schema version {known + 1}, .* up to {known}"
    with pytest.raises(StoreError, match=expected):
        DuckDBStore(old_file)


def test_a_failing_migration_leaves_the_file_at_the_version_before(
    old_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = len(duckdb_schema.READINGS)
    broken = Migration(
        known + 1,
        "readings: a column, then a step that fails",
        (
            "ALTER TABLE readings ADD COLUMN quality VARCHAR",
            "ALTER TABLE no_such_table ADD COLUMN x INTEGER",
        ),
    )
    monkeypatch.setattr(duckdb_schema, "READINGS", (*duckdb_schema.READINGS, broken))
    expected = rf"migration 'readings' {known + 1} .* stays at version {known}"
    with pytest.raises(StoreError, match=expected):
        DuckDBStore(old_file)
    assert ledger(old_file) == [("readings", v) for v in range(1, known + 1)]
    con = duckdb.connect(str(old_file))
    try:
        columns = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'readings'"
        ).fetchall()
    finally:
        con.close()
    assert ("quality",) not in columns  # the first step was rolled back with the second
    monkeypatch.undo()
    store = DuckDBStore(old_file)
    try:
        assert store.reading_count() == 2
    finally:
        store.close()


def test_a_stored_record_field_without_a_column_is_refused() -> None:
    @dataclass(frozen=True)
    class Reminder:
        alert_id: int
        at: datetime
        channel: str  # added without a column

    with pytest.raises(TypeError, match=r"fields without a column \['channel'\]"):
        RecordTable("reminders", Reminder, ("alert_id", "at"))


def _open_alert() -> Alert:
    start = at(8, 0)
    return Alert(
        id=0,
        site="s",
        device="freezer-1",
        rule=RuleId.OVER_TEMPERATURE,
        severity=Severity.WARNING,
        state=AlertState.PENDING,
        food_safety=True,
        condition_active=True,
        pending_since=start,
        message=Message("冷冻超温", "freezer too warm"),
        evidence={},
        updated_at=start + timedelta(minutes=1),
    )
