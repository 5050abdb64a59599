"""Request dependencies: the API context, the alerts service, the device a path names, and who
is asking (`Viewer`, `Staff`, `Admin` for the JSON API; `PageViewer` for pages).

Who is asking: a bearer token (`Authorization: Bearer ctk_...`, for machines) or the login
session's cookie (browsers). The API answers 401 without either, 403 when the role is too
low; pages redirect to `/login?next=<path>` instead. A state-changing call made with the
session cookie must carry the session's CSRF token in the `X-CSRF-Token` header (forms: the
hidden field `csrf`, checked by the page route with `check_form_csrf`); a bearer token needs
none, since a browser never sends one on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, Path, Request
from pydantic import BaseModel, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from core.model import Device
from core.records import Role
from dashboard_api.auth import Auth, Person
from dashboard_api.context import AlertsDesk, ApiContext
from dashboard_api.errors import ApiError, shown

__all__ = [
    "PASSWORD_PAGE",
    "SESSION_COOKIE",
    "ActorFromLogin",
    "Admin",
    "Context",
    "CsrfRefusedError",
    "Desk",
    "DevicePath",
    "LoginRequiredError",
    "PageViewer",
    "Staff",
    "Viewer",
    "check_form_csrf",
    "current_person",
    "get_auth",
    "page_viewer",
    "require",
    "require_admin",
    "require_staff",
    "require_viewer",
]

SESSION_COOKIE = "canteen_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


async def _context(request: Request) -> ApiContext:
    # Async on purpose, as `get_device` below: FastAPI runs a plain `def` dependency in its
    # thread pool, a hop per request that a loaded service pays in milliseconds for nothing.
    return get_context(request)


Context = Annotated[ApiContext, Depends(_context)]


def get_desk(context: Context) -> AlertsDesk:
    if context.alerts is None:
        raise ApiError(503, "alerts are not running in this service")
    return context.alerts


Desk = Annotated[AlertsDesk, Depends(get_desk)]


async def get_device(
    context: Context, device_id: Annotated[str, Path(description="Device id from the site config")]
) -> Device:
    device = context.config.device(device_id)
    if device is None:
        known = ", ".join(d.id for d in context.config.devices)
        raise ApiError(404, f"no device {shown(device_id)} at this site; known devices: {known}")
    return device


DevicePath = Annotated[Device, Depends(get_device)]


# -- who is asking ---------------------------------------------------------------------------


def get_auth(request: Request) -> Auth:
    auth = get_context(request).auth
    if auth is None:
        raise ApiError(503, "this service has no user store: nobody can log in")
    return auth


class LoginRequiredError(Exception):
    """A page asked for without a session: the app redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefusedError(Exception):
    """A form posted without its session's CSRF token: the app answers a 403 page."""


def _credential(request: Request) -> tuple[Literal["session", "token"], str | None]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token", token.strip()
    return "session", request.cookies.get(SESSION_COOKIE)


def current_person(request: Request) -> Person | None:
    """The bearer token's or the session's person (looked up once per request)."""
    if not hasattr(request.state, "person"):
        auth = get_context(request).auth
        if auth is None:
            return None
        via, secret = _credential(request)
        if via == "token":
            request.state.person = auth.token_person(secret)
        else:
            request.state.person = auth.session_person(secret)
    found: Person | None = request.state.person
    if found is not None and found.must_change_password:
        _password_first(request)
    return found


# What a session whose password was reset may still reach: the page that changes it, logging
# out, the login page and the page assets.
PASSWORD_PAGE = "/password"
_OPEN_TO_RESET = (PASSWORD_PAGE, "/logout", "/login", "/static/")


def _password_first(request: Request) -> None:
    """Turn a reset password's session away from everything but choosing a new one: pages go
    to the password page, the API answers 403 saying why (tokens are never affected)."""
    path = request.url.path
    if path == PASSWORD_PAGE or path.startswith(_OPEN_TO_RESET[1:]):
        return
    if path.startswith("/api/"):
        raise HTTPException(
            403,
            "an admin reset this person's password: choose a new one on the page "
            f"{PASSWORD_PAGE} first (API tokens are not affected)",
        )
    raise HTTPException(303, "choose a new password first", headers={"Location": PASSWORD_PAGE})


async def person_asking(request: Request) -> Person | None:
    """`current_person` without a thread hop when the credential was looked up moments ago
    (`Auth.recalled`); otherwise the store is read in a worker thread, off the event loop."""
    auth = get_context(request).auth
    if auth is not None and not hasattr(request.state, "person"):
        known, person = auth.recalled(*_credential(request))
        if known:
            request.state.person = person
    if hasattr(request.state, "person") or auth is None:
        return current_person(request)
    return await run_in_threadpool(current_person, request)


def require(role: Role) -> Callable[[Request], Awaitable[Person]]:
    """A dependency for the JSON API: the person asking, with at least `role`."""

    async def dependency(request: Request) -> Person:
        person = await person_asking(request)
        if person is None:
            raise HTTPException(
                401,
                "log in or send a bearer token (Authorization: Bearer ...); "
                "`canteen token create NAME` makes one",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not person.role.allows(role):
            raise HTTPException(
                403, f"this needs the role {role.value}; {person.name!r} has {person.role.value}"
            )
        if person.via == "session" and request.method not in _SAFE_METHODS:
            _check_header_csrf(request, person)
        return person

    dependency.__name__ = f"require_{role.value}"
    return dependency


def _check_header_csrf(request: Request, person: Person) -> None:
    sent = request.headers.get("x-csrf-token", "")
    if not (person.csrf and hmac.compare_digest(sent.encode(), person.csrf.encode())):
        raise HTTPException(
            403,
            "a call with the session cookie must send the session's CSRF token in the "
            'X-CSRF-Token header (pages have it in <meta name="csrf">)',
        )


def check_form_csrf(person: Person | None, form_value: object) -> None:
    """For a page's form POST: the hidden field `csrf` must be the session's token."""
    sent = form_value if isinstance(form_value, str) else ""
    expected = person.csrf if person is not None else None
    if not (expected and hmac.compare_digest(sent.encode(), expected.encode())):
        raise CsrfRefusedError()


async def page_viewer(request: Request) -> Person:
    """For page routes: the logged-in person, or a redirect to the login page."""
    person = await person_asking(request)
    if person is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(quote(path, safe="/?=&"))
    return person


require_viewer = require(Role.VIEWER)
require_staff = require(Role.STAFF)
require_admin = require(Role.ADMIN)
Viewer = Annotated[Person, Depends(require_viewer)]
Staff = Annotated[Person, Depends(require_staff)]
Admin = Annotated[Person, Depends(require_admin)]
PageViewer = Annotated[Person, Depends(page_viewer)]


class ActorFromLogin(BaseModel):
    """A lifecycle body: the acting person is the one logged in (or the token's name), so a
    body that still names one in `by` is refused rather than silently credited to someone
    else."""

    @model_validator(mode="before")
    @classmethod
    def _no_by(cls, data: Any) -> Any:
        if isinstance(data, dict) and "by" in data:
            raise ValueError(
                "`by` is no longer accepted: the acting person is the one logged in, or the "
                "bearer token's name"
            )
        return data
