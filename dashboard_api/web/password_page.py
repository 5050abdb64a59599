"""`/password`: a person whose password an admin reset chooses their own before anything else.

After a reset (`People.reset_password`) the person logs in with the password the admin handed
over; their session then opens nothing but this page (`dashboard_api.deps` sends every other
page here and answers the API 403; their logout still works, API tokens are not affected).
The form takes only a new password, twice: it must meet the password rules and differ from
the one they were given. The change is audited in the person's name; every session of theirs
ends and a fresh one is opened for this browser, so nothing opened with the handed-over
password outlives it. A session with nothing to change is sent to the overview.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dashboard_api.auth import AuthError, Person, SessionGrant
from dashboard_api.auth.passwords import MAX_PASSWORD, MIN_PASSWORD
from dashboard_api.deps import (
    PASSWORD_PAGE,
    SESSION_COOKIE,
    Context,
    PageViewer,
    check_form_csrf,
    get_auth,
)
from dashboard_api.web import i18n_admin  # noqa: F401  (adds the page's words)
from dashboard_api.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get(PASSWORD_PAGE, response_class=HTMLResponse, response_model=None)
def password_form(request: Request, person: PageViewer) -> Response:
    if not _must_change(person):
        return RedirectResponse("/", status_code=303)
    return _form(request, None)


@router.post(PASSWORD_PAGE, response_class=HTMLResponse, response_model=None)
async def choose_password(request: Request, person: PageViewer, context: Context) -> Response:
    if not _must_change(person):
        return RedirectResponse("/", status_code=303)
    form = await request.form()
    check_form_csrf(person, form.get("csrf"))
    password, repeat = (_text(form.get(name)) for name in ("password", "repeat"))
    problem = _problem(password, repeat)
    if problem is not None:
        return _form(request, problem[0], status_code=422, **problem[1])
    choose = get_auth(request).choose_password
    if context.admin is not None:
        choose = context.admin.people.choose_password  # the same, audited
    try:
        grant: SessionGrant = await run_in_threadpool(choose, person.name, password)
    except AuthError:
        # The rules were checked above: what is left is the handed-over password itself.
        return _form(request, "password.same", status_code=422)
    return _signed_in_again(request, grant)


def _must_change(person: Person) -> bool:
    return person.via == "session" and person.must_change_password


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _problem(password: str, repeat: str) -> tuple[str, dict[str, object]] | None:
    """The catalogue key (and its values) of what is wrong with the new password, or None."""
    if len(password) < MIN_PASSWORD:
        return "password.too_short", {"n": MIN_PASSWORD, "given": len(password)}
    if len(password) > MAX_PASSWORD:
        return "password.too_long", {"n": MAX_PASSWORD}
    if password != repeat:
        return "password.mismatch", {}
    return None


def _form(
    request: Request, problem: str | None, *, status_code: int = 200, **values: object
) -> HTMLResponse:
    return render(
        request,
        "password.html",
        {
            "problem": problem,
            "problem_values": values,
            "min_password": MIN_PASSWORD,
            "max_password": MAX_PASSWORD,
        },
        status_code=status_code,
    )


def _signed_in_again(request: Request, grant: SessionGrant) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        grant.key,
        max_age=grant.max_age_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response
