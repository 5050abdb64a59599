"""Server-side SVG charts: the drawing's rules on chosen buckets (gaps, spikes, ticks, escaping),
and the chart route over the wired API (a real DuckDB store and the real alert rules)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from dashboard_api.web.charts import (
    Bucket,
    ChartSpec,
    Marker,
    Series,
    Threshold,
    render_chart,
    segments,
    time_ticks,
)
from dashboard_api.web.i18n import CATALOGUE
from tests.dashboard_api.conftest import MIDNIGHT, NOON

SVG = "{http://www.w3.org/2000/svg}"
ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 local


def minute_buckets(minutes: list[int], value: float = 4.0) -> list[Bucket]:
    return [Bucket(T0 + timedelta(minutes=m), value, value) for m in minutes]


def spec(series: list[Series], **extra: object) -> ChartSpec:
    fields: dict[str, object] = {
        "title": "Fridge <1> & co",
        "unit": "°C",
        "start": T0,
        "end": T0 + timedelta(hours=2),
        "zone": ZONE,
        "width": 800,
        "height": 300,
        "series": series,
        **extra,
    }
    return ChartSpec(**fields)  # type: ignore[arg-type]


def paths(svg: str) -> list[ET.Element]:
    return [p for p in ET.fromstring(svg).iter(f"{SVG}path") if p.get("class") == "series"]


def test_gaps_are_drawn_as_separate_paths() -> None:
    # Readings every minute, then nothing for 30 min, then again: two runs, two paths.
    buckets = minute_buckets([*range(0, 20), *range(50, 60)])
    assert [len(run) for run in segments(buckets, gap_s=180)] == [20, 10]
    svg = render_chart(spec([Series("Air", buckets, gap_s=180)]))
    drawn = paths(svg)
    assert len(drawn) == 2
    assert all(p.get("d", "").count("M") == 1 for p in drawn)


def test_min_and_max_of_a_bucket_are_both_drawn() -> None:
    # One bucket held a 2-minute spike to 12 °C among readings at 4 °C: its maximum is drawn.
    buckets = [*minute_buckets(list(range(10))), Bucket(T0 + timedelta(minutes=10), 4.0, 12.0)]
    buckets += minute_buckets(list(range(11, 20)))
    svg = render_chart(spec([Series("Air", buckets, gap_s=180)]))
    root = ET.fromstring(svg)
    labels = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "12" in labels  # the value axis reaches the spike
    d = paths(svg)[0].get("d", "")
    ys = [float(point.split(",")[1]) for point in d.replace("M", "L").split("L")[1:]]
    assert len(set(ys)) == 2 and ys.count(min(ys)) == 1  # the spike's top, drawn once


def test_accessible_escaped_thresholds_markers_and_second_series() -> None:
    air = minute_buckets(list(range(0, 120)), 4.0)
    food = minute_buckets(list(range(0, 120)), 4.5)
    svg = render_chart(
        spec(
            [Series("Air", air, 180), Series("Food <est>", food, 180, secondary=True)],
            thresholds=[Threshold(8.0, "High")],
            markers=[Marker(T0 + timedelta(minutes=30), "door", "door_open 08:30")],
            lang="en",
        )
    )
    root = ET.fromstring(svg)  # parses: the title's < and & were escaped
    assert root.get("role") == "img"
    assert (
        root.find(f"{SVG}title") is not None and root.findtext(f"{SVG}title") == "Fridge <1> & co"
    )
    assert "Asia/Shanghai" in (root.findtext(f"{SVG}desc") or "")
    drawn = paths(svg)
    assert [p.get("stroke-dasharray") for p in drawn] == [None, "5 3"]
    lines = list(root.iter(f"{SVG}line"))
    assert any(line.get("class") == "threshold" for line in lines)
    marker = next(line for line in lines if (line.get("class") or "").startswith("marker"))
    assert marker.findtext(f"{SVG}title") == "door_open 08:30"


def test_a_stepped_limit_joins_its_levels_and_leaves_a_time_without_one_open() -> None:
    """8 °C for the first half hour, no high limit for the next, 5 °C from 09:00 local on:
    two runs, each one level; the value axis holds both values."""
    steps = ((T0, 8.0), (T0 + timedelta(minutes=30), None), (T0 + timedelta(hours=1), 5.0))
    high = Threshold(5.0, "High", steps)
    svg = render_chart(spec([Series("Air", minute_buckets([0, 1, 2]), 180)], thresholds=[high]))
    [path] = [p for p in ET.fromstring(svg).iter(f"{SVG}path") if "stepped" in p.get("class", "")]
    runs = [
        [tuple(float(v) for v in point.split(",")) for point in run.replace("L", "").split()]
        for run in path.get("d", "").split("M")[1:]
    ]
    # Plot area 64..784 px over 2 h: 08:30 local at 244 px, 09:00 at 424 px.
    assert [[x for x, _ in run] for run in runs] == [[64.0, 244.0], [424.0, 784.0]]
    (y8, y8_end), (y5, y5_end) = ([y for _, y in run] for run in runs)
    assert y8 == y8_end and y5 == y5_end and 40 <= y8 < y5 <= 256  # 8 above 5, both inside


def test_an_empty_period_says_so() -> None:
    svg = render_chart(spec([Series("Air", [], 180)], lang="zh"))
    assert "所选时段没有数据" in svg and paths(svg) == []


def test_time_ticks_suit_the_span_in_local_time() -> None:
    hour = time_ticks(T0, T0 + timedelta(hours=1), ZONE, 8)
    assert [label for _, label in hour] == [
        "08:00",
        "08:10",
        "08:20",
        "08:30",
        "08:40",
        "08:50",
        "09:00",
    ]
    week = time_ticks(T0, T0 + timedelta(days=7), ZONE, 8)
    assert [label for _, label in week][:2] == ["11-25", "11-26"]
    assert all(at.astimezone(ZONE).hour == 0 for at, _ in week)  # local midnights
    year = time_ticks(T0, T0 + timedelta(days=365), ZONE, 8)
    # Every 2 months on the calendar (Jan, Mar...): November is before the start.
    assert [label for _, label in year][:3] == ["2027-01", "2027-03", "2027-05"]


# -- the route --------------------------------------------------------------------------------


async def test_chart_route_draws_the_morning_with_its_alert(client: httpx.AsyncClient) -> None:
    answer = await client.get(
        "/api/devices/fridge-1/chart.svg",
        params={
            "metric": "temp_c",
            "start": (MIDNIGHT - timedelta(days=6)).isoformat(),
            "end": NOON.isoformat(),
            "width": 600,
            "lang": "en",
        },
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(answer.text)
    drawn = [p for p in root.iter(f"{SVG}path") if p.get("class") == "series"]
    # The air and, for a fridge, the estimated food temperature beside it.
    assert [p.get("data-series") for p in drawn] == ["Air", "Estimated food"]
    labels = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any(label.startswith("High 8") for label in labels)
    # 40 min at 9 °C fit in one bucket of a week-long chart and still reach above the 8 °C line.
    high_y = float(
        next(line for line in root.iter(f"{SVG}line") if line.get("class") == "threshold").get(
            "y1", "0"
        )
    )
    air_d = drawn[0].get("d", "")
    air_ys = [float(point.split(",")[1]) for point in air_d.replace("M", "L").split("L")[1:]]
    assert min(air_ys) < high_y  # SVG y grows downwards
    ticks = [m for m in root.iter(f"{SVG}line") if (m.get("class") or "") == "marker alert"]
    assert ticks, "the over-temperature alert is marked"
    # The title names the metric in the chart's language, not by its wire name.
    title = root.findtext(f"{SVG}title") or ""
    assert title.endswith(" · Temperature") and "temp_c" not in title


async def test_chart_title_and_series_name_the_metric_in_the_page_language(
    client: httpx.AsyncClient,
) -> None:
    window = {"start": (NOON - timedelta(hours=6)).isoformat(), "end": NOON.isoformat()}
    url = "/api/devices/fridge-1/chart.svg"
    for metric, lang, named in [("temp_c", "zh", "温度"), ("temp_c", "en", "Temperature")]:
        answer = await client.get(url, params={"metric": metric, "lang": lang, **window})
        assert answer.status_code == 200, answer.text
        root = ET.fromstring(answer.text)
        title = root.findtext(f"{SVG}title") or ""
        assert title.endswith(f" · {named}") and metric not in answer.text, (metric, title)
    # fridge-1 reports only temp_c here (another metric's chart is a 422); the names the
    # chart takes for the others come from the same catalogue.
    for metric, lang, named in [
        ("humidity_pct", "zh", "湿度"),
        ("humidity_pct", "en", "Humidity"),
        ("power_w", "en", "Power"),
    ]:
        assert CATALOGUE[lang][f"metric.{metric}"] == named
    # Without a language the chart is in Chinese, the site's default.
    plain = await client.get(url, params={"metric": "temp_c", **window})
    assert (ET.fromstring(plain.text).findtext(f"{SVG}title") or "").endswith(" · 温度")


async def test_chart_route_refuses_bad_parameters(client: httpx.AsyncClient) -> None:
    url = "/api/devices/fridge-1/chart.svg"
    cases = [
        ({"metric": "nope"}, "unknown metric"),
        ({"metric": "temp_c", "width": "10"}, "width"),
        ({"metric": "temp_c", "lang": "fr"}, "lang"),
        ({"metric": "temp_c", "start": "yesterday"}, "'start'"),
        (
            {"metric": "temp_c", "start": "2026-11-23T10:00", "end": "2026-11-23T10:30"},
            "1 hour to 366 days",
        ),
        ({"metric": "temp_c", "start": "2024-01-01T00:00", "end": "2026-01-01T00:00"}, "366"),
    ]
    for params, words in cases:
        answer = await client.get(url, params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert words in answer.json()["message"], (params, answer.json())
    missing = await client.get("/api/devices/fridge-9/chart.svg", params={"metric": "temp_c"})
    assert missing.status_code == 404
