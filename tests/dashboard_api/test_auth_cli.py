"""`canteen user ...` and `canteen token create` on a real DuckDB file, as an operator runs
them: the password from standard input, a refusal as one sentence (exit status 1, as Python
gives a `SystemExit` with a message)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from canteen.cli import main
from core.admin_records import AdminAction, AuditEntry
from core.records import Role
from dashboard_api.auth.passwords import Passwords, digest
from dashboard_api.auth.people import TEMPORARY_PASSWORD
from ingest.duckdb_admin import DuckDBAdminStore
from ingest.duckdb_users import DuckDBUserStore


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        code = main(args)
    except SystemExit as exc:  # a refusal: the message is the exit value, the status 1
        print(exc.code)
        code = 1 if isinstance(exc.code, str) else int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_people_and_tokens_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ["--db", str(tmp_path / "site.duckdb")]
    added = run(
        ["user", "add", "王老师", "--role", "staff", "--password-stdin", *db],
        capsys,
        monkeypatch,
        "a long password\n",
    )
    assert added == (0, "canteen: user '王老师' added with the role staff\n")
    code, out = run(["token", "create", "bms_bridge", "--role", "staff", *db], capsys, monkeypatch)
    token = out.splitlines()[-1]
    assert code == 0 and token.startswith("ctk_") and len(token) > 40
    code, out = run(
        ["user", "passwd", "王老师", "--password-stdin", *db],
        capsys,
        monkeypatch,
        "another password\n",
    )
    assert code == 0 and "their sessions have ended" in out
    code, out = run(["user", "disable", "王老师", *db], capsys, monkeypatch)
    assert code == 0
    code, out = run(["user", "list", *db], capsys, monkeypatch)
    assert "王老师" in out and "staff" in out and "disabled" in out and "bms_bridge" in out
    store = DuckDBUserStore(tmp_path / "site.duckdb")
    try:
        user = store.user("王老师")
        assert user is not None and user.disabled and user.role is Role.STAFF
        assert "password" not in user.password_hash  # an argon2 hash, not the text
        assert Passwords(19, 2).matches(user.password_hash, "another password")
        stored = store.token_by_hash(digest(token))
        assert stored is not None and stored.name == "bms_bridge"
    finally:
        store.close()


def test_a_temporary_password_is_replaced_at_the_next_login(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator adding someone else (`--temporary`) hands over a password the person must
    replace; without it (the operator's own account) the password stays as set."""
    db = ["--db", str(tmp_path / "site.duckdb")]
    add = ["user", "add", "李阿姨", "--role", "viewer", "--password-stdin", "--temporary", *db]
    code, out = run(add, capsys, monkeypatch, "from the office 9\n")
    assert (code, out) == (
        0,
        "canteen: user '李阿姨' added with the role viewer; they choose their own at their "
        "next login\n",
    )
    own = ["user", "add", "赵校长", "--role", "admin", "--password-stdin", *db]
    assert run(own, capsys, monkeypatch, "my own password 1\n")[0] == 0
    store = DuckDBUserStore(tmp_path / "site.duckdb")
    try:
        flags = {u.name: u.must_change_password for u in store.users()}
    finally:
        store.close()
    assert flags == {"李阿姨": True, "赵校长": False}
    passwd = ["user", "passwd", "赵校长", "--password-stdin", "--temporary", *db]
    code, out = run(passwd, capsys, monkeypatch, "a second password 2\n")
    assert code == 0 and out.endswith("they choose their own at their next login\n")
    store = DuckDBUserStore(tmp_path / "site.duckdb")
    try:
        user = store.user("赵校长")
        assert user is not None and user.must_change_password
    finally:
        store.close()


def trail(path: Path) -> list[AuditEntry]:
    store = DuckDBAdminStore(path)
    try:
        return list(reversed(store.audit_trail(["user"])))  # oldest first
    finally:
        store.close()


def test_the_audit_trail_says_who_set_a_password_and_whether_it_is_temporary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows the admin page writes for a person added and a password reset (临时密码 /
    temporary password), written by the command line too, in the name of `cli:` and the
    operating-system user who ran it."""
    monkeypatch.setenv("LOGNAME", "ops")  # what getpass.getuser() reads first
    path = tmp_path / "site.duckdb"
    db = ["--db", str(path)]
    add = ["user", "add", "李阿姨", "--role", "viewer", "--password-stdin", "--temporary", *db]
    assert run(add, capsys, monkeypatch, "from the office 9\n")[0] == 0
    own = ["user", "add", "赵校长", "--role", "admin", "--password-stdin", *db]
    assert run(own, capsys, monkeypatch, "my own password 1\n")[0] == 0
    reset = ["user", "passwd", "李阿姨", "--password-stdin", "--temporary", *db]
    assert run(reset, capsys, monkeypatch, "a second password 2\n")[0] == 0
    mine = ["user", "passwd", "赵校长", "--password-stdin", *db]
    assert run(mine, capsys, monkeypatch, "my new password 3\n")[0] == 0
    refused = ["user", "passwd", "nobody", "--password-stdin", "--temporary", *db]
    assert run(refused, capsys, monkeypatch, "long enough pw\n")[0] == 1  # no row for it
    rows = [(e.actor, e.action, e.target, e.old, e.new, e.reason) for e in trail(path)]
    assert rows == [
        ("cli:ops", AdminAction.USER_CREATED, "李阿姨", None, "viewer", TEMPORARY_PASSWORD),
        ("cli:ops", AdminAction.USER_CREATED, "赵校长", None, "admin", ""),
        ("cli:ops", AdminAction.USER_PASSWORD_RESET, "李阿姨", None, None, TEMPORARY_PASSWORD),
        ("cli:ops", AdminAction.USER_PASSWORD_CHANGED, "赵校长", None, None, ""),
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "bob", "--role", "staff", "--password-stdin"], "short\n", "at least 8"),
        (["user", "passwd", "nobody", "--password-stdin"], "long enough pw\n", "no user 'nobody'"),
        (
            ["user", "add", "a\tb", "--role", "viewer", "--password-stdin"],
            "long enough pw\n",
            "tab",
        ),
        (["token", "create", "王老师"], "", "already names a user"),
    ],
)
def test_refusals_say_why(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    db = ["--db", str(tmp_path / "site.duckdb")]
    run(
        ["user", "add", "王老师", "--role", "staff", "--password-stdin", *db],
        capsys,
        monkeypatch,
        "a long password\n",
    )
    code, out = run([*args, *db], capsys, monkeypatch, stdin)
    assert code == 1 and message in out


def test_a_missing_database_is_not_created_for_a_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(["user", "list", "--db", str(tmp_path / "typo.duckdb")], capsys, monkeypatch)
    assert code == 1 and "no database at" in out
    assert not (tmp_path / "typo.duckdb").exists()
