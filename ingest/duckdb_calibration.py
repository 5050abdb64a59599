"""The probe calibration register in the DuckDB file: the checks staff record per probe.

Its table is the 'calibration' component of the file's schema (`ingest.duckdb_schema`), applied
on opening like the alert store's; the connection is the store's own, to the same file as the
readings (DuckDB shares one database instance between connections of a process). Checks are
few (one a month per probe), so every query reads a device's or a site's lines whole.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from core.records import CalibrationCheck
from ingest import duckdb_schema
from ingest.duckdb_rows import RecordTable, naive_utc
from ingest.duckdb_tables import DuckDBTables

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


class DuckDBCalibrationStore(DuckDBTables):
    """`alerts.calibration.CalibrationStore` on a DuckDB file (structurally: nothing of alerts
    is imported)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "calibration", duckdb_schema.CALIBRATION)

    def add_check(self, check: CalibrationCheck) -> CalibrationCheck:
        [(new_id,)] = self._write(
            f"{_CHECKS.insert(columns=_VALUES)} RETURNING id", _CHECKS.encode(check, _VALUES)
        )
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
        return self._records(_CHECKS, sql, {"site": site, "device": device, "until": until_naive})
