"""Where the air turned, read between readings (issue 11): each turn's time and temperature
is where the rise line through the reading on one side of the extreme meets the fall line
through the reading on the other (`cycle_phase.turn_meet`), so a half's time is no longer
counted in whole readings. A period of a whole or half number of intervals puts the turns at
the same one or two reading phases tooth after tooth; counted in readings, the off time then
reads short or long for hours with no change in the load."""

from __future__ import annotations

import statistics

import pytest

from alerts.rules.cycle_inference import InferredCycle
from alerts.rules.cycle_phase import turn_meet
from tests.alerts.test_cycle_short_run import read, sawtooth

_SLOPES = [(60.0, -120.0)] * 3  # K/h: the air warms 1 K a minute and falls 2


def test_the_lines_either_side_meet_where_the_air_turned() -> None:
    # a trough at 100 s and 0 °C: read 2 K at 40 s on the fall, 0.5 K at 130 s on the rise
    assert turn_meet((40_000, 2.0), (130_000, 0.5), _SLOPES, peak=False) == pytest.approx(
        (100_000.0, 0.0)
    )
    # a peak at 100 s and 5 °C: read 4 K a minute before on the rise, 30 s after on the fall
    assert turn_meet((40_000, 4.0), (130_000, 4.0), _SLOPES, peak=True) == pytest.approx(
        (100_000.0, 5.0)
    )
    # lines that would meet outside the two readings (a display step's error) are held
    # between them
    ms, _ = turn_meet((40_000, 4.0), (130_000, 1.0), _SLOPES, peak=True)
    assert ms == pytest.approx(40_000)


def halves(cycles: list[InferredCycle], least: int = 100) -> tuple[list[float], list[float]]:
    """The normal teeth's off times read between readings, and counted turn to turn (s)."""
    normal = [c for c in cycles if c.normal]
    assert len(normal) > least
    met = [c.warm_half[0] / 1000 for c in normal if c.warm_half[2]]
    assert len(met) > 0.95 * len(normal)
    return met, [(c.peak.ms - c.trough.ms) / 1000 for c in normal]


def test_an_off_time_read_between_readings_moves_with_the_load() -> None:
    # An under-counter freezer's 250-s off time read every minute on a 0.1 K display, through
    # a probe lagging the air by 30 s; a load a ninth larger shortens it to 225 s. Counted in
    # readings, the usual tooth reads 240 s before and 180 s after: no move for most small
    # changes, a quarter for some.
    before, counted_before = halves(read(sawtooth(250.0, 140.0, 1.8, 30.0, 60.0, 0.1), 60.0))
    after, counted_after = halves(read(sawtooth(225.0, 140.0, 1.8, 30.0, 60.0, 0.1), 60.0))
    moved = statistics.median(after) / statistics.median(before)
    assert moved == pytest.approx(0.9, abs=0.03)
    assert abs(statistics.median(counted_after) / statistics.median(counted_before) - 0.9) > 0.1
    assert abs(statistics.median(before) - 250.0) < 15.0  # the lag's share, the same each tooth


def test_a_sparse_probe_s_turns_are_read_between_its_readings_too() -> None:
    # read every 3 min, a 25-min off time: the turns fall anywhere in a 3-min interval
    met, _ = halves(read(sawtooth(1500.0, 600.0, 2.5, 60.0, 180.0, 0.1), 180.0), least=20)
    assert abs(statistics.median(met) - 1500.0) < 60.0


def test_a_tooth_read_across_a_lost_report_is_marked() -> None:
    # A 2-min probe on a 13-min cycle (off 9 min, on 4) that loses one report in 20: the
    # teeth whose turns are read from a neighbour of the lost one say so, the others do not.
    rows = sawtooth(540.0, 240.0, 2.0, 30.0, 120.0, 0.1)
    lost = {ts for k, (ts, _) in enumerate(rows) if k % 20 == 7}
    cycles = read([r for r in rows if r[0] not in lost], 120.0)
    normal = [c for c in cycles if c.normal]
    marked = [c for c in normal if c.lost_report]
    assert len(normal) > 80
    assert 0.1 * len(normal) < len(marked) < 0.6 * len(normal)
    for c in normal:
        within = any(c.trough.ms <= ts <= c.end.ms for ts in lost)
        near = any(c.trough.ms - 120_000 <= ts <= c.end.ms + 5 * 120_000 for ts in lost)
        assert c.lost_report >= within  # a report lost between its turns marks it
        assert c.lost_report <= near  # and one lost beside it (its turn read from a neighbour)
    # read with every report, no tooth is marked
    assert not any(c.lost_report for c in read(rows, 120.0))
