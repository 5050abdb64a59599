"""The notify wiring as the alert book's notifier, on real DuckDB stores: an alert and the notices
about it are committed in one transaction (never one without the other), a transaction that
rolls back leaves the planner as it was (the same notices, once, when the findings come again),
and sent notices leave the outbox after the retention (once their alert is no longer open)
while their delivery log stays."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.lifecycle import AlertBook
from alerts.model import Finding, Phase
from alerts.notify.outbox import RetryPolicy
from alerts.notify.planner import NotifyPlanner
from alerts.store import AlertChanges
from canteen.notify_wiring import PLANNER_STATE, NotifyWiring
from core.clock import StepClock, to_epoch_ms
from core.config import SiteConfig
from core.notify_config import Retry
from core.records import (
    DeliveryAttempt,
    DeliveryOutcome,
    FoodDecision,
    Message,
    OutboxEntry,
    OutboxState,
    RuleId,
    Severity,
)
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore
from ingest.errors import StoreError
from tests.alerts.notify.notify_site import local, site_config

FIRED_AT = local(23, 9)  # Monday 09:00 in Shanghai: wang is the cook on duty


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return site_config(tmp_path_factory.mktemp("wiring"))


class RefusingStore(DuckDBAlertStore):
    """The real alert store, whose transaction refuses the outbox's rows while `refuse` is set
    (the disk full at the worst moment: after the alert was written, before the commit)."""

    refuse = False

    @contextmanager
    def transaction(self) -> Iterator[AlertChanges]:
        with super().transaction() as tx:
            yield _Refusing(tx) if self.refuse else tx


@dataclass
class _Refusing:
    tx: AlertChanges

    def __getattr__(self, name: str) -> object:
        return getattr(self.tx, name)

    def enqueue(self, entry: OutboxEntry) -> bool:
        raise StoreError("IO Error: disk full", backend="duckdb", target="test")


@dataclass
class Wired:
    book: AlertBook
    store: RefusingStore
    wiring: NotifyWiring
    clock: StepClock


@pytest.fixture
async def wired(site: SiteConfig, tmp_path: Path) -> AsyncIterator[Wired]:
    db = tmp_path / "canteen.duckdb"
    readings, store = DuckDBStore(db), RefusingStore(db)
    clock = StepClock(FIRED_AT)
    book = AlertBook(store, "test-school", clock)
    wiring = NotifyWiring(site, clock, db_path=db, alerts=store, book=book)
    try:
        yield Wired(book, store, wiring, clock)
    finally:
        await wiring.disconnect()
        wiring.close()
        store.close()
        readings.close()


def overheated() -> Finding:
    message = Message("1号冷藏柜 9.4 °C", "fridge 1 at 9.4 °C")
    return Finding(
        "fridge-1", RuleId.OVER_TEMPERATURE, Phase.FIRING, to_epoch_ms(FIRED_AT),
        to_epoch_ms(FIRED_AT - timedelta(minutes=30)), Severity.CRITICAL, message,
        {"temp_c": 9.4, "limit_c": 8.0},
    )  # fmt: skip


async def test_an_alert_and_its_notices_are_committed_together(wired: Wired) -> None:
    [fired] = wired.book.apply([overheated()])
    entries = wired.wiring.outbox.entries()
    # Level 0 of the food-safety route: the cook on duty (wang) on the kitchen robot, and the
    # canteen's wall display.
    assert sorted((e.channel, e.kind, e.state) for e in entries) == [
        ("kitchen-robot", "fired", OutboxState.PENDING),
        ("wall", "fired", OutboxState.PENDING),
    ]
    assert {e.alert_ids for e in entries} == {(fired.alert.id,)}
    assert fired.alert.id in wired.wiring.planner.pending()


async def test_a_rolled_back_transaction_keeps_neither_and_the_planner_forgets(
    wired: Wired,
) -> None:
    wired.store.refuse = True
    with pytest.raises(StoreError, match="disk full"):
        wired.book.apply([overheated()])
    # Neither the alert nor its notice: the book and the outbox are one transaction.
    assert wired.store.open_alert("test-school", "fridge-1", RuleId.OVER_TEMPERATURE) is None
    assert wired.wiring.outbox.entries() == []
    assert wired.wiring.planner.pending() == {}
    # The findings come again (the service retries its batch): one alert, its notice once.
    wired.store.refuse = False
    [fired] = wired.book.apply([overheated()])
    entries = wired.wiring.outbox.entries()
    assert sorted(e.channel for e in entries) == ["kitchen-robot", "wall"]
    assert {(e.alert_ids, e.kind) for e in entries} == {((fired.alert.id,), "fired")}


async def test_sent_notices_are_pruned_after_the_retention_the_log_stays(wired: Wired) -> None:
    [fired] = wired.book.apply([overheated()])
    outbox = wired.wiring.outbox
    entry, wall = outbox.entries()
    sent_at = FIRED_AT + timedelta(seconds=1)
    outbox.finish_attempt(
        _sent(entry, sent_at),
        DeliveryAttempt(
            notice_key=entry.key,
            alert_ids=entry.alert_ids,
            channel=entry.channel,
            recipients=("wang",),
            attempt=1,
            at=sent_at,
            outcome=DeliveryOutcome.SENT,
            reason="",
            status=200,
            latency_ms=3.0,
            kind=entry.kind,
        ),
    )
    keep = timedelta(days=30)
    wired.clock.instant = sent_at + keep - timedelta(minutes=1)
    assert await wired.wiring.prune(keep) == 0  # not yet 30 days
    wired.clock.instant = sent_at + keep + timedelta(minutes=1)
    # Still firing: what it was told is what a restarted planner recalls of it, kept.
    assert await wired.wiring.prune(keep) == 0
    cleared = replace(overheated(), phase=Phase.CLEARED, at_ms=to_epoch_ms(wired.clock.now()))
    wired.book.apply([cleared])
    wired.book.close(fired.alert.id, "zhao", "压缩机已修复", FoodDecision.DISCARDED, "超温")
    await wired.wiring.step()  # the planner hears of the close and forgets the alert
    assert fired.alert.id not in wired.wiring.planner.pending()
    assert await wired.wiring.prune(keep) == 1
    assert entry.key not in {e.key for e in outbox.entries()}
    assert wall.key in {e.key for e in outbox.entries()}  # still pending: never pruned
    [row] = outbox.deliveries_for_alert(fired.alert.id)
    assert (row.notice_key, row.outcome) == (entry.key, DeliveryOutcome.SENT)


def _sent(entry: OutboxEntry, at: datetime) -> OutboxEntry:
    return replace(entry, state=OutboxState.SENT, attempts=1, sent_at=at, updated_at=at)


async def test_the_dispatcher_retries_as_the_site_config_says(
    site: SiteConfig, tmp_path: Path
) -> None:
    db = tmp_path / "retry.duckdb"
    retry = Retry(attempts=3, base_s=2.0, cap_s=60.0)
    config = site.model_copy(update={"notify": site.notify.model_copy(update={"retry": retry})})
    readings, store = DuckDBStore(db), DuckDBAlertStore(db)
    book = AlertBook(store, "test-school", StepClock(FIRED_AT))
    wiring = NotifyWiring(config, StepClock(FIRED_AT), db_path=db, alerts=store, book=book)
    try:
        assert wiring.dispatcher.policy == RetryPolicy(base_s=2.0, cap_s=60.0, max_attempts=3)
    finally:
        await wiring.disconnect()
        wiring.close()
        store.close()
        readings.close()


class CountingStore(DuckDBAlertStore):
    """The real alert store, counting the planner's snapshot saves."""

    planner_saves = 0

    def save_rule_state(self, site: str, states: Mapping[str, str]) -> None:
        super().save_rule_state(site, states)
        if PLANNER_STATE in states:
            self.planner_saves += 1


class StillClock(StepClock):
    """Time moves only when the test moves it: a sleep never ends (no tick runs by itself)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.Event().wait()


@contextmanager
def opened(config: SiteConfig, db: Path, clock: StepClock, every_s: float) -> Iterator[Wired]:
    """A service's notify side on `db` (closed without the stop's save: what a crash leaves)."""
    readings, store = DuckDBStore(db), CountingStore(db)
    book = AlertBook(store, "test-school", clock)
    wiring = NotifyWiring(
        config, clock, db_path=db, alerts=store, book=book, snapshot_every_s=every_s
    )
    try:
        yield Wired(book, store, wiring, clock)  # type: ignore[arg-type]
    finally:
        wiring.close()
        store.close()
        readings.close()


def fridge(number: int) -> Finding:
    return replace(overheated(), device=f"fridge-{number}")


async def test_a_crash_before_the_planner_was_saved_loses_no_timer(
    site: SiteConfig, tmp_path: Path
) -> None:
    db, clock = tmp_path / "crash.duckdb", StepClock(FIRED_AT)
    with opened(site, db, clock, every_s=60.0) as first:
        [fired] = first.book.apply([overheated()])
        sent_before = {e.key for e in first.wiring.outbox.entries()}
        await first.wiring.disconnect()
        # The service dies here: the alert and its notices are committed, the planner's
        # snapshot (saved at most every 60 s, never yet) is not.
        assert PLANNER_STATE not in first.store.load_rule_state("test-school")
    with opened(site, db, clock, every_s=60.0) as second:
        assert second.wiring.planner.pending() == {}
        await second.wiring.reconcile()
        alert_id = fired.alert.id
        assert set(second.wiring.planner.pending()) == {alert_id}
        # Level 0 again under the keys it had: the outbox holds each notice once.
        assert {e.key for e in second.wiring.outbox.entries()} == sent_before
        assert PLANNER_STATE in second.store.load_rule_state("test-school")
        # The timer runs: not acknowledged within 15 min, the canteen manager is told.
        clock.instant = FIRED_AT + timedelta(minutes=16)
        await second.wiring.step()
        kinds = sorted(e.kind for e in second.wiring.outbox.entries())
        assert kinds.count("escalated") >= 1
        assert len(kinds) == len(sent_before) + kinds.count("escalated")
        await second.wiring.disconnect()


async def test_the_planner_is_saved_at_most_every_interval_and_on_stop(
    site: SiteConfig, tmp_path: Path
) -> None:
    db, clock = tmp_path / "batched.duckdb", StillClock(FIRED_AT)
    with opened(site, db, clock, every_s=3600.0) as live:
        store: CountingStore = live.store  # type: ignore[assignment]
        running = asyncio.create_task(live.wiring.run())
        await _until(lambda: store.planner_saves == 1)  # the start's reconcile
        live.book.apply([fridge(1)])
        await _until(lambda: store.planner_saves == 2)  # the first change: saved at once
        live.book.apply([fridge(2)])
        live.book.apply([fridge(3)])
        await asyncio.sleep(0.3)
        assert store.planner_saves == 2  # the next two wait for the interval
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert store.planner_saves == 3  # the stop saves the latest
        await live.wiring.disconnect()
        saved = json.loads(store.load_rule_state("test-school")[PLANNER_STATE])
    restored = NotifyPlanner(site, clock)
    restored.restore(saved)
    assert len(restored.pending()) == 3


async def _until(done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not done within {timeout_s} s")
