"""A day without meals runs a cabinet below its school days' on-share (doors shut, the kitchen
cold): the every-hour meter's norms learn the quiet days' offset (`seal_power._quiet_offsets`)
so that a leak which begins on a Friday is seen on the Saturday, not on the Monday."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.rules.base import dump_state, load_state
from alerts.rules.seal_cold_state import ColdSealState
from alerts.rules.seal_cusum import EvidenceLimits
from alerts.rules.seal_power import (
    PowerHour,
    PowerModel,
    PowerState,
    learn_power,
    roll_power_hour,
    score_power_hour,
)
from firmware_sim.families import draw_units
from firmware_sim.faults import Fault, FaultType
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run
from tests.alerts.test_seal_power import FAMILY, METERED, cabinet, judged, seal_firing

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
LIMITS = EvidenceLimits(0.5, 10.0)
CYCLE_MS = 20 * 60_000  # three cycles of 20 min an hour


def _hour(day: int, hour: int, on_share: float, quiet: bool) -> PowerHour:
    """An hour of three 20-min cycles at `on_share`, read every minute while running."""
    on_ms = round(3 * CYCLE_MS * on_share)
    ended = PowerHour(day * DAY_MS + hour * HOUR_MS, hour, quiet, 3 * CYCLE_MS, on_ms)
    ended.draw_w, ended.draws = 200.0 * on_ms / 60_000, on_ms // 60_000
    return ended


def _days(days: range, on_share: float, quiet: bool, rng: np.random.Generator) -> list[PowerHour]:
    """The hours of `days`, their on-share scattered by 5 % (log) about `on_share`."""
    return [
        _hour(day, hour, on_share * math.exp(0.05 * rng.standard_normal()), quiet)
        for day in days
        for hour in range(24)
    ]


def _learned(
    quiet_share: float | None, quiet_days: int = 2, day_shifts: tuple[float, ...] = (0.0,) * 4
) -> PowerModel:
    """Four school days at 0.30 (each moved by its `day_shifts`, log), then `quiet_days`
    without meals at `quiet_share`."""
    rng = np.random.default_rng(7)
    school = [
        hour
        for day, shift in enumerate(day_shifts)
        for hour in _days(range(day, day + 1), 0.30 * math.exp(shift), False, rng)
    ]
    quiet = [] if quiet_share is None else _days(range(4, 4 + quiet_days), quiet_share, True, rng)
    model = learn_power(school, LIMITS, quiet=quiet)
    assert model is not None
    return model


def test_a_quiet_weekend_lowers_the_norm_of_days_without_meals_by_what_it_showed() -> None:
    model = _learned(0.24)  # a fifth below the school days: log 0.8 = -0.22
    assert set(model.quiet) == set(range(24))
    # each hour's offset rests on a pool of ten hours scattered by 5 %, and is credited up to
    # its own standard error (about 0.02)
    assert all(-0.26 < offset < -0.16 for offset in model.quiet.values())
    assert -0.23 < float(np.median(list(model.quiet.values()))) < -0.19


def test_school_days_that_differ_from_day_to_day_credit_a_weekend_less() -> None:
    # days 10 % apart (a sample deviation of 0.1): the two quiet days' common shift is known
    # to about 0.07, which the offsets give back
    model = _learned(0.24, day_shifts=(-0.1, 0.1, -0.1, 0.1))
    assert -0.19 < float(np.median(list(model.quiet.values()))) < -0.09


@pytest.mark.parametrize(
    ("quiet_share", "quiet_days"),
    [
        (0.36, 2),  # a weekend busier than the school days: never judged as busier
        (0.24, 1),  # a single day without meals says too little
        (None, 0),  # none at all
    ],
)
def test_no_offset_without_a_quieter_weekend_of_two_days(
    quiet_share: float | None, quiet_days: int
) -> None:
    model = _learned(quiet_share, quiet_days)
    assert all(offset == 0.0 for offset in model.quiet.values())


def _saturday(model: PowerModel, on_share: float) -> float:
    """The evidence (share of h) after a Saturday's hours at `on_share`."""
    st = PowerState(model=model)
    for hour in range(24):
        score_power_hour(st, _hour(7, hour, on_share, True))
    return st.cusum.evidence / model.duty.threshold.h


def test_a_leak_on_a_saturday_is_read_against_the_quiet_days_norm() -> None:
    model = _learned(0.24)
    assert _saturday(model, 0.24) == 0.0  # a usual Saturday
    # a leak lifting the Saturday by a quarter (to the school days' level): silent against
    # the school days' norm, past h against the quiet days'
    assert _saturday(model, 0.30) >= 1.0
    assert _saturday(_learned(None), 0.30) < 0.2


# -- through the engine, on the simulator: a cabinet installed on a Thursday ----------------

THURSDAY = MIDNIGHT + timedelta(days=3)  # learns Thursday to Tuesday, a weekend among them


def _from_thursday(index: int, days: float, leak: Fault | None = None) -> list[Row]:
    rows, _ = cabinet(index, 3 + days, METERED, leak=leak)
    return [row for row in rows if row[1] >= THURSDAY]


@pytest.mark.parametrize("index", [0, 1])
def test_a_healthy_cabinet_stays_silent_on_its_second_weekend(index: int) -> None:
    rows = _from_thursday(index, 12)
    [unit] = draw_units(FAMILY, 1, seed=1, first=index)
    findings, points = run(engine(unit.interval_s), rows)
    assert judged(points), "the baseline was learned"
    assert seal_firing(findings) == []


def test_a_leak_from_a_friday_evening_is_confirmed_within_24_h_over_the_weekend() -> None:
    # unit 1 runs its learning weekend's days 10-20 % below its school days' on-share; judged
    # on the school days' norms alone, this leak was confirmed at 30 h (Sunday 00:00), here 20 h
    onset = THURSDAY + timedelta(days=8, hours=18)  # the second Friday, 18:00
    leak = Fault(FaultType.SEAL_LEAK, "f", onset.timestamp(), severity=0.35, ramp_s=12 * 3600.0)
    [unit] = draw_units(FAMILY, 1, seed=1, first=1)
    findings, _ = run(engine(unit.interval_s), _from_thursday(1, 12, leak))
    fired = seal_firing(findings)
    assert fired, "the leak was confirmed"
    at = datetime.fromtimestamp(fired[0].at_ms / 1000, UTC)
    assert onset <= at <= onset + timedelta(hours=24)


def test_the_quiet_offsets_survive_a_restart() -> None:
    # the engine's state is saved as JSON (`alerts.rules.base.dump_state`), whose keys are
    # strings: the offsets come back per local hour as learned
    state = ColdSealState()
    state.power.model = _learned(0.24)
    saved = json.loads(json.dumps(dump_state(state)))
    restored = load_state(ColdSealState, saved)
    assert restored.power.model is not None
    assert restored.power.model.quiet == state.power.model.quiet
    assert len(restored.power.model.quiet) == 24


def _rolled(model: PowerModel, hours: list[PowerHour], st: PowerState | None = None) -> PowerState:
    """The meter's state (`st`, else a new one) after `hours` ended one after another."""
    st = st if st is not None else PowerState(model=model)
    for ended in hours:
        st.hour = ended
        roll_power_hour(st, ended.start_ms + HOUR_MS, (ended.hour + 1) % 24, ended.quiet)
    return st


def test_a_unit_that_learned_no_weekend_learns_it_from_the_first_one_after() -> None:
    # installed on a Monday, it learned Monday to Thursday: its first weekend is judged on the
    # school days' norms, and the offsets are learned from it once the Monday begins
    rng = np.random.default_rng(11)
    weekend = _days(range(5, 7), 0.24, True, rng)
    model = _learned(None)
    assert not model.quiet_learned
    st = _rolled(model, weekend)
    assert model.quiet == {} and len(st.quiet_seen) == 48  # still on the weekend
    _rolled(model, _days(range(7, 8), 0.30, False, rng)[:1], st)
    assert model.quiet_learned
    assert -0.23 < float(np.median(list(model.quiet.values()))) < -0.19
    # a single day without meals (a holiday) teaches nothing, and is forgotten
    model = _learned(None)
    st = _rolled(model, [*_days(range(5, 6), 0.24, True, rng), _hour(6, 0, 0.3, False)])
    assert not model.quiet_learned and st.quiet_seen == []


def test_a_unit_installed_on_a_monday_stays_silent_on_its_second_weekend() -> None:
    rows, interval = cabinet(1, 15, METERED)
    findings, points = run(engine(interval), rows)
    assert judged(points), "the baseline was learned"
    assert seal_firing(findings) == []
