"""Inputs a hostile client sent that once answered 500: each is now a 422 whose message names
the parameter and what it may be, and no text (lone surrogates, NUL, 60 kB) reaches a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from core.records import Role
from dashboard_api.auth import AuthError

INSTANTS = "instants run from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z"
DATES = "dates run from 2000-01-01 to 2100-12-31"
BIGINT_MAX = 2**63 - 1
SERIES = "/api/devices/fridge-1/series"

# Before year 1 in UTC, after 9999 in UTC, and epoch ms in the year 3 170 000.
OVERFLOWING_INSTANTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59", "9" * 20]


async def refusal(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> str:
    response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    message: str = response.json()["message"]
    return message


@pytest.mark.parametrize("text", OVERFLOWING_INSTANTS)
@pytest.mark.parametrize(
    ("path", "name", "extra"),
    [
        (SERIES, "start", {"metric": "temp_c"}),
        (SERIES, "end", {"metric": "temp_c"}),
        ("/api/alerts", "since", {}),
        ("/api/alerts", "until", {}),
    ],
)
async def test_instants_out_of_range(
    client: httpx.AsyncClient, path: str, name: str, extra: dict[str, str], text: str
) -> None:
    message = await refusal(client, path, {**extra, name: text})
    assert message.startswith(f"query parameter '{name}': '{text}'")
    assert message.endswith(f"is out of range; {INSTANTS}")


async def test_instants_at_the_bounds_are_answered(client: httpx.AsyncClient) -> None:
    every = (await client.get("/api/alerts", params={"state": "all"})).json()
    since_epoch = await client.get("/api/alerts", params={"since": "0", "state": "all"})
    assert since_epoch.status_code == 200 and since_epoch.json() == every
    last = await client.get(SERIES, params={"metric": "temp_c", "end": "9999-12-31T00:00:00Z"})
    assert last.status_code == 200 and last.json()["end"] == "9999-12-31T08:00:00+08:00"


@pytest.mark.parametrize("step", ["999999999999999999999", "0", "367d"])
async def test_steps_out_of_range(client: httpx.AsyncClient, step: str) -> None:
    message = await refusal(client, SERIES, {"metric": "temp_c", "step": step})
    assert (
        message
        == f"query parameter 'step': '{step}' is out of range; a step runs from 1 s to 366 d"
    )


@pytest.mark.parametrize(
    ("params", "name", "allowed"),
    [
        ({"month": "0001-01"}, "month", "months run from 2000-01 to 2100-12"),
        ({"month": "2101-01"}, "month", "months run from 2000-01 to 2100-12"),
        ({"period": "week", "week": "1999-W52"}, "week", "weeks run from 2000-W01 to 2100-W52"),
        ({"period": "day", "date": "9999-12-31"}, "date", "days run from 2000-01-01 to 2100-12-31"),
    ],
)
async def test_report_periods_before_or_after_the_records(
    client: httpx.AsyncClient, params: dict[str, str], name: str, allowed: str
) -> None:
    message = await refusal(client, "/api/energy/report", params)
    assert message == f"query parameter '{name}': '{params[name]}' is out of range; {allowed}"


async def test_report_of_the_first_month_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/energy/report", params={"month": "2000-01"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/registers/disinfection",
        "/api/registers/sample-retention",
        "/api/devices/fridge-1/temperature-log",
        "/api/devices/fridge-1/seal-health",
        "/api/energy/anomalies",
    ],
)
@pytest.mark.parametrize(("name", "day"), [("start", "0001-01-01"), ("end", "9999-12-31")])
async def test_local_dates_out_of_range(
    client: httpx.AsyncClient, path: str, name: str, day: str
) -> None:
    message = await refusal(client, path, {name: day})
    assert message == f"query parameter '{name}': '{day}' is out of range; {DATES}"


@pytest.mark.parametrize("alert_id", ["9" * 130, str(BIGINT_MAX + 1)])
async def test_alert_ids_beyond_the_store(client: httpx.AsyncClient, alert_id: str) -> None:
    message = await refusal(client, f"/api/alerts/{alert_id}", {})
    assert message.startswith("path parameter 'alert_id': '9")
    assert message.endswith(f"is out of range; allowed: 1 to {BIGINT_MAX}")
    acknowledged = await client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "李"})
    assert acknowledged.status_code == 422
    assert acknowledged.json()["detail"][0]["loc"] == ["path", "alert_id"]


async def test_the_largest_alert_id_is_looked_up(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/alerts/{BIGINT_MAX}")
    assert response.status_code == 404
    assert response.json() == {"message": f"no alert {BIGINT_MAX} at site test-school"}


async def test_limits_name_both_bounds(client: httpx.AsyncClient) -> None:
    message = await refusal(client, "/api/deadletter", {"limit": "9" * 30})
    assert message == f"query parameter 'limit': '{'9' * 30}' is out of range; allowed: 1 to 1000"


# Every string parameter of every GET, with what the route was called with besides.
TEXT_PARAMETERS = [
    (SERIES, name, {"metric": "temp_c"}) for name in ("metric", "start", "end", "step", "agg")
] + [
    ("/api/deadletter", "reason", {}),
    ("/api/alerts", "state", {}),
    ("/api/alerts", "device", {}),
    ("/api/alerts", "since", {}),
    ("/api/alerts", "lang", {}),
    ("/api/energy/report", "month", {}),
    ("/api/energy/report", "week", {"period": "week"}),
    ("/api/energy/report", "date", {"period": "day"}),
    ("/api/energy/anomalies", "start", {}),
    ("/api/energy/anomalies", "building", {}),
    ("/api/registers/disinfection", "start", {}),
    ("/api/registers/disinfection", "device", {}),
    ("/api/devices/fridge-1/temperature-log", "end", {}),
]


@pytest.mark.parametrize(
    "raw", ["%ED%A0%80", "%00", "a%00b", "%F0%9F%8D%9A", "x" * 60_000], ids=str.__len__
)
@pytest.mark.parametrize(("path", "name", "extra"), TEXT_PARAMETERS)
async def test_no_text_is_a_server_error(
    client: httpx.AsyncClient, path: str, name: str, extra: dict[str, str], raw: str
) -> None:
    query = "&".join(f"{key}={value}" for key, value in {**extra, name: raw}.items())
    response = await client.get(f"{path}?{query}")
    assert response.status_code < 500, response.text
    # A refusal echoes at most a short piece of what was sent.
    assert len(response.text) < 2_000


@pytest.mark.parametrize(
    "body",
    [b'{"note": "\\ud800"}', b'{"note": "\xed\xa0\x80"}', b'{"by": "a\\u0000b"}', b"\xff\xfe"],
)
@pytest.mark.parametrize("action", ["acknowledge", "resolve", "close"])
async def test_no_body_is_a_server_error(
    client: httpx.AsyncClient, action: str, body: bytes
) -> None:
    alert = (await client.get("/api/alerts", params={"state": "all"})).json()["items"][0]
    response = await client.post(
        f"/api/alerts/{alert['id']}/{action}",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code in (409, 422), response.text


async def test_a_lone_surrogate_in_the_body_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/devices/fridge-1/seal-health/relearn",
        content=b'{"reason": "new \\ud800 gasket"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("body parameter 'reason': Input should be a valid")


async def test_a_body_that_is_not_json_is_said_so(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/alerts/1/acknowledge", content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["message"] == "request body is not valid JSON (UTF-8)"


@pytest.mark.parametrize("name", ["a\u0000b", "cook\non duty", "\u007f"])
async def test_a_name_with_control_characters_never_acts(
    client: httpx.AsyncClient, wired: FastAPI, name: str
) -> None:
    """Whoever acts is written into the register: a NUL or a line break could forge a line.
    The actor is the logged-in person or the token, whose names are checked when they are
    made; a body that names someone is refused."""
    auth = wired.state.context.auth
    with pytest.raises(AuthError, match=r"control characters|tab or line break"):
        auth.add_user(name, Role.STAFF, "long enough password")
    with pytest.raises(AuthError, match=r"control characters|tab or line break"):
        auth.create_token(name, Role.STAFF)
    response = await client.post(
        "/api/devices/fridge-1/seal-health/relearn", json={"by": name, "reason": "new gasket"}
    )
    assert response.status_code == 422
    assert "`by` is no longer accepted" in response.json()["message"]
    for alert in (await client.get("/api/alerts", params={"state": "all"})).json()["items"]:
        answer = await client.post(f"/api/alerts/{alert['id']}/acknowledge", json={"by": name})
        assert answer.status_code == 422, answer.text
