"""`render()`: the one way a page route answers HTML.

    @router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts_page(request: Request, person: PageViewer, context: Context) -> HTMLResponse:
        return render(request, "alerts.html", {"alerts": ...})

Every template extends `base.html` and fills `{% block title %}` and `{% block content %}`
(optionally `{% block head %}` for a page's own CSS file). It gets, besides the route's
context: `t` (translate a catalogue key, `web.i18n`), `lang`, `lang_url` (this page in the
other language), `person` (name and role, or None on the login page), `csrf` (the session's
token: forms carry `<input type="hidden" name="csrf" value="{{ csrf }}">`, and
`static/app.js` sends it as `X-CSRF-Token` on `canteen.api()` calls), `site` (the site
config's `site`), `nav` (the navigation, with the current entry marked),
`local(instant, "%Y-%m-%d %H:%M")` (an aware UTC instant shown in the site's zone), `now`
(the injected clock's instant) and `path`.

The page's security headers (CSP 'self', no framing) are set by `web.security`: no inline
`<script>` or `style="..."`; put code in static files and style with classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from dashboard_api.deps import current_person, get_context
from dashboard_api.web.i18n import LANG_COOKIE, language_of, translator

__all__ = ["NAV", "TEMPLATES", "fragment", "render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"

# (path, catalogue key): the sections of the site, in the order of the navigation bar.
NAV: tuple[tuple[str, str], ...] = (
    ("/", "nav.overview"),
    ("/alerts", "nav.alerts"),
    ("/registers", "nav.registers"),
    ("/energy", "nav.energy"),
)

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates ship with the package: no stat() of each file on every page (13 % of a
    # device page's samples under 20 clients).
    auto_reload=False,
)

_LANG_COOKIE_AGE_S = 365 * 24 * 3600


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page `template` with the shell's variables and `context` (which wins)."""
    lang = language_of(request)
    variables = {**_shell(request, lang), **(context or {})}
    html = _ENV.get_template(template).render(variables)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=_LANG_COOKIE_AGE_S, samesite="lax")
    return response


def _shell(request: Request, lang: str) -> dict[str, Any]:
    api = get_context(request)
    zone = api.config.site.zone
    person = current_person(request)
    path = request.url.path

    def local(instant: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "" if instant is None else instant.astimezone(zone).strftime(fmt)

    other = "en" if lang == "zh" else "zh"
    query = urlencode({**request.query_params, "lang": other})
    nav = [
        {"path": p, "key": key, "current": p == path or (p != "/" and path.startswith(p + "/"))}
        for p, key in NAV
    ]
    return {
        "t": translator(lang),  # type: ignore[arg-type]
        "lang": lang,
        "other_lang": other,
        "lang_url": f"{path}?{query}",
        "person": person,
        "csrf": person.csrf if person is not None and person.csrf else "",
        "site": api.config.site,
        "nav": nav,
        "local": local,
        "now": api.clock.now(),
        "path": path,
    }


def fragment(template: str, variables: Mapping[str, Any]) -> str:
    """A piece of a page (a template that extends nothing) rendered with only `variables`:
    for pages that cache parts of themselves (the overview's tiles)."""
    return _ENV.get_template(template).render(variables)
