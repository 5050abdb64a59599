"""A person's step on an alert reaches the other open dashboards without a reload: one tab shows
the overview, a second the alert list; a staff member acknowledges and later closes the alert
in a third. The list's row turns acknowledged, then leaves the open list, and the overview
tile's open-alert count drops to none, while both tabs keep the page they loaded (a marker set
in each page's window survives: no navigation happened)."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import (
    LIVE_TIMEOUT_MS,
    MINUTE_MS,
    STAFF,
    Service,
    log_in,
    now_ms,
    reading,
)
from tests.conftest import Publisher

DEVICE = "fridge-4"  # nobody else's test publishes to it


def _wait_for_alert(page: Page, service: Service) -> str:
    """The firing over-temperature alert of DEVICE (the service judges the published history at
    its own pace: the list is loaded again until it shows)."""
    row = page.get_by_test_id("alert-row")
    for _ in range(60):
        page.goto(service.url(f"/alerts?device={DEVICE}"))
        if row.count() and row.first.get_attribute("data-state") == "firing":
            break
        page.wait_for_timeout(250)
    expect(row.first).to_have_attribute("data-state", "firing")
    alert_id = row.first.get_attribute("data-alert-id")
    assert alert_id
    return alert_id


def _mark(page: Page) -> None:
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    page.evaluate("window.__notReloaded = true")


def _still_marked(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def test_acknowledge_and_close_on_one_page_show_on_the_others_live(
    page: Page, browser: BrowserContext, service: Service, publisher: Publisher
) -> None:
    topic = service.telemetry(DEVICE)
    start = now_ms() - 50 * MINUTE_MS
    # 40 minutes at 10.5 °C (the fridge's limit is 8 °C for 30 min), ending 10 min ago.
    for minute in range(40):
        publisher.publish(topic, reading(start + minute * MINUTE_MS, minute, 10.5))
    publisher.flush()
    log_in(page, service, STAFF, "/alerts")
    alert_id = _wait_for_alert(page, service)
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    _mark(page)
    row = page.locator(f"[data-testid=alert-row][data-alert-id='{alert_id}']")

    overview = browser.new_page()  # the same browser: the same session
    actor = browser.new_page()
    try:
        overview.goto(service.url("/"))
        _mark(overview)
        tile_alerts = overview.locator(f"#tile-{DEVICE} [data-testid=tile-alerts]")
        expect(tile_alerts).to_have_attribute("data-count", "1")

        actor.goto(service.url(f"/alerts/{alert_id}"))
        actor.get_by_test_id("ack-note").fill("已通知后勤")
        actor.get_by_test_id("ack-button").click()
        expect(actor.get_by_test_id("alert-state")).to_have_attribute("data-state", "acknowledged")
        expect(row).to_have_attribute("data-state", "acknowledged", timeout=LIVE_TIMEOUT_MS)
        assert _still_marked(page)

        # Back in band: the rules resolve it; the staff member closes it.
        for minute in range(40, 50):
            publisher.publish(topic, reading(start + minute * MINUTE_MS, minute, 4.0))
        publisher.flush()
        expect(row).to_have_attribute("data-state", "resolved", timeout=LIVE_TIMEOUT_MS)
        actor.reload()
        actor.get_by_test_id("close-action").fill("除霜后温度恢复")
        actor.get_by_test_id("decision-kept").check()
        actor.get_by_test_id("close-reason").fill("超温时间短，食品中心温度未超标")
        actor.get_by_test_id("close-button").click()
        expect(actor.get_by_test_id("alert-state")).to_have_attribute("data-state", "closed")

        expect(row).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
        expect(tile_alerts).to_have_attribute("data-count", "0", timeout=LIVE_TIMEOUT_MS)
        assert _still_marked(page) and _still_marked(overview)
    finally:
        overview.close()
        actor.close()
