"""How many HTTP requests the app is answering right now, for background work that yields to
them (the chart warmer draws only while none is, or after waiting a bounded time).

Pure ASGI: one counter raised when a request starts and lowered when its answer is sent (or
it fails), nothing else touched. The live streams (`/api/live`) stay open for hours and are
not counted: a browser holding the overview open is not a request waiting for an answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["InFlight", "RequestsInFlight"]

_STREAMS = frozenset({"/api/live"})


class RequestsInFlight:
    """The count; one per app (`app.state.in_flight`)."""

    def __init__(self) -> None:
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0


class InFlight:
    """The middleware that keeps `gauge` up to date."""

    def __init__(self, app: ASGIApp, gauge: RequestsInFlight) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _STREAMS:
            await self.app(scope, receive, send)
            return
        self.gauge.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.count -= 1
