"""`canteen user ...` and `canteen token create`: the people who log in and the machines'
bearer tokens, kept in the site's DuckDB file.

The file is the config's `storage.path` (or `--db`). DuckDB lets one process write a file: run
these while the service is stopped (a running service holds the file; the error says so).
Passwords are typed at a prompt (twice) or read from standard input with `--password-stdin`
(one line), never taken as an argument, where `ps` and the shell history would show them.

`user add`, `user passwd`, `user disable`, `user enable` and `token create` write their row to
the admin audit trail, as the admin page does (a temporary password says so, 临时密码 /
temporary password; a person already in the state asked for, as on the page, writes none); the
actor is `cli:` and the operating-system user who ran the command, so the trail tells them from
a person of the web UI.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from core.admin_records import AdminAction, AuditEntry
from core.clock import SystemClock
from core.config import AuthSettings, load_config
from core.records import Role
from dashboard_api.auth import Auth, AuthError
from dashboard_api.auth.people import TEMPORARY_PASSWORD
from ingest.duckdb_admin import DuckDBAdminStore
from ingest.duckdb_users import DuckDBUserStore
from ingest.errors import StoreError

__all__ = ["register"]

_ROLES = [r.value for r in Role]


def register(commands: Any) -> None:
    """Add the `user` and `token` commands to the `canteen` parser."""
    user = commands.add_parser("user", help="people who log in to the web UI and the API")
    actions = user.add_subparsers(required=True, metavar="ACTION")
    add = _with_db(actions.add_parser("add", help="add a person (asks for the password)"))
    add.add_argument("name")
    add.add_argument("--role", choices=_ROLES, required=True, help="viewer < staff < admin")
    _password_source(add)
    _temporary(add)
    add.set_defaults(handler=_add)
    listing = _with_db(actions.add_parser("list", help="people and tokens, with their roles"))
    listing.set_defaults(handler=_list)
    passwd = _with_db(actions.add_parser("passwd", help="set a new password (ends sessions)"))
    passwd.add_argument("name")
    _password_source(passwd)
    _temporary(passwd)
    passwd.set_defaults(handler=_passwd)
    for verb, disabled in (("disable", True), ("enable", False)):
        what = "refuse a person's logins and end their sessions" if disabled else "allow again"
        toggle = _with_db(actions.add_parser(verb, help=what))
        toggle.add_argument("name")
        toggle.set_defaults(handler=_toggle, disabled=disabled)

    token = commands.add_parser("token", help="bearer tokens for machines calling the API")
    token_actions = token.add_subparsers(required=True, metavar="ACTION")
    create = _with_db(
        token_actions.add_parser("create", help="make a token (shown once; again: replaced)")
    )
    create.add_argument("name", help="who the token acts as, in every record it changes")
    create.add_argument("--role", choices=_ROLES, default="viewer", help="default: viewer")
    create.set_defaults(handler=_token)


def _with_db(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", type=Path, help="site config (YAML): its storage.path")
    parser.add_argument("--db", help="DuckDB file, overrides storage.path")
    return parser


def _password_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def _temporary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--temporary",
        action="store_true",
        help="a password you chose for someone else: they must choose their own at their "
        "next login before anything else opens",
    )


async def _add(args: argparse.Namespace, _stop: asyncio.Event) -> None:
    password = _password(args)
    with _auth(args, create=True) as auth:
        user = auth.add_user(args.name, Role(args.role), password, must_change=args.temporary)
        _audit(args, auth, AdminAction.USER_CREATED, None, user.role.value)
    print(f"canteen: user {user.name!r} added with the role {user.role.value}{_then(args)}")


async def _list(args: argparse.Namespace, _stop: asyncio.Event) -> None:
    with _auth(args) as auth:
        users, tokens = auth.store.users(), auth.store.tokens()
    for user in users:
        state = "disabled" if user.disabled else "active"
        print(f"user   {user.name:<24} {user.role.value:<7} {state}")
    for token in tokens:
        print(f"token  {token.name:<24} {token.role.value:<7} made {token.created_at:%Y-%m-%d}")
    if not users and not tokens:
        print("canteen: no users or tokens yet; add one with `canteen user add NAME --role ...`")


async def _passwd(args: argparse.Namespace, _stop: asyncio.Event) -> None:
    password = _password(args)
    with _auth(args) as auth:
        auth.set_password(args.name, password, must_change=args.temporary)
        # Someone else's password (a reset, as on the admin page), or the operator's own.
        temporary = AdminAction.USER_PASSWORD_RESET
        _audit(args, auth, temporary if args.temporary else AdminAction.USER_PASSWORD_CHANGED)
    print(f"canteen: new password for {args.name!r}; their sessions have ended{_then(args)}")


def _audit(
    args: argparse.Namespace,
    auth: Auth,
    action: AdminAction,
    old: str | None = None,
    new: str | None = None,
    *,
    target: str | None = None,
) -> None:
    """The change's row in the admin audit trail of the same file (in its own transaction,
    after the change: a failure here says the change was made but not recorded). The target
    is the person named (a token: `token:` and its name, as the admin page writes it)."""
    note = TEMPORARY_PASSWORD if getattr(args, "temporary", False) else ""
    entry = AuditEntry(auth.clock.now(), _actor(), action, target or args.name, old, new, note)
    path = _database(args)
    try:
        admin = DuckDBAdminStore(path)
        try:
            admin.audit(entry)
        finally:
            admin.close()
    except StoreError as exc:
        raise SystemExit(
            f"canteen: the change to {args.name!r} was made, but its audit row could not be "
            f"written: {exc}"
        ) from None


def _actor() -> str:
    """`cli:root`: the command line, and who ran it (as the operating system says)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return "cli"


def _then(args: argparse.Namespace) -> str:
    return "; they choose their own at their next login" if args.temporary else ""


async def _toggle(args: argparse.Namespace, _stop: asyncio.Event) -> None:
    with _auth(args) as auth:
        before = auth.store.user(args.name)
        auth.set_disabled(args.name, args.disabled)  # no such person: refused, naming those known
        if before is not None and before.disabled != args.disabled:
            # The admin page's row: the `disabled` flag before and after, as text.
            action = AdminAction.USER_DISABLED if args.disabled else AdminAction.USER_ENABLED
            _audit(args, auth, action, str(before.disabled).lower(), str(args.disabled).lower())
    said = "disabled (sessions ended)" if args.disabled else "enabled"
    print(f"canteen: user {args.name!r} {said}")


async def _token(args: argparse.Namespace, _stop: asyncio.Event) -> None:
    with _auth(args, create=True) as auth:
        replaced = next((t for t in auth.store.tokens() if t.name == args.name), None)
        token = auth.create_token(args.name, Role(args.role))
        # Old: what the name held (its role, or `revoked`), none for a new name; new: the role.
        old = None if replaced is None else "revoked" if replaced.disabled else replaced.role.value
        target = f"token:{args.name}"
        _audit(args, auth, AdminAction.TOKEN_CREATED, old, args.role, target=target)
    print(f"canteen: token for {args.name!r} ({args.role}); it is shown only this once:")
    print(token)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("canteen: the two passwords differ; nothing was changed")
    return first


class _auth:  # noqa: N801 (used as a context manager, reads as a phrase)
    """`Auth` on the site's file, closed after; refusals become the command's message."""

    def __init__(self, args: argparse.Namespace, *, create: bool = False) -> None:
        path = _database(args)
        if not create and not path.exists():
            raise SystemExit(f"canteen: no database at {path}; check --db or storage.path")
        settings = load_config(args.config).auth if args.config else AuthSettings()
        try:
            self._store = DuckDBUserStore(path)
        except StoreError as exc:
            raise SystemExit(_store_refusal(path, exc)) from None
        self._auth = Auth(self._store, settings, SystemClock())

    def __enter__(self) -> Auth:
        return self._auth

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        self._store.close()
        if isinstance(error, AuthError):
            raise SystemExit(f"canteen: {error.message}") from None


def _database(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else _configured_path(args)


def _configured_path(args: argparse.Namespace) -> Path:
    if args.config is None:
        raise SystemExit("canteen: say which database: --config FILE or --db PATH")
    return Path(load_config(args.config).storage.path)


def _store_refusal(path: Path, exc: StoreError) -> str:
    if "lock" in str(exc).lower():
        return (
            f"canteen: {path} is open in a running service (canteen serve or demo); stop it, "
            "run this command, and start it again"
        )
    return f"canteen: {exc}"
