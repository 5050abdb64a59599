"""GET /api/deadletter: messages the gateway refused, newest first, with the reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dashboard_api.deps import Context
from dashboard_api.errors import answers

router = APIRouter(tags=["dead letters"])


@router.get(
    "/api/deadletter", summary="Refused messages with their reasons", responses=answers(422)
)
def dead_letters(
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first")] = 100,
    reason: Annotated[
        str | None, Query(max_length=200, description="Only reasons containing this text")
    ] = None,
) -> dict[str, Any]:
    site = context.config.site
    records = context.store.dead_letters(site.id, limit, reason)
    return {
        "total": context.store.dead_letter_count(),
        "items": [
            {
                "id": r.id,
                "received_at": r.letter.received_at.astimezone(site.zone).isoformat(),
                "topic": r.letter.topic,
                "device": r.letter.device,
                "reason": r.letter.reason,
                "payload": r.letter.payload.decode("utf-8", "replace"),
                "payload_size": r.letter.payload_size,
                "truncated": len(r.letter.payload) < r.letter.payload_size,
            }
            for r in records
        ],
    }
