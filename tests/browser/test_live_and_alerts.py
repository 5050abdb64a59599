"""Readings published to the broker, seen in the browser: a tile changes live (the service's
gateway, store and live stream, the page's script), and an over-temperature history raises an
alert through the real rules that a staff member acknowledges and closes on the pages."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    LIVE_TIMEOUT_MS,
    MINUTE_MS,
    STAFF,
    VIEWER,
    Service,
    log_in,
    now_ms,
    reading,
)
from tests.conftest import Publisher


def test_a_tile_changes_live_when_a_reading_is_published(
    page: Page, service: Service, publisher: Publisher
) -> None:
    log_in(page, service, VIEWER)
    tile = page.locator("#tile-fridge-2")
    expect(tile.get_by_test_id("tile-name")).to_be_visible()
    expect(tile.get_by_test_id("tile-location")).to_contain_text("备餐间 冷藏柜 cooked food")
    # The page holds its live stream before anything is published (else the test would pass
    # on a page loaded after the reading was stored).
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    topic = service.telemetry("fridge-2")
    for seq, value in enumerate((3.7, 5.2), start=1):
        publisher.publish(topic, reading(now_ms(), seq, value))
        publisher.flush()
        expect(tile.get_by_test_id("tile-value")).to_have_text(
            re.compile(rf"^\s*{value}\s*$"), timeout=LIVE_TIMEOUT_MS
        )
    expect(tile).to_have_attribute("data-status", "ok")
    # A reading above the fridge's 8 °C shows at once, and the tile is no longer "ok".
    publisher.publish(topic, reading(now_ms(), 3, 9.6))
    publisher.flush()
    expect(tile.get_by_test_id("tile-value")).to_have_text(
        re.compile(r"^\s*9\.6\s*$"), timeout=LIVE_TIMEOUT_MS
    )
    expect(tile).not_to_have_attribute("data-status", "ok", timeout=LIVE_TIMEOUT_MS)


def _open_alert(page: Page, service: Service, device: str) -> str:
    """The list's over-temperature alert of `device`, opened; its id (polls the list: the
    service stores and judges the published history at its own pace)."""
    row = page.get_by_test_id("alert-row")
    for _ in range(40):
        page.goto(service.url(f"/alerts?device={device}&rule=over_temperature"))
        if row.count():
            break
        page.wait_for_timeout(250)
    expect(row.first).to_be_visible()
    alert_id = row.first.get_attribute("data-alert-id")
    assert alert_id
    row.first.locator("a.alert-link").click()
    expect(page).to_have_url(service.url(f"/alerts/{alert_id}"))
    return alert_id


def _wait_state(page: Page, state: str) -> None:
    badge = page.get_by_test_id("alert-state")
    for _ in range(40):
        if badge.get_attribute("data-state") == state:
            return
        page.wait_for_timeout(250)
        page.reload()
    expect(badge).to_have_attribute("data-state", state)


def test_an_over_temperature_alert_is_acknowledged_and_closed_on_the_pages(
    page: Page, service: Service, publisher: Publisher
) -> None:
    topic = service.telemetry("fridge-1")
    start = now_ms() - 50 * MINUTE_MS
    # 40 minutes at 10.5 °C (the fridge's limit is 8 °C for 30 min), ending 10 min ago.
    for minute in range(40):
        publisher.publish(topic, reading(start + minute * MINUTE_MS, minute, 10.5))
    publisher.flush()
    # A viewer sees the firing alert but no action on it.
    log_in(page, service, VIEWER, "/alerts")
    alert_id = _open_alert(page, service, "fridge-1")
    _wait_state(page, "firing")
    expect(page.get_by_test_id("no-actions")).to_be_visible()
    expect(page.get_by_test_id("ack-form")).to_have_count(0)

    page.context.clear_cookies()
    log_in(page, service, STAFF, f"/alerts/{alert_id}")
    expect(page.get_by_test_id("resolve-form")).to_have_count(0)

    page.get_by_test_id("ack-note").fill("已通知维修，食品转移到2号冷藏柜")
    page.get_by_test_id("ack-button").click()
    expect(page.get_by_test_id("done")).to_have_text("已确认该报警。")
    expect(page.get_by_test_id("alert-state")).to_have_attribute("data-state", "acknowledged")
    acked = page.locator("[data-testid=history-entry][data-action=acknowledged]")
    expect(acked).to_have_attribute("data-actor", STAFF[0])
    expect(page.get_by_test_id("close-form")).to_have_count(0)

    # Back in band: the rules resolve the alert; then it can be closed.
    for minute in range(40, 50):
        publisher.publish(topic, reading(start + minute * MINUTE_MS, minute, 4.0))
    publisher.flush()
    _wait_state(page, "resolved")
    page.get_by_test_id("close-action").fill("更换压缩机启动电容，温度已恢复")
    page.get_by_test_id("decision-discarded").check()
    page.get_by_test_id("close-reason").fill("超温 40 分钟，高风险食品按规定废弃")
    page.get_by_test_id("close-button").click()
    expect(page.get_by_test_id("done")).to_have_text("已关闭该报警。")
    expect(page.get_by_test_id("alert-state")).to_have_attribute("data-state", "closed")
    expect(page.get_by_test_id("corrective-action")).to_have_text("更换压缩机启动电容，温度已恢复")
    expect(page.get_by_test_id("food-decision")).to_contain_text("超温 40 分钟")
    closed = page.locator("[data-testid=history-entry][data-action=closed]")
    expect(closed).to_have_attribute("data-actor", STAFF[0])
    expect(page.get_by_test_id("no-actions")).to_be_visible()
    assert page.url == service.url(f"/alerts/{alert_id}?done=close")
