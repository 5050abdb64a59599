"""Withdrawing notices on a real DuckDB outbox: only the pending reminders and escalations about
the one alert someone acted on are withdrawn; what was sent, what is about to go out of
another kind, and a digest that speaks of other alerts too are left alone; the withdrawn are
pruned after the retention like the sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from alerts.notify.model import Notice, NoticeKind
from alerts.notify.outbox import entry_for
from core.records import DeliveryOutcome, OutboxState
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.conftest import NOW, fridge_facts, make_notice

KINDS = ("reminder", "escalated")


def about(alert_id: int, key: str, kind: NoticeKind, *others: int) -> Notice:
    facts = tuple(fridge_facts(alert_id=i) for i in (alert_id, *others))
    return make_notice(*facts, key=key, kind=kind)


def test_only_the_acted_on_alerts_waiting_reminders_and_escalations(tmp_path: Path) -> None:
    outbox = DuckDBOutboxStore(tmp_path / "canteen.duckdb")
    try:
        notices = [
            about(1, "1/fired", NoticeKind.FIRED),
            about(1, "1/reminder1", NoticeKind.REMINDER),
            about(1, "1/escalated", NoticeKind.ESCALATED),
            about(1, "1/resolved", NoticeKind.RESOLVED),
            about(1, "digest/x", NoticeKind.DIGEST, 2),
            about(2, "2/reminder1", NoticeKind.REMINDER),
            about(1, "1/reminder0", NoticeKind.REMINDER),
        ]
        for notice in notices:
            outbox.enqueue(entry_for(notice, NOW))
        sent = replace(outbox.entry("1/reminder0"), state=OutboxState.SENT)  # type: ignore[arg-type]
        outbox.finish_attempt(sent, None)
        later = NOW + timedelta(minutes=5)
        withdrawn = outbox.withdraw([1], KINDS, later, "acknowledged by wang")
        assert sorted(withdrawn) == ["1/escalated", "1/reminder1"]
        states = {e.key: e.state for e in outbox.entries()}
        assert states == {
            "1/fired": OutboxState.PENDING,
            "1/reminder1": OutboxState.WITHDRAWN,
            "1/escalated": OutboxState.WITHDRAWN,
            "1/resolved": OutboxState.PENDING,
            "digest/x": OutboxState.PENDING,
            "2/reminder1": OutboxState.PENDING,
            "1/reminder0": OutboxState.SENT,
        }
        assert outbox.entry("1/escalated").last_error == "acknowledged by wang"  # type: ignore[union-attr]
        assert [e.key for e in outbox.due("kitchen-robot", later, 10)] == [
            "1/fired", "1/resolved", "2/reminder1", "digest/x",
        ]  # fmt: skip
        # The alert's delivery log says why its reminder and escalation never came.
        logged = [
            (d.notice_key, d.outcome, d.attempt, d.reason, d.recipients, d.at)
            for d in outbox.deliveries_for_alert(1)
            if d.outcome is DeliveryOutcome.WITHDRAWN
        ]
        recipients = outbox.entry("1/escalated").notice["recipients"]  # type: ignore[union-attr]
        assert sorted(logged) == [
            ("1/escalated", DeliveryOutcome.WITHDRAWN, 0, "acknowledged by wang",
             tuple(recipients), later),
            ("1/reminder1", DeliveryOutcome.WITHDRAWN, 0, "acknowledged by wang",
             tuple(recipients), later),
        ]  # fmt: skip
        assert outbox.deliveries_for_alert(2) == []
        assert outbox.withdraw([1], KINDS, later, "again") == []  # once
        assert outbox.prune(later + timedelta(seconds=1)) == 3  # the withdrawn and the sent
        assert {e.key for e in outbox.entries()} == {
            "1/fired",
            "1/resolved",
            "digest/x",
            "2/reminder1",
        }
    finally:
        outbox.close()
