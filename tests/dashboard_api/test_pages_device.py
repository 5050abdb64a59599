"""The device page through the real app: the chart of a chosen metric and period (its SVG
fetched as the browser would), latest values, open alerts, door-seal learning status, the
re-learn form (staff only, with CSRF), and a 422 or 404 page for what cannot be shown."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.records import SealHealthPoint
from tests.alerts.conftest import SITE
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
    built = page_site(tmp_path_factory.mktemp("device") / "site.duckdb")
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


def chart_src(html: str) -> str:
    found = re.search(r'<img src="([^"]+)" data-testid="chart"', html)
    assert found is not None, html
    return unescape(found.group(1))


async def test_without_a_session_the_page_sends_to_login(site: Site) -> None:
    async with site.client() as client:
        answer = await client.get("/devices/fridge-2")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/devices/fridge-2"


async def test_the_page_shows_the_device_its_chart_values_and_alerts(
    viewer: httpx.AsyncClient,
) -> None:
    page = await viewer.get("/devices/fridge-2")
    assert page.status_code == 200
    text = page.text
    assert "<title>冷藏柜 B · 食堂监测</title>" in text and "备餐间 · 冷藏柜" in text
    assert 'href="/" aria-current="page"' in text  # a device belongs to the overview
    # 24 h to noon by default: the chart's own route with the period in epoch ms.
    src = chart_src(text)
    query = parse_qs(urlsplit(src).query)
    assert urlsplit(src).path == "/api/devices/fridge-2/chart.svg"
    assert query["metric"] == ["temp_c"] and query["lang"] == ["zh"]
    assert int(query["end"][0]) - int(query["start"][0]) == 24 * 3600 * 1000
    svg = await viewer.get(src)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert 'class="threshold"' in svg.text  # the 8 °C limit drawn
    assert "2026-11-22 12:00 – 2026-11-23 12:00" in text
    assert re.search(r'data-metric="temp_c" data-decimals="1">9.0</span> °C', text)
    assert re.search(r'data-testid="device-alert" data-alert-id="\d+"', text)
    assert "温度 9.0 °C，高于上限 8.0 °C" in text


async def test_ranges_and_a_chosen_period(viewer: httpx.AsyncClient) -> None:
    week = await viewer.get("/devices/fridge-2?range=7d")
    query = parse_qs(urlsplit(chart_src(week.text)).query)
    assert int(query["end"][0]) - int(query["start"][0]) == 7 * 86_400 * 1000
    assert (
        'data-testid="range-7d" href="/devices/fridge-2?metric=temp_c&amp;range=7d" aria-current'
        in week.text
    )
    chosen = await viewer.get(
        "/devices/fridge-2?start=2026-11-23T09:00&end=2026-11-23T11:00&metric=temp_c"
    )
    assert chosen.status_code == 200 and "2026-11-23 09:00 – 2026-11-23 11:00" in chosen.text
    query = parse_qs(urlsplit(chart_src(chosen.text)).query)
    assert int(query["start"][0]) == 1795395600000  # 09:00 in Asia/Shanghai is 01:00 UTC
    # Earlier and later links keep the length of the period.
    assert 'data-testid="earlier"' in chosen.text and 'data-testid="later"' in chosen.text
    english = await viewer.get("/devices/fridge-2?range=1h&lang=en")
    assert "Latest readings" in english.text and "lang=en" in chart_src(english.text)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("metric=power_w", "metric"),
        ("metric=nonsense", "metric"),
        ("range=2h", "range"),
        ("start=2026-11-23T08:00", "end"),
        ("start=tomorrow&end=2026-11-23T08:00", "start"),
        ("start=2026-11-23T08:00&end=2026-11-23T08:30", "start, end"),
        ("start=2025-01-01T00:00&end=2026-11-23T08:00", "start, end"),
        ("range=24h&range=7d", "range"),
    ],
)
async def test_a_bad_parameter_is_a_422_page_naming_it(
    viewer: httpx.AsyncClient, query: str, named: str
) -> None:
    answer = await viewer.get(f"/devices/fridge-2?{query}")
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert named in answer.text


async def test_an_unknown_device_is_a_404_page_that_lists_the_devices(
    viewer: httpx.AsyncClient,
) -> None:
    answer = await viewer.get("/devices/fridge-99")
    assert answer.status_code == 404 and "fridge-99" in answer.text
    index = answer.text[answer.text.index('data-testid="device-index"') :]
    assert '<a href="/devices/fridge-1">冷藏柜 A</a>' in index and "主厨房北墙" in index
    assert 'href="/"' in answer.text


async def test_seal_health_says_how_far_learning_got(viewer: httpx.AsyncClient) -> None:
    page = (await viewer.get("/devices/fridge-1")).text
    found = re.search(
        r'data-testid="seal-learning">学习中：已学习 (\d+) / (\d+) 小时.*就餐日 ([\d.]+) / 4 天',
        page,
    )
    assert found is not None and int(found.group(1)) < int(found.group(2))
    assert float(found.group(3)) < 4
    cabinet = (await viewer.get("/devices/ir-1")).text
    assert 'data-testid="seal"' not in cabinet  # a disinfection cabinet has no door seal


async def test_relearning_the_seal_is_for_staff_with_a_reason(
    site: Site, staff: httpx.AsyncClient, viewer: httpx.AsyncClient
) -> None:
    viewer_page = (await viewer.get("/devices/fridge-1")).text
    assert 'data-testid="relearn-form"' not in viewer_page
    refused = await viewer.post(
        "/devices/fridge-1/relearn-seal", data={"csrf": form_csrf(viewer_page), "reason": "x"}
    )
    assert refused.status_code == 403
    page = (await staff.get("/devices/fridge-1")).text
    assert 'data-testid="relearn-form"' in page
    no_csrf = await staff.post("/devices/fridge-1/relearn-seal", data={"reason": "新门封条"})
    assert no_csrf.status_code == 403
    blank = await staff.post(
        "/devices/fridge-1/relearn-seal", data={"csrf": form_csrf(page), "reason": "  "}
    )
    assert blank.status_code == 422 and "请填写重新学习的原因" in blank.text
    done = await staff.post(
        "/devices/fridge-1/relearn-seal", data={"csrf": form_csrf(page), "reason": "新门封条"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/devices/fridge-1?relearned=1"
    assert "已开始重新学习门封基线" in (await staff.get(done.headers["location"])).text
    cabinet = await staff.post(
        "/devices/ir-1/relearn-seal", data={"csrf": form_csrf(page), "reason": "新门封条"}
    )
    assert cabinet.status_code == 422 and "没有门封" in cabinet.text


async def test_seal_health_shows_the_latest_verdict_and_its_evidence(
    site: Site, viewer: httpx.AsyncClient
) -> None:
    """A learned baseline (the sample fridge's readings stop at 10:00, so the rule's own
    learning points end before these verdicts): the last 30 days as a line, the latest
    verdict's features against the baseline, and the earlier verdicts."""
    points = [
        SealHealthPoint(SITE, "sample-1", NOON - timedelta(hours=h), health, evidence)
        for h, health, evidence in (
            (48, 0.95, {"health": 0.95, "duty_base": 0.31, "duty_now": 0.33, "duty_change": 0.06}),
            (
                2,
                0.41,
                {
                    "health": 0.41,
                    "duty_base": 0.31,
                    "duty_now": 0.52,
                    "duty_change": 0.68,
                    "warm_rate_base": 0.8,
                    "warm_rate_now": 1.3,
                    "warm_rate_change": 0.62,
                },
            ),
        )
    ]
    site.harness.store.save_seal_health(points)
    page = (await viewer.get("/devices/sample-1")).text
    assert 'data-testid="seal-learning"' not in page
    assert "当前健康度 41%（2026-11-23 10:00）" in page
    evidence = page[page.index('data-testid="seal-evidence"') :]
    evidence = evidence[: evidence.index("</table>")]
    assert re.search(r"<td>压缩机运行率</td><td>0.31</td><td>0.52</td>\s*<td>\+68 %</td>", evidence)
    assert "停机回温速率" in evidence
    assert re.search(r'<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"', page)  # two verdicts
    # the dashed line is where an alert is raised: health 85 % by default, 9 of the box's 60
    assert re.search(r'<line x1="0" y1="9.0" x2="300" y2="9.0"[^>]*seal-warning-line', page)
    assert "虚线为告警线（85%）" in page
    history = page[page.index('data-testid="seal-history"') :]
    assert history.index("41 %") < history.index("95 %")  # newest first
    english = (await viewer.get("/devices/sample-1?lang=en")).text
    assert "Health now 41% (2026-11-23 10:00)" in english and "compressor duty" in english
    assert "the dashed one the alert line (85%)" in english


async def test_seal_health_says_when_the_probe_cannot_see_the_compressor(
    site: Site, viewer: httpx.AsyncClient
) -> None:
    """A verdict resting on the probe's falling share alone (no cycle read, no meter): the
    page says the healthy score rests on little, and what would help; one resting on the
    probe's cycles says so quietly."""

    async def basis(
        hours_ago: float, evidence: dict[str, float | str], lang: str
    ) -> tuple[str, str]:
        point = SealHealthPoint(SITE, "sample-1", NOON - timedelta(hours=hours_ago), 1.0, evidence)
        site.harness.store.save_seal_health([point])
        page = (await viewer.get(f"/devices/sample-1?lang={lang}")).text
        found = re.search(r'<p class="(\w+)" data-testid="seal-basis">([^<]*)</p>', page)
        assert found is not None
        return found.group(1), found.group(2)

    sparse = {"health": 1.0, "probe_evidence": 0.1, "window_cycles": 0, "window_h": 36}
    kind, words = await basis(2, sparse, "zh")
    assert kind == "notice"
    assert "分辨不出压缩机的周期" in words and "探头读数下降的比例" in words
    kind, words = await basis(2, sparse, "en")
    assert "does not resolve the compressor&#39;s cycle" in words
    # a coarse display read often: its step times read the compressor's duty
    paced = {**sparse, "probe_paced": 1}
    kind, words = await basis(2, paced, "en")
    assert kind == "muted"
    assert words == "Judged on the compressor&#39;s duty read from the probe&#39;s step times."
    drawn = {"health": 1.0, "evidence": 0.1, "window_cycles": 9, "probe_evidence": 0.0}
    kind, words = await basis(1, drawn, "zh")
    assert kind == "muted" and words.startswith("依据：探头锯齿波中的压缩机周期")
    assert "energy_kwh" not in words
    # a plug meter that reads each run once or twice: its energy counter would help
    counted = {"health": 1.0, "duty_evidence": 0.1, "power_evidence": 0.2, "meter_counts_runs": 1}
    kind, words = await basis(1, counted, "en")
    assert kind == "muted" and "a count of a few runs" in words and "energy_kwh" in words
    kind, words = await basis(1, {**counted, "energy_counter": 1}, "en")
    assert words == "Judged on the metered on-share, the power per cycle."
    # waiting out an excursion's recovery: the page says until when, on the site's clock
    until = (NOON + timedelta(hours=5)).isoformat(timespec="minutes")  # 17:00 local
    kind, words = await basis(0.5, {**drawn, "recovering_until": until}, "en")
    assert kind == "muted" and words.startswith("The cabinet was out of its band")
    assert "waits until 11-23 17:00. Judged on" in words
