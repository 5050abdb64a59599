"""Live updates for the dashboard as server-sent events (`GET /api/live`).

The stream opens with a `snapshot` of the latest values and presence, then sends `reading`,
`presence` and `alert` events as they are stored, a comment line as heartbeat, and `reload`
when the client fell too far behind (the browser's EventSource then reconnects and gets a fresh
snapshot; so does a reconnect carrying Last-Event-ID).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from dashboard_api.deps import Context
from dashboard_api.errors import ApiError, answers, shown
from dashboard_api.live import LiveHub

__all__ = ["router"]

router = APIRouter(tags=["live"])

# How long a browser waits before reconnecting after the stream ends.
_RETRY_MS = 2000


@router.get(
    "/api/live",
    summary="Server-sent events: a snapshot of latest values, then updates as they are stored",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **answers(404, 503)},
)
async def live(
    context: Context,
    device: Annotated[
        list[str] | None,
        Query(max_length=64, description="Follow only these devices (repeatable); default all"),
    ] = None,
    site: Annotated[
        str | None, Query(max_length=64, description="Site id; this service serves one")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            max_length=64,
            description="Sent by a reconnecting EventSource; a fresh "
            "snapshot is sent whatever it holds",
        ),
    ] = None,
) -> StreamingResponse:
    hub = context.live
    if hub is None:
        raise ApiError(503, "live updates are not running in this service")
    if site is not None and site != hub.site:
        raise ApiError(404, f"no site {shown(site)} in this service; it serves {hub.site!r}")
    unknown = sorted(set(device or ()) - hub.devices)
    if unknown:
        known = ", ".join(sorted(hub.devices))
        raise ApiError(
            404, f"query parameter 'device': no device {shown(unknown[0])}; known: {known}"
        )
    return StreamingResponse(
        _stream(hub, device or None),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(hub: LiveHub, devices: list[str] | None) -> AsyncIterator[bytes]:
    # Subscribed only once the response streams: a request that never gets that far leaves
    # nothing behind in the hub.
    subscriber = await hub.subscribe(devices)
    try:
        yield (f"retry: {_RETRY_MS}\n\n" + hub.snapshot_text(subscriber)).encode()
        while True:
            events = await subscriber.next_events(hub, hub.heartbeat_s)
            if events is None:
                yield b": heartbeat\n\n"
                continue
            if events:
                # One write per wake-up: a burst costs one send, not one per event.
                yield hub.chunk_of(events)
            if subscriber.dropped:
                return
    finally:
        hub.unsubscribe(subscriber)
