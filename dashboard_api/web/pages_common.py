"""What the overview, device and alert pages share: a refusal shown as a page (`PageError`,
`problem_page`), query parameters read by hand so a bad one is a 422 page naming it (FastAPI's
own validation would answer JSON), the navigation with a chosen current entry, and the words
for device kinds, meals, rules, severities and states.

A page never answers 500 for a parameter: every value a person can type goes through
`query_param` / `parse_param`, whose refusal names the parameter and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from core.records import Role
from dashboard_api.auth import Person
from dashboard_api.deps import current_person
from dashboard_api.web.i18n import CATALOGUE, language_of
from dashboard_api.web.render import NAV, render

__all__ = [
    "PARAM_MAX",
    "PageError",
    "can_act",
    "form_text",
    "login_redirect",
    "nav_at",
    "parse_param",
    "problem_page",
    "query_param",
    "refuse_role",
    "shared",
    "staff_or_refusal",
]

T = TypeVar("T")

# No parameter a page reads is longer than this (dates, ids, names of states and rules).
PARAM_MAX = 64


class PageError(Exception):
    """A request a page cannot answer: the status, a catalogue key with its values, and an
    optional detail sentence (the parser's own words, naming the value and the allowed form)."""

    def __init__(self, status: int, key: str, detail: str = "", **values: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.detail = detail
        self.values = values


def problem_page(request: Request, problem: PageError, **extra: Any) -> HTMLResponse:
    """The refusal as a page with the shell around it (never a JSON body in a browser)."""
    return render(
        request,
        "problem.html",
        {"problem": problem, **shared(request, request.url.path), **extra},
        status_code=problem.status,
    )


def query_param(request: Request, name: str, allowed: str, max_len: int = PARAM_MAX) -> str | None:
    """The query parameter `name` (None when absent or blank); a repeated or overlong one is
    a 422 naming it and `allowed`."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise PageError(422, "page.param_repeated", name=name, allowed=allowed)
    if not values or not values[0].strip():
        return None
    if len(values[0]) > max_len:
        raise PageError(422, "page.param_long", name=name, n=max_len, allowed=allowed)
    return values[0].strip()


def parse_param(name: str, parse: Callable[[str], T], text: str, allowed: str) -> T:
    """`parse(text)`; its ValueError becomes a 422 naming the parameter."""
    try:
        return parse(text)
    except ValueError as exc:
        raise PageError(422, "page.param_bad", str(exc), name=name, allowed=allowed) from None


def nav_at(path: str) -> list[dict[str, object]]:
    """The navigation with the entry `path` belongs to marked current (a device page belongs
    to the overview)."""
    section = "/" if path.startswith("/devices/") else path
    return [
        {
            "path": p,
            "key": key,
            "current": p == section or (p != "/" and section.startswith(p + "/")),
        }
        for p, key in NAV
    ]


def shared(request: Request, section: str) -> dict[str, object]:
    """What every page of these modules adds to the shell's variables: the navigation with
    `section` current, and the catalogue of the page's language (`words`), for templates
    that show a word only when the catalogue has one (metric names)."""
    return {"nav": nav_at(section), "words": CATALOGUE[language_of(request)]}


def login_redirect(path: str) -> Response:
    """A form posted without a session: log in, then come back to the page (not the POST)."""
    return RedirectResponse(f"/login?next={path}", status_code=303)


def staff_or_refusal(request: Request, back: str) -> Person | Response:
    """The logged-in person when they may act (staff or admin); otherwise the answer to give:
    the login page for nobody, a 403 page for a viewer."""
    person = current_person(request)
    if person is None:
        return login_redirect(back)
    if not person.role.allows(Role.STAFF):
        return refuse_role(request, back)
    return person


def can_act(request: Request) -> bool:
    """Whether the person asking may take lifecycle steps (forms are shown only to them)."""
    person = current_person(request)
    return person is not None and person.role.allows(Role.STAFF)


def refuse_role(request: Request, back: str) -> HTMLResponse:
    return render(
        request, "refused.html", {"reason_key": "page.refused_role", "back": back}, status_code=403
    )


async def form_text(request: Request, fields: dict[str, int]) -> dict[str, str]:
    """The form's text fields (`fields`: name -> longest allowed); a longer value is a 422."""
    form = await request.form()
    out: dict[str, str] = {}
    for name, longest in fields.items():
        value = form.get(name)
        text = value if isinstance(value, str) else ""
        if len(text) > longest:
            raise PageError(422, "page.field_long", name=name, n=longest)
        out[name] = text.strip()
    return out
