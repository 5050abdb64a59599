"""GET /api/deadletter: messages the gateway refused, newest first, with the reason.

`reason` is the reason's code, the same name `GET /api/health` counts them by (`not_json`,
`bad_time`, ...); `total` counts the letters that match the filter, not the whole table.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from core.readings import DEAD_LETTER_CODES
from dashboard_api.deps import Context
from dashboard_api.errors import ApiError, answers, shown

router = APIRouter(tags=["dead letters"])


@router.get(
    "/api/deadletter", summary="Refused messages with their reasons", responses=answers(422)
)
def dead_letters(
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first")] = 100,
    reason: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only this reason code, as /api/health counts them: "
            + ", ".join(DEAD_LETTER_CODES),
        ),
    ] = None,
    contains: Annotated[
        str | None, Query(max_length=200, description="Only reasons whose text contains this")
    ] = None,
) -> dict[str, Any]:
    if reason is not None and reason not in DEAD_LETTER_CODES:
        raise ApiError(
            422,
            f"query parameter 'reason': no reason code {shown(reason)}; the codes are "
            f"{list(DEAD_LETTER_CODES)} (as GET /api/health counts them)",
        )
    site = context.config.site
    records = context.store.dead_letters(site.id, limit, contains, reason)
    return {
        "reason": reason,
        "total": context.store.dead_letter_count(site.id, reason, contains),
        "items": [
            {
                "id": r.id,
                "received_at": r.letter.received_at.astimezone(site.zone).isoformat(),
                "topic": r.letter.topic,
                "device": r.letter.device,
                "code": r.letter.code,
                "reason": r.letter.reason,
                "payload": r.letter.payload.decode("utf-8", "replace"),
                "payload_size": r.letter.payload_size,
                "truncated": len(r.letter.payload) < r.letter.payload_size,
            }
            for r in records
        ],
    }
