"""`canteen report energy` and the database it reads: a report never creates, migrates or
writes a database; a missing, foreign or busy file is refused with a sentence that says what
to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from canteen.report_cli import run_energy_report
from ingest import DuckDBStore
from tests.energy.conftest import school
from tests.energy.test_reports import cli, config_file


def _run(tmp_path: Path, db: Path, *, via_config: bool = False) -> list[str]:
    config = config_file(tmp_path, school(), db)
    out = tmp_path / "r.csv"
    extra = [] if via_config else ["--db", str(db)]
    args = cli(
        "report", "energy", "--config", str(config), "--month", "2026-10", "--out", str(out), *extra
    )
    return [str(run_energy_report(args)), str(out.exists())]


def test_a_missing_database_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo.duckdb"
    assert _run(tmp_path, db) == ["2", "False"]
    assert not db.exists()
    err = capsys.readouterr().err
    assert f"--db: {db} does not exist; expected the DuckDB file that `canteen serve`" in err


def test_the_config_path_is_named_when_it_is_the_one_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "none.duckdb"
    assert _run(tmp_path, db, via_config=True) == ["2", "False"]
    assert not db.exists()
    err = capsys.readouterr().err
    assert f"storage.path: {db} does not exist" in err and "(from " in err


def test_a_file_that_is_not_a_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("site: {id: x}\n", encoding="utf-8")
    assert _run(tmp_path, db) == ["2", "False"]
    assert f"{db} is not a DuckDB database" in capsys.readouterr().err


def test_a_duckdb_file_of_another_application_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "other.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    assert _run(tmp_path, db) == ["2", "False"]
    assert "not a canteen-monitor database" in capsys.readouterr().err
    con = duckdb.connect(str(db), read_only=True)
    tables = {
        row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    con.close()
    assert tables == {"t"}  # nothing migrated into it


def test_a_database_held_by_a_running_service_gets_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "busy.duckdb"
    DuckDBStore(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb; c = duckdb.connect({str(db)!r}); print('ready', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert _run(tmp_path, db) == ["2", "False"]
    finally:
        holder.communicate("\n", timeout=30)
    err = capsys.readouterr().err
    assert f"{db} is in use by a running service" in err
    assert "GET /api/energy/report" in err
    assert "Conflicting lock" not in err  # not DuckDB's own text


def test_an_existing_database_is_read_and_left_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "ok.duckdb"
    DuckDBStore(db).close()
    before = db.read_bytes()
    assert _run(tmp_path, db) == ["0", "True"]
    assert db.read_bytes() == before
