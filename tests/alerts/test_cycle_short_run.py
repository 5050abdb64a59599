"""The cycle reader on a small cabinet with a narrow differential: the compressor pulls the
air down in a minute or two and rests four (issue 11). Its teeth are read plant-free, from a
sawtooth lagged by the probe's bead and read through a quantised display."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.rules.cycle_inference import CycleInference, InferredCycle

_CUT_IN_C = 3.0


def sawtooth(
    off_s: float, on_s: float, swing_k: float, lag_s: float, every_s: float, step_c: float
) -> list[tuple[int, float]]:
    """A day of readings every `every_s` of air that warms `swing_k` over `off_s` and falls
    back over `on_s`, seen through a first-order probe lag `lag_s`, noise 0.03 K and a
    display step `step_c`."""
    rng = np.random.default_rng(7)
    period, dt = off_s + on_s, 1.0
    probe, out, next_read = _CUT_IN_C, [], rng.uniform(0, every_s)
    for i in range(int(86_400 / dt)):
        t = i * dt
        phase = t % period
        air = _CUT_IN_C + swing_k * (phase / off_s if phase < off_s else 1 - (phase - off_s) / on_s)
        probe += (air - probe) * (1 - math.exp(-dt / lag_s))
        if t >= next_read:
            read = round((probe + float(rng.normal(0, 0.03))) / step_c) * step_c
            out.append((int(t * 1000), read))
            next_read += every_s
    return out


def read(rows: list[tuple[int, float]], every_s: float) -> list[InferredCycle]:
    inference = CycleInference(int(3 * every_s * 1000))
    return [c for ts, temp in rows if (c := inference.observe(ts, temp, None, None)) is not None]


@pytest.mark.parametrize(
    ("off_s", "on_s", "every_s", "step_c"),
    [
        (240.0, 100.0, 30.0, 0.1),  # a 100-s run, read every 30 s by a 0.1 K probe
        (270.0, 120.0, 30.0, 0.2),  # 2 min on, 0.2 K display
        (300.0, 130.0, 60.0, 0.1),  # 2 min on, read every minute
    ],
)
def test_a_short_compressor_run_is_still_a_normal_cycle(
    off_s: float, on_s: float, every_s: float, step_c: float
) -> None:
    # A controller restarts the compressor no sooner than its anti-short-cycle delay (a few
    # minutes off) but stops it as soon as the air reaches the cut-in: a sample fridge with a
    # 1.5 K differential runs 1.5-2.5 min. Before, a fall shorter than 3 min made every such
    # tooth abnormal, and the seal rule learned from none of them.
    rows = sawtooth(off_s, on_s, 1.5, 40.0, every_s, step_c)
    cycles = read(rows, every_s)
    teeth = 86_400 / (off_s + on_s)
    assert len(cycles) >= 0.95 * teeth - 2
    # the first 41 teeth are read with the old floor, until the reader has judged that it
    # resolves the sawtooth (the swing clears its reversal by a display step)
    later = cycles[50:]
    assert sum(c.normal for c in later) >= 0.9 * len(later)
    normal = [c for c in cycles if c.normal]
    periods = sorted(c.period_ms / 1000 for c in normal)
    assert periods[len(periods) // 2] == pytest.approx(off_s + on_s, rel=0.1)
    # a run shorter than the rest's minimum is read for its period, duty and warming, but
    # its fall through the lagging probe says how long it ran, not how fast it pulled down:
    # the seal rule takes no cooling rate from it (`InferredCycle.short_run`)
    # (the probe's lag and the reading interval stretch some falls to 3 min: read every
    # minute, a 130-s run reads as 2 or 3 intervals)
    short = [c.short_run for c in later if c.normal]
    assert sum(short) >= 0.25 * len(short)


def test_a_flicker_of_a_minute_is_still_no_cycle() -> None:
    # The anti-short-cycle delay still holds the compressor off for minutes: a one-minute
    # "rest" between two falls is not a tooth.
    rows = sawtooth(60.0, 60.0, 1.5, 20.0, 10.0, 0.1)
    cycles = read(rows, 10.0)
    assert cycles
    assert not [c for c in cycles if c.normal]


def test_a_probe_that_merges_teeth_keeps_the_three_minute_run() -> None:
    # A 0.5 K display on a probe lagged 99 s: the 1.9 K swing reaches the probe as about
    # 1 K, barely a reversal (1.17 K). The reader misses turns at random and each tooth it
    # reads merges several, ending in one short run: those are not normal teeth.
    rows = sawtooth(270.0, 100.0, 1.9, 99.0, 30.0, 0.5)
    inference = CycleInference(90_000)
    cycles = [c for ts, temp in rows if (c := inference.observe(ts, temp, None, None))]
    assert len(cycles) < 0.5 * 86_400 / 370.0  # merged teeth
    assert inference.state.resolved is False
    assert not [c for c in cycles if c.normal and c.on_ms < 3 * 60_000]
