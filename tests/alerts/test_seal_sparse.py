"""Seal evidence from a sparse probe (a reading every 5 min on a 20-40 min cycle).

Defects of earlier rounds are stated here (issue 11). Teeth read at a reading phase locked
to the cycle added up as if each were a new cycle: now each tooth's trough phase is read
between the readings and its step weighed by how crowded that phase was among the last
teeth (`cycle_inference`, `seal_cusum.repeat_weight`). A phase that alternates between two
points (a period of 5.5 reading intervals) on a 0.5 K display still fires (expected
failures): such a display reads the phase only in steps of a third to a half of an
interval, so the two points are not told apart from the rest. The probe's noise estimate
takes a short tooth's turning points for noise (an expected failure; counting only second
differences between moves in one direction fixes it but lost three held-out chest-freezer
leaks). Fixes tried and not kept: counting teeth read with the same number of readings on
each side as repeats cut a drifting phase's evidence by about half as well; weighting each
tooth by how far the phase moved since the teeth before (the period fitted to the last
troughs) passed the drift-0 cases but not the alternating one, and cut real leaks' evidence
on 5-min probes; weighing the phase of a 60-s probe too slowed a held-out old unit's 0.35
leak by 4 h (only a probe read 3 min or more apart has its phase read)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from alerts.rules.cycle_inference import CycleInference
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

_EVERY_MIN = 5.0
_CUT_IN_C, _SWING_K = 2.0, 2.0


def _locked(
    days: float,
    lock_from_d: float,
    phase_min: float,
    seed: int = 1,
    *,
    periods_min: tuple[float, float] = (40.7, 40.0),
    off_share: float = 0.75,
    step_c: float = 0.1,
) -> list[Row]:
    """A sawtooth read every 5 min: 40.7-min cycles (30.5 off, 10.2 on) whose phase drifts
    past the readings, then from `lock_from_d` exact 40-min cycles: every tooth is read at
    the same phase (`phase_min` into the cycle at the first reading), so each reads the
    same slopes with the same timing error, for days. `periods_min` (before, from the lock),
    the share of the cycle spent warming and the display step change the plant."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    locked_at: float | None = None
    for i in range(int(days * 1440 / _EVERY_MIN)):
        t = i * _EVERY_MIN
        if t >= lock_from_d * 1440 and locked_at is None:
            locked_at = t - phase_min
        period = periods_min[1] if locked_at is not None else periods_min[0]
        phase = (t - locked_at) % period if locked_at is not None else t % period
        off = off_share * period
        if phase < off:
            c = _CUT_IN_C + _SWING_K * phase / off
        else:
            c = _CUT_IN_C + _SWING_K * (1 - (phase - off) / (period - off))
        read = round((c + float(rng.normal(0, 0.03))) / step_c) * step_c
        rows.append(("f", MIDNIGHT + timedelta(minutes=t), {"temp_c": round(read, 1)}))
    return rows


def _leaking(days: float, leak_from_d: float, severity: float, seed: int = 1) -> list[Row]:
    """A thermostat between 2 and 4 °C read every 5 min (30.5 min off, 10.2 min on); from
    `leak_from_d` a leak ramps in over 12 h: the air warms `severity` faster with the
    compressor off and pulls down half that slower with it on."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    temp, on, t, dt, next_read = _CUT_IN_C, False, 0.0, 0.25, 0.0
    while t < days * 1440:
        ramp = min(1.0, max(0.0, (t - leak_from_d * 1440) / 720))
        if on:
            temp -= _SWING_K / 10.2 * (1 - 0.5 * severity * ramp) * dt
            on = temp > _CUT_IN_C
        else:
            temp += _SWING_K / 30.5 * (1 + severity * ramp) * dt
            on = temp >= _CUT_IN_C + _SWING_K
        if t >= next_read:
            read = round((temp + float(rng.normal(0, 0.03))) / 0.1) * 0.1
            rows.append(("f", MIDNIGHT + timedelta(minutes=t), {"temp_c": round(read, 1)}))
            next_read += _EVERY_MIN
        t += dt
    return rows


@pytest.mark.parametrize("phase_min", [2.0, 3.0, 7.0])
def test_a_healthy_sparse_probe_locked_to_its_cycle_raises_no_seal_alert(phase_min: float) -> None:
    # At these phases each locked tooth reads a little steeper than the learning days'
    # median (the readings sit nearer the turning points): counted as new cycles, five days
    # of them reach the threshold (one alert at each phase).
    rows = _locked(11, 6, phase_min)
    findings, points = run(engine(_EVERY_MIN * 60), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and "evidence" in judged[-1].evidence  # the per-cycle evidence judges it
    assert findings == []


@pytest.mark.xfail(
    strict=True,
    reason="a 0.5 K display reads the trough's phase only to about half an interval",
)
@pytest.mark.parametrize("phase_min", [0.5, 1.0, 3.0, 3.5])
def test_a_healthy_sparse_probe_read_at_two_alternating_phases_raises_no_seal_alert(
    phase_min: float,
) -> None:
    # A 5-min probe with a 0.5 K display on 27.8-min cycles (16.7 min warming): the phase
    # moves 0.44 of an interval a cycle, so on the learning days the teeth are read at two
    # phases half an interval apart that sweep through all phases in some 15 h. From day 6
    # the cycle is 27.5 min, 5.5 intervals: the readings fall at the same two phases tooth
    # after tooth, and each pair of teeth repeats the same two slope pairs. As on the bench's
    # held-out chest freezer whose 25/30-min teeth alternated for hours (z +3.0/+1.2 against
    # an allowance of 0.88), the CUSUM counts them as new cycles and fires within hours at
    # these phases. The crowding of each tooth's phase among the recent teeth counts how
    # many distinct phases they were read at, but the 0.5 K display reads the phase in
    # steps (0, 1/4, 1/3, 1/2) that a sweeping phase crowds as well.
    rows = _locked(11, 6, phase_min, periods_min=(27.8, 27.5), off_share=0.6, step_c=0.5)
    findings, points = run(engine(_EVERY_MIN * 60), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and "evidence" in judged[-1].evidence  # the per-cycle evidence judges it
    assert findings == []


def test_a_leak_on_a_sparse_probe_breaks_the_lock_and_is_found_within_a_day() -> None:
    onset = MIDNIGHT + timedelta(days=8)
    rows = _leaking(12, 8, 0.35)
    findings, _ = run(engine(_EVERY_MIN * 60), rows)
    onset_ms = int(onset.timestamp() * 1000)
    assert not [f for f in findings if f.at_ms < onset_ms]
    fired = [f for f in findings if f.phase.value == "firing"]
    assert fired, "the leak was found from a 5-min probe"
    assert (fired[0].at_ms - onset_ms) / 3_600_000 <= 24


def test_a_probe_reading_each_tooth_four_times_sees_every_tooth() -> None:
    # A 20.35-min cycle read every 5 min by a 0.1 K probe with 0.03 K noise: half the second
    # differences straddle a turning point. Their median read 0.5 K of noise, the reversal a
    # turn needs grew to the whole 2 K swing, and 91 of 707 teeth were seen. The bends are
    # now left out of the noise where they come about as often as the turns.
    rng = np.random.default_rng(1)
    inference = CycleInference(3 * 300_000)
    found = 0
    for i in range(int(10 * 1440 / _EVERY_MIN)):
        t = i * _EVERY_MIN
        phase, off = t % 20.35, 0.75 * 20.35
        c = _CUT_IN_C + _SWING_K * (phase / off if phase < off else 1 - (phase - off) / 5.0875)
        read = round((c + float(rng.normal(0, 0.03))) / 0.1) * 0.1
        found += inference.observe(int(t * 60_000), read, None, None) is not None
    assert found >= 0.95 * 10 * 1440 / 20.35
    assert inference.noise_c < 0.2  # a 0.1 K display step and 0.03 K noise, not the swing
