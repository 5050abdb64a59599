"""The alert pages through the real app: the list and its filters, one alert with its history,
and the forms: acknowledge and close record the logged-in person, a food-safety alert closes
only with action, decision and reason (the refusal shown in the form), a form without its CSRF
token is refused, and a viewer sees no buttons and cannot post."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.records import (
    AlertState,
    DeliveryAttempt,
    DeliveryOutcome,
    OutboxEntry,
    OutboxState,
    RuleId,
)
from dashboard_api import create_app
from dashboard_api.web.pages_alerts import evidence_rows
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.dashboard_api.pages_site import (
    NOON,
    STAFF,
    VIEWER,
    Site,
    form_csrf,
    page_site,
    signed_in,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("alerts") / "site.duckdb")
    yield built
    built.close()


@pytest.fixture
async def viewer(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with site.client() as client:
        yield await signed_in(client, VIEWER)


@pytest.fixture
async def staff(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with site.client() as client:
        yield await signed_in(client, STAFF)


def alert_id(site: Site, device: str, rule: RuleId) -> int:
    (alert,) = site.harness.alerts(rule=rule, device=device)
    return alert.id


def rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="alert-row" data-alert-id="(\d+)" data-state="(\w+)"', html)


async def test_without_a_session_the_pages_send_to_login(site: Site) -> None:
    async with site.client() as client:
        for path in ("/alerts", "/alerts/1"):
            answer = await client.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith(
                f"/login?next={path}"
            )


async def test_the_list_shows_device_name_location_since_severity_state(
    site: Site, viewer: httpx.AsyncClient
) -> None:
    page = await viewer.get("/alerts")
    assert page.status_code == 200
    firing = alert_id(site, "fridge-2", RuleId.OVER_TEMPERATURE)
    row = page.text[page.text.index(f'data-alert-id="{firing}"') :]
    row = row[: row.index("</li>")]
    assert "冷藏柜 B" in row and "备餐间" in row
    assert "开始于 2026-11-23 11:00" in row  # fired 30 min after 10:30, local time
    assert ">严重<" in row and ">报警中<" in row and "温度过高" in row
    assert 'href="/alerts" aria-current="page"' in page.text
    english = (await viewer.get("/alerts?lang=en")).text
    assert "since 2026-11-23 11:00" in english and ">critical<" in english
    assert ">firing<" in english and "Too warm" in english


async def test_filters_narrow_the_list(site: Site, viewer: httpx.AsyncClient) -> None:
    everything = rows((await viewer.get("/alerts?state=all")).text)
    assert len(everything) >= 4
    resolved = rows((await viewer.get("/alerts?state=resolved")).text)
    assert resolved and all(state == "resolved" for _, state in resolved)
    only = rows((await viewer.get("/alerts?device=fridge-3&rule=over_temperature")).text)
    assert [int(i) for i, _ in only] == [alert_id(site, "fridge-3", RuleId.OVER_TEMPERATURE)]
    assert rows((await viewer.get("/alerts?building=canteen&severity=critical")).text)
    # A day before anything happened: nothing, and a sentence that says so.
    none = await viewer.get("/alerts?since=2026-11-01&until=2026-11-22&state=all")
    assert none.status_code == 200 and rows(none.text) == []
    assert "没有符合筛选条件的报警" in none.text


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("state=done", "state"),
        ("rule=hot", "rule"),
        ("severity=loud", "severity"),
        ("device=fridge-9", "device"),
        ("building=gym", "building"),
        ("since=2026-13-01", "since"),
        ("until=yesterday", "until"),
        ("state=all&state=open", "state"),
        ("device=" + "x" * 100, "device"),
    ],
)
async def test_a_bad_filter_is_a_422_page_naming_it(
    viewer: httpx.AsyncClient, query: str, named: str
) -> None:
    answer = await viewer.get(f"/alerts?{query}")
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert f"“{named}”" in answer.text


async def test_dates_in_the_wrong_order_are_refused(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get("/alerts?since=2026-11-23&until=2026-11-01")
    assert answer.status_code == 422 and "since" in answer.text and "until" in answer.text


async def test_an_unknown_or_malformed_alert_is_a_404_page(viewer: httpx.AsyncClient) -> None:
    too_long = "/alerts/" + "9" * 5000  # more digits than int() converts: still a 404
    for path in (
        "/alerts/999999",
        "/alerts/abc",
        "/alerts/0",
        "/alerts/99999999999999999999",
        too_long,
    ):
        answer = await viewer.get(path)
        assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]


async def test_the_evidence_reads_as_measured_values_not_raw_floats(
    site: Site, viewer: httpx.AsyncClient
) -> None:
    number = alert_id(site, "fridge-2", RuleId.OVER_TEMPERATURE)
    html = (await viewer.get(f"/alerts/{number}")).text
    evidence = html.split('class="facts evidence"', 1)[1].split("</dl>", 1)[0]
    values = re.findall(r"<dd>([^<]*)</dd>", evidence)
    assert "limit_c" in evidence and "8" in values
    # No float's binary tail (10.595796598018486) and no unmeasured value (None) is shown.
    assert not any(re.fullmatch(r"-?\d+\.\d{3,}", v) for v in values), values
    assert "None" not in values and "food_probe_c" not in evidence


def test_evidence_values_are_rounded_and_unmeasured_ones_left_out() -> None:
    rows = evidence_rows(
        {"peak_c": 10.595796598018486, "limit_c": 8.0, "minutes": 104.5, "food_probe_c": None,
         "tau_source": "default", "readings": 12, "drift_c": -0.001}
    )  # fmt: skip
    assert rows == [
        ("peak_c", "10.6"), ("limit_c", "8"), ("minutes", "104.5"), ("tau_source", "default"),
        ("readings", "12"), ("drift_c", "0"),
    ]  # fmt: skip
    assert evidence_rows(None) == []


async def test_acknowledging_records_the_logged_in_person(
    site: Site, staff: httpx.AsyncClient
) -> None:
    number = alert_id(site, "fridge-2", RuleId.OVER_TEMPERATURE)
    page = await staff.get(f"/alerts/{number}")
    assert 'data-testid="ack-form"' in page.text and 'data-testid="close-form"' not in page.text
    done = await staff.post(
        f"/alerts/{number}/acknowledge", data={"csrf": form_csrf(page.text), "note": "已移走食品"}
    )
    assert (
        done.status_code == 303 and done.headers["location"] == f"/alerts/{number}?done=acknowledge"
    )
    assert site.harness.service.book.get(number).state is AlertState.ACKNOWLEDGED
    history = site.harness.service.book.history(number)
    assert (history[-1].action.value, history[-1].actor, history[-1].note) == (
        "acknowledged",
        STAFF,
        "已移走食品",
    )
    shown = (await staff.get(done.headers["location"])).text
    assert "已确认该报警" in shown
    assert f'data-action="acknowledged" data-actor="{STAFF}"' in shown
    # Twice: the lifecycle refuses, and the page says why in the form (409, not a JSON body).
    again = await staff.post(f"/alerts/{number}/acknowledge", data={"csrf": form_csrf(shown)})
    assert again.status_code == 409 and 'data-testid="form-error"' in again.text
    assert "无法确认" in again.text and STAFF in again.text
    english = await staff.post(
        f"/alerts/{number}/acknowledge?lang=en", data={"csrf": form_csrf(shown)}
    )
    assert "Cannot acknowledge: the alert is acknowledged (alert " in english.text


async def test_a_food_safety_alert_closes_only_with_action_decision_and_reason(
    site: Site, staff: httpx.AsyncClient
) -> None:
    number = alert_id(site, "fridge-3", RuleId.OVER_TEMPERATURE)
    page = await staff.get(f"/alerts/{number}")
    assert 'data-testid="close-form"' in page.text
    csrf = form_csrf(page.text)
    half = await staff.post(
        f"/alerts/{number}/close", data={"csrf": csrf, "corrective_action": "调整温控器"}
    )
    assert half.status_code == 422
    assert "请选择食品保留或废弃" in half.text and "请填写处理理由" in half.text
    assert "调整温控器" in half.text  # what was typed stays in the form
    assert site.harness.service.book.get(number).state is AlertState.RESOLVED
    closed = await staff.post(
        f"/alerts/{number}/close",
        data={
            "csrf": csrf,
            "corrective_action": "调整温控器",
            "food_decision": "discarded",
            "food_reason": "超温 40 分钟",
        },
    )
    assert closed.status_code == 303
    alert = site.harness.service.book.get(number)
    assert alert.state is AlertState.CLOSED and alert.closed_by == STAFF
    shown = (await staff.get(f"/alerts/{number}")).text
    assert "调整温控器" in shown and "废弃: 超温 40 分钟" in shown
    assert f'data-action="closed" data-actor="{STAFF}"' in shown
    assert 'data-testid="delivery-log"' in shown and 'id="delivery-log"' in shown


async def test_a_form_without_its_csrf_token_is_refused(
    site: Site, staff: httpx.AsyncClient
) -> None:
    number = alert_id(site, "fridge-4", RuleId.OVER_TEMPERATURE)
    before = site.harness.service.book.history(number)
    for data in ({}, {"csrf": "forged"}):
        answer = await staff.post(f"/alerts/{number}/resolve", data=data)
        assert answer.status_code == 403 and "安全令牌" in answer.text
    assert site.harness.service.book.history(number) == before


async def test_a_viewer_sees_no_buttons_and_cannot_post(
    site: Site, viewer: httpx.AsyncClient
) -> None:
    number = alert_id(site, "fridge-4", RuleId.OVER_TEMPERATURE)
    page = (await viewer.get(f"/alerts/{number}")).text
    assert '<form method="post" action="/alerts/' not in page
    assert "查看账号只能查看" in page
    before = site.harness.service.book.history(number)
    answer = await viewer.post(f"/alerts/{number}/acknowledge", data={"csrf": form_csrf(page)})
    assert answer.status_code == 403 and "值班人员" in answer.text
    assert site.harness.service.book.history(number) == before


async def test_posting_without_a_session_goes_to_login(site: Site) -> None:
    async with site.client() as client:
        answer = await client.post("/alerts/1/acknowledge", data={"csrf": "x"})
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/alerts/1"


async def test_an_unknown_action_or_alert_is_a_404_page(staff: httpx.AsyncClient) -> None:
    csrf = form_csrf((await staff.get("/alerts")).text)
    for path in ("/alerts/1/delete", "/alerts/999999/acknowledge"):
        answer = await staff.post(path, data={"csrf": csrf})
        assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]


async def test_a_forms_address_opened_as_a_page_leads_to_its_alert(
    viewer: httpx.AsyncClient,
) -> None:
    answer = await viewer.get("/alerts/3/close")
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts/3"
    device = await viewer.get("/devices/fridge-1/relearn-seal")
    assert device.status_code == 303 and device.headers["location"] == "/devices/fridge-1"


async def test_without_notification_channels_the_delivery_log_says_nobody_is_told(
    site: Site, viewer: httpx.AsyncClient
) -> None:
    number = alert_id(site, "fridge-2", RuleId.OVER_TEMPERATURE)
    page = (await viewer.get(f"/alerts/{number}")).text
    assert 'data-testid="delivery-off"' in page and "未配置通知渠道" in page
    assert 'data-testid="delivery-row"' not in page
    english = (await viewer.get(f"/alerts/{number}?lang=en")).text
    assert "No notification channel is configured at this site" in english


def _attempt(
    number: int, at: datetime, attempt: int, outcome: DeliveryOutcome, **extra: Any
) -> DeliveryAttempt:
    return DeliveryAttempt(
        f"fired:{number}:webhook", (number,), "webhook", ("值班室", "王师傅"), attempt, at, outcome,
        kind="fired", **extra,
    )  # fmt: skip


async def test_the_delivery_log_lists_every_attempt_in_local_time(
    site: Site, tmp_path: Path
) -> None:
    number = alert_id(site, "fridge-2", RuleId.OVER_TEMPERATURE)
    other = alert_id(site, "fridge-3", RuleId.OVER_TEMPERATURE)
    silent = alert_id(site, "fridge-4", RuleId.OVER_TEMPERATURE)  # nobody was told of it
    outbox = DuckDBOutboxStore(tmp_path / "outbox.duckdb")
    fired = NOON - timedelta(minutes=90)  # 10:30 local
    entry = OutboxEntry(
        f"fired:{number}:webhook", "webhook", "fired", True, (number,), {}, OutboxState.SENDING,
        0, fired, fired, fired,
    )  # fmt: skip
    assert outbox.enqueue(entry)
    refused = _attempt(number, fired, 1, DeliveryOutcome.RETRY, reason="HTTP 503", status=503)
    outbox.finish_attempt(entry, replace(refused, latency_ms=41.6))
    later = fired + timedelta(minutes=1, seconds=5)
    outbox.finish_attempt(entry, _attempt(number, later, 2, DeliveryOutcome.SENT, status=200))
    # Another alert's notice is not this alert's log.
    outbox.finish_attempt(entry, replace(refused, alert_ids=(other,), channel="email"))
    app = create_app(replace(site.app.state.context, deliveries=outbox))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://school"
        ) as client:
            await signed_in(client, VIEWER)
            page = (await client.get(f"/alerts/{number}")).text
            quiet = (await client.get(f"/alerts/{silent}")).text
            english = (await client.get(f"/alerts/{number}?lang=en")).text
    finally:
        outbox.close()
    cells = _delivery_rows(page)
    assert cells == [
        [
            "2026-11-23 10:30:00",
            "webhook",
            "值班室, 王师傅",
            "报警",
            "待重试",
            "HTTP 503",
            "503",
            "42",
        ],
        ["2026-11-23 10:31:05", "webhook", "值班室, 王师傅", "报警", "已发送 #2", "", "200", "0"],
    ]
    assert "通知发送记录" in page and "耗时 (ms)" in page
    assert [row[4] for row in _delivery_rows(english)] == ["retry", "sent #2"]
    assert "Latency (ms)" in english and "Recipients" in english
    assert 'data-testid="delivery-none"' in quiet and "尚未为该报警发送任何通知" in quiet


def _delivery_rows(html: str) -> list[list[str]]:
    """Each row's cells as a person reads them (tags dropped, spaces joined)."""
    found = re.findall(r'<tr data-testid="delivery-row".*?</tr>', html, re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in found]
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in row] for row in cells]
