"""Scenario files: the examples load, times resolve in the site's zone, and a broken file says
where it is broken (file, line, field), as a broken site config does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from firmware_sim.faults import FaultType
from firmware_sim.scenario import load_scenario
from tests.firmware_sim.conftest import DEMO

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


@pytest.mark.parametrize(
    ("name", "days", "devices", "faults"),
    [
        ("healthy-week", 7, 20, 0),
        ("seal-degradation", 14, 20, 3),
        ("disinfection-month", 30, 2, 7),
        ("meters-term", 140, 9, 6),
    ],
)
def test_the_examples_load(name: str, days: int, devices: int, faults: int) -> None:
    scenario = load_scenario(EXAMPLES / f"{name}.yaml")
    assert scenario.name == name
    assert scenario.end_s - scenario.start_s == days * 86_400
    assert len(scenario.devices) >= devices and len(scenario.faults) == faults


def test_times_are_local_rfc3339_or_offsets(tmp_path: Path) -> None:
    path = write(tmp_path, """
        start: 2024-11-25
        duration: 2d
        faults:
          - {device: fridge-1, type: seal_leak, onset: 2024-11-25T09:30, end: +1d12h, ramp: 6h}
          - {device: fridge-2, type: door_left_open, onset: "2024-11-25T02:00:00Z", lasting: 45m}
          - {device: disinfect-1, type: disinfection_missed, onset: 2024-11-26, meal: lunch}
    """)  # fmt: skip
    scenario = load_scenario(path)
    assert scenario.start == datetime(2024, 11, 24, 16, tzinfo=UTC)  # local midnight, UTC+8
    leak, door, missed = scenario.faults
    assert leak.onset_s == datetime(2024, 11, 25, 1, 30, tzinfo=UTC).timestamp()
    assert leak.end_s == scenario.start_s + 36 * 3600 and leak.ramp_s == 6 * 3600
    assert door.end_s == door.onset_s + 45 * 60
    assert missed.type is FaultType.DISINFECTION_MISSED and missed.meal == "lunch"


def test_holidays_expand_to_dates(tmp_path: Path) -> None:
    path = write(tmp_path, """
        start: 2024-09-30
        duration: 10d
        holidays: [{name: National Day, start: 2024-10-01, end: 2024-10-07}]
    """)  # fmt: skip
    assert len(load_scenario(path).holidays) == 7


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("duration: 7x", ":3: duration: '7x' is not a duration"),
        ("faults:\n  - {device: fridge-9, type: seal_leak, onset: +1d}",
         ":5: faults[0].device: 'fridge-9' is not a device of site 'sunshine-primary'"),
        ("faults:\n  - {device: fridge-1, type: seal_leek, onset: +1d}",
         ":5: faults[0].type: 'seal_leek' is not a fault type"),
        ("faults:\n  - {device: water-canteen, type: compressor_failure, onset: +1d}",
         ":5: faults[0].type: compressor_failure does not apply to a water_meter"),
        ("faults:\n  - {device: fridge-1, type: door_left_open, onset: 2025-01-01}",
         ":5: faults[0].onset: 2025-01-01T00:00+08:00 is outside the scenario"),
        ("faults:\n  - {device: fridge-1, type: door_left_open, onset: +1d, end: +1h}",
         ":5: faults[0].end: 2024-11-25T01:00+08:00 is not after the onset"),
        ("faults:\n  - {device: disinfect-1, type: disinfection_missed, onset: +1d, meal: brunch}",
         ":5: faults[0].meal: 'brunch' is not a meal of the site"),
        ("faults:\n  - {device: fridge-1, type: sensor_drift, onset: +1d, metric: door_open}",
         ":5: faults[0].metric: door_open is a flag"),
        ("faults:\n  - {device: fridge-1, type: sensor_stuck, onset: +1d, metric: flow_m3_h}",
         ":5: faults[0].metric: fridge-1 does not report 'flow_m3_h'"),
        ("faults:\n  - device: fridge-1\n    type: door_left_open\n    onset: +1d\n    meal: lunch",
         ":8: faults[0].meal: 'meal' is not a parameter of door_left_open"),
        ("faults:\n  - {device: fridge-1, type: seal_leak, onset: +1d, severity: 2}",
         ":5: faults[0].severity: 2 is not allowed"),
        ("faults:\n  - {device: elec-teaching, type: counter_rollover, onset: +1d}",
         ":5: faults[0].modulus: Field required"),
        ("faults:\n  - {device: elec-teaching, type: counter_rollover, onset: +1d, modulus: 1e5}\n"
         "  - {device: elec-teaching, type: meter_reset, onset: +2d}",
         ":5: faults[0].type: elec-teaching: a counter_rollover cannot be combined"),
        ("devices: [fridge-1]\nfaults:\n  - {device: fridge-2, type: seal_leak, onset: +1d}",
         ":6: faults[0].device: 'fridge-2' is not simulated in this scenario"),
    ],
)  # fmt: skip
def test_a_broken_scenario_names_file_line_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    text = f"site: {DEMO}\nstart: 2024-11-25\nduration: 7d\n{body}\n"
    if body.startswith("duration"):
        text = f"site: {DEMO}\nstart: 2024-11-25\n{body}\n"
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert f"{path}{expected}" in str(caught.value)


def test_a_missing_site_is_named(tmp_path: Path) -> None:
    path = tmp_path / "lost.yaml"
    path.write_text("site: nowhere.yaml\nstart: 2024-11-25\nduration: 1d\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lost.yaml:1: site: no site config at .*nowhere.yaml"):
        load_scenario(path)


def write(tmp_path: Path, body: str) -> Path:
    lines = [line[8:] for line in body.splitlines()[1:]]
    path = tmp_path / "scenario.yaml"
    path.write_text(f"site: {DEMO}\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path
