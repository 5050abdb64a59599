"""The outbox tables on a real DuckDB file: idempotent enqueue, due order, the sending state
across a reopen, an attempt and its log row in one transaction, digests, the log per alert."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.records import DeliveryAttempt, DeliveryOutcome, OutboxEntry, OutboxState
from ingest import duckdb_schema
from ingest.duckdb_alerts import DuckDBAlertStore
from ingest.duckdb_outbox import DuckDBOutboxStore
from ingest.duckdb_store import DuckDBStore
from ingest.errors import StoreError
from ingest.migrations import migrate, schema_version

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def entry(
    key: str, *, critical: bool = False, alert_ids: tuple[int, ...] = (1,), **kw: object
) -> OutboxEntry:
    base = OutboxEntry(
        key=key,
        channel="kitchen-robot",
        kind="fired",
        critical=critical,
        alert_ids=alert_ids,
        notice={"key": key, "recipients": ["cook"], "lang": "zh"},
        state=OutboxState.PENDING,
        attempts=0,
        created_at=T0,
        next_attempt_at=T0,
        updated_at=T0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def row(
    key: str, alert_ids: tuple[int, ...], outcome: DeliveryOutcome, at: datetime
) -> DeliveryAttempt:
    return DeliveryAttempt(
        notice_key=key,
        alert_ids=alert_ids,
        channel="kitchen-robot",
        recipients=("cook", "manager"),
        attempt=1,
        at=at,
        outcome=outcome,
        reason="HTTP 503" if outcome is not DeliveryOutcome.SENT else "",
        status=503 if outcome is not DeliveryOutcome.SENT else 200,
        latency_ms=12.5,
        kind="fired",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBOutboxStore]:
    s = DuckDBOutboxStore(tmp_path / "canteen.duckdb")
    yield s
    s.close()


def test_enqueue_is_idempotent_on_the_key_and_keeps_the_first(store: DuckDBOutboxStore) -> None:
    assert store.enqueue(entry("n1", notice={"v": 1}))
    assert not store.enqueue(entry("n1", notice={"v": 2}, critical=True))
    [kept] = store.entries()
    assert kept.notice == {"v": 1} and not kept.critical


def test_round_trip_of_every_field(store: DuckDBOutboxStore) -> None:
    full = entry(
        "n1",
        alert_ids=(3, 4),
        attempts=2,
        rate_limited=1,
        last_error="HTTP 503",
        merged_into=None,
        sent_at=T0 + timedelta(seconds=5),
        notice={"alerts": [{"alert_id": 3, "since": "2026-11-23T01:00:00Z"}], "lang": "en"},
    )
    store.enqueue(full)
    assert store.entry("n1") == full
    assert store.entry("missing") is None


def test_due_orders_critical_first_then_oldest_and_skips_future(
    store: DuckDBOutboxStore,
) -> None:
    # A newer notice due earlier (the older one is waiting for its retry) goes after it.
    store.enqueue(entry("newer", created_at=T0 + timedelta(seconds=1), next_attempt_at=T0))
    store.enqueue(entry("older", next_attempt_at=T0 + timedelta(seconds=2)))
    critical_at = T0 + timedelta(seconds=3)
    store.enqueue(
        entry("critical", critical=True, created_at=critical_at, next_attempt_at=critical_at)
    )
    store.enqueue(entry("future", next_attempt_at=T0 + timedelta(minutes=5)))
    store.enqueue(entry("other-channel", channel="mail"))
    now = T0 + timedelta(seconds=10)
    assert [e.key for e in store.due("kitchen-robot", now, 10)] == [
        "critical",
        "older",
        "newer",
    ]
    assert [e.key for e in store.due("kitchen-robot", now, 1)] == ["critical"]
    assert store.next_attempt_at("kitchen-robot") == T0
    assert store.next_attempt_at("nobody") is None
    assert store.pending_channels() == ["kitchen-robot", "mail"]


def test_sending_survives_a_reopen_and_is_pending_again_after_recovery(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    first = DuckDBOutboxStore(path)
    first.enqueue(entry("n1"))
    assert first.mark_sending("n1", T0)
    assert not first.mark_sending("n1", T0)  # only a pending entry can be taken
    first.close()

    second = DuckDBOutboxStore(path)
    try:
        assert second.entry("n1").state is OutboxState.SENDING  # type: ignore[union-attr]
        later = T0 + timedelta(minutes=3)
        assert second.recover_sending(later, "interrupted") == 1
        back = second.entry("n1")
        assert back is not None and back.state is OutboxState.PENDING
        assert back.next_attempt_at == later and back.last_error == "interrupted"
        assert second.recover_sending(later, "interrupted") == 0
    finally:
        second.close()


def test_finish_attempt_writes_the_state_and_the_log_row(store: DuckDBOutboxStore) -> None:
    store.enqueue(entry("n1", alert_ids=(7,)))
    store.mark_sending("n1", T0)
    retry_at = T0 + timedelta(seconds=30)
    pending = entry(
        "n1",
        alert_ids=(7,),
        attempts=1,
        rate_limited=1,
        next_attempt_at=retry_at,
        last_error="HTTP 503",
    )
    store.finish_attempt(pending, row("n1", (7,), DeliveryOutcome.RETRY, T0))
    got = store.entry("n1")
    assert got is not None
    assert (got.state, got.attempts, got.rate_limited, got.next_attempt_at, got.last_error) == (
        OutboxState.PENDING,
        1,
        1,
        retry_at,
        "HTTP 503",
    )
    [logged] = store.deliveries_for_notice("n1")
    assert logged == row("n1", (7,), DeliveryOutcome.RETRY, T0)


def test_a_failed_transaction_changes_nothing(store: DuckDBOutboxStore) -> None:
    store.enqueue(entry("n1"))
    bad = replace(row("n1", (1,), DeliveryOutcome.SENT, T0), recipients=None)  # type: ignore[arg-type]
    sent = entry("n1", state=OutboxState.SENT, attempts=1, sent_at=T0)
    with pytest.raises(StoreError):
        store.finish_attempt(sent, bad)  # the log row violates NOT NULL
    assert store.entry("n1").state is OutboxState.PENDING  # type: ignore[union-attr]
    assert store.deliveries_for_notice("n1") == []


def test_merge_stores_the_digest_and_marks_only_pending_originals(store: DuckDBOutboxStore) -> None:
    for key in ("a", "b", "c"):
        store.enqueue(entry(key))
    store.mark_sending("c", T0)  # c went out meanwhile: not merged
    digest = entry("digest-x", kind="digest", alert_ids=(1, 2, 3))
    assert store.merge(digest, ["a", "b", "c"]) == 2
    by_key = {e.key: e for e in store.entries()}
    assert by_key["a"].state is OutboxState.MERGED and by_key["a"].merged_into == "digest-x"
    assert by_key["b"].merged_into == "digest-x"
    assert by_key["c"].state is OutboxState.SENDING and by_key["c"].merged_into is None
    assert by_key["digest-x"].state is OutboxState.PENDING
    assert [e.key for e in store.entries(OutboxState.MERGED)] == ["a", "b"]


def test_deliveries_for_alert_finds_digests_too(store: DuckDBOutboxStore) -> None:
    store.finish_attempt(entry("x"), row("n1", (5,), DeliveryOutcome.RETRY, T0))
    store.finish_attempt(entry("x"), row("d", (4, 5, 6), DeliveryOutcome.SENT, T0 + timedelta(1)))
    store.finish_attempt(entry("x"), row("n2", (6,), DeliveryOutcome.SENT, T0))
    assert [r.notice_key for r in store.deliveries_for_alert(5)] == ["n1", "d"]
    assert store.deliveries_for_alert(99) == []


def test_schema_is_the_outbox_component_version_2(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    DuckDBOutboxStore(path).close()
    con = duckdb.connect(str(path))
    try:
        assert schema_version(con, "outbox") == 2
    finally:
        con.close()


def test_an_outbox_of_version_1_upgrades_keeping_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    con = duckdb.connect(str(path))
    try:  # the outbox as version 1 wrote it, with a notice waiting after 2 attempts
        migrate(con, "outbox", duckdb_schema.OUTBOX[:1], target=str(path))
        con.execute(
            """INSERT INTO outbox VALUES ('n1', 'kitchen-robot', 'fired', true, [7],
                   '{"key": "n1"}', 'pending', 2, ?, ?, ?, 'HTTP 503', NULL, NULL)""",
            [T0.replace(tzinfo=None)] * 3,
        )
    finally:
        con.close()
    store = DuckDBOutboxStore(path)
    try:
        got = store.entry("n1")
    finally:
        store.close()
    # Its two tries were counted against the limit then: none is known to be a rate limit.
    assert got is not None and (got.attempts, got.rate_limited) == (2, 0)
    assert got.state is OutboxState.PENDING and got.last_error == "HTTP 503"
    assert ("outbox", 2) in ledger(path)


def test_a_closed_store_refuses(store: DuckDBOutboxStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.entries()


def test_an_existing_file_gains_the_outbox_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    DuckDBStore(path).close()
    DuckDBAlertStore(path).close()
    before = ledger(path)
    DuckDBOutboxStore(path).close()
    assert ledger(path) == sorted([*before, ("outbox", 1), ("outbox", 2)])
    again = DuckDBOutboxStore(path)  # a second opening applies nothing
    again.close()
    assert ledger(path) == sorted([*before, ("outbox", 1), ("outbox", 2)])


def test_an_outbox_written_by_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "canteen.duckdb"
    DuckDBOutboxStore(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_migrations VALUES ('outbox', 3, now()::TIMESTAMP, 'from the future')"
    )
    con.close()
    with pytest.raises(StoreError, match="'outbox' tables are at schema version 3"):
        DuckDBOutboxStore(path)


def ledger(path: Path) -> list[tuple[str, int]]:
    con = duckdb.connect(str(path))
    try:
        rows = con.execute(
            "SELECT component, version FROM schema_migrations ORDER BY component, version"
        ).fetchall()
    finally:
        con.close()
    return [(str(c), int(v)) for c, v in rows]


def test_attempt_times_of_a_channel_since_an_instant(store: DuckDBOutboxStore) -> None:
    for offset in (0, 30, 90):
        store.finish_attempt(
            entry("x"), row("n", (1,), DeliveryOutcome.SENT, T0 + timedelta(seconds=offset))
        )
    unknown = replace(row("n", (1,), DeliveryOutcome.FAILED, T0 + timedelta(seconds=95)), attempt=0)
    store.finish_attempt(entry("x"), unknown)  # never reached a receiver: not counted
    since = T0 + timedelta(seconds=30)
    assert store.attempt_times("kitchen-robot", since) == [since, T0 + timedelta(seconds=90)]
    assert store.attempt_times("mail", T0) == []
