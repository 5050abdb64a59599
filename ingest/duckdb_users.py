"""People who log in, machines' bearer tokens and login sessions, in the site's DuckDB file.

`DuckDBUserStore` follows `DuckDBAlertStore`: its own connection to the readings' file (DuckDB
shares one database instance between a process's connections), its tables the 'users'
component of the file's schema (`ingest.migrations`). It stores what `dashboard_api.auth`
hands it (hashes, never a password or a token) and decides nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.records import ApiToken, LoginSession, User
from ingest import duckdb_schema
from ingest.duckdb_rows import RecordTable, naive_utc
from ingest.duckdb_tables import DuckDBTables
from ingest.migrations import Migration

__all__ = ["USERS", "DuckDBUserStore"]

# The 'users' component's schema history: version 1 in `ingest.duckdb_schema`, the later ones
# here, as `ingest.duckdb_admin` keeps its own (never edit a released migration, append one).
USERS: tuple[Migration, ...] = (
    *duckdb_schema.USERS,
    Migration(
        2,
        "users.must_change_password: a password reset by an admin is changed at the next login",
        ("ALTER TABLE users ADD COLUMN must_change_password BOOLEAN DEFAULT false",),
    ),
)

_USERS = RecordTable(
    "users",
    User,
    (
        "name",
        "role",
        "password_hash",
        "disabled",
        "created_at",
        "password_changed_at",
        "must_change_password",
    ),
)
_TOKENS = RecordTable(
    "api_tokens", ApiToken, ("name", "role", "token_hash", "created_at", "disabled")
)
_SESSIONS = RecordTable(
    "login_sessions", LoginSession, ("key_hash", "user", "csrf", "created_at", "last_seen")
)


class DuckDBUserStore(DuckDBTables):
    """`dashboard_api.auth.UserStore` on a DuckDB file (structurally: nothing of the API is
    imported)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "users", USERS, allow_memory=False)

    # -- users ------------------------------------------------------------------------------

    def user(self, name: str) -> User | None:
        found = self._records(_USERS, f"SELECT {_USERS.select} FROM users WHERE name = ?", [name])
        return found[0] if found else None

    def users(self) -> list[User]:
        return self._records(_USERS, f"SELECT {_USERS.select} FROM users ORDER BY name", [])

    def add_user(self, user: User) -> bool:
        """False when the name is taken."""
        rows = self._write(
            f"{_USERS.insert()} ON CONFLICT DO NOTHING RETURNING name", _USERS.encode(user)
        )
        return bool(rows)

    def update_user(self, user: User) -> None:
        columns = _USERS.columns[1:]
        assignments = ", ".join(f'"{c}" = ?' for c in columns)
        self._write(
            f"UPDATE users SET {assignments} WHERE name = ?",
            [*_USERS.encode(user, columns), user.name],
        )

    def replace_password_hash(self, name: str, old: str, new: str) -> None:
        """The same password's hash made again, only while the stored one is still `old` (a
        new password or any other change made meanwhile is kept)."""
        self._write(
            "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
            [new, name, old],
        )

    # -- tokens -----------------------------------------------------------------------------

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        found = self._records(
            _TOKENS, f"SELECT {_TOKENS.select} FROM api_tokens WHERE token_hash = ?", [token_hash]
        )
        return found[0] if found else None

    def tokens(self) -> list[ApiToken]:
        return self._records(_TOKENS, f"SELECT {_TOKENS.select} FROM api_tokens ORDER BY name", [])

    def save_token(self, token: ApiToken) -> None:
        """A token replaces the one of the same name: creating it again is how it is rotated."""
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in _TOKENS.columns[1:])
        self._write(
            f"{_TOKENS.insert()} ON CONFLICT (name) DO UPDATE SET {updates}",
            _TOKENS.encode(token),
        )

    # -- sessions ---------------------------------------------------------------------------

    def session(self, key_hash: str) -> LoginSession | None:
        found = self._records(
            _SESSIONS,
            f"SELECT {_SESSIONS.select} FROM login_sessions WHERE key_hash = ?",
            [key_hash],
        )
        return found[0] if found else None

    def add_session(self, session: LoginSession) -> None:
        self._write(_SESSIONS.insert(), _SESSIONS.encode(session))

    def touch_session(self, key_hash: str, at: datetime) -> None:
        self._write(
            "UPDATE login_sessions SET last_seen = ? WHERE key_hash = ?", [naive_utc(at), key_hash]
        )

    def end_session(self, key_hash: str) -> None:
        self._write("DELETE FROM login_sessions WHERE key_hash = ?", [key_hash])

    def end_sessions_of(self, user: str) -> None:
        self._write('DELETE FROM login_sessions WHERE "user" = ?', [user])

    def end_sessions_before(self, created: datetime, last_seen: datetime) -> None:
        """Forget sessions created before `created` or idle since before `last_seen`."""
        self._write(
            "DELETE FROM login_sessions WHERE created_at < ? OR last_seen < ?",
            [naive_utc(created), naive_utc(last_seen)],
        )
