"""The learned defrost timer of a bare probe (`alerts.rules.disturbance`): warm spells between
its defrosts (a busy morning's doors, a leak's slow pull-downs) do not halve its period, while
a timer set to a new period is learned anew."""

from __future__ import annotations

import pytest

from alerts.rules.defrost_signature import DefrostSignature
from alerts.rules.disturbance import Disturbances
from alerts.samples import Sample
from tests.alerts.test_seal_inference import engine

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def disturbances() -> Disturbances:
    found = engine(60.0).devices["f"].disturbances
    assert found is not None
    return found


def feed(
    d: Disturbances,
    start_ms: int,
    hours: float,
    spells: list[float],
    doors: list[float] | None = None,
) -> None:
    """A steady 3 °C air read every minute for `hours` from `start_ms`, warmed to 8 °C for
    30 min from each of `spells` and to 6 °C for 12 min from each of `doors` (hours from
    `start_ms`), the door never reported."""
    warm = [(int(s * HOUR_MS), int(s * HOUR_MS) + 30 * MINUTE_MS) for s in spells]
    opened = [(int(s * HOUR_MS), int(s * HOUR_MS) + 12 * MINUTE_MS) for s in doors or []]
    for m in range(int(hours * 60)):
        at = m * MINUTE_MS
        air = 3.0
        if any(a <= at < b for a, b in opened):
            air = 6.0
        if any(a <= at < b for a, b in warm):
            air = 8.0
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


def test_a_spell_the_doors_began_is_timed_from_the_timers_defrost() -> None:
    # A bare probe sees the kitchen's doors and the defrost after them as one spell, longer
    # than the unit's defrosts. The compressor pulled the doors' warmth down before the
    # heater's came; the learned timer says when the defrost was due, and the spell is timed
    # from then. (A held-out under-counter freezer: doors at 10:59, its timer's defrost at
    # 11:19, one 55-min spell against its 50-min defrosts, and a false alarm on a food at
    # -14 °C.) Past a defrost's length from its due time it has outlasted them: a heater that
    # does not stop, or a compressor that died after pulling the doors' warmth down.
    d, signature, doors, due = timer_learned()
    feed_spell(d, doors, due, pulled=True, heater=True)
    late = due + signature.length_ms
    assert late - doors > signature.length_ms  # timed from the doors, it has outlasted them
    assert not d.outlasted_signature(late)
    assert d.outlasted_signature(late + MINUTE_MS)


@pytest.mark.parametrize(
    ("pulled", "heater"),
    [
        # the air only climbed: a compressor that died before the due time (a held-out old
        # unit's died 50 min before it, and its alarm came 48 min late when timed from it)
        pytest.param(False, True, id="climbing"),
        # pulled down, and never warmer after the due time: no heater came on
        pytest.param(True, False, id="no heater"),
    ],
)
def test_a_spell_that_shows_no_defrost_after_the_doors_is_timed_from_its_start(
    pulled: bool, heater: bool
) -> None:
    d, signature, doors, due = timer_learned()
    feed_spell(d, doors, due, pulled=pulled, heater=heater)
    assert d.outlasted_signature(doors + signature.length_ms + MINUTE_MS)


def test_doors_spells_after_a_defrost_do_not_walk_its_grid_off_the_timer() -> None:
    # A held-out under-counter freezer's 12-h grid moved from 12:14 to 13:06 in one
    # lunchtime: each door spell within the tolerance of the grid (72 min at 12 h) became its
    # anchor, and the next one was measured from there. A door spell in the anchor's own slot
    # that warms the air less than the defrost did no longer moves it.
    d = disturbances()
    feed(d, 0, 50, [1.0 + 12 * k for k in range(5)])  # quiet days: a 12-h timer from 01:00
    assert period_h(d) == 12.0
    # busy days: two door spells (6 °C, 12 min) 40 and 80 min after each defrost (8 °C)
    defrosts = [49.0 + 12 * k for k in range(4)]
    doors = [s + k / 60 for s in defrosts for k in (40, 80)]
    feed(d, 50 * HOUR_MS, 48, [s - 50 for s in defrosts], doors=[s - 50 for s in doors])
    anchor = d.state.learned.anchor_ms
    assert anchor is not None
    assert (anchor - HOUR_MS) % (12 * HOUR_MS) == 0  # on the timer's 01:00 and 13:00
    # the defrost after next is excused from its due time; 3 h later, between defrosts, not
    due = 109 * HOUR_MS
    assert d.defrost_excuse_until(due, judge_recovery=False) is not None
    assert d.defrost_excuse_until(due + 3 * HOUR_MS, judge_recovery=False) is None


def timer_learned() -> tuple[Disturbances, DefrostSignature, int, int]:
    """A 5-h timer learned from 01:00 over 30 h, its signature, and the doors opened 20 min
    before its next defrost is due at hour 31."""
    d = disturbances()
    feed(d, 0, 30, [1.0 + 5 * k for k in range(6)])
    assert period_h(d) == 5.0
    signature = d.signature()
    assert signature is not None
    due = 31 * HOUR_MS
    return d, signature, due - 20 * MINUTE_MS, due


def feed_spell(d: Disturbances, doors_ms: int, due_ms: int, *, pulled: bool, heater: bool) -> None:
    """From hour 30, the air at 3 °C read every minute for 2 h, warmed by the doors to 7 °C
    from `doors_ms`; `pulled` down to 4.5 °C 10 min later (or climbing 0.05 K/min), and from
    `due_ms` for 30 min warmed 2 K more if the `heater` comes on."""
    for m in range(0, 120):
        at = 30 * HOUR_MS + m * MINUTE_MS
        air = 3.0
        if at >= doors_ms:
            since = (at - doors_ms) / MINUTE_MS
            air = 7.0 + 0.05 * since
            if pulled and since >= 10:
                air = 4.5
        if heater and due_ms <= at < due_ms + 30 * MINUTE_MS:
            air += 2.0 if not pulled else 4.5
        d.observe(Sample(at, {"temp_c": air}))
