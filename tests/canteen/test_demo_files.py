"""`canteen demo` starts every run on a fresh database and keeps the previous run's beside it:
each run simulates the school afresh, and a second history over the first would make every
meter's counter jump back and forth."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from canteen.demo import demo_faults, set_aside, staged_fault
from core import load_config
from firmware_sim.faults import FaultType
from ingest import DuckDBStore
from tests.conftest import EXAMPLES


def test_a_first_run_has_nothing_to_set_aside(tmp_path: Path) -> None:
    assert set_aside(tmp_path / "demo.duckdb") is None


def test_the_previous_run_is_kept_once_and_the_next_starts_empty(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    DuckDBStore(db).close()
    older = tmp_path / "demo.previous.duckdb"
    older.write_bytes(b"the run before the previous one")
    (tmp_path / "demo.previous.duckdb.wal").write_bytes(b"its log")
    kept = set_aside(db)
    assert kept == older and not db.exists()
    # The kept file is the previous run's database, not the one before it, with no stale log.
    DuckDBStore(kept, read_only=True).close()
    assert not (tmp_path / "demo.previous.duckdb.wal").exists()


def test_a_broken_file_is_set_aside_too(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    db.write_bytes(b"half a file from a crash")
    assert set_aside(db) == tmp_path / "demo.previous.duckdb" and not db.exists()


def test_a_database_open_in_a_running_demo_is_not_moved(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    running = DuckDBStore(db)
    try:
        # Another process holds DuckDB's lock; in one process the same file opens twice, so
        # the lock is tried from a child process.
        code = (
            "import sys; from pathlib import Path; from canteen.demo import set_aside; "
            "set_aside(Path(sys.argv[1]))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert "is open in another running demo or service" in done.stderr, done.stderr
        assert db.exists()
    finally:
        running.close()


@pytest.mark.parametrize("name", ["demo.duckdb", "school.db"])
def test_the_kept_name_keeps_the_suffix(tmp_path: Path, name: str) -> None:
    db = tmp_path / name
    DuckDBStore(db).close()
    kept = set_aside(db)
    assert kept is not None and kept.suffix == db.suffix and ".previous" in kept.name


def test_the_demo_stages_one_compressor_failure_inside_its_history() -> None:
    config = load_config(EXAMPLES / "demo-school.yaml")
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    (fault,) = demo_faults(config, start, 6.0)
    assert fault.type is FaultType.COMPRESSOR_FAILURE and fault.device == "fridge-2"
    assert fault.end_s is not None
    # It starts 4.5 h before the present and is over 150 min later, inside the six hours.
    assert fault.onset_s == (start + timedelta(hours=1.5)).timestamp()
    assert fault.end_s - fault.onset_s == 150 * 60
    assert "fridge-2" in staged_fault(config, 6.0)
    # Half an hour of history (the CLI test's) has no room for it: nothing is staged.
    assert demo_faults(config, start, 0.5) == () and staged_fault(config, 0.5) == ""
