"""The bench's independent plant behaves like a cold cabinet: a healthy unit holds its band at
the duty its compressor was sized for, a seal leak raises the duty by the extra load, a defrost
warms the air and the unit pulls back into band afterwards."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.independent_plant import (
    DT_S,
    LEAK_RAMP_S,
    SPELL_RAMP_S,
    CompressorFailure,
    SealLeak,
    WarmSpell,
    run_plant,
)
from firmware_sim.families import FAMILIES, draw_units

MONDAY = 1_730_649_600.0  # 2024-11-04 00:00 in Asia/Shanghai (UTC+8)
DAY = 86_400.0

# A reach-in with round numbers: band 2-4 °C (middle 3 °C), walls 5 W/K, fan 10 W. At the
# design ambient of 25 °C the steady load is 5 x (25 - 3) + 10 = 120 W; sized with a margin of
# 4 the compressor removes 480 W, so the design duty is 120 / 480 = 0.25.
UNIT = dataclasses.replace(
    draw_units(FAMILIES["small reach-in"], 1, seed=1)[0],
    cut_out_c=2.0,
    differential_k=2.0,
    wall_ua_w_per_k=5.0,
    fan_w=10.0,
    cooling_w=480.0,
    air_kj_per_k=40.0,
    product_kj_per_k=300.0,
    product_ua_w_per_k=10.0,
    leak_ua_w_per_k=7.5,
    defrost_heater_w=0.0,
)


def test_a_healthy_unit_holds_its_band_at_its_design_duty() -> None:
    """Capacity grows 2 %/K above the cut-out, about 1.02x at the 3 °C middle: duty
    120 / (480 x 1.02) = 0.245, inside the 0.2-0.3 of a well-sized cabinet."""
    run = run_plant([UNIT], MONDAY, 2, seed=1, doors=False, defrosts=False, kitchen=False)
    duty = run.duty(0, MONDAY + DAY, MONDAY + 2 * DAY)
    assert 0.2 <= duty <= 0.3
    assert duty == pytest.approx(0.245, abs=0.015)
    settled = run.air[int(DAY / DT_S) :, 0]
    # Overshoot past the band: at most a minimum-off time (240 s) of warming, a few tenths.
    assert settled.min() > UNIT.cut_out_c - 0.5 and settled.max() < UNIT.cut_in_c + 0.5


def test_a_seal_leak_raises_the_duty_by_its_extra_load() -> None:
    """Severity 0.5 of a 7.5 W/K tear adds 3.75 W/K: load (5 + 3.75) x 22 + 10 = 202.5 W,
    duty 202.5 / 490 = 0.41 once the 12 h ramp is over, 1.7x the healthy 0.245."""
    leak = SealLeak(0, MONDAY, 0.5)
    run = run_plant(
        [UNIT, UNIT], MONDAY, 2, seed=1, leaks=[leak], doors=False, defrosts=False, kitchen=False
    )
    after_ramp = MONDAY + LEAK_RAMP_S + 3600
    leaking = run.duty(0, after_ramp, MONDAY + 2 * DAY)
    healthy = run.duty(1, after_ramp, MONDAY + 2 * DAY)
    assert leaking == pytest.approx(0.41, abs=0.03)
    assert leaking > 1.5 * healthy
    ramping = run.duty(0, MONDAY + 2 * 3600, MONDAY + 4 * 3600)  # a sixth of the way in
    assert healthy < ramping < leaking


def test_a_defrost_warms_the_air_then_the_unit_recovers() -> None:
    """A 600 W heater puts 20 % (120 W) into the air; with the wall's 110 W and no cooling the
    air warms towards about 15 K above the product with a time constant of C_air / (G_product +
    G_wall) = 40 kJ/K / 15 W/K = 44 min, so a 30 min defrost lifts it about 15 x (1 - e^-0.68) =
    7 K. Afterwards the compressor removes about 550 W against a load of about 200 W: back in
    band within half an hour."""
    unit = dataclasses.replace(
        UNIT, defrost_heater_w=600.0, defrost_min=30.0, defrosts_per_day=4,
        defrost_phase_h=1.0, defrost_drift_min_per_day=0.0,
    )  # fmt: skip
    run = run_plant([unit], MONDAY, 1, seed=1, doors=False, kitchen=False)
    t = run.times
    start, end = MONDAY + 7 * 3600, MONDAY + 7.5 * 3600  # the second defrost of the day
    before = run.air[(t >= start - 1800) & (t < start), 0]
    during = run.air[(t >= start) & (t < end), 0]
    after = run.air[(t >= end + 1800) & (t < end + 3600), 0]
    assert run.defrost[(t >= start) & (t < end), 0].all()
    assert not run.compressor[(t >= start) & (t < end), 0].any()
    assert before.max() < unit.cut_in_c + 0.5
    assert unit.cut_in_c + 3 < during.max() < unit.cut_in_c + 10
    assert after.max() < unit.cut_in_c + 0.5


def test_the_product_lags_the_air_after_a_compressor_failure() -> None:
    """The food holds 300 kJ/K behind 10 W/K: its time constant is 8 h, so two hours after a
    failure the air is far above the limit while the product has moved a few kelvin."""
    failure = CompressorFailure(0, MONDAY + DAY, 6 * 3600)
    run = run_plant(
        [UNIT], MONDAY, 2, seed=1, failures=[failure], doors=False, defrosts=False, kitchen=False
    )
    two_hours = int((DAY + 2 * 3600) / DT_S)
    assert run.air[two_hours, 0] > 8.0
    assert run.product[two_hours, 0] < run.air[two_hours, 0] - 3


def test_the_same_seed_gives_the_same_plant() -> None:
    units = draw_units(FAMILIES["old unit with long defrost"], 3, seed=4)
    a = run_plant(units, MONDAY, 0.5, seed=9)
    b = run_plant(units, MONDAY, 0.5, seed=9)
    c = run_plant(units, MONDAY, 0.5, seed=10)
    assert np.array_equal(a.probe, b.probe) and a.doors == b.doors
    assert a.doors != c.doors


def test_a_warm_spell_warms_every_cabinets_kitchen_at_once_and_draws_nothing() -> None:
    """3 K over the whole kitchen from the second day for a day, ramping in and out over
    12 h: every cabinet's kitchen is 3 K warmer in its middle and as it was outside it, the
    doors and the wander the same as without it. The duty rises with the walls' share (5 W/K
    x 3 K on 120 W: an eighth more) and the capacity the warmer condenser takes (1.5 %/K:
    4.5 %), 1.125 / 0.955 = 1.18 times."""
    units = [UNIT, UNIT]
    spell = WarmSpell(MONDAY + DAY, MONDAY + 2 * DAY + SPELL_RAMP_S, 3.0)
    plain = run_plant(units, MONDAY, 3, seed=2, defrosts=False)
    warm = run_plant(units, MONDAY, 3, seed=2, defrosts=False, spell=spell)
    assert plain.ambient is not None and warm.ambient is not None
    step = (warm.times - MONDAY) / DT_S
    middle = (step >= (DAY + SPELL_RAMP_S) / DT_S) & (step < 2 * DAY / DT_S)
    outside = warm.times < MONDAY + DAY
    assert np.allclose(warm.ambient[middle] - plain.ambient[middle], 3.0)
    assert np.array_equal(warm.ambient[outside], plain.ambient[outside])
    assert warm.doors == plain.doors
    quiet = [
        run_plant(units, MONDAY, 3, seed=2, doors=False, defrosts=False, kitchen=False, spell=s)
        for s in (None, spell)
    ]
    before = quiet[0].duty(0, MONDAY + DAY + SPELL_RAMP_S, MONDAY + 2 * DAY)
    during = quiet[1].duty(0, MONDAY + DAY + SPELL_RAMP_S, MONDAY + 2 * DAY)
    assert during / before == pytest.approx((1 + 15 / 120) / (1 - 0.045), abs=0.02)
