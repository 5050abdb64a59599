"""Placeholder pages: one page per section of the navigation, each replaced by its own module
when that page is built (remove its path from `SECTIONS`). The overview, device, alert,
register and energy pages are `pages_overview`, `pages_device`, `pages_alerts`,
`pages_registers` and `pages_energy`; no section waits for its page now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from dashboard_api.deps import PageViewer
from dashboard_api.web.render import render

__all__ = ["SECTIONS", "router"]

router = APIRouter(include_in_schema=False)

# Sections whose page is still to come: path -> catalogue key of its title.
SECTIONS: dict[str, str] = {}


def _placeholder(title_key: str) -> object:
    def page(request: Request, person: PageViewer) -> HTMLResponse:
        return render(request, "placeholder.html", {"title_key": title_key})

    return page


for _path, _key in SECTIONS.items():
    router.add_api_route(_path, _placeholder(_key), response_class=HTMLResponse)  # type: ignore[arg-type]
