"""DuckDB's exceptions turned into the store's own, once, at the boundary; and the check that
a file opened read-only is one of ours."""

from __future__ import annotations

import duckdb

from ingest import duckdb_schema
from ingest.errors import StoreError, StoreUnavailableError
from ingest.migrations import schema_version

__all__ = ["Translate", "check_readable"]


# DuckDB's errors that say the database cannot work now, whatever the data: the disk (full,
# unwritable), memory, a database invalidated by an earlier fatal error, an interrupted query.
_UNAVAILABLE = (
    duckdb.IOException,
    duckdb.TransactionException,  # "Failed to commit: Could not write file" (disk full)
    duckdb.OutOfMemoryException,
    duckdb.FatalException,
    duckdb.InterruptException,
    duckdb.ConnectionException,
    duckdb.PermissionException,
)


class Translate:
    """Turns DuckDB's exceptions into StoreError once, at the boundary: unavailability
    (`StoreUnavailableError`, retried by writers) apart from data the store refused."""

    def __init__(self, target: str) -> None:
        self._target = target

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, _UNAVAILABLE):
            raise StoreUnavailableError(str(exc), backend="duckdb", target=self._target) from exc
        if isinstance(exc, duckdb.Error):
            raise StoreError(str(exc), backend="duckdb", target=self._target) from exc


def check_readable(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """A file opened read-only must already hold this schema's readings, at a known version."""
    try:
        version = schema_version(con, "readings")
    except duckdb.Error:
        version = 0
    if not 1 <= version <= len(duckdb_schema.READINGS):
        con.close()
        raise StoreError(
            f"not a canteen-monitor database (readings schema version {version}, this release "
            f"reads 1 to {len(duckdb_schema.READINGS)})",
            backend="duckdb",
            target=target,
        )
