"""The cost of a password's hash is a setting (`auth.password_memory_mib`, `password_passes`):
new hashes are made at it, a hash made at another cost still opens, and is made again at the
configured cost at that person's next login, without ending their sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import ConfigError, load_config
from core.clock import StepClock
from core.config import AuthSettings
from core.records import Role
from dashboard_api.auth import Auth, CredentialsError
from ingest.duckdb_users import DuckDBUserStore
from tests.dashboard_api.accounts import QUICK_HASHING

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def _cost(password_hash: str) -> str:
    """The memory and passes written in an argon2 hash (`$argon2id$v=19$m=...,t=...,p=...$`)."""
    return password_hash.split("$")[3]


def test_a_hash_made_at_another_cost_opens_and_is_made_again_at_the_next_login(
    tmp_path: Path,
) -> None:
    store = DuckDBUserStore(tmp_path / "users.duckdb")
    clock = StepClock(NOW)
    try:
        # Added while the site ran at 24 MiB and 3 passes.
        before = Auth(store, AuthSettings(password_memory_mib=24, password_passes=3), clock)
        added = before.add_user("王老师", Role.STAFF, PASSWORD)
        assert _cost(added.password_hash) == "m=24576,t=3,p=4"
        earlier = before.login("王老师", PASSWORD, "10.0.0.7")

        # The operator lowered the cost: a wrong password changes nothing ...
        after = Auth(store, QUICK_HASHING, clock)
        with pytest.raises(CredentialsError):
            after.login("王老师", "not the password", "10.0.0.7")
        unchanged = store.user("王老师")
        assert unchanged is not None and unchanged.password_hash == added.password_hash

        # ... the right one opens, and its hash is made again at the new cost.
        after.login("王老师", PASSWORD, "10.0.0.7")
        remade = store.user("王老师")
        assert remade is not None and _cost(remade.password_hash) == "m=19456,t=2,p=4"
        assert remade.password_changed_at == added.password_changed_at  # the same password
        assert after.session_person(earlier.key) is not None  # the earlier login stays
        after.login("王老师", PASSWORD, "10.0.0.7")
        again = store.user("王老师")
        assert again is not None and again.password_hash == remade.password_hash
        assert _cost(after.add_user("李阿姨", Role.VIEWER, PASSWORD).password_hash) == (
            "m=19456,t=2,p=4"
        )
    finally:
        store.close()


def test_a_hash_changed_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    """An admin sets a new password while the old one's login is being hashed again: the new
    password is kept (the hash is replaced only while it is still the one read)."""
    store = DuckDBUserStore(tmp_path / "users.duckdb")
    try:
        auth = Auth(store, QUICK_HASHING, StepClock(NOW))
        old = auth.add_user("王老师", Role.STAFF, PASSWORD).password_hash
        newer = auth.set_password("王老师", "a newer password").password_hash
        store.replace_password_hash("王老师", old, auth.passwords.hash(PASSWORD))
        kept = store.user("王老师")
        assert kept is not None and kept.password_hash == newer
    finally:
        store.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "password_memory_mib: 8",
            "auth.password_memory_mib: 8 is not allowed; input should be greater than or "
            "equal to 19",
        ),
        (
            "password_passes: 1",
            "auth.password_passes: 1 is not allowed; input should be greater than or equal to 2",
        ),
    ],
)
def test_a_cost_below_the_least_recommended_is_refused(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "site: {id: s1, name: School One}\n"
        "buildings: [{id: canteen, name: Canteen}]\n"
        "devices: [{id: fridge-1, kind: fridge, building: canteen}]\n"
        f"auth:\n  {line}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert message in str(refused.value)


class _RefusingStore(DuckDBUserStore):
    """A user store whose disk refuses the hash's rewrite (and nothing else)."""

    def replace_password_hash(self, name: str, old: str, new: str) -> None:
        raise OSError("No space left on device")


def test_a_hash_that_cannot_be_saved_again_does_not_stop_the_login(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _RefusingStore(tmp_path / "users.duckdb")
    clock = StepClock(NOW)
    try:
        Auth(store, AuthSettings(password_memory_mib=24, password_passes=2), clock).add_user(
            "王老师", Role.STAFF, PASSWORD
        )
        grant = Auth(store, QUICK_HASHING, clock).login("王老师", PASSWORD, "10.0.0.7")
        assert grant.person.name == "王老师"
        assert "password hash could not be remade" in caplog.text
        kept = store.user("王老师")
        assert kept is not None and _cost(kept.password_hash) == "m=24576,t=2,p=4"
    finally:
        store.close()
