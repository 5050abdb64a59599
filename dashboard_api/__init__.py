"""The HTTP face of the service: a FastAPI app with REST endpoints and OpenAPI docs. It reads
through an `ApiContext` handed in by the composition root and holds no business rules."""

from dashboard_api.app import create_app
from dashboard_api.context import ApiContext

__all__ = ["ApiContext", "create_app"]
