"""The shell as a person meets it: the login form (a wrong password says so, the right one
lands on the overview as that person), the API docs working from the service's own files
only, and the overview on a phone without sideways scrolling, its menu and register tabs
whole on the screen."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import ADMIN, STAFF, VIEWER, Service, log_in


def test_wrong_password_is_refused_with_the_message_then_the_right_one_logs_in(
    page: Page, service: Service
) -> None:
    page.goto(service.url("/"))
    expect(page).to_have_url(service.url("/login?next=/"))
    page.fill("input[name=name]", VIEWER[0])
    page.fill("input[name=password]", "not the password")
    page.click("form[action='/login'] button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码不正确。")
    # The name is kept for the second try; the password is not.
    expect(page.locator("input[name=name]")).to_have_value(VIEWER[0])
    expect(page.locator("input[name=password]")).to_have_value("")
    page.fill("input[name=password]", VIEWER[1])
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(service.url("/"))
    expect(page.locator("details.user summary")).to_have_text(VIEWER[0])
    expect(page.locator("details.user .role")).to_contain_text("查看")


def test_english_switch_shows_the_login_form_in_english(page: Page, service: Service) -> None:
    page.goto(service.url("/login"))
    page.click("a.lang")
    page.fill("input[name=name]", STAFF[0])
    page.fill("input[name=password]", "wrong again")
    page.click("form[action='/login'] button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")


def test_docs_load_with_the_service_s_own_assets_only(page: Page, service: Service) -> None:
    requested: list[str] = []
    elsewhere: list[str] = []

    def intercept(route: Route) -> None:
        """Every request of the page passes here: local ones go on, others are stopped."""
        url = route.request.url
        requested.append(url)
        if url.startswith(("http:", "https:")) and urlsplit(url).hostname != "127.0.0.1":
            elsewhere.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", intercept)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    page.on("websocket", lambda ws: elsewhere.append(ws.url))
    # Straight to the docs after logging in: no other page's requests are cut short.
    log_in(page, service, VIEWER, "/docs")
    # Swagger UI has read the schema and drawn the API's title and its operations.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("canteen")
    expect(page.locator(".opblock-summary-path[data-path='/api/health']").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert elsewhere == [], f"requests left 127.0.0.1: {elsewhere}"
    assert failed == [], failed
    assert any(url.endswith("/docs/openapi.json") for url in requested), requested
    assert any("/static/swagger/swagger-ui-bundle.js" in url for url in requested), requested


def _sideways(page: Page) -> dict[str, int]:
    widths: dict[str, int] = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth,"
        " view: document.documentElement.clientWidth,"
        " body: document.body.scrollWidth})"
    )
    return widths


def test_the_pages_fit_a_phone_without_sideways_scrolling(page: Page, service: Service) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, service, STAFF)
    expect(page.get_by_test_id("tile").first).to_be_visible()
    widths = _sideways(page)
    assert widths["page"] <= widths["view"] and widths["body"] <= widths["view"], widths
    # Every tile lies within the screen's width, none clipped at the right edge.
    edges = page.get_by_test_id("tile").evaluate_all(
        "tiles => tiles.map(t => t.getBoundingClientRect().right)"
    )
    assert edges and max(edges) <= widths["view"], edges
    # The other pages the cook on duty opens on the phone (the alert filters are open).
    for path in ("/alerts?state=all", "/registers/temperature-log", "/registers/calibration"):
        page.goto(service.url(path))
        expect(page.locator("main h1").first).to_be_visible()
        widths = _sideways(page)
        assert widths["page"] <= widths["view"], f"{path} scrolls sideways: {widths}"


def _right_edges(page: Page, selector: str) -> list[float]:
    edges: list[float] = page.locator(selector).evaluate_all(
        "links => links.map(a => a.getBoundingClientRect().right)"
    )
    return edges


def test_every_section_and_register_tab_is_in_view_on_a_phone(page: Page, service: Service) -> None:
    """English names are the longest: the menu and the four register tabs each lie whole
    within a 390 px screen (a row scrolled sideways hid the last tab and the admin pages)."""
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, service, ADMIN, "/registers/sample-retention?lang=en")
    tabs = page.get_by_test_id("register-tabs").locator("a")
    expect(tabs).to_have_count(4)
    view = _sideways(page)["view"]
    for selector in (".nav a", "[data-testid=register-tabs] a"):
        edges = _right_edges(page, selector)
        assert edges and max(edges) <= view, f"{selector} beyond the screen: {edges} > {view}"
    for tab in tabs.all():
        expect(tab).to_be_in_viewport(ratio=1)
    expect(page.get_by_test_id("nav-admin")).to_be_in_viewport(ratio=1)
    page.get_by_test_id("register-tab-calibration").click()
    expect(page).to_have_url(re.compile(r"/registers/calibration\?"))
    # The energy period form: one field a row, the building list as wide as the screen allows
    # (beside the month field it was squeezed to "All build").
    page.goto(service.url("/energy?period=month"))
    month = page.get_by_test_id("energy-month").bounding_box()
    building = page.get_by_test_id("energy-building").bounding_box()
    assert month and building and building["y"] > month["y"] + month["height"], (month, building)
    assert building["width"] >= 0.7 * view, building
