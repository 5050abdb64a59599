"""Energy sections of the site config: the demo school's calendar, tariffs and sub-meters load,
and every mistake names the file, the line, the field and what is allowed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core import ConfigError, load_config
from core.config import load_tariff
from core.energy_model import DayType, TariffPeriod
from core.model import MeterCategory
from tests.conftest import EXAMPLES

BASE = """\
site: {id: s1, name: School One}
buildings:
  - {id: teaching, name: Teaching}
  - {id: canteen, name: Canteen}
devices:
  - {id: elec-t, kind: electricity_meter, building: teaching}
  - {id: fridge-1, kind: fridge, building: canteen}
"""


def load(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    load_config(path)


def test_demo_school_calendar_tariffs_and_sub_meters() -> None:
    config = load_config(EXAMPLES / "demo-school.yaml")
    calendar = config.calendar
    assert calendar.day_type(date(2026, 10, 2)) is DayType.HOLIDAY
    assert calendar.day_type(date(2026, 10, 10)) is DayType.SCHOOL_DAY  # make-up Saturday
    assert calendar.day_type(date(2026, 10, 17)) is DayType.WEEKEND
    assert calendar.day_type(date(2026, 8, 3)) is DayType.VACATION
    guangdong = config.tariffs[0]
    assert guangdong.id == "gd-2021-tou" and guangdong.currency == "CNY"
    assert guangdong.price(TariffPeriod.PEAK) == pytest.approx(0.65 * 1.7)
    assert guangdong.price(TariffPeriod.VALLEY) == pytest.approx(0.65 * 0.38)
    assert guangdong.price(TariffPeriod.CRITICAL_PEAK) == pytest.approx(0.65 * 1.7 * 1.25)
    subs = {d.id: d.category for d in config.devices if d.parent}
    assert subs == {
        "elec-teaching-lighting": MeterCategory.LIGHTING_SOCKETS,
        "elec-teaching-hvac": MeterCategory.HVAC,
        "elec-canteen-kitchen": MeterCategory.SPECIAL,
    }
    original = [d.id for d in config.devices[:20]]
    assert original[-1] == "gas-dormitory" and len(config.devices) == 23


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "  - {id: light, kind: electricity_meter, building: teaching, parent: elec-t}\n",
            ":8: devices[2]: a sub-meter needs a category; expected one of 'lighting_sockets', 'hvac', 'power', 'special', 'other'",
        ),
        (
            "  - {id: light, kind: electricity_meter, building: teaching, parent: elec-x, category: hvac}\n",
            ":8: devices[2].parent: 'elec-x' is not another electricity meter of this site; expected one of ['elec-t']",
        ),
        (
            "  - {id: light, kind: electricity_meter, building: canteen, parent: elec-t, category: hvac}\n",
            ":8: devices[2].parent: 'elec-t' is in building 'teaching', not 'canteen'",
        ),
        (
            "  - {id: w, kind: water_meter, building: teaching, category: hvac}\n",
            ":8: devices[2]: category 'hvac' does not fit a main meter (no parent) of water; expected one of 'water'",
        ),
        (
            "  - {id: f2, kind: fridge, building: canteen, tariff: gd}\n",
            ":8: devices[2]: tariff applies to meters only, not to a fridge",
        ),
        (
            "  - {id: w, kind: water_meter, building: teaching, counter: {modulus: -5}}\n",
            ":8: devices[2].counter.modulus: -5 is not allowed; input should be greater than 0",
        ),
        (
            "  - {id: w, kind: water_meter, building: teaching, counter: {resets: [{at: '2026-10-12 09:30'}]}}\n",
            ":8: devices[2].counter.resets[0].at: '2026-10-12 09:30' is not allowed; input should have timezone info",
        ),
        (
            "  - {id: e2, kind: electricity_meter, building: teaching, tariff: water}\n"
            "tariffs:\n  - {id: water, name: W, carrier: water, base_price: 4}\n",
            ":8: devices[2].tariff: 'water' is not a electricity tariff of this site; expected one of []",
        ),
        (
            "tariffs:\n  - id: gd\n    name: GD\n    carrier: electricity\n    base_price: 0.6\n"
            "    bands:\n      - {period: valley, start: '00:00', end: '08:00'}\n"
            "      - {period: flat, start: '09:00', end: '24:00'}\n",
            ":9: tariffs[0]: bands: a gap at 08:00",
        ),
        (
            "tariffs:\n  - id: gd\n    name: GD\n    carrier: electricity\n    base_price: 0.6\n"
            "    bands:\n      - {period: peak, start: '00:00', end: '24:00'}\n",
            ":9: tariffs[0]: no price for period(s) ['peak']; add them to prices or ratios",
        ),
        (
            "tariffs:\n  - {id: gd, name: GD, carrier: electricity, base_price: 0.6, prices: {flat: 1}}\n",
            ":9: tariffs[0]: give exactly one of base_price (with optional ratios), prices or tiers; found ['base_price', 'prices']",
        ),
        (
            "tariffs:\n  - id: gd\n    name: GD\n    carrier: electricity\n    base_price: 0.6\n"
            "    bands:\n      - {period: flat, start: '00:00', end: '10:10'}\n"
            "      - {period: peak, start: '10:10', end: '24:00'}\n",
            "band edges must be on a quarter hour",
        ),
        (
            "calendar:\n  terms: [{start: 2026-09-01, end: 2026-07-01}]\n",
            ":9: calendar.terms[0]: end 2026-07-01 is before start 2026-09-01",
        ),
        (
            "calendar:\n  weekend: [saturday]\n",
            ":9: calendar.weekend[0]: 'saturday' is not allowed; input should be 'mon', 'tue'",
        ),
        (
            "calendar:\n  night: {start: '23:61', end: '05:00'}\n",
            "calendar.night.start: '23:61' is not a clock time; use HH:MM such as 08:00 or 24:00",
        ),
    ],
)
def test_energy_config_mistakes(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert expected in str(caught.value), str(caught.value)


def test_a_tariff_file_reports_its_own_lines(tmp_path: Path) -> None:
    (tmp_path / "tariffs").mkdir()
    tariff = tmp_path / "tariffs" / "bad.yaml"
    tariff.write_text("id: gd\nname: GD\ncarrier: electricity\nbase_price: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "tariffs:\n  - file: tariffs/bad.yaml\n")
    assert f"{tariff}:4: base_price: -1 is not allowed" in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read the file"):
        load(tmp_path, "tariffs:\n  - file: tariffs/missing.yaml\n")


def test_the_guangdong_example_is_a_tariff_file() -> None:
    tariff = load_tariff(EXAMPLES / "tariffs" / "guangdong-2021.yaml")
    assert [(b.period.value, b.start, b.end) for b in tariff.bands_for(10)] == [
        ("valley", 0, 480),
        ("flat", 480, 600),
        ("peak", 600, 720),
        ("flat", 720, 840),
        ("peak", 840, 1140),
        ("flat", 1140, 1440),
    ]
    assert tariff.critical_peak is not None and tariff.critical_peak.months == [7, 8, 9]


def test_the_demo_inlines_the_guangdong_example() -> None:
    demo = load_config(EXAMPLES / "demo-school.yaml").tariffs[0]
    example = load_tariff(EXAMPLES / "tariffs" / "guangdong-2021.yaml")
    assert demo.model_dump(exclude={"critical_peak"}) == example.model_dump(
        exclude={"critical_peak"}
    )
    assert demo.critical_peak == example.critical_peak
