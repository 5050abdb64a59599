"""A metered hour's on-share is read only as finely as the meter reads (`seal_duty.
reading_resolution`): one reading more of on-time is no leak when the learning hours, all
alike, left the spread at its floor."""

from __future__ import annotations

import math

import pytest

from alerts.rules.seal_duty import DutyNorm, reading_resolution, score_hour
from alerts.rules.seal_power import PowerState, power_reading, roll_power_hour

MINUTE_MS = 60_000


@pytest.mark.parametrize(
    ("step_min", "on_min", "resolution"),
    [
        (2, 12, math.log1p(1 / 12)),  # a meter read every 2 min, 12 min on: 1/24 of it
        (5, 12, math.log1p(2.5 / 12)),
        (0.5, 20, math.log1p(0.25 / 20)),  # a 30-s meter: below the spread's own floor
        (5, 2, math.log1p(0.5)),  # less on-time than a reading: half a reading of one
        (2, 0, 0.0),  # nothing ran: the duty's own floor holds
    ],
)
def test_the_resolution_is_half_a_reading_of_the_hours_on_time(
    step_min: float, on_min: float, resolution: float
) -> None:
    got = reading_resolution(step_min * MINUTE_MS, on_min * MINUTE_MS)
    assert got == pytest.approx(resolution)


def test_no_interval_known_means_no_floor() -> None:
    assert reading_resolution(None, 12 * MINUTE_MS) == 0.0


def test_one_reading_more_of_a_locked_meter_scores_below_the_clip() -> None:
    """6 of 30 two-minute readings on through the learning days (spread at its 0.05 floor),
    then 7 for hours: +15 %, 3 spreads (clipped) without the floor, under 2 with it."""
    norm = DutyNorm(math.log(0.2), 0.05)
    z_bare, move = score_hour(7 / 30, norm)
    z, same_move = score_hour(7 / 30, norm, reading_resolution(2 * MINUTE_MS, 12 * MINUTE_MS))
    assert z_bare == 3.0
    assert 1.5 < z < 2.0
    assert move == same_move == pytest.approx(1 / 6)


def test_a_leaks_hour_still_scores_its_full_move() -> None:
    """A 0.35 leak lifts the on-share by some 40 %: 8.4 of 30 readings, clipped either way."""
    norm = DutyNorm(math.log(0.2), 0.05)
    z, _ = score_hour(0.28, norm, reading_resolution(2 * MINUTE_MS, 16.8 * MINUTE_MS))
    assert z == 3.0


def test_the_meter_interval_is_followed_from_its_readings() -> None:
    st = PowerState()
    roll_power_hour(st, 0, 0, False)
    for m in range(0, 120, 2):  # read every 2 min: 6 min on in every 30
        power_reading(st, m * MINUTE_MS, m % 30 < 6, None, False, 5 * MINUTE_MS)
    assert st.step_ms == pytest.approx(2 * MINUTE_MS)
