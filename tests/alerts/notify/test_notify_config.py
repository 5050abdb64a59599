"""The `notify:` section: every wrong reference names its file:line, the field and the known
names; roster gaps are warnings with their line; secrets never show in an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import alerts.notify.channels.config as channel_config
import core.notify_channels as core_channels
from core.config import load_config
from core.errors import ConfigError
from tests.alerts.notify.notify_site import SITE_YAML, site_config


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of `text` containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problem(tmp_path: Path, old: str, new: str) -> tuple[str, str]:
    assert old in SITE_YAML, old
    text = SITE_YAML.replace(old, new, 1)
    with pytest.raises(ConfigError) as caught:
        site_config(tmp_path, text)
    assert len(caught.value.problems) == 1, caught.value
    return caught.value.problems[0].render(tmp_path / "site.yaml"), text


def test_the_test_site_and_the_demo_load() -> None:
    config = load_config(Path("examples/demo-school.yaml"))
    assert config.notify.routes, "the demo has routes"
    assert config.notify.quiet_hours is not None


def test_unknown_channel_of_a_person(tmp_path: Path) -> None:
    message, text = problem(
        tmp_path, "li: {display_name: 李师傅, channels: [kitchen-robot]}", "li: {channels: [robot]}"
    )
    line = line_of(text, "li: {channels: [robot]}")
    assert message == (
        f"{tmp_path / 'site.yaml'}:{line}: notify.people.li.channels[0]: 'robot' is not a known "
        "channel; expected one of ['kitchen-robot', 'mail', 'office-robot', 'wall']"
    )


def test_unknown_role_of_a_level(tmp_path: Path) -> None:
    message, text = problem(
        tmp_path, "- {roles: [principal], after_min: 45}", "- {roles: [headmaster], after_min: 45}"
    )
    line = line_of(text, "headmaster")
    assert f"site.yaml:{line}: notify.routes[0].levels[2].roles[0]: 'headmaster'" in message
    assert "['canteen_manager', 'cook_on_duty', 'facilities', 'principal']" in message


def test_unknown_person_on_a_roster(tmp_path: Path) -> None:
    message, text = problem(tmp_path, 'end: "22:00", people: [li]', 'end: "22:00", people: [liu]')
    line = line_of(text, "people: [liu]")
    assert f"site.yaml:{line}: notify.roles.cook_on_duty.roster[1].people[0]: 'liu'" in message
    assert "expected one of ['chen', 'li', 'sun', 'wang', 'zhao']" in message


def test_unknown_building_in_a_match(tmp_path: Path) -> None:
    message, text = problem(
        tmp_path,
        "match: {kinds: [electricity_meter, water_meter, gas_meter]}",
        "match: {buildings: [gym]}",
    )
    line = line_of(text, "buildings: [gym]")
    assert f"site.yaml:{line}: notify.routes[1].match.buildings[0]: 'gym'" in message
    assert "['canteen', 'teaching']" in message


def test_levels_must_come_later_and_start_at_once(tmp_path: Path) -> None:
    message, text = problem(tmp_path, "after_min: 45", "after_min: 10")
    assert "notify.routes[0].levels[2].after_min: 10 must be later than" in message
    assert f"site.yaml:{line_of(text, 'after_min: 10')}:" in message
    message, _ = problem(
        tmp_path, "levels: [{roles: [facilities]}]", "levels: [{roles: [facilities], after_min: 5}]"
    )
    assert "levels[0].after_min: the first level is told at once; use 0" in message


def test_email_channel_needs_an_address(tmp_path: Path) -> None:
    message, _ = problem(tmp_path, "sun: {display_name: 孙校长, email: sun@school.cn,", "sun: {")
    assert "notify.people.sun.email: needed, channel 'mail' is e-mail (smtp)" in message


def test_links_need_a_long_secret_never_echoed(tmp_path: Path) -> None:
    message, _ = problem(tmp_path, '"0123456789abcdef0123456789abcdef"', '"short-secret"')
    assert "notify.link_secret: at least 16 bytes" in message and "short-secret" not in message
    message, _ = problem(tmp_path, '  link_secret: "0123456789abcdef0123456789abcdef"\n', "")
    assert "notify.link_secret: needed when notify.public_url is set" in message


def test_channel_type_and_secret_fields(tmp_path: Path) -> None:
    message, _ = problem(tmp_path, "wall: {type: mqtt}", "wall: {type: sms}")
    assert "notify.channels.wall" in message
    for allowed in ("'webhook'", "'wecom'", "'dingtalk'", "'feishu'", "'smtp'", "'mqtt'"):
        assert allowed in message
    message, _ = problem(tmp_path, "key: k1,", "key: [robot-key-9876],")
    line = line_of(SITE_YAML, "kitchen-robot: {type: wecom")
    assert f"site.yaml:{line}: notify.channels.kitchen-robot.key: Input should be a valid" in (
        message
    )
    assert "9876" not in message
    message, _ = problem(tmp_path, "wall: {type: mqtt}", "wall: {type: mqtt, qos: 3}")
    assert f"site.yaml:{line_of(SITE_YAML, 'wall: {type')}: notify.channels.wall.qos: 3 is not" in (
        message
    )


def test_a_role_needs_someone(tmp_path: Path) -> None:
    message, _ = problem(tmp_path, "principal: {default: [sun]}", "principal: {}")
    assert "notify.roles.principal: a role needs default people, a roster, or both" in message


def test_roster_gap_is_a_warning_with_its_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.config")
    site_config(tmp_path)
    line = line_of(SITE_YAML, "    roster:")
    assert (
        f"site.yaml:{line}: notify.roles.cook_on_duty.roster: no shift covers "
        "fri 22:00-sun 22:00; its default people (zhao) are reached then"
    ) in caplog.text
    caplog.clear()
    no_default = SITE_YAML.replace("      default: [zhao]\n", "", 1)
    site_config(tmp_path, no_default.replace("- name: rest\n", "- name: rest\n      match: {}\n"))
    assert "nobody holds it then" in caplog.text


def test_no_catch_all_route_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.config")
    site_config(
        tmp_path,
        SITE_YAML.replace(
            "- name: rest\n", "- name: rest\n      match: {severities: [critical]}\n"
        ),
    )
    assert "notify.routes: no route matches every alert" in caplog.text


def test_one_definition_of_the_channel_models() -> None:
    for name in channel_config.__all__:
        assert getattr(channel_config, name) is getattr(core_channels, name)


def test_retry_settings_are_read_and_a_cap_below_the_base_names_its_line(tmp_path: Path) -> None:
    retry = '  quiet_hours: {start: "22:00", end: "07:00"}\n  retry: {attempts: 3, base_s: 2, cap_s: 60}'
    text = SITE_YAML.replace('  quiet_hours: {start: "22:00", end: "07:00"}', retry, 1)
    config = site_config(tmp_path, text)
    assert (config.notify.retry.attempts, config.notify.retry.base_s) == (3, 2.0)
    assert config.notify.retry.cap_s == 60.0
    assert config.notify.outbox_retention_days == 30.0  # the default
    message, text = problem(
        tmp_path,
        '  quiet_hours: {start: "22:00", end: "07:00"}',
        '  quiet_hours: {start: "22:00", end: "07:00"}\n  retry: {base_s: 30, cap_s: 10}',
    )
    line = line_of(text, "retry: {base_s: 30")
    assert message.startswith(f"{tmp_path / 'site.yaml'}:{line}: notify.retry")
    assert "cap_s (10 s) must be at least base_s (30 s)" in message
    message, text = problem(
        tmp_path,
        '  quiet_hours: {start: "22:00", end: "07:00"}',
        '  quiet_hours: {start: "22:00", end: "07:00"}\n  retry: {attempts: 0}',
    )
    line = line_of(text, "retry: {attempts: 0}")
    assert f"site.yaml:{line}: notify.retry.attempts" in message
    assert "greater than or equal to 1" in message
