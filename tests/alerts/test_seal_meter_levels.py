"""A plug meter tells whether the compressor runs only once it knows the cabinet's draw at
rest from its draw while running (`seal_duty.compressor_from_power`). A walk-in's evaporator
fan draws 40-120 W: a meter whose first reading was the fan alone took every reading for a
running compressor until its usual draw had climbed to the compressor's, hours of a 5-min
meter, and those hours' on-share (1.0 against a true 0.2) became the learned norms.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from dataclasses import replace

import pytest

from alerts.rules.seal_cold import ColdSealRule
from alerts.rules.seal_duty import DrawLevels, compressor_from_power
from alerts.rules.seal_power import heater_on
from tests.alerts import cold_plant
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run
from tests.alerts.test_seal_metered import SMOOTHED

HOUR_MS = 3_600_000
FAN_W = 80.0
COMPRESSOR_W = 700.0
HEATER_W = 1500.0


def _readings(
    hours: float, step_min: float, seed: int, period_min: float = 24.0, run_min: float = 5.0
) -> list[tuple[bool, bool]]:
    """(running, heater on) at each reading of a walk-in metered every `step_min` from a
    random phase, starting at rest; a 30-min heater defrost every 8 h."""
    rng = random.Random(seed)
    out, at = [], rng.uniform(0, step_min)
    phase = rng.uniform(0, period_min)
    while at < hours * 60:
        heater = at % 480 >= 450
        running = not heater and (at + phase) % period_min < run_min and at > step_min
        out.append((running, heater))
        at += step_min
    return out


def _draw(running: bool, heater: bool, rng: random.Random) -> float:
    watts = FAN_W + (COMPRESSOR_W if running else 0.0) + (HEATER_W if heater else 0.0)
    return watts * (1 + 0.01 * rng.gauss(0, 1))


@pytest.mark.parametrize("seed", range(8))
def test_a_meter_that_starts_at_the_fans_draw_never_reads_the_fan_as_a_run(seed: int) -> None:
    rng, levels = random.Random(seed), DrawLevels()
    answers = []
    for running, heater in _readings(24, 5.0, seed):
        on = compressor_from_power(levels, _draw(running, heater, rng))
        if not heater:
            answers.append((on, running))
    assert all(on is None or on == running for on, running in answers)
    # it answers within a few hours, and then for every reading
    first = next(i for i, (on, _) in enumerate(answers) if on is not None)
    assert first * 5 <= 4 * 60
    assert all(on is not None for on, _ in answers[first:])


@pytest.mark.parametrize("seed", range(4))
def test_a_heater_is_never_read_as_rest_and_a_run_not_as_a_heater_once_the_draw_is_known(
    seed: int,
) -> None:
    rng, levels = random.Random(seed), DrawLevels()
    for index, (running, heater) in enumerate(_readings(48, 5.0, seed)):
        power = _draw(running, heater, rng)
        said_heater = heater_on(levels, power)
        on = compressor_from_power(levels, power)
        assert not said_heater or levels.apart
        assert on is None or on == (running or heater)
        # the usual draw climbs to the compressor's over the first day; a run read as a
        # heater meanwhile is set aside from the metered cycles, not read as rest
        if index * 5 > 24 * 60:
            assert not (running and said_heater)
    assert levels.peak_w is not None and 0.8 < levels.peak_w / (FAN_W + COMPRESSOR_W) < 1.5


def test_a_cabinet_whose_rest_draws_near_its_running_draw_is_not_read_from_its_meter() -> None:
    # lights and a door-frame heater at 150 W beside a 200 W compressor: half the running
    # draw is under the rest's; reading every reading above it as a run would read a duty
    # of 1.0 all day
    rng, levels = random.Random(1), DrawLevels()
    answers = set()
    for running, _ in _readings(48, 1.0, 1):
        answers.add(
            compressor_from_power(levels, (150.0 + 200.0 * running) * rng.uniform(0.99, 1.01))
        )
    assert answers == {None}


def test_a_compressor_that_comes_to_run_nearly_all_the_time_is_still_read() -> None:
    # a leak a tired compressor can hardly keep up with: 95 % on after a day of 30 %
    rng, levels = random.Random(2), DrawLevels()
    for running, _ in _readings(24, 1.0, 2, period_min=20.0, run_min=6.0):
        compressor_from_power(levels, _draw(running, False, rng))
    late = [rng.random() < 0.95 for _ in range(24 * 60)]
    read = [compressor_from_power(levels, _draw(r, False, rng)) for r in late]
    assert read == late


def _walk_in_like(seed: int) -> list[Row]:
    """The test fridge metered every 5 min with an 80 W fan beside its compressor."""
    plant = replace(SMOOTHED, interval_s=300.0, probe_lag_s=0.0)
    rows = cold_plant.fridge("f", MIDNIGHT, 5, plant, seed=seed)
    return [(d, at, {**m, "power_w": m["power_w"] + 65.0}) for d, at, m in rows]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_first_days_clean_hours_read_the_meters_true_on_share(seed: int) -> None:
    rows = _walk_in_like(seed)[: 2 * 288]  # two learning days
    rules = engine(300.0)
    run(rules, rows)
    rule = next(r for r in rules.devices["f"].rules if isinstance(r, ColdSealRule))
    hours = [h for h in rule.state.history if h.clean_ms >= 30 * 60_000]
    assert len(hours) >= 12
    running: dict[int, list[bool]] = defaultdict(list)  # each hour's readings, on or not
    for _, at, metrics in rows:
        running[int(at.timestamp()) // 3600].append(200.0 < metrics["power_w"] < 360.0)
    # an hour's clean time is part of its readings: its share scatters about theirs by a
    # reading or a few, never by a run held all hour
    off = [
        h.clean_on_ms / h.clean_ms - statistics.mean(running[h.start_ms // HOUR_MS]) for h in hours
    ]
    assert max(abs(d) for d in off) < 0.4
    assert abs(statistics.mean(off)) < 0.1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_learned_hourly_norms_are_the_meters_true_on_share(seed: int) -> None:
    rows = _walk_in_like(seed)
    rules = engine(300.0)
    run(rules, rows)
    rule = next(r for r in rules.devices["f"].rules if isinstance(r, ColdSealRule))
    model = rule.state.duty_model
    assert model is not None
    per_hour: dict[int, list[bool]] = defaultdict(list)
    for _, at, metrics in rows[: 4 * 288]:  # the learning days' readings, on or not
        per_hour[(at.hour + 8) % 24].append(200.0 < metrics["power_w"] < 360.0)
    ratios = [
        math.exp(norm.center) / statistics.mean(per_hour[hour])
        for hour, norm in model.hours.items()
    ]
    # each norm is a handful of clean hours' shares read a dozen readings each: they scatter
    # about the true share, but on the whole read it
    assert 0.85 < statistics.geometric_mean(ratios) < 1.2
