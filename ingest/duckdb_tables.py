"""The connection plumbing shared by the stores that keep relational records in the DuckDB file.

`DuckDBTables` opens its own connection to the file (DuckDB shares one database instance between
a process's connections, so every store sees the others' commits), applies its component of the
file's schema (`ingest.migrations`) and translates every `duckdb.Error` into a `StoreError` once.
Writes and transactions hold the store's lock; reads use a cursor of their own. The alert, outbox,
user and calibration stores build on it and keep only their SQL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from pydantic import ValidationError

from ingest.duckdb_rows import RecordTable
from ingest.errors import StoreError
from ingest.migrations import Migration, migrate_or_close

__all__ = ["DuckDBTables"]

T = TypeVar("T")


class DuckDBTables:
    """A connection to a DuckDB file whose `component` tables are migrated on opening.

    With `allow_memory=False` the store refuses ':memory:': its tables belong beside the
    readings, and an in-memory database would be a separate, empty one."""

    backend = "duckdb"

    def __init__(
        self,
        path: str | Path,
        component: str,
        migrations: Sequence[Migration],
        *,
        allow_memory: bool = True,
    ) -> None:
        self._target = str(path)
        if self._target == ":memory:" and not allow_memory:
            raise StoreError(
                f"{component} share the readings' database file; ':memory:' would be a "
                "separate, empty database",
                backend=self.backend,
                target=self._target,
            )
        if self._target != ":memory:":
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        with self._translated():
            self._con = duckdb.connect(self._target)
        migrate_or_close(self._con, component, migrations, target=self._target)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()

    def _write(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        with self._lock, self._translated():
            return self._con.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection inside BEGIN ... COMMIT, rolled back when the block raises."""
        with self._lock, self._translated():
            self._con.execute("BEGIN")
            try:
                yield self._con
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _records(self, table: RecordTable[T], sql: str, params: Any) -> list[T]:
        """Rows selected as `table.select`, as records."""
        rows = self._query(sql, params)
        try:
            return [table.decode(row) for row in rows]
        except ValidationError as exc:
            raise StoreError(
                f"a row of {table.table} does not fit its record: {exc}",
                backend=self.backend,
                target=self._target,
            ) from exc

    def _query(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        with self._translated():
            cursor = self._con.cursor()
            try:
                return cursor.execute(sql, params).fetchall()
            finally:
                cursor.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        if self._closed:
            raise StoreError("the store is closed", backend=self.backend, target=self._target)
        try:
            yield
        except duckdb.Error as exc:
            raise StoreError(str(exc), backend=self.backend, target=self._target) from exc
