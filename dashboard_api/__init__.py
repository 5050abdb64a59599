"""The HTTP face of the service: a FastAPI app with REST endpoints and OpenAPI docs. It reads
through an `ApiContext` handed in by the composition root and holds no business rules."""

from dashboard_api.app import create_app
from dashboard_api.context import AlertsDesk, ApiContext

__all__ = ["AlertsDesk", "ApiContext", "create_app"]
