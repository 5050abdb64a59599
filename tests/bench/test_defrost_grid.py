"""The defrost-grid bench's scoring (`bench.defrost_grid`): a learned timer's windows against
the defrosts a plant ran."""

from __future__ import annotations

from bench.defrost_grid import GridScore, row, score_unit
from tests.alerts.test_defrost_grid import HOUR_MS, MINUTE_MS, disturbances

SPELLS_H = [1.0 + 6 * k for k in range(12)]  # a 6-h timer from 01:00, three days


def readings() -> list[tuple[int, float]]:
    """A 3 °C air read every minute, warmed to 8 °C for 30 min from each of `SPELLS_H`."""
    warm = [(int(s * HOUR_MS), int(s * HOUR_MS) + 30 * MINUTE_MS) for s in SPELLS_H]
    out = []
    for m in range(72 * 60):
        at = m * MINUTE_MS
        out.append((at, 8.0 if any(a <= at < b for a, b in warm) else 3.0))
    return out


def spans(shift_h: float) -> list[tuple[float, float]]:
    return [((s + shift_h) * HOUR_MS, (s + shift_h) * HOUR_MS + 25 * MINUTE_MS) for s in SPELLS_H]


def test_a_timer_learned_on_its_defrosts_holds_each_one_after_it_is_believed() -> None:
    score = score_unit(disturbances(), readings(), spans(0.0))
    assert score.window_h > 0
    assert score.false_h == 0.0
    assert score.defrosts > 0 and score.missed == 0


def test_windows_between_the_plants_defrosts_are_false_and_miss_them_all() -> None:
    # the same spells scored against defrosts 3 h later: every window held none of them
    score = score_unit(disturbances(), readings(), spans(3.0))
    assert score.window_h > 0
    assert score.false_h == score.window_h
    assert score.missed == score.defrosts > 0


def test_a_row_says_the_hours_and_the_defrosts_missed_of_those_due() -> None:
    line = row("walk-in cold room", GridScore(window_h=12.0, false_h=1.5, missed=2, defrosts=9))
    assert line.split()[-5:] == ["12", "2", "2", "/", "9"]
