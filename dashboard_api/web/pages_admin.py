"""The admin pages: `/admin/users` (people: role, last login, disabled; add a person, change a
role, disable or enable, reset a password shown once, log a person out everywhere; API tokens
revoked) and `/admin/thresholds` (every device's control limits, where each value comes from,
an admin's override set or cleared with a reason). Both show the audit trail of their changes.

Only admins see them: nobody logged in goes to the login page, a viewer or staff member gets
a 403 page. Every form carries the session's CSRF field. A change that is refused (the last
admin demoted, a fridge's high limit of 80 °C, an empty reason) is the page again with a 422
or 409 naming the field and what is allowed; a success is a redirect back (303), except a
password reset, whose one-time password is shown in the answer and never in a URL.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from core.model import Device
from core.records import Role
from dashboard_api.admin_desk import AdminDesk
from dashboard_api.auth import AuthError, Person
from dashboard_api.auth.people import PeopleConflictError
from dashboard_api.deps import Context, PageViewer, check_form_csrf, current_person
from dashboard_api.limit_desk import REASON_MAX, LimitRefusedError
from dashboard_api.web import (
    i18n_admin,  # noqa: F401  (adds the pages' words)
    password_page,
)
from dashboard_api.web.pages_common import (
    PageError,
    form_text,
    login_redirect,
    problem_page,
    shared,
)
from dashboard_api.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
# The page a reset password leads to, served with the admin pages that reset it.
router.include_router(password_page.router)

USERS, THRESHOLDS = "/admin/users", "/admin/thresholds"
_NAME_MAX, _PASSWORD_MAX, _VALUE_MAX = 64, 256, 32


@router.get(USERS, response_class=HTMLResponse)
async def users_page(request: Request, person: PageViewer, context: Context) -> Response:
    if not person.role.allows(Role.ADMIN):
        return _refused(request, USERS)
    if context.admin is None:
        return problem_page(request, PageError(503, "admin.unavailable"))
    return await _users(request, context.admin, status=200)


@router.post(USERS, response_class=HTMLResponse)
async def add_person(request: Request, context: Context) -> Response:
    fields = {"name": _NAME_MAX, "role": 16, "password": _PASSWORD_MAX}
    return await _act(request, context, USERS, fields, _add)


@router.post(USERS + "/{name}/{action}", response_class=HTMLResponse)
async def change_person(request: Request, context: Context, name: str, action: str) -> Response:
    steps = {"role": _role, "disabled": _disabled, "password": _reset, "sessions": _sessions}
    step = steps.get(action)
    if step is None:
        return problem_page(request, PageError(404, "admin.unknown", what=action[:40]))
    form = {"role": 16, "disabled": 8}
    return await _act(request, context, USERS, form, lambda d, p, f: step(d, p, name, f))


@router.post("/admin/tokens/{name}/revoke", response_class=HTMLResponse)
async def revoke_token(request: Request, context: Context, name: str) -> Response:
    async def revoke(desk: AdminDesk, person: Person, _form: dict[str, str]) -> None:
        await run_in_threadpool(desk.people.revoke_token, person.name, name)

    return await _act(request, context, USERS, {}, revoke)


@router.get(THRESHOLDS, response_class=HTMLResponse)
async def thresholds_page(request: Request, person: PageViewer, context: Context) -> Response:
    if not person.role.allows(Role.ADMIN):
        return _refused(request, THRESHOLDS)
    if context.admin is None:
        return problem_page(request, PageError(503, "admin.unavailable"))
    return await _thresholds(request, context.admin, status=200)


@router.post(THRESHOLDS + "/{device_id}/{field}", response_class=HTMLResponse)
async def change_limit(request: Request, context: Context, device_id: str, field: str) -> Response:
    device = context.config.device(device_id)
    if device is None:
        return problem_page(request, PageError(404, "admin.unknown", what=device_id[:64]))

    async def change(desk: AdminDesk, person: Person, form: dict[str, str]) -> None:
        if form["action"] == "clear":
            await desk.limits.clear(person.name, device, field, form["reason"])
        else:
            await desk.limits.set(person.name, device, field, _number(form), form["reason"])

    fields = {"action": 8, "value": _VALUE_MAX, "reason": REASON_MAX}
    return await _act(request, context, THRESHOLDS, fields, change, device=device.id, target=field)


# -- the steps ------------------------------------------------------------------------------


async def _add(desk: AdminDesk, person: Person, form: dict[str, str]) -> None:
    role = _role_of(form)
    await run_in_threadpool(desk.people.create, person.name, form["name"], role, form["password"])


async def _role(desk: AdminDesk, person: Person, name: str, form: dict[str, str]) -> None:
    await run_in_threadpool(desk.people.set_role, person.name, name, _role_of(form))


async def _disabled(desk: AdminDesk, person: Person, name: str, form: dict[str, str]) -> None:
    if form["disabled"] not in ("true", "false"):
        raise _RefusedError("disabled", "expected true or false")
    await run_in_threadpool(desk.people.set_disabled, person.name, name, form["disabled"] == "true")


async def _reset(desk: AdminDesk, person: Person, name: str, _form: dict[str, str]) -> str:
    password: str = await run_in_threadpool(desk.people.reset_password, person.name, name)
    return password


async def _sessions(desk: AdminDesk, person: Person, name: str, _form: dict[str, str]) -> None:
    await run_in_threadpool(desk.people.revoke_sessions, person.name, name)


def _role_of(form: dict[str, str]) -> Role:
    try:
        return Role(form["role"])
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise _RefusedError(
            "role", f"{form['role']!r} is not a role; expected one of {allowed}"
        ) from None


def _number(form: dict[str, str]) -> float:
    try:
        return float(form["value"])
    except ValueError:
        raise _RefusedError("value", f"{form['value']!r} is not a number") from None


class _RefusedError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# -- answering ------------------------------------------------------------------------------


async def _act(
    request: Request, context: Context, page: str, fields: dict[str, int], step: Any, **extra: str
) -> Response:
    """Check who asks and the CSRF field, run `step`, then answer: back to the page, the page
    with a one-time password, or the page with the refusal."""
    person = current_person(request)
    if person is None:
        return login_redirect(page)
    form = await request.form()
    check_form_csrf(person, form.get("csrf"))
    if not person.role.allows(Role.ADMIN):
        return _refused(request, page)
    desk = context.admin
    if desk is None:
        return problem_page(request, PageError(503, "admin.unavailable"))
    try:
        values = await form_text(request, fields)
        shown = await step(desk, person, values)
    except PageError as exc:
        return problem_page(request, exc)
    except (AuthError, LimitRefusedError, _RefusedError) as exc:
        field = getattr(exc, "field", "")
        refusal = {"field": field, "message": exc.message, **extra}
        status = 409 if isinstance(exc, PeopleConflictError) else 422
        return await _page(request, desk, page, status, refusal=refusal)
    if isinstance(shown, str):
        return await _page(request, desk, page, 200, one_time=shown, who=_target(request))
    return RedirectResponse(f"{page}?saved=1", status_code=303)


def _target(request: Request) -> str:
    return str(request.path_params.get("name", ""))


async def _page(
    request: Request, desk: AdminDesk, page: str, status: int, **extra: Any
) -> Response:
    if page == USERS:
        return await _users(request, desk, status, **extra)
    return await _thresholds(request, desk, status, **extra)


async def _users(request: Request, desk: AdminDesk, status: int, **extra: Any) -> Response:
    people = await run_in_threadpool(desk.people.people)
    tokens = await run_in_threadpool(desk.people.tokens)
    trail = await run_in_threadpool(desk.store.audit_trail, ("user", "token"))
    variables = {
        "people": people,
        "tokens": tokens,
        "trail": trail,
        "roles": [r.value for r in Role],
        "saved": request.query_params.get("saved") == "1",
        "refusal": None,
        "one_time": None,
        **shared(request, USERS),
        **extra,
    }
    return render(request, "admin_users.html", variables, status_code=status)


async def _thresholds(request: Request, desk: AdminDesk, status: int, **extra: Any) -> Response:
    config = desk.limits.config
    devices: list[tuple[Device, Any]] = [(d, desk.limits.rows(d)) for d in config.devices]
    trail = await run_in_threadpool(desk.store.audit_trail, ("limit",))
    variables = {
        "devices": devices,
        "trail": trail,
        "saved": request.query_params.get("saved") == "1",
        "refusal": None,
        **shared(request, THRESHOLDS),
        **extra,
    }
    return render(request, "admin_thresholds.html", variables, status_code=status)


def _refused(request: Request, back: str) -> HTMLResponse:
    return render(
        request, "refused.html", {"reason_key": "admin.refused", "back": "/"}, status_code=403
    )
