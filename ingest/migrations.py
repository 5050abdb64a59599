"""Schema versions of the DuckDB file: numbered migrations per component, applied at start.

A school's database file outlives every release, so a table is never changed by editing its
`CREATE TABLE`: each change is a new numbered `Migration` at the end of its component's list
in `ingest.duckdb_schema` (the readings store and the alert store are components; each owns
its tables). On opening, a store applies the migrations its file has not seen, oldest first,
each in one transaction together with its line in `schema_migrations` (component, version,
applied_at, summary). A file whose schema is newer than this release knows is refused, never
written to.

Version 1 of every component is the schema as it was before versions were kept (release
d8454af and earlier): its statements say `IF NOT EXISTS`, so on such a file they change nothing
and version 1 is simply recorded. Later migrations are plain DDL (`ALTER TABLE ... ADD COLUMN
... DEFAULT ...`), run once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from ingest.errors import StoreError

__all__ = ["Migration", "migrate", "migrate_or_close", "schema_version"]

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component VARCHAR NOT NULL, version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL,
    summary VARCHAR NOT NULL, PRIMARY KEY (component, version))
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step of a component: `steps` run in order, in one transaction."""

    version: int
    summary: str
    steps: tuple[str, ...]


def migrate(
    con: duckdb.DuckDBPyConnection,
    component: str,
    migrations: Sequence[Migration],
    *,
    target: str,
) -> int:
    """Bring `component`'s tables up to the last of `migrations`; returns that version.

    Raises `StoreError` for a file newer than the code and for a migration that fails (its
    transaction is rolled back, so the file stays at the version before it)."""
    _check_numbering(component, migrations)
    known = len(migrations)
    con.execute(_LEDGER)
    current = schema_version(con, component)
    if current > known:
        raise StoreError(
            f"the database's '{component}' tables are at schema version {current}, but this "
            f"release knows versions up to {known}: it was written by a newer release; run "
            "that release, or open a copy made for this one",
            backend="duckdb",
            target=target,
        )
    for migration in migrations[current:]:
        _apply(con, component, migration, target)
    return known


def migrate_or_close(
    con: duckdb.DuckDBPyConnection,
    component: str,
    migrations: Sequence[Migration],
    *,
    target: str,
) -> int:
    """`migrate`, closing the store's connection when it fails: a store that refused to open
    must not keep the file open."""
    try:
        return migrate(con, component, migrations, target=target)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.close()
        raise


def schema_version(con: duckdb.DuckDBPyConnection, component: str) -> int:
    """The last version applied to `component` (0: none, a new or pre-versioning file)."""
    # fetchall, not fetchone: DuckDB refuses the next statement while a result is unfinished.
    [(version,)] = con.execute(
        "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = ?",
        [component],
    ).fetchall()
    return int(version)


def _apply(
    con: duckdb.DuckDBPyConnection, component: str, migration: Migration, target: str
) -> None:
    con.execute("BEGIN")
    try:
        for step in migration.steps:
            con.execute(step)
        # The wall time of the upgrade, for whoever reads the ledger; not an event time.
        applied_at = datetime.now(UTC).replace(tzinfo=None)
        con.execute(
            """INSERT INTO schema_migrations (component, version, applied_at, summary)
               VALUES (?, ?, ?, ?)""",
            [component, migration.version, applied_at, migration.summary],
        )
        con.execute("COMMIT")
    except duckdb.Error as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise StoreError(
            f"schema migration '{component}' {migration.version} ({migration.summary}) "
            f"failed, the file stays at version {migration.version - 1}: {exc}",
            backend="duckdb",
            target=target,
        ) from exc


def _check_numbering(component: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations of '{component}' must be numbered 1, 2, ...: {versions}")
