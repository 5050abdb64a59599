"""The device chart draws the limits in force at each time, not today's over the past: a high
limit an admin lowered from the config's 8 °C to 5 °C on Tuesday 08:00 is a stepped line on a
chart across the change, Monday's chart alone shows 8 °C, and the low limit nobody changed
stays one level. Real admin store (DuckDB file), real login, the chart route as a browser asks
it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.alerts.conftest import MIDNIGHT, series
from tests.dashboard_api.test_pages_admin import ADMIN, Site, admin_site, set_limit

TUESDAY = MIDNIGHT + timedelta(days=1)
WIDTH = 800  # plot area 64..784 px (the chart's left and right margins)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = admin_site(tmp_path / "site.duckdb")
    yield built
    built.close()


def chart_url(start: datetime, end: datetime) -> str:
    ms = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    return (
        f"/api/devices/fridge-1/chart.svg?metric=temp_c&start={ms[0]}&end={ms[1]}"
        f"&width={WIDTH}&height=300&lang=zh"
    )


def points(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", path)]


async def test_a_limit_changed_inside_the_chart_is_a_stepped_line(site: Site) -> None:
    harness = site.harness
    harness.clock.instant = TUESDAY + timedelta(hours=8)
    async with site.browser(ADMIN) as admin:
        changed = await set_limit(admin, "fridge-1", "high_c", "5", "夏季菜单，更严")
        assert changed.status_code == 303, changed.text
        harness.feed(series("fridge-1", TUESDAY + timedelta(hours=9), 60, [4.0] * 60))
        harness.clock.instant = TUESDAY + timedelta(hours=12)
        across = await admin.get(chart_url(MIDNIGHT, TUESDAY + timedelta(hours=12)))
        monday = await admin.get(chart_url(MIDNIGHT, TUESDAY))
    assert across.status_code == 200, across.text
    svg = across.text
    [stepped] = re.findall(r'<path class="threshold stepped" d="([^"]+)"', svg)
    drawn = points(stepped)
    # 8 °C from Monday 00:00 to Tuesday 08:00 (32 of the chart's 36 h: x = 64 + 720 * 32/36 =
    # 704), then 5 °C to the end; a higher value is higher up (a smaller y).
    assert [x for x, _ in drawn] == [64.0, 704.0, 704.0, 784.0]
    high_8, high_5 = drawn[0][1], drawn[2][1]
    assert drawn[1][1] == high_8 and drawn[3][1] == high_5 and high_8 < high_5
    assert "上限 5</text>" in svg  # labelled with the limit in force at the end
    assert len(re.findall(r'<line class="threshold"', svg)) == 1  # the low limit: one level
    assert "下限 0</text>" in svg
    # Monday alone: the 8 °C it was judged by, one level, not today's 5 °C.
    assert monday.status_code == 200
    assert "threshold stepped" not in monday.text and "上限 8</text>" in monday.text
    assert "上限 5</text>" not in monday.text
