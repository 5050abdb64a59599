"""The dashboard opened at odd hours, as a person on duty would: a minute before and after
local midnight (Asia/Shanghai; the store is UTC, 16:00 there), on the first day of a month and
a year, and on a Sunday in the New Year holiday. What the pages call today, this week and this
month is the site's local day, and a disinfection cabinet's meals on a day the canteen does not
serve (the school calendar's `meal_days`: school days) are not waiting to be judged."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest

from tests.dashboard_api.pages_site import STAFF, ZONE, Site, page_site, signed_in

CALENDAR = {
    "terms": [{"name": "autumn", "start": "2026-09-01", "end": "2027-01-22"}],
    "holidays": [{"name": "元旦 New Year", "start": "2027-01-01", "end": "2027-01-03"}],
    "weekend": ["sat", "sun"],
    "meal_days": ["school_day"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("odd-hours") / "site.duckdb", calendar=CALENDAR)
    yield built
    built.close()


@asynccontextmanager
async def at_local(site: Site, text: str) -> AsyncIterator[httpx.AsyncClient]:
    """A staff member logged in at `text`, local time (a session does not outlive a jump)."""
    site.harness.clock.instant = datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(UTC)
    async with site.client() as client:
        yield await signed_in(client, STAFF)


def meals(html: str) -> list[tuple[str, str]]:
    """(meal, status) of the infrared cabinet's tile."""
    tile = html.split('id="tile-ir-1"')[1].split("</article>")[0]
    return re.findall(r'data-meal="(\w+)" data-status="(\w+)"', tile)


def heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found is not None
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", found.group(1)))).strip()


@pytest.mark.parametrize(
    ("local", "status"),
    [
        ("2026-12-31T23:59", "pending"),  # a Thursday in term: the day's meals are to come
        ("2027-01-01T00:01", "no_service"),  # New Year's Day, a Friday: a holiday
        ("2027-01-03T23:59", "no_service"),  # a Sunday in the holiday
        ("2027-01-04T00:01", "pending"),  # the Monday after: a school day again
        ("2026-11-28T23:59", "no_service"),  # a Saturday in term
        ("2026-11-30T00:01", "pending"),  # a Monday in term
    ],
)
async def test_todays_meals_follow_the_school_calendar_at_midnight(
    site: Site, local: str, status: str
) -> None:
    words = {"zh": {"pending": "待判定", "no_service": "今日不供餐"}, "en": {}}
    async with at_local(site, local) as staff:
        for lang, word in words.items():
            page = (await staff.get(f"/?lang={lang}")).text
            assert meals(page) == [(m, status) for m in ("breakfast", "lunch", "dinner")]
            if word:
                assert page.count(word[status]) >= 3


@pytest.mark.parametrize(
    ("local", "day", "week", "month"),
    [
        ("2026-11-30T23:59", "2026-11-30", "2026-W49", "2026-11"),
        ("2026-12-01T00:01", "2026-12-01", "2026-W49", "2026-12"),  # first day of a month
        ("2026-12-31T23:59", "2026-12-31", "2026-W53", "2026-12"),
        ("2027-01-01T00:01", "2027-01-01", "2026-W53", "2027-01"),  # and of a year
        ("2027-01-03T23:59", "2027-01-03", "2026-W53", "2027-01"),  # Sunday: the week's last
        ("2027-01-04T00:01", "2027-01-04", "2027-W01", "2027-01"),  # Monday: a new ISO week
    ],
)
async def test_the_energy_pages_today_week_and_month_are_the_local_ones(
    site: Site, local: str, day: str, week: str, month: str
) -> None:
    async with at_local(site, local) as staff:
        for period, label in (("day", day), ("week", week), ("month", month)):
            page = (await staff.get(f"/energy?period={period}")).text
            assert label in heading(page), (period, heading(page))
        assert month in heading((await staff.get("/energy")).text)  # the default: this month
