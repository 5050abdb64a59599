"""/api/health says what the notification outbox holds: queued, sending, failed and retried in
the last hour, and how long the oldest queued notice has waited; read from a real outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from alerts.notify.outbox import entry_for
from core import ManualClock
from core.records import DeliveryAttempt, DeliveryOutcome, OutboxEntry, OutboxState
from dashboard_api import ApiContext, create_app
from ingest import DuckDBStore
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.conftest import fridge_facts, make_notice
from tests.conftest import site_config

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def _entry(alert_id: int, made: datetime) -> OutboxEntry:
    notice = make_notice(fridge_facts(alert_id=alert_id), key=f"n-{alert_id}", created_at=made)
    return entry_for(notice, made)


def _attempt(entry: OutboxEntry, at: datetime, outcome: DeliveryOutcome) -> DeliveryAttempt:
    return DeliveryAttempt(
        notice_key=entry.key,
        alert_ids=entry.alert_ids,
        channel=entry.channel,
        recipients=("cook-on-duty",),
        attempt=1,
        at=at,
        outcome=outcome,
        reason="" if outcome is DeliveryOutcome.SENT else "HTTP 503",
        status=200 if outcome is DeliveryOutcome.SENT else 503,
        latency_ms=4.0,
        kind=entry.kind,
    )


async def test_health_reports_the_outbox(tmp_path: Path) -> None:
    db = tmp_path / "health.duckdb"
    store, outbox = DuckDBStore(db), DuckDBOutboxStore(db)
    try:
        waiting = _entry(1, NOW - timedelta(minutes=7))  # queued for 7 min: nobody sends it
        retried = _entry(2, NOW - timedelta(minutes=3))  # refused once, waits for its retry
        failed = _entry(3, NOW - timedelta(minutes=20))  # given up 10 min ago
        old_failure = _entry(4, NOW - timedelta(hours=3))  # given up 2 h ago: not "last hour"
        on_its_way = _entry(5, NOW - timedelta(seconds=2))
        for entry in (waiting, retried, failed, old_failure, on_its_way):
            outbox.enqueue(entry)
        outbox.finish_attempt(
            replace(retried, attempts=1, next_attempt_at=NOW + timedelta(seconds=30)),
            _attempt(retried, NOW - timedelta(minutes=2), DeliveryOutcome.RETRY),
        )
        for entry, at in (
            (failed, NOW - timedelta(minutes=10)),
            (old_failure, NOW - timedelta(hours=2)),
        ):
            outbox.finish_attempt(
                replace(entry, state=OutboxState.FAILED, attempts=1, updated_at=at),
                _attempt(entry, at, DeliveryOutcome.FAILED),
            )
        outbox.mark_sending(on_its_way.key, NOW)
        config = site_config("canteen/v1")
        context = ApiContext(
            config, store, ManualClock(NOW), lambda: {"broker_connected": True}, deliveries=outbox
        )
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            health = (await client.get("/api/health")).json()
        assert health["notifications"] == {
            "queued": 2,  # waiting and retried
            "sending": 1,
            "failed_last_hour": 1,
            "retried_last_hour": 1,
            "oldest_waiting_s": 420.0,  # waiting, made 7 min ago
        }
        # Without notification channels there is no outbox and no such block.
        bare = ApiContext(config, store, ManualClock(NOW), lambda: {"broker_connected": True})
        transport = httpx.ASGITransport(app=create_app(bare))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            assert "notifications" not in (await client.get("/api/health")).json()
    finally:
        outbox.close()
        store.close()
