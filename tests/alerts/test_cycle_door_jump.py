"""A door opened while the air warms, seen on a bare probe (issue 11): the air jumps by a good
part of the swing between two readings, the thermostat's cut-out comes early, and the tooth
warmed twice as fast as the teeth either side of it on average, though never three times as
fast (what a door was taken for before). Counted as a clean cycle, such a tooth made a busy
walk-in's daytime hours bimodal: a held-out walk-in's learning days read its warming half at
6.8-7.5 K/h on undisturbed teeth and 11-15 K/h on those a door struck, so each busy hour's
norm spread over 30-40 % and a leak's 25 % moved none of its daytime teeth; its 0.35 leak
waited for two nights' teeth. The rise is now judged by its largest step, or pair of steps,
between readings beyond as many of its median steps: a door jumps, a leak warms every step."""

from __future__ import annotations

import math

import numpy as np

from alerts.rules.cycle_inference import CycleInference, InferredCycle

_CUT_IN_C, _SWING_K = 1.0, 2.5


def walk_in(
    warm_k_h: float,
    doors_h: list[float],
    jump_k: float,
    every_s: float = 120.0,
    step_c: float = 0.25,
    hours: float = 24.0,
    seed: int = 3,
) -> tuple[list[tuple[int, float]], list[tuple[int, int]]]:
    """Readings of a thermostat held between 1 and 3.5 °C: the air warms at `warm_k_h` with
    the compressor off and falls at 12 K/h with it on; each door (hours from the start) adds
    `jump_k` over 30 s. A probe lagging the air by 40 s, noise 0.03 K, display `step_c`.
    Also the (start, end) ms of each rise a door struck while the air was still a kelvin or
    more below the cut-out (a door later in the rise brings the compressor on early and the
    rest of its heat falls in the run)."""
    rng = np.random.default_rng(seed)
    dt, lag = 5.0, 40.0
    air = probe = _CUT_IN_C
    on, rise_from = False, 0.0
    out: list[tuple[int, float]] = []
    struck: list[tuple[int, int]] = []
    door_s = sorted(h * 3600 for h in doors_h)
    hit, next_read = False, float(rng.uniform(0, every_s))
    for i in range(int(hours * 3600 / dt)):
        t = i * dt
        open_now = any(d <= t < d + 30 for d in door_s)
        air += (-12.0 if on else warm_k_h) * dt / 3600 + (jump_k * dt / 30 if open_now else 0.0)
        early = air <= _CUT_IN_C + _SWING_K - 1.0
        hit = hit or (open_now and not on and early and any(d <= t < d + dt for d in door_s))
        if not on and air >= _CUT_IN_C + _SWING_K:
            on = True
            if hit:
                struck.append((int(rise_from * 1000), int(t * 1000)))
            hit = False
        elif on and air <= _CUT_IN_C:
            on, rise_from = False, t
        probe += (air - probe) * (1 - math.exp(-dt / lag))
        if t >= next_read:
            reading = round((probe + float(rng.normal(0, 0.03))) / step_c) * step_c
            out.append((int(t * 1000), reading))
            next_read += every_s
    return out, struck


def cycles_of(rows: list[tuple[int, float]], every_s: float = 120.0) -> list[InferredCycle]:
    inference = CycleInference(int(3 * every_s * 1000))
    return [c for ts, temp in rows if (c := inference.observe(ts, temp, None, None)) is not None]


def _door_struck(cycle: InferredCycle, struck: list[tuple[int, int]]) -> bool:
    return any(a - 300_000 <= cycle.peak.ms <= b + 300_000 for a, b in struck)


def test_a_door_that_jumps_the_air_mid_rise_is_no_clean_cycle() -> None:
    # 30 doors at random through the day, each adding 1 K over 30 s (a walk-in's door of
    # 20-60 s)
    doors = sorted(np.random.default_rng(11).uniform(2.5, 23.5, 30).tolist())
    rows, struck = walk_in(7.0, doors, 1.0)
    cycles = cycles_of(rows)
    assert len(struck) >= 8
    judged = [c for c in cycles if c.peak.ms > 3 * 3600_000]  # once the usual cycle is known
    hit = [c for c in judged if _door_struck(c, struck)]
    assert len(hit) >= 8
    # two are not: one whose door opened as the rise began, one whose short rise the door
    # made so steep that its median step is half the jump
    assert sum(c.normal for c in hit) <= 2
    # the teeth no door came near stay clean
    calm = [
        c
        for c in judged
        if not any(c.trough.ms - 900_000 <= d * 3600_000 <= c.end.ms for d in doors)
    ]
    assert len(calm) >= 10
    assert all(c.normal for c in calm)


def test_a_leak_warms_every_step_and_stays_a_clean_cycle() -> None:
    # the air warms 35 % faster from the start of the rise to its end: no step jumps
    before = cycles_of(walk_in(7.0, [], 0.0)[0])
    leaky = cycles_of(walk_in(7.0 * 1.35, [], 0.0, seed=4)[0])
    for cycles in (before, leaky):
        judged = cycles[8:]
        assert sum(c.normal for c in judged) >= 0.95 * len(judged)


def test_a_sparse_or_coarse_probe_s_quantised_steps_are_no_door() -> None:
    # read every 5 min on a 0.5 K display, or every 30 s on a 0.2 K one: the rise's steps
    # are one display step or two, never a jump
    for every_s, step_c in ((300.0, 0.5), (30.0, 0.2)):
        rows, _ = walk_in(7.0, [], 0.0, every_s=every_s, step_c=step_c, seed=5)
        judged = cycles_of(rows, every_s)[8:]
        assert len(judged) > 20
        assert sum(c.normal for c in judged) >= 0.95 * len(judged)
