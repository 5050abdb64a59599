"""The web UI's shell: server-rendered pages (Jinja2), the base layout, the zh/en catalogue,
login and logout, static files, the API docs with their own assets, security headers.

Conventions for the pages built on it (one module per page under `dashboard_api/web/`):

- A page module has `router = APIRouter(include_in_schema=False)` and is listed in
  `PAGE_MODULES` below; its routes take `person: PageViewer` (a redirect to /login when
  nobody is logged in) and answer `render(request, "page.html", {...})` (`web.render` lists
  what every template gets). Data comes from the `ApiContext` (`deps.Context`), as the JSON
  routes read it; no business rule lives in a page.
- Templates extend `base.html`; words come from `t("key")`, with both languages in
  `web.i18n.CATALOGUE`; times are shown with `local(instant)` in the site's zone.
- Forms POST with the hidden field `csrf` (`{{ csrf }}`) and the route calls
  `deps.check_form_csrf(person, form["csrf"])` before acting (a refusal is a 403 page);
  actions that need a role check `person.role.allows(Role.STAFF)`. Scripts call the JSON API
  with `canteen.api(url, {method, body})` from `static/app.js`, which sends the session's
  token as `X-CSRF-Token`.
- Styles go in `static/app.css` (or a page's own CSS file); no inline script or style (the
  CSP forbids them). `@media print` hides the navigation: registers print as documents.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from dashboard_api.web import (
    login,
    overview,
    pages_admin,
    pages_alerts,
    pages_device,
    pages_energy,
    pages_overview,
    pages_registers,
)
from dashboard_api.web.docs import install_docs
from dashboard_api.web.render import render
from dashboard_api.web.security import SecurityHeaders

__all__ = ["PAGE_MODULES", "STATIC", "install_web", "render"]

STATIC = Path(__file__).resolve().parent / "static"

PAGE_MODULES = (
    login,
    pages_overview,
    pages_device,
    pages_alerts,
    pages_registers,
    pages_energy,
    pages_admin,
    overview,
)


def install_web(app: FastAPI) -> None:
    """Pages, static files, /docs and the security headers on `app`."""
    install_docs(app)  # its mount first: /static/swagger is inside /static
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGE_MODULES:
        app.include_router(module.router)
    app.add_middleware(SecurityHeaders)
