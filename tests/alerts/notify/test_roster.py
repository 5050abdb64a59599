"""Duty rosters: by weekday and local time, overnight shifts belong to the day they start, a
gap falls back to the role's default people."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.notify.roster import OnDuty, on_duty
from core.config import SiteConfig
from core.notify_config import Role
from tests.alerts.notify.notify_site import local, site_config


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return site_config(tmp_path_factory.mktemp("roster"))


def cook(site: SiteConfig, day: int, hour: int, minute: int = 0) -> OnDuty:
    role = site.notify.roles["cook_on_duty"]
    return on_duty(role, local(day, hour, minute), "Asia/Shanghai")


def test_weekday_shifts_by_local_time(site: SiteConfig) -> None:
    # Monday 2026-11-23: wang 06:00-14:00, li 14:00-22:00 (local, UTC+8)
    assert cook(site, 23, 6) == OnDuty(("wang",), fallback=False)
    assert cook(site, 23, 13, 59) == OnDuty(("wang",), fallback=False)
    assert cook(site, 23, 14) == OnDuty(("li",), fallback=False)
    assert cook(site, 23, 21, 59) == OnDuty(("li",), fallback=False)


def test_overnight_shift_belongs_to_the_day_it_starts(site: SiteConfig) -> None:
    # sun-thu 22:00-06:00: Monday 22:00 to Tuesday 05:59 is wang's
    assert cook(site, 23, 22) == OnDuty(("wang",), fallback=False)
    assert cook(site, 24, 3) == OnDuty(("wang",), fallback=False)
    # Sunday 22:00 starts one: Monday 02:00 (the 23rd) is covered from Sunday's start
    assert cook(site, 23, 2) == OnDuty(("wang",), fallback=False)
    # Thursday's night shift ends Friday 06:00; Friday 22:00 is no one's (no fri night shift)
    assert cook(site, 27, 5, 59) == OnDuty(("wang",), fallback=False)


def test_gap_falls_back_to_the_default_people(site: SiteConfig) -> None:
    # Friday 22:00 to Sunday 22:00 no shift: the manager (default) holds the role
    assert cook(site, 27, 22) == OnDuty(("zhao",), fallback=True)
    assert cook(site, 28, 12) == OnDuty(("zhao",), fallback=True)
    assert cook(site, 29, 21, 59) == OnDuty(("zhao",), fallback=True)
    assert cook(site, 29, 22) == OnDuty(("wang",), fallback=False)


def test_overlapping_shifts_name_everyone_once() -> None:
    role = Role.model_validate(
        {
            "roster": [
                {"start": "08:00", "end": "12:00", "people": ["a", "b"]},
                {"days": ["mon"], "start": "11:00", "end": "11:00", "people": ["b", "c"]},
            ]
        }
    )
    # start == end is a whole day from 11:00 Monday, so Tuesday 10:00 is still c's
    assert on_duty(role, local(23, 11, 30), "Asia/Shanghai").people == ("a", "b", "c")
    assert on_duty(role, local(24, 10), "Asia/Shanghai").people == ("a", "b", "c")
    assert on_duty(role, local(24, 12), "Asia/Shanghai") == OnDuty((), fallback=True)
    assert role.gaps() != []


def test_the_site_zone_decides_the_wall_clock() -> None:
    role = Role.model_validate({"roster": [{"start": "06:00", "end": "14:00", "people": ["a"]}]})
    instant = local(23, 7)  # 07:00 in Shanghai is 23:00 (Sunday) in London
    assert on_duty(role, instant, "Asia/Shanghai").people == ("a",)
    assert on_duty(role, instant, "Europe/London").fallback


def test_roster_gaps_of_the_site(tmp_path: Path) -> None:
    site = site_config(tmp_path)
    # Friday 22:00 (minute 4*1440+1320) to Sunday 22:00 (6*1440+1320)
    assert site.notify.roles["cook_on_duty"].gaps() == [(7080, 9960)]
    assert site.notify.roles["principal"].gaps() == []  # no roster: the default holds it
