"""A device's page reached from its tile: the chart the server draws is loaded as an image at
desktop and at phone width (where it is drawn for the phone's width), the period chips change
it, and nothing scrolls sideways on the phone."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import MINUTE_MS, STAFF, Service, log_in, now_ms, reading
from tests.conftest import Publisher


def _chart_width(page: Page) -> int:
    """The drawn chart's own width in pixels, once the image has loaded (0: it did not)."""
    chart = page.get_by_test_id("chart")
    expect(chart).to_be_visible()
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=chart]'); return c && c.complete; }"
    )
    width: int = chart.evaluate("img => img.naturalWidth")
    return width


def test_device_page_from_its_tile_with_its_chart_on_desktop_and_phone(
    page: Page, service: Service, publisher: Publisher
) -> None:
    topic = service.telemetry("freezer-1")
    start = now_ms() - 30 * MINUTE_MS
    for minute in range(30):
        publisher.publish(topic, reading(start + minute * MINUTE_MS, minute, -18.5 + minute / 30))
    publisher.flush()
    log_in(page, service, STAFF)
    page.locator("#tile-freezer-1 a.tile-link").click()
    expect(page).to_have_url(service.url("/devices/freezer-1"))
    expect(page.get_by_test_id("device-name")).to_be_visible()
    expect(page.get_by_test_id("device-where")).to_contain_text("冻库 meat")
    assert _chart_width(page) > 400

    with page.expect_response(lambda r: "/chart.svg" in r.url) as drawn:
        page.get_by_test_id("range-7d").click()
    assert drawn.value.status == 200
    assert drawn.value.headers["content-type"].startswith("image/svg+xml")
    expect(page).to_have_url(service.url("/devices/freezer-1?metric=temp_c&range=7d"))
    expect(page.get_by_test_id("range-7d")).to_have_attribute("aria-current", "true")
    assert _chart_width(page) > 400

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    narrow = _chart_width(page)
    assert 0 < narrow <= 400, narrow
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
