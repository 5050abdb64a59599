"""What an over-temperature alarm tells staff of the compressor from its meter
(`ExcursionRule._compressor_held`), case by case on the rule of a metered fridge (limit 8 °C).

The alarm-level cases (a dead compressor, one that runs without cooling, a silent meter, a bare
probe) are in `test_defrost_excuses.py`; here each condition is held to its edge.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.model import Phase
from alerts.rules.threshold import CompressorSeen, ExcursionRule
from core.clock import StepClock
from tests.alerts.conftest import MIDNIGHT, Harness, school

MIN = 60_000
NOW = 600 * MIN  # the alarm, in ms from any origin: only differences count
SPELL = NOW - 35 * MIN  # the spell counted from 35 min before it
SHORT = NOW - 10 * MIN  # a spell counted from 10 min before it


def fridge_rule(tmp_path: Path) -> tuple[Harness, ExcursionRule]:
    device = {"id": "fridge-1", "kind": "fridge", "building": "canteen", "interval_s": 60}
    harness = Harness(tmp_path / "told.duckdb", school(devices=[device]), StepClock(MIDNIGHT))
    [rule] = [
        r
        for r in harness.service.engine.devices["fridge-1"].rules
        if isinstance(r, ExcursionRule) and r.above
    ]
    return harness, rule


@pytest.mark.parametrize(
    ("on", "since_min", "read_min", "air_c", "phase", "told"),
    [
        # stopped before the spell began, the air at 12 °C: a compressor standing still
        pytest.param(False, 50, 0, 12.0, Phase.FIRING, (False, 50.0), id="stopped-through"),
        # stopped 20 min, within the spell: a freezer's thermostat rests so long, its air
        # between the limit and the cut-in; nothing said
        pytest.param(False, 20, 0, 12.0, Phase.FIRING, None, id="stopped-within-spell"),
        # stopped through the spell, but the air itself back under the limit (the estimate
        # lags it): the thermostat may rest
        pytest.param(False, 50, 0, 7.5, Phase.FIRING, None, id="stopped-air-in-band"),
        # running through the spell: it works and the cabinet is still warm
        pytest.param(True, 40, 0, 12.0, Phase.FIRING, (True, 40.0), id="running-through"),
        # running, the air already under the limit: still running without a break
        pytest.param(True, 40, 0, 7.5, Phase.FIRING, (True, 40.0), id="running-air-in-band"),
        # running 20 min, within the spell: a defrost heater's draw reads so too
        pytest.param(True, 20, 0, 12.0, Phase.FIRING, None, id="running-within-spell"),
        # the meter last read 16 min ago: what it read then says little of now
        pytest.param(True, 60, 16, 12.0, Phase.FIRING, None, id="meter-stale"),
        # the minutes are those the meter read, to its latest reading
        pytest.param(False, 60, 10, 12.0, Phase.FIRING, (False, 50.0), id="meter-10-min-old"),
        # only a firing alarm says it
        pytest.param(False, 50, 0, 12.0, Phase.PENDING, None, id="pending"),
    ],
)
def test_the_compressor_is_named_only_for_a_state_held_long_enough(
    tmp_path: Path,
    on: bool,
    since_min: int,
    read_min: int,
    air_c: float,
    phase: Phase,
    told: tuple[bool, float] | None,
) -> None:
    harness, rule = fridge_rule(tmp_path)
    rule.compressor = CompressorSeen(
        on=on, since_ms=NOW - since_min * MIN, read_ms=NOW - read_min * MIN
    )
    rule._air_c = air_c
    assert rule._compressor_held(phase, NOW, SPELL) == told
    harness.close()


@pytest.mark.parametrize("on", [True, False])
def test_a_state_held_through_a_short_spell_is_named_from_15_min(tmp_path: Path, on: bool) -> None:
    # A spell counted for 10 min (a short `alert_after_min`): the state must still have held
    # for a pull-down's while.
    harness, rule = fridge_rule(tmp_path)
    rule._air_c = 12.0
    for held, told in ((14, None), (15, (on, 15.0))):
        rule.compressor = CompressorSeen(on=on, since_ms=NOW - held * MIN, read_ms=NOW)
        assert rule._compressor_held(Phase.FIRING, NOW, SHORT) == told
    harness.close()


def test_no_meter_reading_names_no_compressor(tmp_path: Path) -> None:
    harness, rule = fridge_rule(tmp_path)
    rule._air_c = 12.0
    assert rule._compressor_held(Phase.FIRING, NOW, SPELL) is None
    harness.close()
