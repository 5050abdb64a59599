"""The learned defrost timer of a bare probe (`alerts.rules.disturbance`): warm spells between
its defrosts (a busy morning's doors, a leak's slow pull-downs) do not halve its period, while
a timer set to a new period is learned anew."""

from __future__ import annotations

import pytest

from alerts.rules.disturbance import Disturbances
from alerts.samples import Sample
from tests.alerts.test_seal_inference import engine

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def disturbances() -> Disturbances:
    found = engine(60.0).devices["f"].disturbances
    assert found is not None
    return found


def feed(d: Disturbances, start_ms: int, hours: float, spells: list[float]) -> None:
    """A steady 3 °C air read every minute for `hours` from `start_ms`, warmed to 8 °C for
    30 min from each of `spells` (hours from `start_ms`), the door never reported."""
    warm = [(int(s * HOUR_MS), int(s * HOUR_MS) + 30 * MINUTE_MS) for s in spells]
    for m in range(int(hours * 60)):
        at = m * MINUTE_MS
        air = 8.0 if any(a <= at < b for a, b in warm) else 3.0
        d.observe(Sample(start_ms + at, {"temp_c": air}))


def period_h(d: Disturbances) -> float | None:
    period = d.state.learned.period_ms
    return None if period is None else period / HOUR_MS


def test_spells_between_a_timers_defrosts_do_not_halve_its_period() -> None:
    d = disturbances()
    feed(d, 0, 30, [1.0 + 5 * k for k in range(6)])  # a 5-h timer from 01:00
    assert period_h(d) == 5.0
    # a held-out old unit's 4.8-h timer was learned as 2.4 h from spells like these
    between = sorted([31.0 + 5 * k for k in range(6)] + [33.5 + 5 * k for k in range(6)])
    feed(d, 30 * HOUR_MS, 30, [s - 30 for s in between])
    assert period_h(d) == 5.0


def test_a_timer_set_to_a_new_period_is_learned_anew() -> None:
    d = disturbances()
    feed(d, 0, 30, [1.0 + 5 * k for k in range(6)])
    assert period_h(d) == 5.0
    # set to every 3 h from hour 31.5 (off the old grid: 31.5, 34.5, ... miss 31, 36, ...)
    feed(d, 30 * HOUR_MS, 30, [1.5 + 3 * k for k in range(10)])
    assert period_h(d) == 3.0


def test_a_probe_read_every_few_seconds_learns_the_timer_as_one_read_at_a_pace() -> None:
    # The usual ceiling moves by a share of its step for a reading sooner than 30 s after the
    # last: a probe reporting every 10 s through a heater defrost's slow rise (one that
    # reports on change) once dragged the ceiling up the rise, its defrosts never stood a
    # kelvin above it, and no timer was learned. Each defrost here warms the air 0.15 K/min.
    d = disturbances()
    starts = [int((1.0 + 5 * k) * HOUR_MS) for k in range(6)]
    for s in range(30 * 360):
        at = s * 10_000
        warming = next((at - a for a in starts if a <= at < a + 45 * MINUTE_MS), None)
        air = 3.0 if warming is None else 3.0 + min(6.0, 0.15 * warming / MINUTE_MS)
        d.observe(Sample(at, {"temp_c": air}))
    assert period_h(d) == pytest.approx(5.0, rel=0.01)
