"""Error responses a person can act on, and their place in the OpenAPI schema.

FastAPI's default 422 lists pydantic's internals; here each problem becomes one sentence that
says which parameter, what was wrong and what is allowed, while `detail` keeps the structured
list for programs. A refusal raised by a route (`ApiError`) answers `{"message": ...}`.
`answers(404, 422)` documents, on a route, the refusals it can give.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from annotated_types import Ge, Le
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

__all__ = [
    "ApiError",
    "FieldProblem",
    "Problem",
    "ValidationProblem",
    "answers",
    "install_error_handlers",
    "shown",
]

# An echoed input longer than this is cut: the sentence is for a person, not a copy of the URL.
_SHOWN_CHARS = 80

_MEANINGS = {
    404: "What the request names does not exist at this site",
    409: "Not allowed in the alert's present state",
    422: "A parameter or the body is invalid or out of range; `message` says which and what "
    "is allowed",
    503: "Alerts are not running in this service",
}


class ApiError(Exception):
    """A request that names something that does not exist or cannot be answered."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Problem(BaseModel):
    message: str = Field(description="What was wrong, in one sentence")


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Where: query, path or body, then the name")
    msg: str
    type: str | None = None


class ValidationProblem(Problem):
    detail: list[FieldProblem] = Field(
        default_factory=list,
        description="The same problems for programs; empty when the request was well formed "
        "but its values cannot be answered (an unknown metric, a range too long)",
    )


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can refuse with these statuses."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": _MEANINGS.get(status, HTTPStatus(status).phrase),
        }
        for status in statuses
    }


def shown(value: object) -> str:
    """`value` as a person reads it in a sentence, cut if long."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 5]}...{text[-1]}"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _problem)
    app.add_exception_handler(HTTPException, _http_problem)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_sentence(error, _declared_range(request, error)) for error in exc.errors()]
    return JSONResponse(
        status_code=422,
        content={"message": "; ".join(problems), "detail": [_plain(e) for e in exc.errors()]},
    )


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(status_code=exc.status, content={"message": exc.message})


async def _http_problem(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (no such path, method not allowed) in the same shape. FastAPI
    answers 400 only for a body it cannot read (not UTF-8): to a client that is the same
    mistake as a body that is not JSON, which is a 422 here."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        unread = {"loc": ["body"], "msg": str(exc.detail), "type": "json_invalid"}
        content = {"message": "request body is not valid JSON (UTF-8)", "detail": [unread]}
        return JSONResponse(status_code=422, content=content)
    return JSONResponse(
        status_code=exc.status_code, content={"message": str(exc.detail)}, headers=exc.headers
    )


def _sentence(error: dict[str, Any], allowed: str | None) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = f"{loc[0]} parameter '{'.'.join(loc[1:])}'" if len(loc) > 1 else "request"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{where} is required"
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON (UTF-8)"
    if allowed is not None:
        return f"{where}: {shown(error.get('input'))} is out of range; {allowed}"
    if "input" in error and error.get("type") != "value_error":
        return f"{where}: {message} (got {shown(error['input'])})"
    return f"{where}: {message}"


def _declared_range(request: Request, error: dict[str, Any]) -> str | None:
    """For a number out of its declared bounds, both of them ('allowed: 1 to 1000'): pydantic
    names only the one that was crossed."""
    if error.get("type") not in ("greater_than_equal", "less_than_equal"):
        return None
    loc = error.get("loc", ())
    if len(loc) != 2 or loc[0] not in ("path", "query"):
        return None
    route = request.scope.get("route")
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        for field in [*dependant.path_params, *dependant.query_params]:
            if field.alias == loc[1]:
                return _bounds(field.field_info.metadata)
        pending.extend(dependant.dependencies)
    return None


def _bounds(constraints: list[Any]) -> str | None:
    low = next((c.ge for c in constraints if isinstance(c, Ge)), None)
    high = next((c.le for c in constraints if isinstance(c, Le)), None)
    return None if low is None or high is None else f"allowed: {low} to {high}"


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": list(error.get("loc", ())),
        "msg": str(error.get("msg", "")),
        "type": error.get("type"),
    }
