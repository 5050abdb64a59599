"""The schema history of the DuckDB file: the numbered migrations of each component.

`READINGS` are the tables of `DuckDBStore`, `ALERTS` those of `DuckDBAlertStore`, `USERS` those
of `DuckDBUserStore` (people, tokens, login sessions), `OUTBOX` those of `DuckDBOutboxStore`
(notices waiting to be sent, the delivery log); each store applies its list on opening
(`ingest.migrations.migrate`). Version 1 of readings and alerts is the schema as
release d8454af created it, before versions were kept: its statements say `IF NOT EXISTS`, so
on a file of that release they only record the version.

Never edit a migration once released: a table changes by a new migration appended to its
component's list, e.g. `Migration(2, "alerts: escalation level", ("ALTER TABLE alerts ADD
COLUMN escalation_level INTEGER NOT NULL DEFAULT 0",))`, together with the column in the
store's column list.
"""

from __future__ import annotations

from ingest.duckdb_rollup import rebuild_statements
from ingest.migrations import Migration

__all__ = [
    "ALERTS",
    "CALIBRATION",
    "KEYLESS_VERSION",
    "OUTBOX",
    "PENDING_VERSION",
    "READINGS",
    "ROLLUPS_VERSION",
    "USERS",
]

_READINGS_V1 = """
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

# The readings schema version that brought the rollups (`ingest.duckdb_rollup`).
ROLLUPS_VERSION = 3

# The rollups of `ingest.duckdb_rollup`: one table per bucket width, the same columns; one row
# per (site, device, metric, bucket), kept so by the rollup code rather than by an index.
_ROLLUP_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    bucket TIMESTAMP NOT NULL, n BIGINT NOT NULL, total DOUBLE NOT NULL, low DOUBLE NOT NULL,
    high DOUBLE NOT NULL, first_ts TIMESTAMP NOT NULL, last_ts TIMESTAMP NOT NULL,
    last_value DOUBLE NOT NULL)
"""

# The readings schema version that brought `rollup_pending`: writes note the minutes they
# touched there and the rollups are brought up to date later (`ingest.duckdb_rollup.settle`).
PENDING_VERSION = 4

# One row per (site, device, metric, minute) a write touched and batch; no key, as appending
# must stay cheap. It is emptied by every settle, so it holds seconds of writes.
_PENDING_TABLE = """
CREATE TABLE IF NOT EXISTS rollup_pending (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    minute TIMESTAMP NOT NULL)
"""

# The readings schema version whose readings table has no primary key: the write keeps a
# reading's identity itself (`ingest.duckdb_write`), the index cost more than the rest of the
# write. The rows are copied in time order, so zone maps on `ts` prune the write's look-ups.
KEYLESS_VERSION = 5

_KEYLESS_READINGS = (
    """CREATE TABLE readings_v5 (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL)""",
    """INSERT INTO readings_v5 (site, device, metric, ts, value)
    SELECT site, device, metric, ts, value FROM readings ORDER BY ts""",
    "DROP TABLE readings",
    "ALTER TABLE readings_v5 RENAME TO readings",
)

READINGS: tuple[Migration, ...] = (
    Migration(1, "readings, latest, dead letters, presence, device events", (_READINGS_V1,)),
    # Letters kept before have no code (NULL): which check refused them was not recorded.
    Migration(
        2, "dead letters: the reason's code", ("ALTER TABLE dead_letters ADD COLUMN code VARCHAR",)
    ),
    # An existing file's readings are rolled up once here: 10 M readings (a month of 200
    # devices, one a minute) took about a minute of CPU, four on a loaded 2-core machine.
    Migration(
        3,
        "readings rollups per 1 min, 5 min, 1 h",
        (
            *(_ROLLUP_TABLE.format(table=t) for t in ("rollup_1m", "rollup_5m", "rollup_1h")),
            *rebuild_statements(),
        ),
    ),
    # From version 3 the rollups are up to date (written with the readings), from version 2
    # migration 3 has just rebuilt them: in both cases nothing is pending yet.
    Migration(4, "rollups brought up to date after the write (pending minutes)", (_PENDING_TABLE,)),
    Migration(
        KEYLESS_VERSION,
        "readings without a primary key (the write keeps their identity)",
        _KEYLESS_READINGS,
    ),
)

# The notification outbox (`ingest.duckdb_outbox`): notices persisted before they are sent, and
# the delivery log, one row per attempt.
_OUTBOX_V1 = """
CREATE TABLE IF NOT EXISTS outbox (
    "key" VARCHAR PRIMARY KEY, channel VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    critical BOOLEAN NOT NULL, alert_ids BIGINT[] NOT NULL, notice JSON NOT NULL,
    state VARCHAR NOT NULL, attempts INTEGER NOT NULL, created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, last_error VARCHAR,
    merged_into VARCHAR, sent_at TIMESTAMP);
CREATE SEQUENCE IF NOT EXISTS delivery_log_ids;
CREATE TABLE IF NOT EXISTS delivery_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('delivery_log_ids'),
    notice_key VARCHAR NOT NULL, alert_ids BIGINT[] NOT NULL, channel VARCHAR NOT NULL,
    recipients VARCHAR[] NOT NULL, attempt INTEGER NOT NULL, "at" TIMESTAMP NOT NULL,
    outcome VARCHAR NOT NULL, reason VARCHAR NOT NULL, status INTEGER,
    latency_ms DOUBLE NOT NULL, kind VARCHAR NOT NULL);
CREATE INDEX IF NOT EXISTS delivery_log_notice ON delivery_log (notice_key);
"""

OUTBOX: tuple[Migration, ...] = (
    Migration(1, "notification outbox, delivery log", (_OUTBOX_V1,)),
    Migration(
        2,
        "outbox: attempts refused by a rate limit, which count against no retry limit",
        ("ALTER TABLE outbox ADD COLUMN rate_limited INTEGER DEFAULT 0",),
    ),
)

_ALERTS_V1 = """
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

ALERTS: tuple[Migration, ...] = (
    Migration(1, "alerts, history, registers, seal health, rule state", (_ALERTS_V1,)),
    Migration(
        2,
        "disinfection register: amendment trail of lines corrected by late data",
        ("ALTER TABLE disinfection_register ADD COLUMN amendments JSON DEFAULT '[]'",),
    ),
    Migration(
        3,
        "sample retention: amendment trail of windows corrected by late data",
        ("ALTER TABLE sample_retention ADD COLUMN amendments JSON DEFAULT '[]'",),
    ),
)

_CALIBRATION_V1 = """
CREATE SEQUENCE IF NOT EXISTS calibration_check_ids;
CREATE TABLE IF NOT EXISTS calibration_checks (
    id BIGINT PRIMARY KEY DEFAULT nextval('calibration_check_ids'),
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL,
    method VARCHAR NOT NULL, reference_c DOUBLE NOT NULL, probe_c DOUBLE NOT NULL,
    tolerance_k DOUBLE NOT NULL, passed BOOLEAN NOT NULL, "by" VARCHAR NOT NULL,
    note VARCHAR, corrective_action VARCHAR);
CREATE INDEX IF NOT EXISTS calibration_checks_device ON calibration_checks (site, device);
"""

CALIBRATION: tuple[Migration, ...] = (Migration(1, "probe calibration checks", (_CALIBRATION_V1,)),)

_USERS_V1 = """
CREATE TABLE IF NOT EXISTS users (
    name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, password_hash VARCHAR NOT NULL,
    disabled BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
    name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, token_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL, disabled BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS login_sessions (
    key_hash VARCHAR PRIMARY KEY, "user" VARCHAR NOT NULL, csrf VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL);
"""

USERS: tuple[Migration, ...] = (Migration(1, "users, API tokens, login sessions", (_USERS_V1,)),)
