"""`canteen report energy`: write the energy report of a month, ISO week or day to a file.

    canteen report energy --config FILE --month 2026-10 --format pdf --out report.pdf

`register(commands)` adds the command to the `canteen` parser; the format defaults to the
output file's suffix. The store is the config's DuckDB file (or `--db`); DuckDB lets one
process open a file, so while `canteen serve` runs, take the same report as JSON from
`GET /api/energy/report` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from core.clock import SystemClock
from core.config import load_config
from core.errors import ConfigError
from energy import EnergyError, PeriodKind, ReportPeriod
from energy.writers import ReportFormat, StderrProgress, write_report
from ingest.duckdb_store import DuckDBStore
from ingest.errors import StoreError

__all__ = ["register", "run_energy_report"]

_MAGIC_END = 12


def register(commands: Any) -> None:
    """Add `report energy` to the `canteen` sub-commands (an argparse subparsers action)."""
    report = commands.add_parser("report", help="write reports to files")
    kinds = report.add_subparsers(required=True, metavar="REPORT")
    energy = kinds.add_parser(
        "energy",
        help="energy per building and category: use, cost, intensity, change, completeness",
        description="Energy report of a month, an ISO week or a day, as CSV, XLSX or PDF.",
    )
    energy.add_argument("--config", type=Path, required=True, help="site config (YAML)")
    when = energy.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", help="a calendar month, YYYY-MM")
    when.add_argument("--week", help="an ISO week, YYYY-Www")
    when.add_argument("--date", help="a local day, YYYY-MM-DD")
    energy.add_argument(
        "--format", choices=[f.value for f in ReportFormat], help="default: --out's suffix"
    )
    energy.add_argument("--out", type=Path, required=True, help="file to write")
    energy.add_argument(
        "--db", help="DuckDB file, overrides storage.path; must exist (opened read-only)"
    )
    energy.add_argument("--lang", choices=["zh", "en"], default="zh", help="language (default zh)")
    energy.set_defaults(handler=_energy_report)


async def _energy_report(args: argparse.Namespace, _stop: asyncio.Event) -> None:
    code = await asyncio.to_thread(run_energy_report, args)
    if code:
        raise SystemExit(code)


def run_energy_report(args: argparse.Namespace) -> int:
    """Write the report; a problem is one line on stderr and exit code 2."""
    try:
        period = _period(args)
        fmt = _format(args)
        config = load_config(args.config)
        store = _open_store(Path(args.db) if args.db else Path(config.storage.path), args)
        try:
            now = SystemClock().now()
            write_report(config, store, period, fmt, args.out, StderrProgress(), args.lang, now)
        finally:
            store.close()
    except (ConfigError, EnergyError, StoreError) as exc:
        print(f"canteen report energy: {exc}", file=sys.stderr)
        return 2
    print(f"canteen report energy: wrote {args.out}", file=sys.stderr)
    return 0


def _open_store(path: Path, args: argparse.Namespace) -> DuckDBStore:
    """The store's file, read-only: a report never creates, migrates or writes a database."""
    field = "--db" if args.db else "storage.path"
    where = "" if args.db else f" (from {args.config})"
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise EnergyError(
            f"{path} {what}; expected the DuckDB file that `canteen serve` or `canteen demo` "
            f"writes{where}",
            field=field,
        )
    with path.open("rb") as head:
        magic = head.read(_MAGIC_END)
    # DuckDB's file header: a checksum, then the magic bytes "DUCK" at offset 8.
    if magic[_MAGIC_END - 4 :] != b"DUCK":
        raise EnergyError(
            f"{path} is not a DuckDB database; expected the file that `canteen serve` or "
            f"`canteen demo` writes{where}",
            field=field,
        )
    try:
        return DuckDBStore(path, read_only=True)
    except StoreError as exc:
        if "lock" in str(exc).lower():
            raise EnergyError(
                f"{path} is in use by a running service (DuckDB lets one process open it); "
                "take the report from that service instead: GET /api/energy/report?period="
                "month&month=YYYY-MM, or stop the service and run this command again",
                field=field,
            ) from exc
        raise


def _period(args: argparse.Namespace) -> ReportPeriod:
    for kind, value, option in (
        (PeriodKind.MONTH, args.month, "--month"),
        (PeriodKind.WEEK, args.week, "--week"),
        (PeriodKind.DAY, args.date, "--date"),
    ):
        if value is not None:
            try:
                return ReportPeriod.parse(kind, value)
            except EnergyError as exc:
                raise EnergyError(exc.message, field=option) from None
    raise EnergyError("give --month, --week or --date")


def _format(args: argparse.Namespace) -> ReportFormat:
    name = args.format or args.out.suffix.lstrip(".").lower()
    try:
        return ReportFormat(name)
    except ValueError:
        allowed = ", ".join(f.value for f in ReportFormat)
        raise EnergyError(
            f"cannot tell the format from {args.out.name!r}; give --format ({allowed})",
            field="--format",
        ) from None
