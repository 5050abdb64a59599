"""The FastAPI application: REST for devices, series, health, dead letters, alerts and the
food-safety registers, and energy; OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from dashboard_api.context import ApiContext
from dashboard_api.errors import install_error_handlers
from dashboard_api.routes import alerts, calibration, deadletter, devices, energy, health, registers
from dashboard_api.routes import charts as chart_route
from dashboard_api.routes import live as live_route

__all__ = ["create_app"]


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="canteen-monitor",
        summary="Food-safety and energy monitoring for school canteens",
        version="0.1.0",
    )
    app.state.context = context
    install_error_handlers(app)
    for module in (health, devices, deadletter, energy, alerts, registers, calibration):
        app.include_router(module.router)
    app.include_router(live_route.router)
    app.include_router(chart_route.router)
    app.openapi = _without_default_422(app)  # type: ignore[method-assign]
    return app


def _without_default_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents its own 422 body on every operation with a parameter; the routes list
    the 422 they can give with `errors.answers`, so where FastAPI's default remains the route
    cannot give one (a device path is any text) and the schema should not promise it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _drop_default_422(build())
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
