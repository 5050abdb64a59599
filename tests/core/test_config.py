"""The site config: the demo school loads, limits layer as documented, and every broken file
names the file, the line, the field and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import ConfigError, DeviceKind, load_config
from tests.conftest import EXAMPLES

GOOD = """\
site:
  id: s1
  name: School One
buildings:
  - id: canteen
    name: Canteen
devices:
  - id: fridge-1
    kind: fridge
    building: canteen
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_school_has_the_devices_the_issue_names() -> None:
    config = load_config(EXAMPLES / "demo-school.yaml")
    kinds = [d.kind for d in config.devices]
    assert kinds.count(DeviceKind.FRIDGE) == 4
    assert kinds.count(DeviceKind.FREEZER) == 2
    assert kinds.count(DeviceKind.SAMPLE_FRIDGE) == 1
    assert kinds.count(DeviceKind.STEAM_CABINET) == 2
    assert kinds.count(DeviceKind.DISINFECTION_CABINET) == 2
    assert {b.id for b in config.buildings} == {"teaching", "canteen", "dormitory"}
    for building in config.buildings:
        meters = {d.kind for d in config.devices if d.building == building.id and d.kind.is_meter}
        assert meters == {
            DeviceKind.ELECTRICITY_METER,
            DeviceKind.WATER_METER,
            DeviceKind.GAS_METER,
        }
    assert config.site.timezone == "Asia/Shanghai"
    assert [m.name for m in config.meals] == ["breakfast", "lunch", "dinner"]


def test_limits_layer_kind_default_then_site_then_device(tmp_path: Path) -> None:
    config = load_config(EXAMPLES / "demo-school.yaml")
    fridge_4 = config.limits_for(config.device("fridge-4"))  # type: ignore[arg-type]
    assert fridge_4.high_c == 5  # the device's own override
    assert fridge_4.alert_after_min == 30 and fridge_4.low_c == 0  # kind defaults remain
    infrared = config.limits_for(config.device("disinfect-1"))  # type: ignore[arg-type]
    steam = config.limits_for(config.device("disinfect-2"))  # type: ignore[arg-type]
    assert (infrared.target_c, infrared.hold_min) == (120, 10)
    assert (steam.target_c, steam.hold_min) == (100, 10)


def test_defaults_fill_what_a_minimal_file_leaves_out(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.site.timezone == "Asia/Shanghai"
    assert config.mqtt.topic_prefix == "canteen/v1"
    assert config.storage.backend == "duckdb"
    assert config.devices[0].interval_s == 60


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "kind: fridge",
            "kind: fridg",
            ":9: devices[0].kind: 'fridg' is not allowed; input should be 'fridge'",
        ),
        (
            "name: School One",
            "name: School One\n  timezone: Mars/Base",
            ":4: site.timezone: unknown time zone 'Mars/Base'",
        ),
        (
            "building: canteen",
            "building: kitchen",
            ":10: devices[0].building: 'kitchen' is not a building of this site; expected one of ['canteen']",
        ),
        ("id: fridge-1", "id: fridge/1", ":8: devices[0].id: 'fridge/1' is not allowed"),
        (
            "building: canteen",
            "building: canteen\n    interval_s: -5",
            ":11: devices[0].interval_s: -5 is not allowed; input should be greater than 0",
        ),
        (
            "building: canteen",
            "building: canteen\n    colour: red",
            ":11: devices[0].colour: 'red' is not allowed; extra inputs are not permitted",
        ),
        ("  name: School One\n", "", ":1: site.name: Field required"),
        ("buildings:", "buildings: [", ":"),  # YAML syntax error: reported with its line
    ],
)
def test_broken_config_names_file_line_field_and_allowed(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    path = write(tmp_path, GOOD.replace(replace, by, 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}{expected}" in message, message


def test_duplicate_device_ids_are_refused(tmp_path: Path) -> None:
    text = GOOD + "  - id: fridge-1\n    kind: freezer\n    building: canteen\n"
    with pytest.raises(ConfigError, match=r"devices\[1\]: id 'fridge-1' is used twice"):
        load_config(write(tmp_path, text))


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- just\n- a list\n"))


def test_foreign_sources_need_an_id_and_are_unique(tmp_path: Path) -> None:
    z2m = "    source: {format: zigbee2mqtt, id: kitchen_fridge}\n"
    config = load_config(write(tmp_path, GOOD + z2m))
    assert config.devices[0].source.id == "kitchen_fridge"
    with pytest.raises(ConfigError, match=r"source\.id is required for format 'tasmota'"):
        load_config(write(tmp_path, GOOD + "    source: {format: tasmota}\n"))
    twice = GOOD + z2m + "  - id: fridge-2\n    kind: fridge\n    building: canteen\n" + z2m
    with pytest.raises(
        ConfigError,
        match=r"devices\[1\].source.id: 'kitchen_fridge' is already the zigbee2mqtt source of device 'fridge-1'",
    ):
        load_config(write(tmp_path, twice))


RULES = """\
rules:
  offline_intervals: 8
  kinds:
    freezer: {stuck_cold_min: 90, offline_intervals: 6}
"""


def test_rule_settings_layer_site_then_kind_then_device(tmp_path: Path) -> None:
    text = GOOD + "  - {id: freezer-1, kind: freezer, building: canteen}\n"
    text += "  - {id: freezer-2, kind: freezer, building: canteen, rules: {stuck_cold_min: 45}}\n"
    config = load_config(write(tmp_path, text + RULES))
    fridge, freezer_1, freezer_2 = (config.rules_for(d) for d in config.devices)
    assert (fridge.offline_intervals, fridge.stuck_cold_min) == (8, 60)  # site, default
    assert (freezer_1.offline_intervals, freezer_1.stuck_cold_min) == (6, 90)  # kind
    assert (freezer_2.offline_intervals, freezer_2.stuck_cold_min) == (6, 45)  # device
    assert fridge.seal_warning_health == 0.85  # untouched defaults remain


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            "rules:\n  offline_intervals: -1\n",
            ":12: rules.offline_intervals: -1 is not allowed; input should be greater than 0",
        ),
        (
            "rules:\n  kinds:\n    freezer: {stuck_min: 5}\n",
            ":13: rules.kinds.freezer.stuck_min: not a rule setting; expected one of "
            "offline_intervals,",
        ),
        (
            "rules:\n  kinds:\n    fridge: {seal_warning_health: 1.5}\n",
            ":13: rules.kinds.fridge.seal_warning_health: 1.5 is not allowed; input should be "
            "less than 1",
        ),
        (
            "rules:\n  seal_critical_health: 0.9\n",
            ":11: rules: seal_critical_health (0.9) must be below seal_warning_health (0.85)",
        ),
    ],
)
def test_broken_rule_settings_name_line_and_setting(
    tmp_path: Path, rules: str, expected: str
) -> None:
    path = write(tmp_path, GOOD + rules)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}{expected}" in str(caught.value), str(caught.value)


def test_a_device_rule_override_is_checked_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "    rules: {spikes_to_alert: 0}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    expected = ":11: devices[0].rules.spikes_to_alert: 0 is not allowed; input should be greater"
    assert f"{path}{expected}" in str(caught.value), str(caught.value)
