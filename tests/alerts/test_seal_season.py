"""A cold cabinet's seal norms follow the seasons (`alerts.rules.seal_season`): their level
moves with the clean hours, never faster than the seasons move a kitchen, and holds while a
seal alert is raised.

The plants are the simulator's cabinets of a tuning family (`firmware_sim.families`), read by
their own probe alone every 2 min, in a kitchen that warms steadily from the end of their
learning days (spring), or holds its usual days."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from alerts.engine import RuleEngine
from alerts.model import SealHealthPoint
from alerts.rules.base import dump_state, load_state
from alerts.rules.seal_ambient import unread_kitchen_move
from alerts.rules.seal_cold_state import ColdSealState
from alerts.rules.seal_cusum import CusumModel, HourNorm
from alerts.rules.seal_duty import DutyModel, DutyNorm
from alerts.rules.seal_season import SEASON_K_PER_DAY, LevelTrack, follow, note, note_cycle
from core.clock import StepClock
from firmware_sim.families import cold_params, draw_units
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import SiteDay
from firmware_sim.models.base import FloatArray
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT, school
from tests.alerts.test_seal_inference import run
from tests.alerts.test_seal_power import FAMILY, METERED, cabinet, config, seal_firing
from tests.alerts.test_seal_power_kitchen import HotKitchen, plug_rows

DAY_S = 86_400.0
SPRING_FROM = MIDNIGHT + timedelta(days=6)  # the learning days are over by then
EVERY_S = 120.0


class Spring(HotKitchen):
    """The family's cabinet in a kitchen warming `k_per_day` each day from `SPRING_FROM` (the
    hot kitchen's physics, with a rise that only grows)."""

    def __init__(self, *args: object, k_per_day: float, **kwargs: object) -> None:
        super().__init__(*args, rise_k=0.0, hot_h=0.0, **kwargs)
        self.k_per_day = k_per_day

    def rise(self, t: FloatArray) -> FloatArray:
        days: FloatArray = np.clip((t - SPRING_FROM.timestamp()) / DAY_S, 0.0, None)
        return self.k_per_day * days


def spring(
    index: int,
    days: float,
    k_per_day: float,
    leak: Fault | None = None,
    metrics: tuple[str, ...] = ("temp_c",),
) -> list[Row]:
    """`days` of the family's unit `index`, its `metrics` read every 2 min (its probe
    alone, or with its plug meter and door contact: `METERED`)."""
    [unit] = draw_units(FAMILY, 1, seed=1, first=index)
    site = config(EVERY_S)
    model = Spring(
        site.devices[0],
        cold_params(unit),
        SiteDay.of(site),
        seed=index,
        faults=[leak] if leak is not None else [],
        k_per_day=k_per_day,
    )
    return plug_rows(model, MIDNIGHT.timestamp() + np.arange(0, days * DAY_S, EVERY_S), metrics)


def engine(season_hours: float | None = None) -> RuleEngine:
    device = {"id": "f", "kind": "fridge", "building": "canteen", "interval_s": EVERY_S}
    rules = {} if season_hours is None else {"rules": {"seal_season_hours": season_hours}}
    return RuleEngine(school(devices=[device], **rules), StepClock(MIDNIGHT))


def fired_days(
    rows: list[Row], season_hours: float | None = None
) -> tuple[list[float], list[SealHealthPoint]]:
    findings, points = run(engine(season_hours), rows)
    at = [(f.at_ms / 1000 - MIDNIGHT.timestamp()) / DAY_S for f in seal_firing(findings)]
    return at, points


def moved(points: list[SealHealthPoint]) -> list[float]:
    """How far the norms' level had followed the season at each judged point."""
    return [
        float(p.evidence.get("season_moved") or 0.0) for p in points if "learning" not in p.evidence
    ]


@pytest.mark.parametrize("index", [0, 6])
def test_a_bare_probe_in_a_kitchen_warming_through_spring_raises_no_seal_alert(
    index: int,
) -> None:
    """0.2 K warmer each day from the sixth day: on the level it learned, the unit alerts on
    its 18th day; with its norms' level following the clean hours, it does not within four
    weeks, and its points say how far the level followed."""
    rows = spring(index, 28, 0.2)
    fixed, _ = fired_days(rows, season_hours=0.0)
    assert fixed and 17 < fixed[0] < 18, "the season alone reads as a leak on the learned level"
    at, points = fired_days(rows)
    assert at == []
    assert moved(points)[-1] > 0.05


@pytest.mark.parametrize(("index", "fixed_h", "followed_h"), [(0, 32.8, 39.8), (3, 16.8, 16.8)])
def test_a_leak_is_followed_no_faster_than_the_seasons_move_a_kitchen(
    index: int, fixed_h: float, followed_h: float
) -> None:
    """A 0.2 leak on the 17th day of a kitchen of constant mean: the level follows it by at
    most 0.016 a day, so it is confirmed as on the learned level or some hours later (7 h on
    unit 0); once its alert is raised, the level holds."""
    onset = MIDNIGHT.timestamp() + 16.3 * DAY_S
    leak = Fault(FaultType.SEAL_LEAK, "f", onset, severity=0.2, ramp_s=12 * 3600.0)
    rows = spring(index, 21.3, 0.0, leak)
    fixed, _ = fired_days(rows, season_hours=0.0)
    at, points = fired_days(rows)
    hours = [round((d - 16.3) * 24, 1) for d in (fixed[0], at[0])]
    assert hours == [fixed_h, followed_h]
    raised = MIDNIGHT.timestamp() + at[0] * DAY_S
    after = {moved([p])[0] for p in points if p.ts.timestamp() > raised + 3600}
    assert len(after) == 1, "the level holds while the alert is raised"


def test_each_hour_moves_the_level_by_a_share_of_its_residual_within_the_season_s_pace() -> None:
    """An hourly stream: the hour's mean residual 0.12, 1/24 of it is 0.005, over the most an
    hour may move (0.0007 for a fridge at 4 °C); three hours without a clean value let the next
    one move three times as far. The spreads and thresholds stay."""
    most = unread_kitchen_move(4.0, SEASON_K_PER_DAY / 24)
    assert most == pytest.approx(0.00065, abs=0.00001)
    model = DutyModel({h: DutyNorm(-1.0, 0.1) for h in range(24)}, CusumModel({}, 0.5, 10.0))
    track = LevelTrack()
    note(track, "", 0.1)
    note(track, "", 0.14)
    hour = 3_600_000
    after = follow(track, model, 1 / 24, most, 10 * hour)
    assert isinstance(after, DutyModel)
    assert after.hours[5].center == pytest.approx(-1.0 + most)
    assert after.hours[5].spread == 0.1 and after.threshold.h == 10.0
    assert track.sums == {} and track.moved[""] == pytest.approx(most)
    assert follow(track, after, 1 / 24, most, 11 * hour) is after  # nothing this hour
    note(track, "", 0.12)
    later = follow(track, after, 1 / 24, most, 13 * hour)
    assert isinstance(later, DutyModel)
    assert later.hours[0].center == pytest.approx(-1.0 + 4 * most)
    note(track, "", -0.001)
    held = follow(track, later, 0.0, most, 14 * hour)  # an alert is raised: the level holds
    assert held is later


def test_the_cycles_norms_move_feature_by_feature_and_survive_a_restart() -> None:
    norm = HourNorm({"warm_rate": 2.0, "pull_down": -3.0}, {"warm_rate": 0.1, "pull_down": 0.1})
    model = CusumModel({7: norm}, 0.5, 12.0, busy={7: norm})
    track = LevelTrack()
    note_cycle(track, {"warm_rate": 2.01, "pull_down": -3.024, "other": 1.0}, norm)
    after = follow(track, model, 1.0, 1.0, 3_600_000)
    assert isinstance(after, CusumModel)
    assert after.hours[7].center == pytest.approx({"warm_rate": 2.01, "pull_down": -3.024})
    assert after.busy[7].center == after.hours[7].center
    st = ColdSealState(season={"cusum": track})
    back = load_state(ColdSealState, dump_state(st))
    assert back.season["cusum"].moved == pytest.approx({"warm_rate": 0.01, "pull_down": -0.024})


@pytest.mark.parametrize("index", [0, 6])
def test_a_metered_unit_in_a_kitchen_warming_through_spring_raises_no_seal_alert(
    index: int,
) -> None:
    """The same spring read with a plug meter: the kitchen's shift is read from the draw, and
    believed no further than some 3 K past the season's level, which the draw's school days
    move; a weekend's cycles are read at that level, or at the draw's shift where it reads
    warmer. With the level held (as learned), the unit alerts once the kitchen has outrun the
    3 K, 4-5 K into spring (days 27-30); followed, it does not, and its points say how
    much warmer the draw reads the season's kitchen."""
    rows = spring(index, 32, 0.2, metrics=METERED)
    fixed, _ = fired_days(rows, season_hours=0.0)
    assert fixed and 27 < fixed[0] < 30, "spring reads as a leak on the learned level"
    at, points = fired_days(rows)
    assert at == []
    warmer = [p.evidence.get("season_kitchen_k") for p in points if "learning" not in p.evidence]
    assert warmer and all(isinstance(k, float) for k in warmer)
    assert 2.0 < float(warmer[-1]) < 5.0  # the kitchen is 5.2 K warmer by then


def test_a_metered_unit_s_level_is_not_followed() -> None:
    """A plug meter's draw reads the kitchen (`seal_power`): its norms keep their learned
    level, and its points carry no `season_moved`."""
    rows, interval = cabinet(0, 9, METERED)
    device = {"id": "f", "kind": "fridge", "building": "canteen", "interval_s": interval}
    _, points = run(RuleEngine(school(devices=[device]), StepClock(MIDNIGHT)), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged, "the baseline was learned"
    assert all("season_moved" not in p.evidence for p in judged)
