"""What admins change, in the site's DuckDB file: the audit trail, the control limits set over
the site config per device with their history (which value was in force when), and when each
person last logged in.

`DuckDBAdminStore` follows the other record stores (`DuckDBTables`: its own connection to the
readings' file, its tables the 'admin' component of the file's schema). A limit and the audit
row that explains it are written in one transaction, with the history's step (the period in
force closed, the new one opened): no override without its who, when, old, new and why. It
stores what `dashboard_api` hands it and decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from core.admin_records import AuditEntry, LimitOverride, LimitPeriod
from ingest.duckdb_rows import RecordTable, naive_utc, utc
from ingest.duckdb_tables import DuckDBTables
from ingest.migrations import Migration

__all__ = ["ADMIN", "DuckDBAdminStore"]

_ADMIN_V1 = """
CREATE SEQUENCE IF NOT EXISTS admin_audit_ids;
CREATE TABLE IF NOT EXISTS admin_audit (
    id BIGINT PRIMARY KEY DEFAULT nextval('admin_audit_ids'),
    "at" TIMESTAMP NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
    target VARCHAR NOT NULL, old VARCHAR, new VARCHAR, reason VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS limit_overrides (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, field VARCHAR NOT NULL,
    value DOUBLE NOT NULL, set_by VARCHAR NOT NULL, set_at TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL, PRIMARY KEY (site, device, field));
CREATE TABLE IF NOT EXISTS last_logins (
    name VARCHAR PRIMARY KEY, "at" TIMESTAMP NOT NULL);
"""
# The 'admin' component's schema history (see ingest.duckdb_schema for the rule: never edit a
# released migration, append one).
# Version 2: the limits' history. The overrides in force when it is applied open it (from the
# time they were set); before them nothing was recorded, so the config's values stand there.
_ADMIN_V2 = (
    """CREATE TABLE limit_history (
    site VARCHAR NOT NULL, device VARCHAR NOT NULL, field VARCHAR NOT NULL, value DOUBLE,
    valid_from TIMESTAMP NOT NULL, valid_to TIMESTAMP, set_by VARCHAR NOT NULL,
    reason VARCHAR NOT NULL)""",
    """INSERT INTO limit_history
    SELECT site, device, field, value, set_at, NULL, set_by, reason FROM limit_overrides""",
)
ADMIN: tuple[Migration, ...] = (
    Migration(1, "admin audit trail, limit overrides, last logins", (_ADMIN_V1,)),
    Migration(2, "limit history: each override's valid_from / valid_to", _ADMIN_V2),
)

_AUDIT = RecordTable(
    "admin_audit", AuditEntry, ("at", "actor", "action", "target", "old", "new", "reason")
)
_OVERRIDES = RecordTable(
    "limit_overrides",
    LimitOverride,
    ("site", "device", "field", "value", "set_by", "set_at", "reason"),
)


_PERIODS = RecordTable(
    "limit_history",
    LimitPeriod,
    ("site", "device", "field", "value", "valid_from", "valid_to", "set_by", "reason"),
)
_CLOSE_PERIOD = """UPDATE limit_history SET valid_to = ?
    WHERE site = ? AND device = ? AND field = ? AND valid_to IS NULL"""


class DuckDBAdminStore(DuckDBTables):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "admin", ADMIN, allow_memory=False)

    # -- audit ------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        self._write(_AUDIT.insert(), _AUDIT.encode(entry))

    def audit_trail(self, subjects: Sequence[str], limit: int = 200) -> list[AuditEntry]:
        """The newest `limit` entries first whose action is about one of `subjects` ('user',
        'token', 'limit': the part of the action before its dot)."""
        sql = f"""SELECT {_AUDIT.select} FROM admin_audit
            WHERE list_contains(?::VARCHAR[], split_part(action, '.', 1))
            ORDER BY "at" DESC, id DESC LIMIT ?"""
        return self._records(_AUDIT, sql, [list(subjects), limit])

    # -- limit overrides --------------------------------------------------------------------

    def limit_overrides(self, site: str) -> list[LimitOverride]:
        sql = f"SELECT {_OVERRIDES.select} FROM limit_overrides WHERE site = ? ORDER BY device"
        return self._records(_OVERRIDES, sql, [site])

    def set_limit(self, override: LimitOverride, entry: AuditEntry) -> None:
        """Set (or replace) one limit and write its audit row, both or neither."""
        period = LimitPeriod(
            override.site, override.device, override.field, override.value, entry.at, None,
            entry.actor, entry.reason,
        )  # fmt: skip
        with self._transaction() as con:
            con.execute(_OVERRIDES.insert(replace=True), _OVERRIDES.encode(override))
            con.execute(_AUDIT.insert(), _AUDIT.encode(entry))
            _next_period(con, period)

    def clear_limit(self, site: str, device: str, field: str, entry: AuditEntry) -> None:
        """Back to the config's value: a period of no override opens (who went back, why)."""
        period = LimitPeriod(site, device, field, None, entry.at, None, entry.actor, entry.reason)
        with self._transaction() as con:
            con.execute(
                "DELETE FROM limit_overrides WHERE site = ? AND device = ? AND field = ?",
                [site, device, field],
            )
            con.execute(_AUDIT.insert(), _AUDIT.encode(entry))
            _next_period(con, period)

    def limit_history(
        self, site: str, device: str, start: datetime, end: datetime
    ) -> list[LimitPeriod]:
        """The periods of the device's limits that overlap [start, end), oldest first."""
        sql = f"""SELECT {_PERIODS.select} FROM limit_history
            WHERE site = ? AND device = ? AND valid_from < ?
              AND (valid_to IS NULL OR valid_to > ?)
            ORDER BY valid_from, field"""
        return self._records(_PERIODS, sql, [site, device, naive_utc(end), naive_utc(start)])

    # -- logins -----------------------------------------------------------------------------

    def record_login(self, name: str, at: datetime) -> None:
        self._write(
            'INSERT OR REPLACE INTO last_logins (name, "at") VALUES (?, ?)', [name, naive_utc(at)]
        )

    def last_logins(self) -> dict[str, datetime]:
        rows = self._query('SELECT name, "at" FROM last_logins', [])
        return {name: utc(at) for name, at in rows}


def _next_period(con: Any, period: LimitPeriod) -> None:
    """Close the field's period in force at `period.valid_from` and open `period`."""
    at = naive_utc(period.valid_from)
    con.execute(_CLOSE_PERIOD, [at, period.site, period.device, period.field])
    con.execute(_PERIODS.insert(), _PERIODS.encode(period))
