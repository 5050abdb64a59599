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


def test_a_device_may_choose_to_be_judged_on_air(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD + "    rules: {judge_on: air}\n"))
    assert config.rules_for(config.devices[0]).judge_on == "air"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD + "    rules: {judge_on: soup}\n"))
    assert (
        "devices[0].rules.judge_on: 'soup' is not allowed; input should be 'air' or 'product'"
        in str(caught.value)
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "limits:\n  fridge: {high_c: 80}\n",
            ":12: limits.fridge.high_c: 80 °C is not allowed for a fridge; expected 0..8 °C",
        ),
        (
            "limits:\n  freezer: {high_c: 10}\n",
            ":12: limits.freezer.high_c: 10 °C is not allowed for a freezer; expected -40..-12 °C",
        ),
        (
            "limits:\n  fridge: {low_c: 6, high_c: 5}\n",
            ":12: limits.fridge.low_c: 6 °C must be below high_c (5 °C)",
        ),
        (
            "limits:\n  sample_fridge: {sample_hold_h: 24}\n",
            ":12: limits.sample_fridge.sample_hold_h: 24 h is not allowed for a sample fridge; "
            "expected 48..168 h (samples are kept ≥ 48 h)",
        ),
        (
            "limits:\n  disinfection_cabinet: {hold_min: 5}\n",
            ":12: limits.disinfection_cabinet.hold_min: 5 min is not allowed",
        ),
        (
            "    limits: {low_c: 9}\n",
            ":11: devices[0].limits.low_c: 9 °C is not allowed for a fridge; expected -5..8 °C",
        ),
        (
            # The device lowers its high limit onto the kind's low one: the high one is blamed.
            "    limits: {high_c: 0}\n",
            ":11: devices[0].limits.high_c: 0 °C must be above low_c (0 °C)",
        ),
        (
            "    limits: {alert_after_min: 600}\n",
            ":11: devices[0].limits.alert_after_min: 600 min is not allowed for a fridge; "
            "expected 0..120 min",
        ),
        (
            "  - {id: ir-1, kind: disinfection_cabinet, method: infrared, building: canteen}\n"
            "limits:\n  disinfection_cabinet: {target_c: 100}\n",
            ":11: devices[1].limits.target_c: 100 °C is not allowed for an infrared disinfection "
            "cabinet; expected 120..150 °C (infrared disinfection is ≥ 120 °C); set by "
            "limits.disinfection_cabinet",
        ),
        (
            "  - {id: st-1, kind: disinfection_cabinet, method: steam, building: canteen,\n"
            "     limits: {target_c: 120}}\n",
            ":12: devices[1].limits.target_c: 120 °C is not allowed for a steam disinfection "
            "cabinet; expected 85..100 °C",
        ),
    ],
)
def test_control_limits_no_food_safety_rule_allows_are_refused(
    tmp_path: Path, extra: str, expected: str
) -> None:
    path = write(tmp_path, GOOD + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}{expected}" in str(caught.value), str(caught.value)


def test_limits_stricter_than_the_rule_or_set_for_altitude_are_allowed(tmp_path: Path) -> None:
    text = GOOD + (
        "    limits: {high_c: 5}\n"  # FDA Food Code cold holding
        "  - {id: freezer-1, kind: freezer, building: canteen, limits: {high_c: -18}}\n"
        "  - {id: sample-1, kind: sample_fridge, building: canteen}\n"
        "  - {id: st-1, kind: disinfection_cabinet, method: steam, building: canteen,\n"
        "     limits: {target_c: 88, hold_min: 15}}\n"  # boiling point in Lhasa, 3,650 m
        "limits:\n"
        "  sample_fridge: {sample_hold_h: 72, sample_min_g: 200}\n"
        "  disinfection_cabinet: {hold_min: 15}\n"
    )
    config = load_config(write(tmp_path, text))
    fridge, freezer, sample, steam = (config.limits_for(d) for d in config.devices)
    assert (fridge.low_c, fridge.high_c) == (0, 5)
    assert freezer.high_c == -18
    assert (sample.sample_hold_h, sample.sample_min_g, sample.high_c) == (72, 200, 8)
    assert (steam.target_c, steam.hold_min) == (88, 15)


def test_mapped_source_fields_are_checked_with_their_line(tmp_path: Path) -> None:
    tasmota = "    source:\n      format: tasmota\n      id: cold-room\n      fields:\n"
    good = tasmota + "        DS18B20-2.Temperature: ambient_temp_c\n"
    config = load_config(write(tmp_path, GOOD + good))
    assert config.devices[0].source.fields == {"DS18B20-2.Temperature": "ambient_temp_c"}
    broken = {
        "        DS18B20-2.Temperature: kitchen_c\n": (
            ":15: devices[0].source.fields.DS18B20-2.Temperature: 'kitchen_c' is not a metric; "
            "one of ambient_temp_c, "
        ),
        "        DS18B20-2..Temperature: ambient_temp_c\n": (
            ":15: devices[0].source.fields.DS18B20-2..Temperature: a field is 1-4 non-empty "
            "object keys"
        ),
        "        A.Temperature: temp_c\n        B.Temperature: temp_c\n": (
            ":16: devices[0].source.fields.B.Temperature: 'A.Temperature' is mapped to temp_c "
            "already"
        ),
    }
    for lines, expected in broken.items():
        path = write(tmp_path, GOOD + tasmota + lines)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert f"{path}{expected}" in str(caught.value), str(caught.value)
    canonical = "    source:\n      fields: {temperature: temp_c}\n"
    with pytest.raises(ConfigError, match=r":11: devices\[0\]\.source: fields: maps a foreign"):
        load_config(write(tmp_path, GOOD + canonical))
