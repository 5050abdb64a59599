"""A cabinet that reports its kitchen's temperature (`ambient_temp_c`) beside its air has the
kitchen's share taken out of its seal evidence (`alerts.rules.seal_ambient`): a hot day no
longer reads as a leak on a bare probe, and a leak still does.

The plants are the simulator's cabinets of a tuning family (`firmware_sim.families`) in the
hot kitchen of `test_seal_power_kitchen` (4 K warmer for 30 h after the learning days,
ramping in and out over 4 h), read by their own probe alone, or with a room probe beside them
that reads the kitchen's air (0.1 K display step)."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from alerts.engine import RuleEngine
from alerts.rules.base import dump_state, load_state
from alerts.rules.seal_ambient import (
    KitchenState,
    follow_kitchen,
    kitchen_hour_shift,
    kitchen_moves,
    learn_kitchen,
    roll_kitchen_hour,
    unread_kitchen_move,
)
from alerts.rules.seal_cold_state import ColdSealState
from alerts.rules.seal_power import CAPACITY_PER_K, MIN_GAP_K
from core.clock import StepClock
from firmware_sim.families import cold_params, draw_units
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import SiteDay
from firmware_sim.models.base import FloatArray
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT, school
from tests.alerts.test_seal_inference import run
from tests.alerts.test_seal_power import FAMILY, config, judged, seal_firing
from tests.alerts.test_seal_power_kitchen import HOT_FROM, HotKitchen

HOUR_MS = 3_600_000
KITCHEN = ("temp_c", "ambient_temp_c")


class ReportedKitchen(HotKitchen):
    def kitchen(self, t: FloatArray) -> FloatArray:
        """The kitchen's air where the cabinet stands, as a room probe beside it reads it."""
        air: FloatArray = self._ambient[self._day.phase_of(t)] + self.rise(t)
        return air


def hot_day(
    index: int, metrics: tuple[str, ...], rise_k: float = 4.0, leak: Fault | None = None
) -> tuple[list[Row], float]:
    """Nine days of the family's unit `index` through the hot day: its probe's readings (and
    the kitchen's, with "ambient_temp_c" in `metrics`), and its reading interval."""
    [unit] = draw_units(FAMILY, 1, seed=1, first=index)
    site = config(unit.interval_s)
    model = ReportedKitchen(
        site.devices[0],
        cold_params(unit),
        SiteDay.of(site),
        seed=index,
        faults=[leak] if leak is not None else [],
        rise_k=rise_k,
        hot_h=30,
    )
    times = MIDNIGHT.timestamp() + np.arange(0, 9 * 86_400, unit.interval_s)
    air, kitchen = model.read(times).values["temp_c"], model.kitchen(times)
    rows: list[Row] = []
    for i, at in enumerate(times):
        values = {"temp_c": float(air[i])}
        if "ambient_temp_c" in metrics:
            values["ambient_temp_c"] = round(float(kitchen[i]), 1)
        rows.append(("f", datetime.fromtimestamp(float(at), MIDNIGHT.tzinfo), values))
    return rows, unit.interval_s


def engine(interval_s: float, swing_k: float | None = None) -> RuleEngine:
    """The rules for one fridge `f`; `swing_k` sets `seal_kitchen_swing_k` (default: its
    default)."""
    rules = {} if swing_k is None else {"rules": {"seal_kitchen_swing_k": swing_k}}
    device = {"id": "f", "kind": "fridge", "building": "canteen", "interval_s": interval_s}
    return RuleEngine(school(devices=[device], **rules), StepClock(MIDNIGHT))


def _fired_h(
    index: int, metrics: tuple[str, ...], swing_k: float | None = None, **kwargs: object
) -> list[float]:
    rows, interval = hot_day(index, metrics, **kwargs)  # type: ignore[arg-type]
    findings, _ = run(engine(interval, swing_k), rows)
    return [(f.at_ms - HOT_FROM.timestamp() * 1000) / HOUR_MS for f in seal_firing(findings)]


@pytest.mark.parametrize("index", [2, 3])
def test_a_hot_day_a_bare_probe_takes_for_a_leak_its_kitchen_probe_explains(index: int) -> None:
    """Read by its probe alone, with no allowance for a kitchen it cannot read
    (`seal_kitchen_swing_k` 0), each of these healthy units raised a seal alert 23 h into the
    hot day (their evidence 1.4 and 2.7 times its threshold); with the kitchen reported beside
    it, none does, and none comes within 0.6 of its threshold."""
    assert _fired_h(index, ("temp_c",), swing_k=0.0) == [23.0], "the hot day reads as a leak"
    rows, interval = hot_day(index, KITCHEN)
    findings, points = run(engine(interval), rows)
    assert seal_firing(findings) == []
    hot_ms = HOT_FROM.timestamp() * 1000
    verdicts = [
        p.evidence.get("verdict") for p in judged(points) if p.ts.timestamp() * 1000 > hot_ms
    ]
    shares = [float(v) for v in verdicts if isinstance(v, float | int)]
    assert shares, "the cycles were judged through the hot day"
    assert max(shares) < 0.6
    # each point says how far the kitchen ran off its norm: 4 K at the height of the heat
    excess = [p.evidence.get("kitchen_excess_c") for p in judged(points)]
    read = [float(e) for e in excess if isinstance(e, float | int)]
    assert 3.5 <= max(read) <= 4.5
    assert min(abs(e) for e in read) < 0.5  # at its norm outside the heat


def test_a_bare_probe_s_slopes_must_move_past_what_a_kitchen_it_cannot_read_moves() -> None:
    """A bare probe's slopes alert only once they moved further than a kitchen
    `seal_kitchen_swing_k` (3.5 K) warmer than on the learning days moves them, at the
    cabinet's air: unit 3 (a fridge read every 30 s) through the 4 K hot day came to 2.0
    times its threshold, its cycles moved by less than that, and raised nothing; each judged
    point says the least move. A day further past the swing still reads as a leak: unit 2's
    cycles moved past it, and it alerted 27 h in (23 h without the allowance)."""
    rows, interval = hot_day(3, ("temp_c",))
    findings, points = run(engine(interval), rows)
    assert seal_firing(findings) == []
    least = {p.evidence.get("slopes_min_move") for p in judged(points)}
    assert len(least) == 1, "one least move, from the learning days' air"
    assert least.pop() == pytest.approx(0.198, abs=0.002), "at a fridge's air, about 3.7 °C"
    assert _fired_h(2, ("temp_c",)) == [27.0]


@pytest.mark.parametrize(
    ("cabinet_c", "swing_k", "move"),
    [
        (4.0, 3.5, math.log(19.5 / 16)),  # a fridge in a 20 °C kitchen
        (-20.0, 3.5, math.log(43.5 / 40)),  # a freezer: the same kelvin is less of its load
        (15.0, 3.5, math.log(13.5 / MIN_GAP_K)),  # near the kitchen: no nearer than the floor
        (4.0, 0.0, 0.0),  # turned off
    ],
)
def test_the_move_a_kitchen_warmer_by_the_swing_adds_through_the_walls(
    cabinet_c: float, swing_k: float, move: float
) -> None:
    assert unread_kitchen_move(cabinet_c, swing_k) == pytest.approx(move)


def test_a_035_leak_is_confirmed_sooner_with_the_kitchen_reported() -> None:
    """Unit 3 (a probe read every 30 s), a 0.35 leak ramping in over 12 h: on a usual day it
    is confirmed at 19 h with the kitchen reported (a kitchen at its norms takes nothing out),
    as a bare probe with no allowance for the kitchen confirms it; a bare probe's slopes must
    move past what a warmer kitchen would move them (`seal_kitchen_swing_k`), 3 h later.
    Begun with the hot day it is still confirmed within a day (22 h), if later than on a usual
    day: fans, food and doors carry part of the load and do not follow the kitchen, so the
    whole wall share taken out is a little more than the kitchen added (`seal_ambient`). Read
    by the probe alone, the same hot day had it at 5 h, the heat counted as leak."""
    leak = Fault(FaultType.SEAL_LEAK, "f", HOT_FROM.timestamp(), severity=0.35, ramp_s=12 * 3600.0)
    reported = _fired_h(3, KITCHEN, rise_k=0.0, leak=leak)
    assert reported == [19.0], "the leak was confirmed"
    assert _fired_h(3, ("temp_c",), swing_k=0.0, rise_k=0.0, leak=leak) == reported
    assert _fired_h(3, ("temp_c",), rise_k=0.0, leak=leak) == [22.0]
    hot = _fired_h(3, KITCHEN, leak=leak)
    assert hot, "the leak was confirmed through the hot day"
    assert hot[0] <= 24.0


# -- the kitchen followed, learned and weighed ---------------------------------------------


def _learned(kitchen_c: float = 24.0, air_c: float = 4.0, days: int = 4) -> KitchenState:
    """A kitchen at `kitchen_c` around the clock on `days` school days, read every 10 min."""
    st = KitchenState()
    for hour in range(days * 24):
        start = hour * HOUR_MS
        roll_kitchen_hour(st, start, hour % 24, False)
        for minute in range(0, 60, 10):
            follow_kitchen(st, start + minute * 60_000, kitchen_c, air_c)
    roll_kitchen_hour(st, days * 24 * HOUR_MS, 0, False)
    learn_kitchen(st)
    return st


def _warmer(st: KitchenState, kitchen_c: float, hours: int = 6) -> int:
    """The kitchen at `kitchen_c` for `hours` after the learning; the time of the last reading."""
    start = 4 * 24 * HOUR_MS
    ts = start
    for hour in range(hours):
        roll_kitchen_hour(st, start + hour * HOUR_MS, hour % 24, False)
        for minute in range(0, 60, 10):
            ts = start + hour * HOUR_MS + minute * 60_000
            follow_kitchen(st, ts, kitchen_c, 4.0)
    roll_kitchen_hour(st, start + hours * HOUR_MS, hours % 24, False)
    return ts


@pytest.mark.parametrize(
    ("kitchen_c", "load", "capacity"),
    [
        (24.0, 0.0, 0.0),  # at its norm: nothing to take out
        (26.0, math.log(22 / 20), 2 * CAPACITY_PER_K),  # 2 K warmer: walls 10 % more
        (20.0, 0.0, 0.0),  # cooler: credited nothing (fans, food and doors do not follow it)
        (40.0, math.log(26 / 20), 6 * CAPACITY_PER_K),  # 16 K warmer: believed up to 6 K
    ],
)
def test_a_warmer_kitchen_moves_the_load_through_the_walls_and_takes_capacity(
    kitchen_c: float, load: float, capacity: float
) -> None:
    st = _learned()
    assert st.cabinet_c == pytest.approx(4.0)
    ts = _warmer(st, kitchen_c)  # followed over an hour's lag: six hours are near all of it
    moves = kitchen_moves(st, ts, ts - ts % HOUR_MS, 5, False)
    assert moves is not None
    assert moves[0] == pytest.approx(load, rel=0.02, abs=1e-3)
    assert moves[1] == pytest.approx(capacity, rel=0.02, abs=1e-3)
    shift = kitchen_hour_shift(st, 4 * 24 * HOUR_MS + 5 * HOUR_MS)
    assert shift is not None and shift == pytest.approx(load + capacity, rel=0.05, abs=1e-3)


def test_a_cabinet_that_never_reports_its_kitchen_has_no_shift() -> None:
    st = KitchenState()
    for hour in range(5 * 24):
        roll_kitchen_hour(st, hour * HOUR_MS, hour % 24, False)
        follow_kitchen(st, hour * HOUR_MS, None, 4.0)
    learn_kitchen(st)
    assert kitchen_moves(st, 5 * 24 * HOUR_MS, 5 * 24 * HOUR_MS, 0, False) is None
    assert kitchen_hour_shift(st, 4 * 24 * HOUR_MS) is None


def test_a_silent_kitchen_probe_stops_speaking() -> None:
    st = _learned()
    ts = _warmer(st, 28.0, hours=1)
    assert kitchen_moves(st, ts + HOUR_MS, ts, 1, False) is not None
    assert kitchen_moves(st, ts + 3 * HOUR_MS, ts, 1, False) is None  # its last reading is stale


def test_a_cabinet_close_to_the_kitchens_temperature_is_not_corrected() -> None:
    st = _learned(kitchen_c=24.0, air_c=18.0)  # a wine cooler, not a fridge
    ts = _warmer(st, 28.0)
    assert kitchen_moves(st, ts, ts - ts % HOUR_MS, 5, False) == (0.0, 0.0)


def test_a_kitchen_probe_added_after_the_baseline_is_learned_from_four_days() -> None:
    st = KitchenState()
    learn_kitchen(st)  # the seal's baseline: no kitchen reported yet
    for hour in range(4 * 24):
        roll_kitchen_hour(st, hour * HOUR_MS, hour % 24, False)
        follow_kitchen(st, hour * HOUR_MS, 23.0, 3.0)
        learn_kitchen(st, late=True)
        assert st.cabinet_c is None, "not before four days of it"
    roll_kitchen_hour(st, 96 * HOUR_MS, 0, False)
    learn_kitchen(st, late=True)
    assert st.cabinet_c == pytest.approx(3.0)
    assert st.school[7] == pytest.approx(23.0)


def test_the_kitchens_norms_survive_a_snapshot_and_an_older_snapshot_has_none() -> None:
    state = ColdSealState()
    state.kitchen = _learned()
    restored = load_state(ColdSealState, dump_state(state))
    assert restored.kitchen.school == state.kitchen.school
    assert restored.kitchen.cabinet_c == state.kitchen.cabinet_c
    older = dump_state(ColdSealState())
    del older["kitchen"]
    assert load_state(ColdSealState, older).kitchen == KitchenState()


def _wandering() -> KitchenState:
    """Learning days 1 K either side of 24 °C, a day at a time."""
    st = KitchenState()
    for hour in range(4 * 24):
        roll_kitchen_hour(st, hour * HOUR_MS, hour % 24, False)
        kitchen = 23.0 if (hour // 24) % 2 else 25.0
        st.level_c = kitchen  # each day's kitchen settled (no lag at the change)
        for minute in range(0, 60, 10):
            follow_kitchen(st, hour * HOUR_MS + minute * 60_000, kitchen, 4.0)
    roll_kitchen_hour(st, 96 * HOUR_MS, 0, False)
    learn_kitchen(st)
    return st


def test_a_kitchen_within_its_usual_wander_is_left_to_the_allowance() -> None:
    """Learning days 1 K either side of 24 °C (a robust sigma of 1.48 K): the drift allowance
    was learned with that wander in it, so only a kitchen beyond it is taken out, measured
    from there."""
    st = _wandering()
    assert st.school[12] == pytest.approx(24.0)
    assert st.wander_c == pytest.approx(1.4826, rel=1e-3)
    ts = _warmer(st, 25.0)
    assert kitchen_moves(st, ts, ts - ts % HOUR_MS, 5, False) == (0.0, 0.0)
    st = _wandering()
    ts = _warmer(st, 28.0)
    load, capacity = kitchen_moves(st, ts, ts - ts % HOUR_MS, 5, False) or (0.0, 0.0)
    beyond = 4.0 - 1.4826
    assert load == pytest.approx(math.log1p(beyond / (24.0 + 1.4826 - 4.0)), rel=0.02)
    assert capacity == pytest.approx(CAPACITY_PER_K * beyond, rel=0.02)
