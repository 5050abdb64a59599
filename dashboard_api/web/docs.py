"""The OpenAPI docs at /docs with Swagger UI's own files from the installed
`swagger-ui-bundle` package, served by this service under /static/swagger (school networks are
often cut off from the internet: no CDN). The page is public, like /openapi.json; "Try it out"
uses the browser's session and sends its CSRF token (static/docs.js).

The packaged Swagger UI is 4.15, which renders OpenAPI 3.0 only, while FastAPI writes 3.1; the
page reads `/docs/openapi.json`, the same schema said in 3.0 terms (`as_openapi_30`): a
nullable type instead of an `anyOf` with `null`, `enum` for `const`, one `example`.
`/openapi.json` itself stays 3.1 for programs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from dashboard_api.web.render import render

__all__ = ["SWAGGER_DIR", "as_openapi_30", "install_docs", "router"]

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    return render(request, "docs.html")


@router.get("/docs/openapi.json")
def docs_schema(request: Request) -> JSONResponse:
    return JSONResponse(as_openapi_30(request.app.openapi()))


def as_openapi_30(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (OpenAPI 3.1) in the terms OpenAPI 3.0 has, for Swagger UI 4."""
    converted: dict[str, Any] = _to_30(copy.deepcopy(schema))
    converted["openapi"] = "3.0.3"
    return converted


def _to_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _to_30(value) for key, value in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del node["anyOf"]
        node = {**rest[0], **node} if len(rest) == 1 else {**node, "anyOf": rest}
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list) and "type" in node:
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    return node


def install_docs(app: FastAPI) -> None:
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    app.include_router(router)
