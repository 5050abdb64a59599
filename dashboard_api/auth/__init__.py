"""Who is asking: people who log in (roles viewer < staff < admin), login sessions, machines'
bearer tokens, the login rate limit and CSRF tokens.

`Auth` is the one object the API and the `canteen user` / `canteen token` commands use; it
keeps its records in a `UserStore` (`ingest.duckdb_users.DuckDBUserStore`, the site's DuckDB
file) and decides everything itself. Passwords are argon2 hashes (argon2-cffi); a token or a
session key is a 256-bit random value stored as its SHA-256, so the database alone opens
nothing. Request dependencies that use it live in `dashboard_api.deps` (`Viewer`, `Staff`,
`Admin`, `PageViewer`).

Sessions are rows in the database, not signed cookies: logging out, disabling a person or
changing a password ends them at once on the server, and they survive a restart of the
service (a cook logged in on the kitchen tablet stays logged in after an update). A row is
touched at most once a minute, so a page view does not cost a write. The login rate limit is
in memory: it only needs to outlast a guessing run, and a restart takes longer than its
window.
"""

from dashboard_api.auth.errors import AuthError, CredentialsError, LockedOutError
from dashboard_api.auth.passwords import check_password_rules, check_principal_name
from dashboard_api.auth.service import Auth, Person, SessionGrant
from dashboard_api.auth.store import UserStore
from dashboard_api.auth.throttle import LoginThrottle

__all__ = [
    "Auth",
    "AuthError",
    "CredentialsError",
    "LockedOutError",
    "LoginThrottle",
    "Person",
    "SessionGrant",
    "UserStore",
    "check_password_rules",
    "check_principal_name",
]
