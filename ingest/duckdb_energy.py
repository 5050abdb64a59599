"""Counter queries of the DuckDB store: meter steps classified and aggregated per slot in SQL.

The raw readings never leave DuckDB. One window pass pairs each reading with the previous one
of its counter (declared resets and replacements join the sequence as pseudo-readings), a CASE
classifies the step, and a GROUP BY spreads measured steps over fixed UTC slots. Python gets
the slot sums and the few steps that need a word (gaps, resets, rollovers, review items).

Why slots of fixed length rather than local days: every time zone's offset is a multiple of
15 minutes, so 15-minute UTC slots fall on local midnights and on tariff band edges; the
energy package maps a month's few thousand slot starts to its calendar without the store
knowing about time zones or tariffs, and an InfluxDB backend can answer the same question
with `GROUP BY time(15m)`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from core.readings import DeviceEvent
from ingest.store import CounterDeltas, CounterSpan, CounterSpec, PairKind

__all__ = ["query_counter_deltas", "query_device_events"]

# Per counter: the last reading before the window and the first at or after its end, looked
# for no further than the bridge. Their extremes bound the readings the window pass needs.
_BOUNDS = """
SELECT min(lo), max(hi), count(lo), count(hi) FROM (
    SELECT max(r.ts) FILTER (WHERE r.ts < $start) AS lo,
           min(r.ts) FILTER (WHERE r.ts >= $end) AS hi
    FROM readings r JOIN counters c ON r.device = c.device AND r.metric = c.metric
    WHERE r.site = $site
      AND ((r.ts >= $start - $bridge AND r.ts < $start) OR (r.ts >= $end AND r.ts < $end + $bridge))
    GROUP BY c.id)
"""

# The steps of the chosen counters (`$ids`), classified and valued, then split over slots.
# `o` = 4 × epoch µs + role orders a counter's sequence; a mark is two pseudo-readings at its
# instant: the old register's end (role 0, value `final`, may be NULL) and the new one's start
# (role 1, value `start`), both before a reading (role 2) at the same instant, which is thus
# the new register's first. A step from an end row (to its start row) is no step. The window
# carries only (id, o, value): each extra column costs about a tenth of its time here.
# Kinds: 0 increase, 1 reset, 2 rollover, 3 decrease, 4 jump (the order of `_KINDS`); the
# common case (two readings, no fall, within the rate) is tested first.
_STEPS = """
WITH chosen AS (
    SELECT * FROM counters WHERE list_contains($ids, id)
), stream AS (
    SELECT c.id, epoch_us(r.ts) * 4 + 2 AS o, r.value
    FROM readings r JOIN chosen c ON r.device = c.device AND r.metric = c.metric
    WHERE r.site = $site AND r.ts >= $lo AND r.ts <= $hi
    UNION ALL
    SELECT id, epoch_us(ts) * 4 + role, CASE role WHEN 0 THEN final ELSE start END
    FROM marks, (VALUES (0), (1)) AS roles(role)
    WHERE list_contains($ids, id) AND ts >= $lo AND ts <= $hi
), pairs AS (
    SELECT id, lag(o) OVER w AS o0, lag(value) OVER w AS v0, o AS o1, value AS v1
    FROM stream WINDOW w AS (PARTITION BY id ORDER BY o)
), steps AS (
    SELECT p.id, o0 // 4 AS u0, o1 // 4 AS u1, v0, v1, o0 % 4 = 2 AND o1 % 4 = 2 AS plain,
           c.multiplier AS m, c.modulus, (o1 // 4 - o0 // 4) > c.gap_s * 1e6 AS gap,
           c.max_rate_per_h * (o1 // 4 - o0 // 4) / 3.6e9 + c.resolution * c.multiplier
               AS ceiling
    FROM pairs p JOIN chosen c ON p.id = c.id
    WHERE o0 % 4 <> 0 AND o1 // 4 > $start_us AND o0 // 4 < $end_us
), classified AS (
    SELECT *, CASE
        WHEN plain AND v1 >= v0 AND NOT coalesce((v1 - v0) * m > ceiling, false) THEN 0
        WHEN plain AND v1 >= v0 THEN 4
        WHEN plain AND v0 < modulus AND coalesce(
            (v1 + modulus - v0) * m <= ceiling, v0 >= 0.9 * modulus AND v1 < 0.1 * modulus)
            THEN 2
        WHEN plain THEN 3
        WHEN v1 IS NULL THEN 1
        WHEN v1 < v0 THEN 3
        WHEN (v1 - v0) * m > ceiling THEN 4
        ELSE 1 END AS kind
    FROM steps
), valued AS (
    SELECT *, CASE WHEN kind = 2 THEN (v1 + modulus - v0) * m
                   WHEN kind <= 1 THEN (v1 - v0) * m END AS usage,
           kind <> 0 OR gap AS remarkable
    FROM classified
)
"""

# Slot sums of measured steps, and how many remarkable steps each slot starts.
_SLOTS = (
    _STEPS
    + """, parts AS (
    SELECT id, u0, u1, usage, remarkable, usage IS NOT NULL AND NOT gap AS measured,
           unnest(CASE WHEN usage IS NOT NULL AND NOT gap AND u0 // $slot_us < (u1 - 1) // $slot_us
                       THEN range(u0 // $slot_us, (u1 - 1) // $slot_us + 1)
                       ELSE [u0 // $slot_us] END) AS k
    FROM valued
), shares AS (
    SELECT *, least(u1, (k + 1) * $slot_us) - greatest(u0, k * $slot_us) AS overlap FROM parts
)
SELECT id, k * ($slot_us // 1000000) AS slot_start,
       coalesce(sum(CASE WHEN u1 - u0 = overlap THEN usage
                         ELSE usage * overlap / (u1 - u0) END) FILTER (WHERE measured), 0)
           AS usage,
       coalesce(sum(greatest(overlap, 0) / 1e6) FILTER (WHERE measured), 0) AS covered_s,
       bool_or(measured) AND k >= $start_s // ($slot_us // 1000000)
           AND k < $end_s // ($slot_us // 1000000) AS in_window,
       count(*) FILTER (WHERE remarkable) AS remarkable
FROM shares
GROUP BY id, k
ORDER BY id, k
"""
)

_SPANS = (
    _STEPS
    + """SELECT id, u0, u1, v0, v1, kind, usage, gap FROM valued WHERE remarkable
ORDER BY id, u0
"""
)

_KINDS = (PairKind.INCREASE, PairKind.RESET, PairKind.ROLLOVER, PairKind.DECREASE, PairKind.JUMP)
# Most counters have a reading within a day of each window edge; only when one has none
# does the bounds query look as far as the bridge allows.
_SHORT_BRIDGE_S = 86_400


def query_counter_deltas(
    cursor: duckdb.DuckDBPyConnection,
    site: str,
    counters: Sequence[CounterSpec],
    start: datetime,
    end: datetime,
    slot_s: int,
    bridge_s: int,
) -> CounterDeltas:
    """`Store.counter_deltas` on a cursor of its own (its temp table is the cursor's)."""
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    if slot_s <= 0 or start_s % slot_s or end_s % slot_s or end_s <= start_s:
        raise ValueError(f"start and end must be slot edges ({slot_s} s) with start < end")
    cursor.register("counters", _counter_table(counters))
    cursor.register("marks", _mark_table(counters))
    window = {"site": site, "start": _naive(start), "end": _naive(end)}
    lo, hi = _bounds(cursor, window, len(counters), bridge_s)
    params = {
        "site": site,
        "lo": lo,
        "hi": hi,
        "start_us": start_s * 1_000_000,
        "end_us": end_s * 1_000_000,
        "start_s": start_s,
        "end_s": end_s,
        "slot_us": slot_s * 1_000_000,
        "ids": list(range(len(counters))),
    }
    slots = cursor.execute(_SLOTS, params).fetchnumpy()
    # Steps that need a word are rare: a second pass fetches them for their counters only.
    remarkable = np.asarray(slots["remarkable"]) > 0
    ids = sorted({int(i) for i in np.asarray(slots["id"])[remarkable]})
    spans = cursor.execute(_SPANS, _used(_SPANS, {**params, "ids": ids})).fetchall() if ids else []
    keep = np.asarray(slots["in_window"], dtype=bool)
    return CounterDeltas(
        slot_s=slot_s,
        counter=np.asarray(slots["id"][keep], dtype=np.int64),
        slot_start=np.asarray(slots["slot_start"][keep], dtype=np.int64),
        usage=np.asarray(slots["usage"][keep], dtype=np.float64),
        covered_s=np.asarray(slots["covered_s"][keep], dtype=np.float64),
        spans=[_span(row) for row in spans],
    )


def _bounds(
    cursor: duckdb.DuckDBPyConnection, window: dict[str, Any], counters: int, bridge_s: int
) -> tuple[datetime, datetime]:
    lo = hi = None
    for reach in sorted({min(_SHORT_BRIDGE_S, bridge_s), bridge_s}):
        params = {**window, "bridge": timedelta(seconds=reach)}
        lo, hi, with_lo, with_hi = cursor.execute(_BOUNDS, params).fetchall()[0]
        if with_lo == with_hi == counters:
            break
    return lo or window["start"], hi or window["end"]


def query_device_events(
    cursor: duckdb.DuckDBPyConnection,
    site: str,
    kinds: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[DeviceEvent]:
    rows = cursor.execute(
        """SELECT device, epoch_ms(ts), kind, data FROM device_events
           WHERE site = $site AND ts >= $start AND ts < $end AND list_contains($kinds, kind)
           ORDER BY ts, device""",
        {"site": site, "start": _naive(start), "end": _naive(end), "kinds": list(kinds)},
    ).fetchall()
    return [
        DeviceEvent(site, device, ts, kind, json.loads(data)) for device, ts, kind, data in rows
    ]


def _counter_table(counters: Sequence[CounterSpec]) -> Any:
    return pa.table(
        {
            "id": pa.array(range(len(counters)), pa.int32()),
            "device": pa.array([c.device for c in counters], pa.string()),
            "metric": pa.array([c.metric for c in counters], pa.string()),
            "multiplier": pa.array([c.multiplier for c in counters], pa.float64()),
            "modulus": pa.array([c.modulus for c in counters], pa.float64()),
            "max_rate_per_h": pa.array([c.max_rate_per_h for c in counters], pa.float64()),
            "resolution": pa.array([c.resolution for c in counters], pa.float64()),
            "gap_s": pa.array([c.gap_s for c in counters], pa.float64()),
        }
    )


def _mark_table(counters: Sequence[CounterSpec]) -> Any:
    marks = [(index, mark) for index, c in enumerate(counters) for mark in c.marks]
    return pa.table(
        {
            "id": pa.array([index for index, _ in marks], pa.int32()),
            "ts": pa.array([_naive(mark.at) for _, mark in marks], pa.timestamp("us")),
            "start": pa.array([mark.start for _, mark in marks], pa.float64()),
            "final": pa.array([mark.final for _, mark in marks], pa.float64()),
        }
    )


def _span(row: tuple[Any, ...]) -> CounterSpan:
    counter, u0, u1, before, after, kind, usage, gap = row
    return CounterSpan(
        counter=int(counter),
        start=_from_us(u0),
        end=_from_us(u1),
        before=float(before),
        after=None if after is None else float(after),
        kind=_KINDS[kind],
        usage=None if usage is None else float(usage),
        gap=bool(gap),
    )


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """DuckDB refuses named parameters a statement does not use."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


def _from_us(epoch_us: int) -> datetime:
    return datetime.fromtimestamp(epoch_us / 1e6, UTC)


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)
