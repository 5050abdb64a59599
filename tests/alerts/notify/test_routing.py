"""Routing: the first route whose match fits (rule, building, device kind, severity) takes the
alert; a level resolves to people through the roster and to one target per group channel or
per person's mailbox; what messages say comes from the site config; which alerts quiet hours
may hold."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from alerts.notify.routing import (
    Target,
    facts_for,
    held_by_quiet_hours,
    route_for,
    subject_of,
    targets,
)
from core.config import SiteConfig
from core.records import RuleId, Severity
from tests.alerts.notify.notify_site import SITE_YAML, alert, local, site_config

EXTRA_ROUTE = """\
  routes:
    - name: teaching-critical
      match: {buildings: [teaching], severities: [critical]}
      levels: [{people: [sun]}]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    text = SITE_YAML.replace("  routes:\n", EXTRA_ROUTE, 1)
    return site_config(tmp_path_factory.mktemp("routing"), text)


def route_name(site: SiteConfig, **fields: object) -> str | None:
    item = alert(1, **fields)  # type: ignore[arg-type]
    route = route_for(site.notify, item, subject_of(item, site))
    return None if route is None else route.name


def test_first_matching_route_wins(site: SiteConfig) -> None:
    assert route_name(site) == "food"  # over-temperature of a fridge
    assert route_name(site, rule=RuleId.DISINFECTION, device="cab-01") == "food"
    # a meter: by device kind
    assert route_name(site, device="meter-1", rule=RuleId.OFFLINE, severity=Severity.WARNING) == (
        "meters"
    )
    # the teaching building's critical alerts go to the principal first, by building+severity
    assert route_name(site, device="meter-1", rule=RuleId.OFFLINE) == "teaching-critical"
    # anything else falls to the catch-all
    assert route_name(site, device="cab-02", rule=RuleId.SEAL_DEGRADATION) == "rest"
    assert route_name(site, device="test-school", rule=RuleId.SITE_OFFLINE) == "rest"


def test_no_route_takes_it(tmp_path: Path) -> None:
    text = SITE_YAML.replace(
        "    - name: rest\n", "    - name: rest\n      match: {kinds: [fridge]}\n"
    )
    site = site_config(tmp_path, text)
    item = alert(1, device="cab-01", rule=RuleId.SEAL_DEGRADATION)
    assert route_for(site.notify, item, subject_of(item, site)) is None


def test_level_targets_follow_the_roster(site: SiteConfig) -> None:
    food = next(r for r in site.notify.routes if r.name == "food")
    zone = "Asia/Shanghai"
    morning = targets(site.notify, food, food.levels[0], local(23, 9), zone)
    assert morning == [
        Target("wall", (), (), "zh", personal=False),
        Target("kitchen-robot", ("wang",), (), "zh", personal=False),
    ]
    saturday = targets(site.notify, food, food.levels[0], local(28, 9), zone)
    assert saturday == [
        Target("mail", ("zhao",), ("zhao@school.cn",), "zh", personal=True),
        Target("wall", (), (), "zh", personal=False),
        Target("office-robot", ("zhao",), (), "zh", personal=False),
    ]


def test_language_of_person_then_route_then_site(site: SiteConfig) -> None:
    meters = next(r for r in site.notify.routes if r.name == "meters")
    [chen] = targets(site.notify, meters, meters.levels[0], local(23, 9), "Asia/Shanghai")
    assert chen == Target("mail", ("chen",), ("chen@school.cn",), "en", personal=True)
    food = next(r for r in site.notify.routes if r.name == "food")
    manager = targets(site.notify, food, food.levels[1], local(23, 9), "Asia/Shanghai")
    assert {t.lang for t in manager} == {"zh"}


def test_facts_name_the_device_and_place(site: SiteConfig) -> None:
    facts = facts_for(alert(7), site)
    assert (facts.device_name, facts.location, facts.site_name) == (
        "1号冷藏柜",
        "食堂 后厨",
        "实验小学",
    )
    assert (facts.value, facts.limit, facts.unit) == (9.4, 8.0, "°C")
    assert facts.food_safety and facts.zone == "Asia/Shanghai" and facts.since == local(23, 9)
    site_facts = facts_for(alert(8, device="test-school", rule=RuleId.SITE_OFFLINE), site)
    assert (site_facts.device_name, site_facts.location, site_facts.unit) == ("实验小学", "", None)


def test_quiet_hours_never_hold_food(site: SiteConfig) -> None:
    def held(**fields: object) -> bool:
        item = alert(1, **fields)  # type: ignore[arg-type]
        return held_by_quiet_hours(item, subject_of(item, site), site)

    assert not held()  # over-temperature: food safety
    assert not held(rule=RuleId.SAMPLE_RETENTION)
    assert not held(device="probe-01", rule=RuleId.OFFLINE)  # a silent freezer
    assert not held(device="probe-01", rule=RuleId.SENSOR_FAULT)
    assert not held(device="test-school", rule=RuleId.SITE_OFFLINE)  # the site has freezers
    assert held(device="meter-1", rule=RuleId.OFFLINE)
    assert held(device="cab-01", rule=RuleId.SEAL_DEGRADATION)
    assert held(device="fridge-1", rule=RuleId.SEAL_DEGRADATION)


def test_energy_facts_carry_the_observed_rate_against_its_baseline(site: SiteConfig) -> None:
    # As canteen.energy_alerts writes an anomaly's evidence (energy.anomaly_model).
    night = alert(
        9,
        device="meter-1",
        rule=RuleId.ENERGY_NIGHT_BASE_LOAD,
        severity=Severity.WARNING,
        evidence={"observed": 3.2, "baseline": 1.1, "unit": "kW", "reference_days": 14},
    )
    facts = facts_for(night, site)
    assert (facts.value, facts.limit, facts.unit) == (3.2, 1.1, "kW")
    leak = replace(
        night,
        rule=RuleId.ENERGY_NIGHT_WATER_FLOW,
        evidence={"observed": 0.45, "baseline": 0.05, "unit": "m³/h"},
    )
    assert (facts_for(leak, site).value, facts_for(leak, site).unit) == (0.45, "m³/h")
    # No baseline yet (too few like days): the value alone, still with its unit.
    young = replace(night, evidence={"observed": 2.0, "baseline": None, "unit": "kW"})
    assert (facts_for(young, site).limit, facts_for(young, site).unit) == (None, "kW")
    # An energy alert is never read as a temperature, even with stray keys; and evidence
    # without numbers says no value and no unit.
    odd = replace(night, evidence={"temp_c": 9.4, "unit": "kW"})
    assert (facts_for(odd, site).value, facts_for(odd, site).unit) == (None, None)


def test_a_route_matches_on_the_site(tmp_path: Path) -> None:
    district = (
        "    - name: district\n      match: {{sites: [{site}], severities: [critical]}}\n"
        "      levels: [{{roles: [principal]}}]\n    - name: food\n"
    )
    for site_id, expected in (("test-school", "district"), ("other-school", "food")):
        text = SITE_YAML.replace("    - name: food\n", district.format(site=site_id), 1)
        assert route_name(site_config(tmp_path, text)) == expected
