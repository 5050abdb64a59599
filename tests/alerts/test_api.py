"""The alerts and registers API on the real app, a real DuckDB file and the real rules: what a
canteen manager and an inspector would click, and the sentences they get when it is refused."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.clock import StepClock
from core.records import Role, SealHealthPoint
from dashboard_api import ApiContext, create_app
from tests.alerts.conftest import Harness, school, series
from tests.dashboard_api.accounts import with_accounts

ZONE = school().site.zone
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=ZONE).astimezone(UTC)  # Monday 12:00 local


def local(hh: int, mm: int, days: int = 0) -> datetime:
    day = NOON.astimezone(ZONE).date() + timedelta(days=days)
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE).astimezone(UTC)


# The people who act in these tests, each with a staff token (headers): the actor recorded is
# the token's name, never a name from the body. Filled by `app_for` for the test's database.
PEOPLE: dict[str, dict[str, str]] = {}


def app_for(harness: Harness, *, wired: bool = True) -> FastAPI:
    alerts = harness.service if wired else None
    context = ApiContext(harness.config, harness.readings, harness.clock, lambda: {}, alerts=alerts)
    context, accounts = with_accounts(context, harness.path)
    app = create_app(context)
    app.state.accounts = accounts
    PEOPLE.clear()
    for name in ("李经理", "王师傅", "张", "canteen manager"):
        PEOPLE[name] = accounts.token(name, Role.STAFF)
    app.state.viewer = accounts.token("inspector", Role.VIEWER)
    return app


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    # On the air probe: 40 min at 9 °C warms the food (tau 30 min) to 7.7 °C only, no alert
    # on the default, judge_on: product (tests/alerts/test_product.py).
    config = school(rules={"judge_on": "air"})
    harness = Harness(tmp_path / "api.duckdb", config, StepClock(local(0, 0)))
    # Monday morning: in band, then 09:00-09:40 at 9 °C (an over-temperature alert), then back.
    values = [9.0 if 540 <= m < 580 else 4.0 for m in range(720)]
    harness.feed(series("fridge-1", local(0, 0), 60, values))
    harness.clock.instant = NOON
    app = app_for(harness)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=app.state.viewer
    ) as client:
        yield client, harness
    app.state.accounts.close()
    harness.close()


async def over_temperature_id(client: httpx.AsyncClient) -> int:
    body = (await client.get("/api/alerts", params={"rule": "over_temperature"})).json()
    [alert] = body["items"]
    return int(alert["id"])


async def test_list_filter_and_read_an_alert_in_both_languages(
    setup: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = setup
    body = (await client.get("/api/alerts", params={"rule": "over_temperature"})).json()
    [alert] = body["items"]
    assert alert["state"] == "resolved" and alert["food_safety"] is True
    assert alert["fired_at"] == "2026-11-23T09:30:00+08:00"
    assert alert["text"].startswith("fridge-1 温度")
    english = (await client.get(f"/api/alerts/{alert['id']}", params={"lang": "en"})).json()
    assert english["text"].startswith("fridge-1 at 9.0 °C, above its 8.0 °C limit")
    assert [h["action"] for h in english["history"]] == ["pending", "fired", "resolved"]
    none = (await client.get("/api/alerts", params={"state": "closed"})).json()
    assert none == {"count": 0, "items": []}


async def test_close_needs_the_corrective_action_and_the_food_decision(
    setup: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = setup
    alert_id = await over_temperature_id(client)
    manager = PEOPLE["李经理"]
    refused = await client.post(f"/api/alerts/{alert_id}/close", json={}, headers=manager)
    assert refused.status_code == 422
    assert refused.json()["message"].startswith(
        f"alert {alert_id} is a food-safety alert; to close it, give the corrective action"
    )
    closing = {
        "corrective_action": "door gasket re-seated; food moved to fridge-2",
        "food_decision": "discarded",
        "food_reason": "cooked rice above 8 °C for 40 min",
    }
    closed = (
        await client.post(f"/api/alerts/{alert_id}/close", json=closing, headers=manager)
    ).json()
    assert closed["state"] == "closed" and closed["food_decision"] == "discarded"
    again = await client.post(
        f"/api/alerts/{alert_id}/acknowledge", json={}, headers=PEOPLE["王师傅"]
    )
    assert again.status_code == 409
    assert "cannot be acknowledged: it was closed by 李经理" in again.json()["message"]


async def test_acknowledge_a_firing_alert_once(setup: tuple[httpx.AsyncClient, Harness]) -> None:
    client, harness = setup
    harness.feed(series("fridge-1", local(12, 0), 60, [9.5] * 31))
    alert_id = await over_temperature_id(client)
    resolve = await client.post(
        f"/api/alerts/{alert_id}/resolve", json={}, headers=PEOPLE["王师傅"]
    )
    assert resolve.status_code == 409
    assert "its condition is still present" in resolve.json()["message"]
    ack = await client.post(
        f"/api/alerts/{alert_id}/acknowledge", json={"note": "on it"}, headers=PEOPLE["王师傅"]
    )
    assert ack.json()["state"] == "acknowledged" and ack.json()["acknowledged_by"] == "王师傅"
    twice = await client.post(f"/api/alerts/{alert_id}/acknowledge", json={}, headers=PEOPLE["张"])
    assert twice.status_code == 409 and "already acknowledged by 王师傅" in twice.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "message"),
    [
        ("get", "/api/alerts/999", None, 404, "no alert 999 at site test-school"),
        ("post", "/api/alerts/999/acknowledge", {}, 404, "no alert 999"),
        ("post", "/api/alerts/1/acknowledge", {"by": "x"}, 422, "`by` is no longer accepted"),
        (
            "post",
            "/api/alerts/1/close",
            {"food_decision": "eaten"},
            422,
            "food_decision",
        ),
        ("get", "/api/alerts?device=fridge-9", None, 404, "no device 'fridge-9' at this site"),
        ("get", "/api/alerts?since=yesterday", None, 422, "query parameter 'since'"),
        (
            "get",
            "/api/alerts?state=open",
            None,
            422,
            "query parameter 'state': 'open' is not a state; use pending, firing, acknowledged, "
            "resolved, closed or all",
        ),
    ],
)
async def test_refusals_are_sentences(
    setup: tuple[httpx.AsyncClient, Harness],
    method: str,
    path: str,
    payload: dict[str, str] | None,
    status: int,
    message: str,
) -> None:
    client, _ = setup
    response = await client.request(method, path, json=payload, headers=PEOPLE["张"])
    assert response.status_code == status
    assert message in response.json()["message"]


async def test_daily_temperature_log_is_computed_per_local_day(
    setup: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = setup
    body = (
        await client.get(
            "/api/devices/fridge-1/temperature-log",
            params={"start": "2026-11-22", "end": "2026-11-24"},
        )
    ).json()
    sunday, monday = body["days"]  # Tuesday is in the future: left out
    assert sunday == {
        "date": "2026-11-22", "readings": 0, "min_c": None, "max_c": None, "mean_c": None,
        "minutes_out_of_band": 0.0, "completeness": 0.0, "product_min_c": None,
        "product_max_c": None, "product_mean_c": None, "product_minutes_out_of_band": 0.0,
        "bands": [{"from": "2026-11-22T00:00:00+08:00", "high_c": 8.0, "low_c": 0.0}],
    }  # fmt: skip
    assert monday["readings"] == 720 and monday["min_c"] == 4.0 and monday["max_c"] == 9.0
    assert monday["mean_c"] == round((680 * 4.0 + 40 * 9.0) / 720, 2)
    assert monday["minutes_out_of_band"] == 40.0
    assert monday["completeness"] == 1.0  # today, up to now (12:00)
    assert body["high_c"] == 8.0 and body["low_c"] == 0.0


async def test_registers_list_what_the_rules_wrote(
    setup: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, harness = setup
    rows = series("ir-1", local(12, 0), 15, [25.0] * 180 + [125.0] * 60 + [25.0] * 300)
    harness.feed(rows)
    harness.tick(local(14, 16))
    body = (await client.get("/api/registers/disinfection", params={"lang": "en"})).json()
    [line] = body["items"]
    assert line["status"] == "compliant" and line["meal"] == "lunch"
    assert line["window_end"] == "2026-11-23T14:10:00+08:00" and line["hold_min"] == 14.8
    assert body["completeness"] == 1.0 and body["counts"]["compliant"] == 1
    retention = (await client.get("/api/registers/sample-retention")).json()
    assert retention["items"] == []
    seal = (await client.get("/api/devices/fridge-1/seal-health")).json()
    assert seal["points"] == [] and seal["status"] == "learning"
    # a Monday: the hours since midnight count towards the four school days asked
    days = seal["learning"]["days_with_meals"]
    assert 0 < days < 1 and seal["learning"]["days_needed"] == 4
    assert seal["learning"]["en"] == f"learning, 0 h of 39, {days:g} of 4 days with meals"


async def test_the_disinfection_register_shows_a_line_corrected_by_late_data(
    setup: tuple[httpx.AsyncClient, Harness],
) -> None:
    # The cabinet is silent 12:30-16:30 (lunch's verdict is unconfirmed at 14:15), then
    # uploads its buffer holding a compliant cycle at 13:00.
    client, harness = setup
    rows = series("ir-1", local(12, 0), 15, [25.0] * 240 + [125.0] * 60 + [25.0] * 660)
    harness.feed([r for r in rows if r[1] < local(12, 30)])
    for minute in range(0, 30):
        harness.tick(local(14, 10) + timedelta(minutes=minute))
    [line] = (await client.get("/api/registers/disinfection")).json()["items"]
    assert line["status"] == "unconfirmed" and line["amendments"] == []
    assert line["reason"] == "未确认：消毒柜自 12:29 起无数据"
    harness.clock.instant = local(16, 30)
    harness.feed([r for r in rows if r[1] >= local(12, 30)])
    harness.tick(local(16, 31))
    body = (await client.get("/api/registers/disinfection", params={"lang": "en"})).json()
    [line] = body["items"]
    assert line["status"] == "compliant" and line["decided_at"] == "2026-11-23T16:31:00+08:00"
    assert line["amendments"] == [
        {
            "status": "unconfirmed",
            "decided_at": "2026-11-23T14:15:00+08:00",
            "reason": "unconfirmed: cabinet silent since 12:29",
            "amended_at": "2026-11-23T16:31:00+08:00",
            "note": "confirmed from data received at 2026-11-23 16:31",
        }
    ]
    assert body["counts"]["compliant"] == 1 and body["counts"]["unconfirmed"] == 0


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/registers/disinfection", {"start": "23/11/2026"}, "'23/11/2026' is not a date"),
        (
            "/api/registers/disinfection",
            {"start": "2026-11-24", "end": "2026-11-23"},
            "must not be after",
        ),
        ("/api/registers/disinfection", {"start": "2024-01-01"}, "at most 366 days"),
        ("/api/registers/sample-retention", {"device": "fridge-9"}, "no device 'fridge-9'"),
        ("/api/devices/rice-1/seal-health", {}, None),
    ],
)
async def test_register_parameters_are_checked(
    setup: tuple[httpx.AsyncClient, Harness], path: str, params: dict[str, str], message: str | None
) -> None:
    client, _ = setup
    response = await client.get(path, params=params)
    if message is None:
        assert response.status_code == 200
        return
    assert response.status_code in (404, 422)
    assert message in response.json()["message"]


def test_each_operation_is_routed_once(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "x.duckdb", school(), StepClock(NOON))
    app = app_for(harness)
    app.state.accounts.close()
    harness.close()
    # FastAPI warns of a duplicate operation id when a router is included twice.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = app.openapi()
    assert "get" in schema["paths"]["/api/registers/disinfection"]


async def test_without_the_alerts_service_the_api_says_so(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "x.duckdb", school(), StepClock(NOON))
    app = app_for(harness, wired=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=app.state.viewer
    ) as client:
        response = await client.get("/api/alerts")
    app.state.accounts.close()
    harness.close()
    assert response.status_code == 503
    assert response.json()["message"] == "alerts are not running in this service"


async def test_seal_baseline_relearn_is_asked_for_by_a_person(
    setup: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = setup
    body = {"reason": "new gasket fitted"}
    manager = PEOPLE["canteen manager"]
    response = await client.post(
        "/api/devices/fridge-1/seal-health/relearn", json=body, headers=manager
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["learning_days"] == 4.0 and answer["learning_cycles"] is None
    assert answer["learning_from"] == "2026-11-23T12:00:00+08:00"
    assert answer["resolved_alerts"] == []
    refused = await client.post("/api/devices/ir-1/seal-health/relearn", json=body, headers=manager)
    assert refused.status_code == 422 and "has no door seal" in refused.json()["message"]
    unnamed = await client.post(
        "/api/devices/fridge-1/seal-health/relearn", json={}, headers=manager
    )
    assert unnamed.status_code == 422 and "reason" in unnamed.json()["message"]
    viewer = await client.post("/api/devices/fridge-1/seal-health/relearn", json=body)
    assert viewer.status_code == 403 and "needs the role staff" in viewer.json()["message"]


async def test_seal_health_says_what_its_verdicts_rest_on(tmp_path: Path) -> None:
    # A chest freezer's bare probe read every 5 min on a 12-min cycle: the rule learned only
    # the share of falling readings (no tooth read, no period folded). Its health of 1 says
    # nothing was seen, and seal-health says so with what would help; a unit whose probe draws
    # its cycles, or a meter that reads them, is judged on them.
    device = {"id": "fridge-1", "kind": "fridge", "building": "canteen", "interval_s": 300}
    harness = Harness(tmp_path / "basis.duckdb", school(devices=[device]), StepClock(NOON))
    sparse = {"probe_evidence": 0.1, "probe_h": 10.0, "window_cycles": 0, "window_h": 36}
    drawn = {"evidence": 0.2, "evidence_h": 12.0, "window_cycles": 8, "probe_evidence": 0.0}
    metered = {**sparse, "duty_evidence": 0.3}
    # after an excursion the evidence waits out the recovery, and says until when (UTC)
    waiting = {**drawn, "recovering_until": "2026-11-23T09:30+00:00"}
    # a probe that reports on change: its teeth are not judged, its reported steps' paces are
    reported = {**drawn, "probe_paced": 1, "probe_reported": 1, "probe_on_change": 1}
    app = app_for(harness)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=app.state.viewer
    ) as client:
        bases = []
        for hour, evidence in enumerate((sparse, drawn, metered, waiting, reported)):
            point = SealHealthPoint(
                harness.config.site.id, "fridge-1", local(7 + hour, 0), 1.0, evidence
            )
            harness.store.save_seal_health([point])
            body = (await client.get("/api/devices/fridge-1/seal-health")).json()
            assert body["status"] == "judged"
            bases.append(body["basis"])
    app.state.accounts.close()
    harness.close()
    assert bases[0]["streams"] == ["probe_share"] and bases[0]["compressor_seen"] is False
    assert bases[0]["en"].startswith("The probe (a reading every 5 min) does not resolve")
    assert "每 5 分钟" in bases[0]["zh"]
    assert bases[1]["streams"] == ["cycles", "probe_share"] and bases[1]["compressor_seen"]
    assert bases[1]["en"] == (
        "Judged on the compressor's cycles in the probe's sawtooth, the share of the probe's "
        "readings that fall."
    )
    assert bases[2]["streams"] == ["probe_share", "metered_duty"]
    assert bases[2]["compressor_seen"] is True
    assert bases[1]["paused_until"] is None
    # the site's clock (Asia/Shanghai): 09:30 UTC is 17:30 there
    assert bases[3]["paused_until"] == "2026-11-23T17:30:00+08:00"
    assert bases[3]["en"].startswith("The cabinet was out of its band")
    assert "waits until 11-23 17:30. Judged on the compressor's cycles" in bases[3]["en"]
    assert bases[4]["on_change"] and bases[4]["reported"] and not bases[1]["reported"]
    assert bases[4]["streams"] == ["cycles", "probe_paced"]
    assert (
        "judged on the compressor's duty read from the probe's step times alone" in (bases[4]["en"])
    )
    assert "门封证据暂停到 11-23 17:30。依据：" in bases[3]["zh"]
