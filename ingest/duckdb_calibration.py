"""The probe calibration register in the DuckDB file: the checks staff record per probe.

Its table is the 'calibration' component of the file's schema (`ingest.duckdb_schema`), applied
on opening like the alert store's; the connection is the store's own, to the same file as the
readings (DuckDB shares one database instance between connections of a process). Checks are
few (one a month per probe), so every query reads a device's or a site's lines whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import ValidationError

from core.records import CalibrationCheck
from ingest import duckdb_schema
from ingest.duckdb_rows import RecordTable, naive_utc
from ingest.errors import StoreError
from ingest.migrations import migrate_or_close

__all__ = ["DuckDBCalibrationStore"]

_CHECKS = RecordTable(
    "calibration_checks",
    CalibrationCheck,
    (
        "id", "site", "device", "checked_at", "method", "reference_c", "probe_c",
        "tolerance_k", "passed", "by", "note", "corrective_action",
    ),
)  # fmt: skip
_VALUES = _CHECKS.columns[1:]  # the id comes from the calibration_check_ids sequence


class DuckDBCalibrationStore:
    """`alerts.calibration.CalibrationStore` on a DuckDB file (structurally: nothing of alerts
    is imported)."""

    backend = "duckdb"

    def __init__(self, path: str | Path) -> None:
        self._target = str(path)
        if self._target != ":memory:":
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        with self._translated():
            self._con = duckdb.connect(self._target)
        migrate_or_close(self._con, "calibration", duckdb_schema.CALIBRATION, target=self._target)

    def add_check(self, check: CalibrationCheck) -> CalibrationCheck:
        with self._lock, self._translated():
            [(new_id,)] = self._con.execute(
                f"{_CHECKS.insert(columns=_VALUES)} RETURNING id", _CHECKS.encode(check, _VALUES)
            ).fetchall()
        return replace(check, id=int(new_id))

    def checks(
        self, site: str, device: str | None, until: datetime | None = None
    ) -> list[CalibrationCheck]:
        """The checks of one device (None: every device) up to `until`, oldest first."""
        sql = f"""SELECT {_CHECKS.select} FROM calibration_checks
            WHERE site = $site AND ($device IS NULL OR device = $device)
              AND ($until IS NULL OR checked_at <= $until)
            ORDER BY checked_at, id"""
        until_naive = None if until is None else naive_utc(until)
        rows = self._query(sql, {"site": site, "device": device, "until": until_naive})
        try:
            return [_CHECKS.decode(row) for row in rows]
        except ValidationError as exc:
            raise StoreError(
                f"a row of calibration_checks does not fit its record: {exc}",
                backend=self.backend,
                target=self._target,
            ) from exc

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()

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
