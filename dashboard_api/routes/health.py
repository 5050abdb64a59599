"""GET /api/health: is the service receiving and storing, with its counters. `degraded` when
the broker is not connected or the status reports `faults` (the store failing, the broker
unreachable, another client taking the gateway's session), which say why. With notification
channels configured, `notifications` says what the outbox holds (`alerts.notify.health`).

Monitors and load balancers poll it, many at a time; profiled under 20 `ab` clients, the answer
itself (the runtime's counters) was about 1 % of the service's CPU per request, the rest the
hop to a worker thread, FastAPI's dependency and JSON machinery around a few counters, and,
with notification channels, three reads of the outbox per request. So the answer is made at
most once a second (`FRESH_S`; its figures are never older), as JSON bytes, on the event loop
(the counters are in memory; only the outbox is read in a worker thread, by one request while
the others wait for its answer). A client that needs the figures of this instant (a bench
reading `readings_stored` at the edges of its window) sends `Cache-Control: no-cache`, as
HTTP has it, and gets an answer made for it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from alerts.notify.health import OutboxFigures, outbox_health
from dashboard_api.context import ApiContext
from dashboard_api.deps import get_context

__all__ = ["FRESH_S", "router"]

router = APIRouter(tags=["health"])

FRESH_S = 1.0  # an answer's figures are at most this old


@dataclass
class _Kept:
    """The last answer, when it was made by the injected clock and by the process's own
    monotonic one: with a test's stopped clock, the second still ages it."""

    body: bytes = b""
    at: datetime | None = None
    made_s: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def fresh(self, now: datetime) -> bool:
        if self.at is None or not timedelta(0) <= now - self.at < timedelta(seconds=FRESH_S):
            return False
        return time.monotonic() - self.made_s < FRESH_S


@router.get(
    "/api/health",
    summary="Service health and counters (made at most once a second)",
    response_model=dict[str, Any],
)
async def health(request: Request) -> Response:
    context = get_context(request)
    kept = _kept(request)
    if "no-cache" in request.headers.get("cache-control", ""):
        return Response(await _answer(context, context.clock.now()), media_type="application/json")
    if not kept.fresh(context.clock.now()):
        async with kept.lock:
            now = context.clock.now()
            if not kept.fresh(now):  # another request may have made it while this one waited
                kept.body = await _answer(context, now)
                kept.at, kept.made_s = now, time.monotonic()
    return Response(kept.body, media_type="application/json")


async def _answer(context: ApiContext, now: datetime) -> bytes:
    status = dict(context.status())
    faults = status.get("faults")
    healthy = bool(status.get("broker_connected", False)) and not faults
    body = {
        "status": "ok" if healthy else "degraded",
        "site": context.config.site.id,
        "time": now.astimezone(context.config.site.zone).isoformat(),
        **status,
    }
    if isinstance(context.deliveries, OutboxFigures):
        # DuckDB reads: in a worker thread, never on the event loop.
        body["notifications"] = await run_in_threadpool(outbox_health, context.deliveries, now)
    # As Starlette's JSONResponse writes it.
    text = json.dumps(jsonable_encoder(body), ensure_ascii=False, separators=(",", ":"))
    return text.encode()


def _kept(request: Request) -> _Kept:
    """The app's last answer (one per app, as the context is), made on first use."""
    kept: _Kept | None = getattr(request.app.state, "health_answer", None)
    if kept is None:
        kept = request.app.state.health_answer = _Kept()
    return kept
