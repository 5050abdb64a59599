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
    leak: tuple[float, float] = (0.0, 1.0),
) -> tuple[list[tuple[int, float]], list[tuple[int, int]]]:
    """Readings of a thermostat held between 1 and 3.5 °C: the air warms at `warm_k_h` with
    the compressor off (times `leak[1]` from hour `leak[0]` on) and falls at 12 K/h with it
    on; each door (hours from the start) adds `jump_k` over 30 s. A probe lagging the air by
    40 s, noise 0.03 K, display `step_c`.
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
        warm = warm_k_h * (leak[1] if t >= leak[0] * 3600 else 1.0)
        air += (-12.0 if on else warm) * dt / 3600 + (jump_k * dt / 30 if open_now else 0.0)
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
    # one is not: its door opened as the rise began. A short rise the door made so steep
    # that its median step is half the jump is measured from the recent teeth's step.
    assert sum(c.normal for c in hit) <= 1
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


def old_unit(door_every: int, door_after_s: float, door_k: float) -> tuple[list, list[int]]:
    """Readings of a fast-warming old unit held between 2.3 and 5.2 °C, read every minute on
    a 0.25 K display through a probe lagging 60 s: the air warms towards a 25 °C kitchen
    with a time constant of 53 min (about 25 K/h near the cut-in) and falls at 20 K/h. Every
    `door_every`-th rise a door opens `door_after_s` into it and adds `door_k` over 26 s.
    Also the ms each struck rise ended (the compressor started)."""
    rng = np.random.default_rng(7)
    dt, lag, every = 5.0, 60.0, 60.0
    air = probe = 2.3
    on, rises, door_at = False, 0, None
    out: list[tuple[int, float]] = []
    struck: list[int] = []
    next_read = float(rng.uniform(0, every))
    for i in range(int(24 * 3600 / dt)):
        t = i * dt
        opened = door_at is not None and door_at <= t < door_at + 26
        warm = (25.0 - air) / 0.88 if not on else -20.0
        air += warm * dt / 3600 + (door_k * dt / 26 if opened else 0.0)
        if not on and air >= 5.2:
            on = True
            if door_at is not None:
                struck.append(int(t * 1000))
            door_at = None
        elif on and air <= 2.3:
            on, rises = False, rises + 1
            late = rises % door_every == 0 and t > 3 * 3600
            door_at = t + door_after_s if late else None
        probe += (air - probe) * (1 - math.exp(-dt / lag))
        if t >= next_read:
            reading = round((probe + float(rng.normal(0, 0.03))) / 0.25) * 0.25
            out.append((int(t * 1000), reading))
            next_read += every
    return out, struck


def test_a_door_that_struck_most_of_a_short_rise_is_measured_from_the_recent_steps() -> None:
    # the door's 1.5 K half a minute into a 7-min rise: the probe's lag spreads it over the
    # next readings, so most of the rise's few steps are the door's and so is their median
    # (a held-out old unit read 0.25, 0.75, 1.25, 1.0 K on such a rise). Measured from that
    # median, 22 of 29 such teeth read as clean cycles.
    rows, struck = old_unit(3, 30.0, 1.5)
    cycles = [c for c in cycles_of(rows, 60.0) if c.peak.ms > 3 * 3600_000]
    hit = [c for c in cycles if any(abs(c.peak.ms - s) <= 300_000 for s in struck)]
    calm = [c for c in cycles if c not in hit]
    assert len(hit) >= 25
    assert sum(c.normal for c in hit) <= len(hit) // 3
    assert all(c.normal for c in calm)


def test_a_leak_that_begins_abruptly_leaves_its_teeth_clean() -> None:
    # the warming half 50 % faster from one tooth to the next (a real leak ramps in over
    # hours): the recent teeth's step follows within a few teeth, and no later tooth jumps
    rows, _ = walk_in(7.0, [], 0.0, seed=6, leak=(12.0, 1.5))
    after = [c for c in cycles_of(rows) if c.peak.ms > 12 * 3600_000]
    assert len(after) > 20
    assert sum(not c.normal for c in after) <= 2


def test_a_sparse_or_coarse_probe_s_quantised_steps_are_no_door() -> None:
    # read every 5 min on a 0.5 K display, or every 30 s on a 0.2 K one: the rise's steps
    # are one display step or two, never a jump
    for every_s, step_c in ((300.0, 0.5), (30.0, 0.2)):
        rows, _ = walk_in(7.0, [], 0.0, every_s=every_s, step_c=step_c, seed=5)
        judged = cycles_of(rows, every_s)[8:]
        assert len(judged) > 20
        assert sum(c.normal for c in judged) >= 0.95 * len(judged)
