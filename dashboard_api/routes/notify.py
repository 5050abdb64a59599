"""Notifications: the delivery log of one alert (`GET /api/alerts/{id}/deliveries`).

Every attempt to send a notice about the alert, oldest first: the channel, who it was for, the
notice's kind (fired, reminder, escalated, resolved, digest), the outcome (sent, retry,
failed, or withdrawn: never sent because someone acted on the alert first, attempt 0, the
reason naming who), the receiver's reason and HTTP status, and how long the send took. The
log is the outbox's (`alerts.notify.outbox`), handed in through the `ApiContext` as `deliveries`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from alerts.errors import AlertNotFoundError
from core.records import DeliveryAttempt, DeliveryOutcome
from dashboard_api.deps import Context, Desk
from dashboard_api.errors import ApiError, answers
from dashboard_api.routes.alerts import AlertId

__all__ = ["router"]

router = APIRouter(tags=["alerts"])

_NOT_CONFIGURED = "not configured at this site (notify.channels is empty): nobody is told"


@router.get(
    "/api/alerts/{alert_id}/deliveries",
    summary="The alert's delivery log: every attempt to notify someone of it",
    responses=answers(404, 422, 503),
)
async def deliveries(context: Context, desk: Desk, alert_id: AlertId) -> dict[str, Any]:
    try:
        await run_in_threadpool(desk.book.get, alert_id)
    except AlertNotFoundError as exc:
        raise ApiError(404, exc.message) from None
    log = context.deliveries
    rows = [] if log is None else await run_in_threadpool(log.deliveries_for_alert, alert_id)
    zone = ZoneInfo(context.config.site.timezone)
    return {
        "alert_id": alert_id,
        # Said when no channel is configured: nobody is told, so the log stays empty.
        "notifications": "configured" if log is not None else _NOT_CONFIGURED,
        "count": len(rows),
        "sent": sum(1 for row in rows if row.outcome is DeliveryOutcome.SENT),
        "items": [_row(row, zone) for row in rows],
    }


def _row(row: DeliveryAttempt, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "at": _local(row.at, zone),
        "notice_key": row.notice_key,
        "kind": row.kind,
        "channel": row.channel,
        "recipients": list(row.recipients),
        "attempt": row.attempt,
        "outcome": row.outcome.value,
        "reason": row.reason,
        "status": row.status,
        "latency_ms": row.latency_ms,
        "alert_ids": list(row.alert_ids),
    }


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat()
