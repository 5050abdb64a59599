"""The alert lifecycle on a real store: rules move alerts, people acknowledge, resolve and close
them, and every refusal says why in a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.errors import AlertNotFoundError, ClosureIncompleteError, TransitionError
from alerts.lifecycle import AlertBook
from alerts.model import (
    AlertAction,
    AlertState,
    Finding,
    FoodDecision,
    Message,
    Phase,
    RuleId,
    Severity,
)
from core.clock import StepClock, to_epoch_ms
from ingest import DuckDBStore
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
