"""The OpenAPI docs at /docs with Swagger UI's own files from the installed
`swagger-ui-bundle` package, served by this service under /static/swagger (school networks are
often cut off from the internet: no CDN). The page is public, like /openapi.json; "Try it out"
uses the browser's session and sends its CSRF token (static/docs.js)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from dashboard_api.web.render import render

__all__ = ["SWAGGER_DIR", "install_docs", "router"]

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    return render(request, "docs.html")


def install_docs(app: FastAPI) -> None:
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    app.include_router(router)
