"""Security headers on every answer: a Content-Security-Policy that allows only the service's
own files (no inline script or style, no framing), no MIME sniffing, no referrer across sites.

Pure ASGI, not `BaseHTTPMiddleware`: it adds headers to the response's start message and
leaves the body alone, so streamed answers (SSE) pass through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders"]

_BASE = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_CSP = f"{_BASE}; style-src 'self'; script-src 'self'"
# Swagger UI sets style attributes from its scripts; its own page allows them, nothing else.
_DOCS_CSP = f"{_BASE}; style-src 'self' 'unsafe-inline'; script-src 'self'"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _DOCS_CSP if scope["path"] == "/docs" else _PAGE_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
