"""GET /api/health: is the service receiving and storing, with its counters. `degraded` when
the broker is not connected or the status reports `faults` (the store failing, the broker
unreachable, another client taking the gateway's session), which say why. With notification
channels configured, `notifications` says what the outbox holds (`alerts.notify.health`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from alerts.notify.health import OutboxFigures, outbox_health
from dashboard_api.deps import Context

router = APIRouter(tags=["health"])


@router.get("/api/health", summary="Service health and counters")
def health(context: Context) -> dict[str, Any]:
    status = dict(context.status())
    faults = status.get("faults")
    healthy = bool(status.get("broker_connected", False)) and not faults
    body = {
        "status": "ok" if healthy else "degraded",
        "site": context.config.site.id,
        "time": context.clock.now().astimezone(context.config.site.zone).isoformat(),
        **status,
    }
    if isinstance(context.deliveries, OutboxFigures):
        body["notifications"] = outbox_health(context.deliveries, context.clock.now())
    return body
