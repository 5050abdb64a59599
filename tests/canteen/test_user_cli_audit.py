"""`canteen user disable|enable` and `canteen token create` write the admin audit trail's rows
the admin page writes for the same changes, on a real DuckDB file, in the name of `cli:` and
the operating-system user who ran the command; a refused change or a person already in the
state asked for writes none. Every audit action has its words in both languages, so the admin
page can show a row the command line wrote."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from canteen.cli import main
from core.admin_records import AdminAction, AuditEntry
from dashboard_api.web import i18n_admin  # noqa: F401 (adds the admin page's words)
from dashboard_api.web.i18n import CATALOGUE
from ingest.duckdb_admin import DuckDBAdminStore

Row = tuple[str, AdminAction, str, str | None, str | None, str]


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> tuple[int, str]:
    """The exit status and, for a refusal, its sentence (the `SystemExit`'s message)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        return main(args), ""
    except SystemExit as exc:
        if isinstance(exc.code, str):
            return 1, exc.code
        return int(exc.code or 0), ""


def add_person(db: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    add = ["user", "add", "王老师", "--role", "staff", "--password-stdin", *db]
    assert run(add, monkeypatch, "a long password\n") == (0, "")


def trail(path: Path, subject: str) -> list[Row]:
    store = DuckDBAdminStore(path)
    try:
        entries: list[AuditEntry] = list(reversed(store.audit_trail([subject])))  # oldest first
    finally:
        store.close()
    return [(e.actor, e.action, e.target, e.old, e.new, e.reason) for e in entries]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("LOGNAME", "ops")  # what getpass.getuser() reads first
    return ["--db", str(tmp_path / "site.duckdb")]


def test_disable_and_enable_write_the_rows_the_admin_page_writes(
    db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_person(db, monkeypatch)
    assert run(["user", "disable", "王老师", *db], monkeypatch) == (0, "")
    assert run(["user", "disable", "王老师", *db], monkeypatch) == (0, "")  # already: no row
    assert run(["user", "enable", "王老师", *db], monkeypatch) == (0, "")
    code, refusal = run(["user", "disable", "nobody", *db], monkeypatch)  # no row either
    assert code == 1 and "no user 'nobody'" in refusal, refusal
    rows = trail(Path(db[1]), "user")
    assert rows[0][1] is AdminAction.USER_CREATED
    assert rows[1:] == [
        ("cli:ops", AdminAction.USER_DISABLED, "王老师", "false", "true", ""),
        ("cli:ops", AdminAction.USER_ENABLED, "王老师", "true", "false", ""),
    ]


def test_token_create_writes_its_row_and_a_replacement_says_what_it_replaced(
    db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["token", "create", "bms_bridge", *db], monkeypatch)[0] == 0
    assert run(["token", "create", "bms_bridge", "--role", "staff", *db], monkeypatch)[0] == 0
    add_person(db, monkeypatch)
    code, refusal = run(["token", "create", "王老师", *db], monkeypatch)  # a user's name
    assert code == 1 and "already names a user" in refusal, refusal
    assert trail(Path(db[1]), "token") == [
        ("cli:ops", AdminAction.TOKEN_CREATED, "token:bms_bridge", None, "viewer", ""),
        ("cli:ops", AdminAction.TOKEN_CREATED, "token:bms_bridge", "viewer", "staff", ""),
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_audit_action_has_its_words(lang: str) -> None:
    missing = [a.value for a in AdminAction if f"action.{a.value}" not in CATALOGUE[lang]]
    assert missing == []
