"""The admin pages in the browser against the running service: a staff member is turned away;
the admin adds a person, resets their password and that person logs in with the one shown
once; the admin lowers a fridge's high limit (a limit outside the config's bounds is refused on
the page) and readings published to the broker are judged by the new limit at once, without a
restart: the service's rules took it over on their own loop."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, MINUTE_MS, STAFF, Service, log_in, now_ms, reading
from tests.conftest import Publisher

NEWCOMER = ("孙会计", "first password 4")


def test_staff_are_turned_away_and_an_admin_manages_a_person(page: Page, service: Service) -> None:
    log_in(page, service, STAFF)
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)
    answer = page.goto(service.url("/admin/users"))
    assert answer is not None and answer.status == 403
    expect(page.locator("main")).to_contain_text("仅限管理员")

    page.context.clear_cookies()
    log_in(page, service, ADMIN)
    page.get_by_test_id("nav-admin").click()
    expect(page).to_have_url(service.url("/admin/users"))
    expect(page.get_by_test_id(f"person-{STAFF[0]}")).to_have_attribute("data-role", "staff")
    page.get_by_test_id("new-name").fill(NEWCOMER[0])
    page.get_by_test_id("new-role").select_option("viewer")
    page.get_by_test_id("new-password").fill(NEWCOMER[1])
    page.get_by_test_id("create-person").click()
    expect(page.get_by_test_id("admin-saved")).to_be_visible()
    expect(page.get_by_test_id(f"person-{NEWCOMER[0]}")).to_contain_text("从未")
    # The admin typed the first password: the person must still choose their own.
    expect(page.get_by_test_id(f"must-change-{NEWCOMER[0]}")).to_have_text("待本人设置密码")

    page.get_by_test_id(f"reset-{NEWCOMER[0]}").click()
    expect(page.get_by_test_id("one-time-password")).to_contain_text(NEWCOMER[0])
    one_time = page.get_by_test_id("one-time-value").inner_text().strip()
    assert len(one_time) >= 16
    expect(page.get_by_test_id("trail-row").first).to_contain_text("重置密码")

    page.context.clear_cookies()
    log_in(page, service, (NEWCOMER[0], one_time))
    # A reset password is temporary: nothing opens before the person chooses their own.
    expect(page).to_have_url(service.url("/password"))
    page.goto(service.url("/alerts"))
    expect(page).to_have_url(service.url("/password"))
    page.get_by_test_id("password-new").fill(one_time)
    page.get_by_test_id("password-repeat").fill(one_time)
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-problem")).to_contain_text("不能沿用")
    chosen = "我自己的新密码 2026"
    page.get_by_test_id("password-new").fill(chosen)
    page.get_by_test_id("password-repeat").fill(chosen)
    page.get_by_test_id("password-submit").click()
    expect(page).to_have_url(service.url("/"))
    expect(page.locator("summary").filter(has_text=NEWCOMER[0])).to_be_visible()
    page.goto(service.url("/alerts"))
    expect(page).to_have_url(service.url("/alerts"))
    page.context.clear_cookies()
    log_in(page, service, ADMIN, "/admin/users")
    row = page.get_by_test_id(f"person-{NEWCOMER[0]}")
    expect(row).to_have_attribute("data-must-change", "false")


def _alerts_of(page: Page, service: Service, device: str) -> int:
    rows = page.get_by_test_id("alert-row")
    for _ in range(40):
        page.goto(service.url(f"/alerts?device={device}&rule=over_temperature&state=all"))
        if rows.count():
            return rows.count()
        page.wait_for_timeout(250)
    return 0


def test_a_lower_limit_set_on_the_page_judges_the_next_readings(
    page: Page, service: Service, publisher: Publisher
) -> None:
    log_in(page, service, ADMIN, "/admin/thresholds")
    high = page.get_by_test_id("limit-fridge-3-high_c")
    expect(high).to_have_attribute("data-source", "default")
    expect(high).to_have_attribute("data-value", "8")

    page.get_by_test_id("value-fridge-3-high_c").fill("80")
    page.get_by_test_id("reason-fridge-3-high_c").fill("试一试")
    page.get_by_test_id("set-fridge-3-high_c").click()
    expect(page.get_by_test_id("admin-refusal")).to_contain_text("expected 0..8 °C")
    expect(high).to_have_attribute("data-value", "8")

    page.get_by_test_id("value-fridge-3-high_c").fill("5")
    page.get_by_test_id("reason-fridge-3-high_c").fill("熟食冷藏按 5 °C 管理")
    page.get_by_test_id("set-fridge-3-high_c").click()
    expect(page.get_by_test_id("admin-saved")).to_be_visible()
    expect(high).to_have_attribute("data-source", "override")
    expect(high).to_have_attribute("data-value", "5")
    expect(page.get_by_test_id("trail-row").first).to_contain_text("熟食冷藏按 5 °C 管理")

    # 40 min at 6.5 °C: inside the config's 0-8 °C, above the admin's 5 °C for more than the
    # 30 min a fridge may be out before it alerts.
    topic = service.telemetry("fridge-3")
    start = now_ms() - 45 * MINUTE_MS
    for minute in range(40):
        publisher.publish(topic, reading(start + minute * MINUTE_MS, minute, 6.5))
    publisher.flush()
    assert _alerts_of(page, service, "fridge-3") == 1
    page.goto(service.url("/devices/fridge-3"))
    expect(page.get_by_test_id("limits-overridden")).to_be_visible()
