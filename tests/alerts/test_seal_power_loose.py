"""The metered hours read reading by reading where whole cycles are too few (`seal_power`'s
loose time): outside defrosts, excursions and their recovery runs, partial cycles included."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from alerts.rules.seal_cusum import EvidenceLimits
from alerts.rules.seal_power import (
    PowerHour,
    PowerState,
    learn_power,
    metered_hours,
    power_hour_value,
    power_reading,
    roll_power_hour,
)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


def _hours(
    minutes: int, on: Callable[[int], bool], aside: Callable[[int], bool]
) -> tuple[PowerState, list[PowerHour]]:
    """A meter read every minute for `minutes`; the hours as they ended."""
    st, ended = PowerState(), []
    roll_power_hour(st, 0, 0, False)
    for m in range(minutes):
        at = m * MINUTE_MS
        if m and at % HOUR_MS == 0:
            hour = roll_power_hour(st, at, m // 60, False)
            assert hour is not None
            ended.append(hour)
        power_reading(st, at, on(m), False, aside(m), 2 * MINUTE_MS, 300.0 if on(m) else 5.0)
    return st, ended


def test_the_loose_time_leaves_out_a_defrost_and_its_recovery_run() -> None:
    """Cycles of 30 min, 10 on; a defrost holds minutes 60-69. The loose time begins at the
    first on-edge after a run seen to end outside the held readings (the start, too, is
    such a wait): hour 0 from minute 30, hour 1 nothing (the run after the defrost ends at
    100 and the count begins at 120), hours 2 and 3 all of their steps."""
    _, ended = _hours(241, lambda m: m % 30 < 10, lambda m: 60 <= m < 70)
    loose = [(h.loose_ms // MINUTE_MS, h.loose_on_ms // MINUTE_MS) for h in ended]
    assert loose == [(29, 10), (0, 0), (59, 20), (60, 20)]
    # the whole cycles as before: the defrost's and the recovery's set aside
    assert [(h.cycle_ms // MINUTE_MS, h.on_ms // MINUTE_MS) for h in ended] == [
        (0, 0),
        (30, 10),
        (30, 10),
        (60, 20),
    ]


def test_runs_a_leak_lengthened_still_read_their_hours() -> None:
    """Cycles of 20 min, 8 on, for three hours; then runs of 60 min with 10 off, each far
    longer than the usual cycle and so set aside, with the cycle after it. The whole
    cycles leave those hours without a value; their loose time reads them, 50 of 60 min
    on in hour 4."""
    st, ended = _hours(
        7 * 60,
        lambda m: m % 20 < 8 if m < 180 else (m - 180) % 70 < 60,
        lambda m: False,
    )
    assert [h.cycle_ms for h in ended[4:]] == [0, 0]
    hour = ended[4]
    assert (hour.loose_ms // MINUTE_MS, hour.loose_on_ms // MINUTE_MS) == (60, 50)
    # learned as they are judged: those hours are learning hours too
    assert {h.start_ms for h in ended[4:]} <= metered_hours(st)


def test_the_loose_time_is_read_on_the_whole_cycles_terms() -> None:
    """A meter that misses some runs whole reads 0.25 on in its loose time where its whole
    cycles read 0.30 (the long cycles that hold the missed runs are set aside): an hour read
    from its loose time alone is raised by the learned offset, 0.25 to 0.30; with too few
    hours that give both, the loose time is not read."""
    history = []
    for day in range(4):
        for hour in range(24):
            start = (day * 24 + hour) * HOUR_MS
            history.append(
                PowerHour(
                    start, hour, False, cycle_ms=50 * MINUTE_MS, on_ms=15 * MINUTE_MS,
                    loose_ms=60 * MINUTE_MS, loose_on_ms=15 * MINUTE_MS,
                )
            )  # fmt: skip
    model = learn_power(history, EvidenceLimits())
    assert model is not None and model.loose_offset == pytest.approx(math.log(1.2))
    alone = PowerHour(0, 3, False, loose_ms=60 * MINUTE_MS, loose_on_ms=15 * MINUTE_MS)
    assert power_hour_value(alone, model) == pytest.approx(0.30, abs=0.005)
    few = learn_power(history[:11], EvidenceLimits())
    assert few is None or few.loose_offset is None
