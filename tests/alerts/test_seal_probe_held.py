"""A coarse display read often repeats its level: each step up and each step down is one
move whatever the time between them, so the share of a sawtooth's moves that fall stays near
a half whatever the duty. Where most clean readings repeat the last level the probe's hours
are read as the share of readings taken while it was falling (as it last moved), which
follows the duty (`seal_probe_duty.probe_reading`)."""

from __future__ import annotations

import random

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cold_state import ColdSealState, probe_move
from alerts.rules.seal_probe_duty import (
    hour_falls,
    hour_held_falls,
    hour_paced_falls,
    probe_reading,
)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def sawtooth(at_min: float, duty: float, period_min: float = 15.0, band_k: float = 1.7) -> float:
    """The air of a thermostat cycling between 3.0 °C and 3.0 + `band_k`: pulled down while
    the compressor runs (`duty` of the period), warming while it rests, both linear."""
    phase = (at_min % period_min) / period_min
    if phase < duty:
        return 3.0 + band_k * (1 - phase / duty)
    return 3.0 + band_k * (phase - duty) / (1 - duty)


def _hours(duty: float, step_c: float, noise_c: float, seed: int) -> list[HourFeatures]:
    """Six hours of a probe read every minute from a random phase, shown to `step_c`."""
    rng = random.Random(seed)
    st = ColdSealState()
    hours = [HourFeatures(h * HOUR_MS, h) for h in range(8)]
    st.history, st.hour = hours[:-1], hours[-1]
    at = rng.uniform(0, 1)
    while at < 6 * 60:
        air = sawtooth(at, duty) + rng.gauss(0, noise_c)
        shown = round(air / step_c) * step_c
        ts = round(at * MINUTE_MS)
        probe_move(st, ts, shown, 3 * MINUTE_MS)
        st.cycles.last_ms, st.cycles.last_c = ts, shown
        at += 1.0
    st.moves.release(10 * HOUR_MS, hours)
    return [h for h in hours if h.readings]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_coarse_displays_moves_do_not_follow_the_duty_its_held_share_does(seed: int) -> None:
    runs = [_hours(duty, 0.5, 0.02, seed) for duty in (0.2, 0.45, 0.75)]
    # read so often, the display's steps are paced (`test_seal_probe_paced`)
    assert all(probe_reading(hours) is hour_paced_falls for hours in runs)
    moves = [sum(h.falls for h in x) / sum(h.moves for h in x) for x in runs]
    held = [sum(h.held_falls for h in x) / sum(h.readings for h in x) for x in runs]
    # a 1.7 K sawtooth on a 0.5 K display: three steps down and three up a cycle, whatever
    # the duty; the readings taken while falling rise with it (the direction turns a step
    # late at each end, which draws the share towards a half)
    assert max(moves) - min(moves) < 0.03
    assert held[1] - held[0] > 0.1 and held[2] - held[1] > 0.1
    assert all(hour_held_falls(h) is not None for h in runs[0])


def test_a_fine_noisy_probe_keeps_the_share_of_its_moves() -> None:
    hours = _hours(0.3, 0.1, 0.05, 4)
    assert probe_reading(hours) is hour_falls
    assert all(hour_falls(h) is not None for h in hours)
