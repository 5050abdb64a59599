"""The login and logout pages.

Login is a form POST protected against login CSRF by a double-submit token (a cookie set with
the form and the hidden field `csrf` must match: there is no session yet to hold one). A
failure says only "wrong name or password"; a lockout says until when, in the site's time.
`next` is followed only when it is a path on this service (`safe_next`): never an open
redirect.
"""

from __future__ import annotations

import hmac
import math
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dashboard_api.auth import CredentialsError, LockedOutError, SessionGrant
from dashboard_api.auth.passwords import new_secret
from dashboard_api.deps import (
    SESSION_COOKIE,
    check_form_csrf,
    current_person,
    get_auth,
    get_context,
)
from dashboard_api.web.render import render

__all__ = ["router", "safe_next"]

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "canteen_login_csrf"
_FIELD_MAX = 256


def safe_next(target: str | None) -> str:
    """`target` when it is a local path ("/alerts?state=all"), else "/"."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return "/"
    if target.startswith(("//", "/\\")) or any(ord(c) < 0x20 for c in target):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    if current_person(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, safe_next(next), None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    name: Annotated[str, Form(max_length=_FIELD_MAX)] = "",
    password: Annotated[str, Form(max_length=_FIELD_MAX)] = "",
    csrf: Annotated[str, Form(max_length=_FIELD_MAX)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (expected and hmac.compare_digest(expected.encode(), csrf.encode())):
        return _form(request, target, "login.expired", status_code=403)
    auth = get_auth(request)
    address = request.client.host if request.client else "unknown"
    try:
        grant = auth.login(name, password, address)
    except LockedOutError as exc:
        minutes = max(1, math.ceil((exc.until - auth.clock.now()).total_seconds() / 60))
        until = exc.until.astimezone(get_context(request).config.site.zone).strftime("%H:%M")
        return _form(request, target, "login.locked", status_code=429, until=until, minutes=minutes)
    except CredentialsError:
        return _form(request, target, "login.failed", status_code=401, name=name)
    return _logged_in(request, grant, target)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=_FIELD_MAX)] = "") -> Response:
    person = current_person(request)
    if person is not None:
        check_form_csrf(person, csrf)
        get_auth(request).logout(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _form(
    request: Request,
    target: str,
    problem: str | None,
    *,
    status_code: int = 200,
    name: str = "",
    **values: object,
) -> Response:
    token = new_secret()
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "next": target,
            "problem": problem,
            "problem_values": values,
            "name": name,
            "bye": request.query_params.get("bye") == "1",
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


def _logged_in(request: Request, grant: SessionGrant, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        grant.key,
        max_age=grant.max_age_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response
