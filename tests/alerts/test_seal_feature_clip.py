"""A cycle's evidence rests on all its features moving, not on one misread (`seal_cusum.
score_cycle`), and its slopes are believed only as finely as the display reads them
(`seal_cusum.rate_reading`) and its runs as finely as the readings count them
(`seal_cusum.cycle_reading`)."""

from __future__ import annotations

import math

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import (
    HourNorm,
    cycle_log,
    cycle_logs,
    cycle_reading,
    learn_norms,
    rate_reading,
    score_cycle,
)
from tests.alerts.conftest import alike_hours

FEATURES = ("warm_rate", "pull_down", "duty")


def _norm(spread: float = 0.2) -> HourNorm:
    return HourNorm({f: 0.0 for f in FEATURES}, {f: spread for f in FEATURES})


def test_one_misread_feature_cannot_carry_its_cycle() -> None:
    # a coarse display reads a tooth's fall as one step over most of the run: a pull-down
    # 16 times slower than usual, 14 spreads, while the warming rate is as usual
    logs = {"warm_rate": 0.0, "pull_down": math.log(16.0)}
    z, _ = score_cycle(logs, _norm(), clip=3.0)
    # weighed 0.2 of 0.6, the pull-down's clipped 3 spreads give 1: unclipped it gave 4.6,
    # clipped at the bound as a whole 3
    assert z == pytest.approx(1.0)


def test_a_leak_moving_every_feature_reaches_the_bound() -> None:
    logs = {"warm_rate": 0.8, "pull_down": 0.9, "duty": 1.0}  # 4-5 spreads each
    assert score_cycle(logs, _norm(), clip=3.0)[0] == pytest.approx(3.0)
    # a unit with a wide allowance is scored up to its own bound (`CusumModel.clip`): the
    # warming rate's 4 spreads, the pull-down's 4.5 and the duty's 5 clipped at 4.5
    assert score_cycle(logs, _norm(), clip=4.5)[0] == pytest.approx(0.4 * 4 + 0.2 * 4.5 + 0.4 * 4.5)


def test_a_metered_cycles_rates_count_only_as_far_as_its_on_share_agrees() -> None:
    # a coarse display reads a metered tooth warming 2.25 times its norm (4 spreads) while the
    # meter reads the same cycle's run as usual
    logs = {"warm_rate": math.log(2.25), "pull_down": 0.0, "duty": 0.0}
    z, move = score_cycle(logs, _norm(), clip=3.0)
    assert z == pytest.approx(0.4 * 1.0)  # a spread beyond the on-share's, not the clip's 3
    assert move == pytest.approx(0.4 * 1.25)  # the move still says what the rates read
    # a leak moves the on-share with them: the rates count up to the clip
    leak = {"warm_rate": math.log(2.25), "pull_down": 0.5, "duty": 0.5}
    assert score_cycle(leak, _norm(), clip=3.0)[0] == pytest.approx(0.4 * 3 + 0.2 * 2.5 + 0.4 * 2.5)
    # an on-share below its norm agrees with no excess at all
    low = {"warm_rate": math.log(2.25), "pull_down": 0.0, "duty": -0.4}
    assert score_cycle(low, _norm(), clip=3.0)[0] == pytest.approx(0.4 * 1.0 + 0.4 * -2.0)
    # unmetered, the probe's rates are all there is
    bare = {"warm_rate": math.log(2.25), "pull_down": 0.0}
    assert score_cycle(bare, _norm(), clip=3.0)[0] == pytest.approx(0.4 * 3.0 / 0.6)


def test_a_feature_far_below_its_norm_is_clipped_too() -> None:
    logs = {"warm_rate": -4.0, "pull_down": 0.0, "duty": 0.0}
    z, _ = score_cycle(logs, _norm(), clip=3.0)
    assert z == pytest.approx(0.4 * -3.0)


def test_the_move_is_not_clipped() -> None:
    # the move sizes the change in relative terms: a misread still shows as one
    logs = {"warm_rate": 0.0, "pull_down": math.log(16.0)}
    _, move = score_cycle(logs, _norm(), clip=3.0)
    assert move == pytest.approx(0.2 * 15.0 / 0.6)


@pytest.mark.parametrize(
    ("step_c", "swing_c", "read"),
    [
        (0.5, 1.4, math.log1p(0.5 / (math.sqrt(6) * 1.4))),  # about 14 %
        (0.5, 2.7, math.log1p(0.5 / (math.sqrt(6) * 2.7))),  # about 7 %
        (0.1, 1.5, math.log1p(0.1 / (math.sqrt(6) * 1.5))),  # under the 0.04 floor
        (0.5, 0.2, math.log1p(1 / math.sqrt(6))),  # a swing under a step reads one step
    ],
)
def test_a_tooths_slopes_are_read_to_a_display_step_of_its_swing(
    step_c: float, swing_c: float, read: float
) -> None:
    assert rate_reading(step_c, swing_c) == pytest.approx(read)


def test_no_step_seen_means_no_floor() -> None:
    assert rate_reading(None, 1.5) == 0.0
    assert rate_reading(0.5, 0.0) == 0.0


def _hours(days: int, read: float | None) -> list[HourFeatures]:
    """Hours of 4 alike cycles read on a coarse display: every tooth reads the same slopes,
    so the learning days' MAD is 0."""
    return alike_hours(days, 4, (6.0, 20.0), None, rate_read=read)


def test_the_slopes_spread_is_at_least_their_reading_and_older_hours_keep_the_floors() -> None:
    read = rate_reading(0.5, 1.4)
    norms = learn_norms(_hours(4, read))
    assert norms
    for norm in norms.values():
        for feature in ("warm_rate", "pull_down", "warm_fit", "pull_fit"):
            assert norm.spread[feature] == pytest.approx(read)
    kept = learn_norms(_hours(4, None))  # hours saved before the reading was kept
    assert {n.spread["warm_rate"] for n in kept.values()} == {0.04}
    assert {n.spread["pull_down"] for n in kept.values()} == {0.05}


def test_a_fine_display_keeps_the_floors() -> None:
    norms = learn_norms(_hours(4, rate_reading(0.01, 1.5)))
    assert {n.spread["warm_rate"] for n in norms.values()} == {0.04}


def test_the_read_rides_with_the_cycle_not_as_a_feature() -> None:
    logs = cycle_log(6.0, 20.0, None, (6.0, 20.0), None, 0.13)
    assert logs["rate_read"] == 0.13
    norm = HourNorm({"warm_rate": math.log(6.0)}, {"warm_rate": 0.1})
    assert score_cycle(logs, norm)[0] == pytest.approx(0.0)


def _runs(days: int, read: bool) -> list[HourFeatures]:
    """A probe read every 2 min on runs of about 3 min: of each hour's 5 runs, 3 read as two
    readings (a pull-down of 1.5 K in 4 min) and 2 as three (in 6 min)."""
    hours = alike_hours(days, 5, (6.0, 22.5), None)
    for hour in hours:
        hour.cool = hour.cool_fit = [22.5, 22.5, 22.5, 15.0, 15.0]
        if read:
            hour.cool_read = [cycle_reading(120_000, 3_600_000 * 1.5 / c) for c in hour.cool]
    return hours


def test_a_run_read_a_reading_longer_is_no_leak_where_readings_count_it() -> None:
    # Most runs read as two readings: the pull-downs' median deviation is 0. Their spread is
    # at least half a reading of the run (the metered run's floor), so a run read as three
    # readings, 50 % slower, stands under two spreads, not eight at the 0.05 floor.
    norms = learn_norms(_runs(4, read=True))
    assert norms
    for norm in norms.values():
        assert norm.spread["pull_down"] == pytest.approx(math.log1p(0.25))
        assert norm.spread["pull_fit"] == pytest.approx(math.log1p(0.25))
        slow = cycle_logs(_runs(1, read=True)[0])[-1]
        assert (slow["pull_down"] - norm.center["pull_down"]) / norm.spread["pull_down"] < 2.0
    kept = learn_norms(_runs(4, read=False))  # hours saved before the runs' reading was kept
    assert {n.spread["pull_down"] for n in kept.values()} == {0.05}
