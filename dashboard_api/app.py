"""The FastAPI application: REST for devices, series, health, dead letters, alerts and the
food-safety registers, and energy; OpenAPI at /docs."""

from __future__ import annotations

from fastapi import FastAPI

from dashboard_api.context import ApiContext
from dashboard_api.errors import install_error_handlers
from dashboard_api.routes import alerts, deadletter, devices, energy, health, registers

__all__ = ["create_app"]


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="canteen-monitor",
        summary="Food-safety and energy monitoring for school canteens",
        version="0.1.0",
    )
    app.state.context = context
    install_error_handlers(app)
    for module in (health, devices, deadletter, energy, alerts, registers):
        app.include_router(module.router)
    return app
