"""A compressor held off by its controller's fixed minimum repeats its cycle to within
seconds; where that cycle is a whole number of reading intervals the readings land at the same
points of every cycle, and the share of moves that fall says where they landed, not how long
the compressor ran. Such an hour's share is known only to one reading of its pattern, a floor
under its spread (`seal_probe_duty.strobe_resolution`); hours whose readings drift across the
cycle are read as before."""

from __future__ import annotations

import math
import statistics

import pytest

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cold_state import ColdSealState, probe_move
from alerts.rules.seal_duty import DutyNorm, score_hour
from alerts.rules.seal_probe_duty import hour_falls, strobe_lag, strobe_resolution

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def _sawtooth(at_min: float, duty: float, period_min: float) -> float:
    """The air of a thermostat cycling between 3.0 and 4.7 °C: pulled down while the
    compressor runs (`duty` of the period), warming while it rests, both linear."""
    phase = (at_min % period_min) / period_min
    if phase < duty:
        return 3.0 + 1.7 * (1 - phase / duty)
    return 3.0 + 1.7 * (phase - duty) / (1 - duty)


def _hours(
    duty: float, period_min: float, every_min: float, start_min: float
) -> list[HourFeatures]:
    """Six hours of a fine probe (0.01 K) read every `every_min` from `start_min`."""
    st = ColdSealState()
    hours = [HourFeatures(h * HOUR_MS, h) for h in range(8)]
    at = start_min
    while at < 6 * 60:
        now = int(at // 60)
        st.history, st.hour = hours[:now], hours[now]
        shown = round(_sawtooth(at, duty, period_min), 2)
        ts = round(at * MINUTE_MS)
        probe_move(st, ts, shown, 3 * MINUTE_MS)
        st.cycles.last_ms, st.cycles.last_c = ts, shown
        at += every_min
    st.moves.release(10 * HOUR_MS, hours)
    return [h for h in hours if h.moves >= 20]


@pytest.mark.parametrize("start_min", [0.1, 0.7, 1.3, 1.9])
def test_readings_locked_to_the_cycle_read_their_share_coarsely(start_min: float) -> None:
    # a 6-min cycle read every 2 min: three readings a cycle, at the same three points
    hours = _hours(0.4, 6.0, 2.0, start_min)
    assert len(hours) >= 5
    # a third or two thirds by where the readings fell, whatever the duty
    assert all(min(abs(h.falls / h.moves - s) for s in (1 / 3, 2 / 3)) < 0.04 for h in hours)
    assert all(strobe_lag(h.steps) == 3 for h in hours)
    # against a usual share of 0.44 read to 0.17 (log): a third of a pattern of three is
    # log(1 + 1/(3 x 0.67)) = 0.41 at 0.67, and the hour scores about 1, not 2.4
    norm = DutyNorm(math.log(0.44), 0.17)
    for h in hours:
        share = hour_falls(h)
        assert share is not None
        floor = strobe_resolution(h, share)
        assert floor >= math.log1p(1 / (3 * share)) - 1e-9
        assert score_hour(share, norm, floor)[0] < 1.1


@pytest.mark.parametrize("start_min", [0.1, 0.7, 1.3, 1.9])
def test_readings_that_drift_across_the_cycle_still_give_their_share(start_min: float) -> None:
    # 6.2 min: the readings slip 3 % of a cycle every cycle, a third of it an hour
    low_hours, high_hours = _hours(0.3, 6.2, 2.0, start_min), _hours(0.5, 6.2, 2.0, start_min)
    assert all(strobe_lag(h.steps) is None for h in low_hours + high_hours)
    low, high = [hour_falls(h) for h in low_hours], [hour_falls(h) for h in high_hours]
    read = zip(low_hours + high_hours, low + high, strict=True)
    assert all(v is not None and strobe_resolution(h, v) == 0.0 for h, v in read)
    # the share follows the duty over the hours (drawn towards a half: 0.41 and 0.50)
    assert statistics.fmean(v for v in high if v) - statistics.fmean(v for v in low if v) > 0.06


def test_an_hour_that_only_fell_or_only_rose_is_no_strobe() -> None:
    # a compressor that ran the whole hour (a pull-down) is read, not set aside
    assert strobe_lag([1] * 30) is None
    assert strobe_lag([-1, 0] * 15) is None
    assert strobe_lag([1, 1, -1] * 10) == 3
    assert strobe_lag([1, -1] * 12) == 2
    assert strobe_lag([1, 1, -1] * 9 + [1, -1, -1]) is None
    # too few repeats of the pattern to say
    assert strobe_lag([1, -1, -1, -1, 1, 1, -1, -1]) is None
