"""Counter steps in the DuckDB store: each step classified, measured use spread over slots by
time, gaps reported with their totals, declared resets counted from the new start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import DeviceEvent, ReadingBatchBuilder
from ingest import DuckDBStore
from ingest.store import CounterDeltas, CounterMark, CounterSpec, PairKind

T0 = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)
HOUR = 3600


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    db = DuckDBStore(tmp_path / "energy.duckdb")
    yield db
    db.close()


def write(store: DuckDBStore, *points: tuple[float, float], device: str = "m1") -> None:
    """(seconds after T0, register value) readings of one kWh counter."""
    rows = ReadingBatchBuilder()
    for offset_s, value in points:
        rows.append("s", device, "energy_kwh", int((T0.timestamp() + offset_s) * 1000), value)
    store.write(rows.build())


def deltas(
    store: DuckDBStore, spec: CounterSpec, hours: int = 1, slot_s: int = 900
) -> CounterDeltas:
    return store.counter_deltas("s", [spec], T0, T0 + timedelta(hours=hours), slot_s, 86_400)


def spec(
    gap_s: float = 900.0,
    multiplier: float = 1.0,
    modulus: float | None = None,
    max_rate_per_h: float | None = None,
    resolution: float = 0.0,
    marks: tuple[CounterMark, ...] = (),
) -> CounterSpec:
    """The test counter; by default readings 15 min apart are measured, longer steps gaps."""
    return CounterSpec(
        "m1", "energy_kwh", multiplier, modulus, max_rate_per_h, resolution, gap_s, marks
    )


def by_slot(result: CounterDeltas) -> dict[int, tuple[float, float]]:
    """{minute of the slot after T0: (use, covered seconds)}, use rounded to 1e-9."""
    start = int(T0.timestamp())
    return {
        (int(t) - start) // 60: (round(float(u), 9), float(c))
        for t, u, c in zip(result.slot_start, result.usage, result.covered_s, strict=True)
    }


def test_increases_spread_over_slots_by_time(store: DuckDBStore) -> None:
    # Readings every 10 min at :05, :15, ...: the step 10:05-10:15 lies half in each slot.
    write(store, (300, 100.0), (900 + 300, 102.0), (1800 + 300, 104.0), (2700 + 300, 110.0))
    result = deltas(store, spec(gap_s=1200))
    # 0:05-0:20 rise 2 (0:05-0:15 in slot 0, 0:15-0:20 in slot 1), 0:20-0:35 rise 2, 0:35-0:50 rise 6
    assert by_slot(result) == {
        0: (round(2 * 10 / 15, 9), 600.0),
        15: (2.0, 900.0),
        30: (round(2 * 5 / 15 + 6 * 10 / 15, 9), 900.0),
        45: (2.0, 300.0),
    }
    assert result.spans == []


def test_out_of_order_and_duplicate_readings_give_the_same_use(store: DuckDBStore) -> None:
    write(store, (1800, 103.0), (0, 100.0))
    write(store, (900, 101.5), (1800, 103.0), (2700, 104.0))  # replayed and late
    result = deltas(store, spec())
    assert by_slot(result) == {0: (1.5, 900.0), 15: (1.5, 900.0), 30: (1.0, 900.0)}


def test_gap_keeps_its_total_and_is_never_spread(store: DuckDBStore) -> None:
    write(store, (0, 100.0), (900, 101.0), (2700, 109.0), (3600, 110.0))
    result = deltas(store, spec())
    assert by_slot(result) == {0: (1.0, 900.0), 45: (1.0, 900.0)}
    [gap] = result.spans
    assert (gap.kind, gap.gap, gap.usage) == (PairKind.INCREASE, True, 8.0)
    assert (gap.start, gap.end) == (T0 + timedelta(seconds=900), T0 + timedelta(seconds=2700))


def test_rollover_needs_a_modulus_and_a_possible_rate(store: DuckDBStore) -> None:
    # 8 kW, then 99 996 -> 100 000 -> 4: 8 kWh in 15 min is 32 kW, then 8 kW again.
    write(store, (0, 99_994.0), (900, 99_996.0), (1800, 4.0), (2700, 6.0))
    rolled = deltas(store, spec(modulus=100_000, max_rate_per_h=40))
    assert by_slot(rolled) == {0: (2.0, 900.0), 15: (8.0, 900.0), 30: (2.0, 900.0)}
    assert [(s.kind, s.usage) for s in rolled.spans] == [(PairKind.ROLLOVER, 8.0)]
    # A 20 kW supply cannot deliver 32 kW: a decrease for review, with no value.
    small = deltas(store, spec(modulus=100_000, max_rate_per_h=20))
    assert by_slot(small) == {0: (2.0, 900.0), 30: (2.0, 900.0)}
    assert [(s.kind, s.usage) for s in small.spans] == [(PairKind.DECREASE, None)]
    unknown = deltas(store, spec())
    assert [s.kind for s in unknown.spans] == [PairKind.DECREASE]


def test_rollover_without_a_rate_needs_the_wrap_shape(store: DuckDBStore) -> None:
    write(store, (0, 99_000.0), (900, 99_950.0), (1800, 40.0), (2700, 50_000.0), (3000, 100.0))
    result = deltas(store, spec(modulus=100_000))
    kinds = [(s.kind, s.usage) for s in result.spans]
    # top tenth to bottom tenth: wrap; 50 000 -> 100 is not the wrap's shape
    assert kinds == [(PairKind.ROLLOVER, 90.0), (PairKind.DECREASE, None)]


def test_impossible_jump_has_no_value(store: DuckDBStore) -> None:
    write(store, (0, 100.0), (900, 101.0), (1800, 5_000.0), (2700, 5_001.0))
    result = deltas(store, spec(max_rate_per_h=50, resolution=0.01))
    assert by_slot(result) == {0: (1.0, 900.0), 30: (1.0, 900.0)}
    assert [(s.kind, s.usage, s.before, s.after) for s in result.spans] == [
        (PairKind.JUMP, None, 101.0, 5_000.0)
    ]


def test_declared_replacement_counts_from_the_new_start(store: DuckDBStore) -> None:
    # Old meter 500 -> 502 (final 502.5 at 0:20), new meter starts at 3.0 and reads 4.0 at 0:30.
    write(store, (0, 500.0), (900, 502.0), (1800, 4.0), (2700, 6.0))
    mark = CounterMark(T0 + timedelta(minutes=20), start=3.0, final=502.5)
    result = deltas(store, spec(marks=(mark,)))
    assert by_slot(result) == {0: (2.0, 900.0), 15: (1.5, 900.0), 30: (2.0, 900.0)}
    assert [(s.kind, s.usage, s.gap) for s in result.spans] == [
        (PairKind.RESET, 0.5, False),
        (PairKind.RESET, 1.0, False),
    ]


def test_declared_reset_without_final_leaves_the_tail_unknown(store: DuckDBStore) -> None:
    write(store, (0, 500.0), (900, 502.0), (1800, 1.0), (2700, 3.0))
    mark = CounterMark(T0 + timedelta(minutes=20), start=0.0)
    result = deltas(store, spec(marks=(mark,)))
    # 0:15-0:20 unknown (5 min uncovered), 0:20-0:30 from 0 to 1
    assert by_slot(result) == {0: (2.0, 900.0), 15: (1.0, 600.0), 30: (2.0, 900.0)}
    tail, head = result.spans
    assert (tail.kind, tail.usage, tail.after) == (PairKind.RESET, None, None)
    assert (head.kind, head.usage, head.before) == (PairKind.RESET, 1.0, 0.0)


def test_mark_at_a_reading_makes_it_the_new_registers_first(store: DuckDBStore) -> None:
    write(store, (0, 500.0), (900, 0.0), (1800, 2.0))
    mark = CounterMark(T0 + timedelta(minutes=15), start=0.0, final=501.0)
    result = deltas(store, spec(marks=(mark,)))
    assert by_slot(result) == {0: (1.0, 900.0), 15: (2.0, 900.0)}


def test_undeclared_reset_is_never_negative_use(store: DuckDBStore) -> None:
    write(store, (0, 500.0), (900, 502.0), (1800, 1.0), (2700, 3.0))
    result = deltas(store, spec())
    assert by_slot(result) == {0: (2.0, 900.0), 30: (2.0, 900.0)}
    assert [(s.kind, s.usage) for s in result.spans] == [(PairKind.DECREASE, None)]
    assert float(result.usage.sum()) == 4.0


def test_multiplier_and_window_edges(store: DuckDBStore) -> None:
    # A step across the window start is cut at the start; the one after the end is left out.
    write(store, (-600, 10.0), (600, 12.0), (3300, 14.0), (4200, 15.0))
    counter = spec(multiplier=80.0, gap_s=3600)
    result = deltas(store, counter)
    usage = {k: u for k, (u, _) in by_slot(result).items()}
    # 80 × 2 kWh over 20 min, 10 of them in the window; 80 × 2 over 45 min; 80 × 1 over 15 min
    assert usage == pytest.approx(
        {
            0: 80 + 160 * 5 / 45,
            15: 160 * 15 / 45,
            30: 160 * 15 / 45,
            45: 160 * 10 / 45 + 80 * 5 / 15,
        }
    )


def test_device_events_read_back_by_kind_and_time(store: DuckDBStore) -> None:
    at = int(T0.timestamp() * 1000)
    store.write_events(
        [
            DeviceEvent("s", "m1", at, "meter_replaced", {"start": 3.0}),
            DeviceEvent("s", "m1", at + 1000, "cycle_start", {}),
            DeviceEvent("x", "m1", at, "meter_replaced", {}),
        ]
    )
    events = store.device_events("s", ["meter_replaced"], T0, T0 + timedelta(hours=1))
    assert [(e.device, e.kind, e.data) for e in events] == [
        ("m1", "meter_replaced", {"start": 3.0})
    ]


def test_marks_outside_the_readings_span_do_not_book_use(store: DuckDBStore) -> None:
    write(store, (0, 500.0), (900, 502.0))
    old = CounterMark(T0 - timedelta(days=40), start=0.0)
    result = deltas(store, spec(marks=(old,)))
    assert by_slot(result) == {0: (2.0, 900.0)} and result.spans == []


def test_two_declarations_without_a_reading_between(store: DuckDBStore) -> None:
    # Replaced at 0:05 (old final 501, new start 0) and again at 0:10 (that one's final 3,
    # the next starts at 100): 1 + 3 + 2 kWh, every piece from a declaration or a reading.
    write(store, (0, 500.0), (900, 102.0))
    marks = (
        CounterMark(T0 + timedelta(minutes=5), start=0.0, final=501.0),
        CounterMark(T0 + timedelta(minutes=10), start=100.0, final=3.0),
    )
    result = deltas(store, spec(marks=marks))
    assert by_slot(result) == {0: (6.0, 900.0)}
    assert [(s.kind, s.usage) for s in result.spans] == [
        (PairKind.RESET, u) for u in (1.0, 3.0, 2.0)
    ]
