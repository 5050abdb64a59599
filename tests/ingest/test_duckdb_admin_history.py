"""The limits' history in the admin store: a set closes the field's period in force and opens a
new one in the same transaction as the override and its audit row; going back to the config
opens a period of no override with who and why; a read returns the periods that overlap a
range; a file of admin schema 1 has its overrides opened as periods from when they were set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.admin_records import AdminAction, AuditEntry, LimitOverride, LimitPeriod
from ingest.duckdb_admin import ADMIN, DuckDBAdminStore
from ingest.migrations import migrate, schema_version

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
SITE = "test-school"


def entry(at: datetime, action: AdminAction, new: str | None, reason: str) -> AuditEntry:
    return AuditEntry(at, "赵校长", action, "fridge-1/high_c", None, new, reason)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBAdminStore]:
    opened = DuckDBAdminStore(tmp_path / "admin.duckdb")
    yield opened
    opened.close()


def test_set_set_clear_make_three_periods_end_to_end(store: DuckDBAdminStore) -> None:
    t1, t2 = T0 + timedelta(days=3), T0 + timedelta(days=5)
    for at, value in ((T0, 6.0), (t1, 5.0)):
        row = LimitOverride(SITE, "fridge-1", "high_c", value, "赵校长", at, f"to {value}")
        store.set_limit(row, entry(at, AdminAction.LIMIT_SET, str(value), f"to {value}"))
    store.clear_limit(
        SITE, "fridge-1", "high_c", entry(t2, AdminAction.LIMIT_CLEARED, None, "back")
    )
    everything = store.limit_history(SITE, "fridge-1", T0 - timedelta(days=1), t2 + timedelta(1))
    assert everything == [
        LimitPeriod(SITE, "fridge-1", "high_c", 6.0, T0, t1, "赵校长", "to 6.0"),
        LimitPeriod(SITE, "fridge-1", "high_c", 5.0, t1, t2, "赵校长", "to 5.0"),
        LimitPeriod(SITE, "fridge-1", "high_c", None, t2, None, "赵校长", "back"),
    ]
    # Only the periods overlapping the range; an end at a period's start leaves it out.
    day4 = store.limit_history(SITE, "fridge-1", T0 + timedelta(days=4), t2)
    assert [p.value for p in day4] == [5.0]
    assert store.limit_history(SITE, "fridge-1", T0 - timedelta(days=2), T0) == []
    assert store.limit_history(SITE, "fridge-2", T0, t2) == []
    assert store.limit_overrides(SITE) == []  # cleared


def test_a_schema_1_file_opens_its_overrides_as_periods(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, "admin", ADMIN[:1], target=str(path))
    con.execute(
        "INSERT INTO limit_overrides VALUES (?, 'freezer-1', 'high_c', -15.0, '赵校长', ?, '肉类')",
        [SITE, T0.replace(tzinfo=None)],
    )
    con.close()
    store = DuckDBAdminStore(path)
    try:
        periods = store.limit_history(SITE, "freezer-1", T0, T0 + timedelta(days=1))
        assert periods == [
            LimitPeriod(SITE, "freezer-1", "high_c", -15.0, T0, None, "赵校长", "肉类")
        ]
        # Before the override was set nothing was recorded: the config's value holds there.
        assert store.limit_history(SITE, "freezer-1", T0 - timedelta(days=9), T0) == []
    finally:
        store.close()
    con = duckdb.connect(str(path))
    try:
        assert schema_version(con, "admin") == 2
    finally:
        con.close()
