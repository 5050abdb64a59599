"""The alert lifecycle on a real store: rules move alerts, people acknowledge, resolve and close
them, and every refusal says why in a sentence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.errors import AlertNotFoundError, ClosureIncompleteError, TransitionError
from alerts.lifecycle import AlertBook
from alerts.model import (
    Alert,
    AlertAction,
    AlertHistoryEntry,
    AlertQuery,
    AlertState,
    Finding,
    FoodDecision,
    Message,
    Phase,
    RuleId,
    Severity,
)
from alerts.pace import BOOK_STEPS
from alerts.store import AlertChanges
from core.clock import StepClock, to_epoch_ms
from ingest import DuckDBStore, StoreError
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.conftest import MIDNIGHT, SITE, minutes


@pytest.fixture
def book(tmp_path: Path) -> Iterator[AlertBook]:
    readings = DuckDBStore(tmp_path / "a.duckdb")
    store = DuckDBAlertStore(tmp_path / "a.duckdb")
    yield AlertBook(store, SITE, StepClock(MIDNIGHT + timedelta(hours=1)))
    store.close()
    readings.close()


def finding(
    phase: Phase,
    at_min: float,
    rule: RuleId = RuleId.OVER_TEMPERATURE,
    severity: Severity = Severity.CRITICAL,
    *,
    latched: bool = False,
    evidence: dict[str, float | str | None] | None = None,
) -> Finding:
    at = to_epoch_ms(MIDNIGHT + minutes(at_min))
    message = Message("冷藏柜 9.0 °C", "fridge at 9.0 °C")
    return Finding(
        "fridge-1", rule, phase, at, to_epoch_ms(MIDNIGHT), severity, message,
        evidence or {}, latched,
    )  # fmt: skip


def test_pending_firing_acknowledged_resolved_closed(book: AlertBook) -> None:
    [change] = book.apply([finding(Phase.PENDING, 1)])
    assert change.action is AlertAction.PENDING and change.alert.state is AlertState.PENDING
    [change] = book.apply([finding(Phase.FIRING, 31)])
    alert = change.alert
    assert alert.state is AlertState.FIRING and alert.fired_at == MIDNIGHT + minutes(31)
    acked = book.acknowledge(alert.id, "王师傅", "moving the food to fridge-2")
    assert acked.state is AlertState.ACKNOWLEDGED and acked.acknowledged_by == "王师傅"
    [change] = book.apply([finding(Phase.CLEARED, 50)])
    assert change.alert.state is AlertState.RESOLVED and change.alert.resolved_by == "rule"
    closed = book.close(
        alert.id, "李经理", "door gasket replaced", FoodDecision.DISCARDED, "above 8 °C for 50 min"
    )
    assert closed.state is AlertState.CLOSED and closed.food_decision is FoodDecision.DISCARDED
    actions = [e.action for e in book.history(alert.id)]
    assert actions == [
        AlertAction.PENDING,
        AlertAction.FIRED,
        AlertAction.ACKNOWLEDGED,
        AlertAction.RESOLVED,
        AlertAction.CLOSED,
    ]


def test_a_food_safety_alert_needs_action_and_decision_to_close(book: AlertBook) -> None:
    [change] = book.apply([finding(Phase.FIRING, 31), finding(Phase.CLEARED, 40)])[:1]
    alert_id = change.alert.id
    with pytest.raises(ClosureIncompleteError) as refused:
        book.close(alert_id, "李经理", corrective_action="  ")
    assert str(refused.value) == (
        f"alert {alert_id} is a food-safety alert; to close it, give the corrective action "
        "taken (corrective_action), the decision on the food: kept or discarded "
        "(food_decision), the reason for that decision (food_reason)"
    )
    with pytest.raises(ClosureIncompleteError, match=r"the reason for that decision"):
        book.close(alert_id, "李经理", "moved the food", FoodDecision.KEPT)
    assert book.get(alert_id).state is AlertState.RESOLVED


def test_other_alerts_close_without_a_food_decision(book: AlertBook) -> None:
    [change] = book.apply([finding(Phase.FIRING, 1, RuleId.SENSOR_FAULT, Severity.WARNING)])
    book.apply([finding(Phase.CLEARED, 9, RuleId.SENSOR_FAULT)])
    assert book.close(change.alert.id, "IT").state is AlertState.CLOSED


@pytest.mark.parametrize(
    ("setup", "act", "message"),
    [
        ([], "ack", "no alert 99 at site test-school"),
        (["pending"], "ack", "cannot be acknowledged: it is still pending"),
        (["firing", "ack"], "ack", "was already acknowledged by 王师傅 at"),
        (["firing"], "close", "cannot be closed: it is still firing"),
        (["firing"], "resolve", "cannot be resolved by hand: its condition is still present"),
        (["firing", "cleared"], "resolve", "cannot be resolved: it is already resolved"),
        (["firing", "cleared", "close"], "ack", "cannot be acknowledged: it was closed by"),
    ],
)
def test_refusals_say_why(book: AlertBook, setup: list[str], act: str, message: str) -> None:
    alert_id = 99
    for step, minute in zip(setup, range(1, 10), strict=False):
        if step == "ack":
            book.acknowledge(alert_id, "王师傅")
        elif step == "close":
            book.close(alert_id, "王师傅", "fixed", FoodDecision.KEPT, "never above 9 °C")
        else:
            [change] = book.apply([finding(Phase(step), minute)])
            alert_id = change.alert.id
    actions = {
        "ack": lambda: book.acknowledge(alert_id, "王师傅"),
        "resolve": lambda: book.resolve(alert_id, "王师傅"),
        "close": lambda: book.close(alert_id, "王师傅", "fixed", FoodDecision.KEPT, "fine"),
    }
    with pytest.raises((TransitionError, AlertNotFoundError)) as refused:
        actions[act]()
    assert message in str(refused.value)


def test_a_pending_alert_that_clears_is_forgotten(book: AlertBook) -> None:
    [change] = book.apply([finding(Phase.PENDING, 1)])
    assert book.apply([finding(Phase.CLEARED, 5)]) == []
    with pytest.raises(AlertNotFoundError):
        book.get(change.alert.id)


def test_a_condition_back_before_closing_fires_the_same_alert_again(book: AlertBook) -> None:
    [first] = book.apply([finding(Phase.FIRING, 31)])
    book.acknowledge(first.alert.id, "王师傅")
    book.apply([finding(Phase.CLEARED, 40)])
    [again] = book.apply([finding(Phase.FIRING, 80)])
    assert again.action is AlertAction.REFIRED and again.alert.id == first.alert.id
    assert again.alert.occurrences == 2 and again.alert.acknowledged_by is None


def test_a_worse_verdict_escalates_an_acknowledged_alert(book: AlertBook) -> None:
    seal = RuleId.SEAL_DEGRADATION
    [warn] = book.apply([finding(Phase.FIRING, 60, seal, Severity.WARNING)])
    book.acknowledge(warn.alert.id, "facilities")
    [worse] = book.apply([finding(Phase.FIRING, 600, seal, Severity.CRITICAL)])
    assert worse.action is AlertAction.ESCALATED
    assert worse.alert.state is AlertState.FIRING and worse.alert.severity is Severity.CRITICAL


def test_latched_verdicts_can_be_resolved_by_a_person(book: AlertBook) -> None:
    rule = RuleId.DISINFECTION
    [missed] = book.apply(
        [finding(Phase.FIRING, 100, rule, latched=True, evidence={"meal": "lunch"})]
    )
    assert not missed.alert.condition_active
    assert book.resolve(missed.alert.id, "洗消间").state is AlertState.RESOLVED
    [next_meal] = book.apply(
        [finding(Phase.FIRING, 400, rule, latched=True, evidence={"meal": "dinner"})]
    )
    assert next_meal.action is AlertAction.REFIRED and next_meal.alert.occurrences == 2


def test_findings_replayed_after_a_restart_change_nothing(book: AlertBook) -> None:
    book.apply([finding(Phase.PENDING, 1), finding(Phase.FIRING, 31), finding(Phase.CLEARED, 40)])
    replay = [finding(Phase.PENDING, 1), finding(Phase.FIRING, 31), finding(Phase.CLEARED, 40)]
    assert book.apply(replay) == []


# -- the book's memory of its open alerts and its step times ------------------------------------


class CountingStore(DuckDBAlertStore):
    """The real alert store, counting the alert rows read inside the book's transactions."""

    reads = 0

    @contextmanager
    def transaction(self) -> Iterator[AlertChanges]:
        with super().transaction() as tx:
            yield _Counted(tx, self)


class FailingStore(DuckDBAlertStore):
    """The real alert store whose transaction fails at its history row while `fail` is set
    (after the alert's own row was written: the disk full at the worst moment)."""

    fail = False

    @contextmanager
    def transaction(self) -> Iterator[AlertChanges]:
        with super().transaction() as tx:
            yield _Failing(tx) if self.fail else tx


@dataclass
class _Counted:
    tx: AlertChanges
    store: CountingStore

    def __getattr__(self, name: str) -> object:
        return getattr(self.tx, name)

    def open_alert(self, site: str, device: str, rule: RuleId) -> Alert | None:
        self.store.reads += 1
        return self.tx.open_alert(site, device, rule)


@dataclass
class _Failing:
    tx: AlertChanges

    def __getattr__(self, name: str) -> object:
        return getattr(self.tx, name)

    def add_history(self, entry: AlertHistoryEntry) -> None:
        raise StoreError("IO Error: disk full", backend="duckdb", target="test")


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[[type[DuckDBAlertStore]], DuckDBAlertStore]]:
    """Stores of one kind on one file, closed at the end (a second one is a restart)."""
    readings = DuckDBStore(tmp_path / "a.duckdb")
    stores: list[DuckDBAlertStore] = []

    def open_store(kind: type[DuckDBAlertStore]) -> DuckDBAlertStore:
        if stores:
            stores[-1].close()
        stores.append(kind(tmp_path / "a.duckdb"))
        return stores[-1]

    yield open_store
    stores[-1].close()
    readings.close()


def a_book(store: DuckDBAlertStore) -> AlertBook:
    return AlertBook(store, SITE, StepClock(MIDNIGHT + timedelta(hours=1)))


def test_findings_are_applied_without_reading_the_alerts_back(
    opened: Callable[[type[DuckDBAlertStore]], DuckDBAlertStore],
) -> None:
    store = opened(CountingStore)
    assert isinstance(store, CountingStore)
    book = a_book(store)
    [fired] = book.apply([finding(Phase.FIRING, 31)])
    book.apply([finding(Phase.FIRING, 32), finding(Phase.CLEARED, 40)])
    [again] = book.apply([finding(Phase.FIRING, 50)])
    assert again.action is AlertAction.REFIRED and again.alert.id == fired.alert.id
    assert store.reads == 0
    # What the book remembers is what the store holds.
    assert store.open_alert(SITE, "fridge-1", RuleId.OVER_TEMPERATURE) == again.alert


def test_a_book_opened_again_knows_the_open_alerts_and_forgets_closed_ones(
    opened: Callable[[type[DuckDBAlertStore]], DuckDBAlertStore],
) -> None:
    first = a_book(opened(DuckDBAlertStore))
    [fired] = first.apply([finding(Phase.FIRING, 31)])
    seal = first.apply([finding(Phase.FIRING, 31, RuleId.SEAL_DEGRADATION, Severity.WARNING)])
    # A restart: the new book reads the open alerts once and goes on with them.
    second = a_book(opened(DuckDBAlertStore))
    [resolved] = second.apply([finding(Phase.CLEARED, 40)])
    assert resolved.alert.id == fired.alert.id and resolved.action is AlertAction.RESOLVED
    second.close(fired.alert.id, "李经理", "door fixed", FoodDecision.KEPT, "below 9 °C")
    # Closed by a person: the next crossing is a new alert, the seal alert is untouched.
    [new] = second.apply([finding(Phase.FIRING, 90)])
    assert new.action is AlertAction.FIRED and new.alert.id not in {fired.alert.id}
    assert new.alert.occurrences == 1
    [worse] = second.apply([finding(Phase.FIRING, 95, RuleId.SEAL_DEGRADATION)])
    assert worse.alert.id == seal[0].alert.id and worse.action is AlertAction.ESCALATED


def test_a_batch_that_rolled_back_leaves_the_book_as_the_store(
    opened: Callable[[type[DuckDBAlertStore]], DuckDBAlertStore],
) -> None:
    store = opened(FailingStore)
    assert isinstance(store, FailingStore)
    book = a_book(store)
    [pending] = book.apply([finding(Phase.PENDING, 1)])
    store.fail = True
    with pytest.raises(StoreError, match="disk full"):
        book.apply([finding(Phase.FIRING, 31)])  # the alert's row was written, then undone
    with pytest.raises(StoreError, match="disk full"):
        book.apply([finding(Phase.FIRING, 2, RuleId.SEAL_DEGRADATION)])  # a new one, undone
    store.fail = False
    # The findings come again: the alert is still pending in the book as in the store.
    [fired, seal] = book.apply(
        [finding(Phase.FIRING, 31), finding(Phase.FIRING, 2, RuleId.SEAL_DEGRADATION)]
    )
    assert fired.action is AlertAction.FIRED and fired.alert.id == pending.alert.id
    assert seal.action is AlertAction.FIRED
    assert [e.action for e in book.history(pending.alert.id)] == [
        AlertAction.PENDING,
        AlertAction.FIRED,
    ]
    states = AlertQuery(SITE, states=(AlertState.FIRING,))
    assert sorted(a.id for a in book.find(states)) == sorted([fired.alert.id, seal.alert.id])


def test_the_book_times_its_steps(book: AlertBook) -> None:
    assert book.times.figures()["total"]["p50"] is None
    book.apply([finding(Phase.FIRING, 31)])
    book.apply([finding(Phase.FIRING, 32)])  # nothing changed: not a batch of the figures
    figures = book.times.figures()
    assert set(figures) == set(BOOK_STEPS)
    assert all(figures[step]["p50"] is not None for step in BOOK_STEPS)
    assert figures["commit"]["max"] <= figures["total"]["max"]  # type: ignore[operator]
    assert figures["cpu"]["max"] > 0  # type: ignore[operator]
    assert figures["plan"]["max"] == 0.0  # no notifier: nothing planned
