"""Error responses a person can act on.

FastAPI's default 422 lists pydantic's internals; here each problem becomes one sentence that
says which parameter, what was wrong and what is allowed, while `detail` keeps the structured
list for programs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

__all__ = ["ApiError", "install_error_handlers"]


class ApiError(Exception):
    """A request that names something that does not exist or cannot be answered."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _problem)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_sentence(error) for error in exc.errors()]
    return JSONResponse(
        status_code=422,
        content={"message": "; ".join(problems), "detail": [_plain(e) for e in exc.errors()]},
    )


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(status_code=exc.status, content={"message": exc.message})


def _sentence(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = f"{loc[0]} parameter '{'.'.join(loc[1:])}'" if len(loc) > 1 else "request"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{where} is required"
    if "input" in error and error.get("type") != "value_error":
        return f"{where}: {message} (got {error['input']!r})"
    return f"{where}: {message}"


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": list(error.get("loc", ())),
        "msg": str(error.get("msg", "")),
        "type": error.get("type"),
    }
