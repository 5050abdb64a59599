"""The FastAPI application: REST for devices, series, health, dead letters, alerts and the
food-safety registers, and energy; the web UI's pages (`dashboard_api.web`); OpenAPI at /docs
with its own assets (no /redoc).

Every JSON route needs a viewer (a login session or a bearer token) except `/api/health`;
lifecycle POSTs need staff (their routes say so). /docs, /openapi.json, /login and the static
files are public."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from dashboard_api.chart_cache import ChartCache
from dashboard_api.chart_warmer import ChartWarmer
from dashboard_api.context import ApiContext
from dashboard_api.deps import CsrfRefusedError, LoginRequiredError, require_viewer
from dashboard_api.errors import install_error_handlers
from dashboard_api.in_flight import InFlight, RequestsInFlight
from dashboard_api.routes import alerts, calibration, deadletter, devices, energy, health, registers
from dashboard_api.routes import charts as chart_route
from dashboard_api.routes import live as live_route
from dashboard_api.routes import notify as notify_route
from dashboard_api.web import install_web, pages_ack, render

__all__ = ["create_app", "keep_charts_warm"]


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="canteen-monitor",
        summary="Food-safety and energy monitoring for school canteens",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    app.state.in_flight = in_flight = RequestsInFlight()
    if context.live is not None:
        app.state.chart_cache = cache = ChartCache()
        app.state.chart_warmer = ChartWarmer(
            context, cache, chart_route.chart_job, busy=in_flight.__bool__
        )
    install_error_handlers(app)
    app.add_exception_handler(LoginRequiredError, _to_login)
    app.add_exception_handler(CsrfRefusedError, _csrf_refused)
    app.include_router(health.router)
    signed_in = [Depends(require_viewer)]
    for module in (devices, deadletter, energy, alerts, registers, calibration):
        app.include_router(module.router, dependencies=signed_in)
    app.include_router(live_route.router, dependencies=signed_in)
    app.include_router(chart_route.router, dependencies=signed_in)
    app.include_router(notify_route.router, dependencies=signed_in)
    # The signed acknowledge link's page: public, the link is its own credential.
    app.include_router(pages_ack.router)
    install_web(app)
    app.add_middleware(InFlight, gauge=in_flight)
    app.openapi = _without_default_422(app)  # type: ignore[method-assign]
    return app


async def keep_charts_warm(app: FastAPI) -> None:
    """The background work that keeps `app`'s preset charts drawn (`ChartWarmer`), for the
    composition root's task group; returns at once without the live hub."""
    warmer: ChartWarmer | None = getattr(app.state, "chart_warmer", None)
    if warmer is not None:
        await warmer.run()


async def _to_login(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequiredError)
    return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)


async def _csrf_refused(request: Request, _exc: Exception) -> Response:
    back = request.headers.get("referer", "/")
    back = back if back.startswith(str(request.base_url)) else "/"
    return render(
        request, "refused.html", {"reason_key": "refused.csrf", "back": back}, status_code=403
    )


def _without_default_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents its own 422 body on every operation with a parameter; the routes list
    the 422 they can give with `errors.answers`, so where FastAPI's default remains the route
    cannot give one (a device path is any text) and the schema should not promise it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_auth_answers(_drop_default_422(build()))
        return app.openapi_schema

    return openapi


def _drop_default_422(schema: dict[str, Any]) -> dict[str, Any]:
    for operations in schema["paths"].values():
        for operation in operations.values():
            if _is_default_422(operation["responses"].get("422", {})):
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema


def _is_default_422(response: dict[str, Any]) -> bool:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return isinstance(ref, str) and ref.endswith("/HTTPValidationError")


_PUBLIC_PATHS = frozenset({"/api/health"})
_AUTH_ANSWERS = {
    "401": "No credentials: log in, or send `Authorization: Bearer <token>`",
    "403": "The role is too low for this (lifecycle steps need staff), or a browser call "
    "lacks the session's X-CSRF-Token",
}


def _with_auth_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation but the public ones can answer 401 and 403; the schema says so."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema["paths"].items():
        if path in _PUBLIC_PATHS:
            continue
        for operation in operations.values():
            for status, meaning in _AUTH_ANSWERS.items():
                operation["responses"].setdefault(
                    status, {"description": meaning, "content": problem}
                )
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "`canteen token create NAME` makes a token (shown once)",
    }
    return schema
