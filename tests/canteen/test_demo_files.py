"""`canteen demo` starts every run on a fresh database and keeps the previous run's beside it:
each run simulates the school afresh, and a second history over the first would make every
meter's counter jump back and forth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from canteen.demo import set_aside
from ingest import DuckDBStore


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
