"""A metered cycle's on-share is its run counted in whole readings (`seal_cusum.
cycle_reading`): a compressor whose cycle runs in step with its meter reads one reading more
of each run for hours once its phase moves, at an unchanged true duty. That is no leak."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import cycle_reading, learn_norms
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT, alike_hours
from tests.alerts.test_seal_inference import engine, run

MINUTE_MS = 60_000

PERIOD_MIN = 9.0  # a whole number of the meter's minutes: its phase moves only as it wanders
RUN_MIN = 2.17


def _rows(days: int, seed: int) -> list[Row]:
    """A small fridge cycling about every 9 min, the compressor on for 2.17 min (the air falls
    from 5 to 3 °C, then warms back over the rest), probe and plug meter read together every
    minute. The period wanders by a couple of seconds a cycle, so the run's phase against
    the readings drifts: mostly its run spans 2 readings, and where its phase sits in the
    last sixth of a reading, 3, for an hour or two at a time. The true duty never moves."""
    rng = random.Random(seed)
    starts, at = [], 0.0
    while at < days * 24 * 60 + PERIOD_MIN:
        starts.append(at)
        at += PERIOD_MIN + rng.gauss(0, 0.06)
    rows: list[Row] = []
    index = 0
    for minute in range(days * 24 * 60):
        while starts[index + 1] <= minute:
            index += 1
        into = minute - starts[index]
        rest = starts[index + 1] - starts[index] - RUN_MIN
        if into < RUN_MIN:
            air, power = 5.0 - 2.0 * into / RUN_MIN, 150.0 + rng.uniform(-3, 3)
        else:
            air, power = 3.0 + 2.0 * (into - RUN_MIN) / rest, 2.0
        temp = round(air + rng.gauss(0, 0.03), 1)
        rows.append(("f", MIDNIGHT + timedelta(minutes=minute), {"temp_c": temp, "power_w": power}))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_run_read_one_reading_longer_for_hours_adds_no_cycle_evidence(seed: int) -> None:
    """Four learning days read mostly 2 of 9 readings on (the spread of the cycles' metered
    share at its floor: most alike), then four days whose stretches at 3 of 9 hold each
    cycle's metered share 50 % up for an hour or more, the true share and the sawtooth
    unchanged. Without a spread of half a reading, the cycles' evidence reached 0.3-2 of
    its threshold (an alert from them on 3 of these 5 seeds); with it, at most 0.13 over 10 seeds.
    (The hourly metered streams judge each hour whole, a third more on-time in such an
    hour; they have their own floor, `seal_duty.reading_resolution`.)"""
    _, points = run(engine(60), _rows(8, seed))
    learned = [p for p in points if "learning" not in p.evidence]
    assert learned, "the baseline was learned"
    assert max(p.evidence.get("evidence") or 0.0 for p in learned) < 0.25


@pytest.mark.parametrize(
    ("step_min", "on_min", "read"),
    [
        (1, 2, math.log(1.25)),  # a 2-min run metered every minute: a third reading is +50 %
        (1, 10, math.log(1.05)),  # a walk-in's 10-min run: a reading more is +10 %
        (5, 3, math.log(1.5)),  # a run shorter than a reading: half a reading of its own
        (1, 0, 0.0),  # nothing ran: the duty's own floor holds
    ],
)
def test_a_cycles_share_is_read_to_half_a_reading_of_its_run(
    step_min: float, on_min: float, read: float
) -> None:
    assert cycle_reading(step_min * MINUTE_MS, on_min * MINUTE_MS) == pytest.approx(read)


def test_no_interval_known_means_no_floor() -> None:
    assert cycle_reading(None, 2 * MINUTE_MS) == 0.0


def _hours(days: int, read: float | None) -> list[HourFeatures]:
    """Hours of 6 alike metered cycles (2 of 9 readings on), the meter's reading as given."""
    return alike_hours(days, 6, (18.0, 55.0), 2 / 9, duty_read=read)


def test_the_duty_spread_is_at_least_the_reading_and_older_hours_keep_the_floor() -> None:
    norms = learn_norms(_hours(4, math.log(1.25)))
    assert {round(n.spread["duty"], 6) for n in norms.values()} == {round(math.log(1.25), 6)}
    kept = learn_norms(_hours(4, None))  # hours saved before the reading was kept
    assert {n.spread["duty"] for n in kept.values()} == {0.03}
