"""Rollups of the readings in the DuckDB file, and the series queries that read them.

Per (site, device, metric) and bucket of 1 min, 5 min and 1 h (tables `rollup_1m`,
`rollup_5m`, `rollup_1h`, readings schema 3): how many readings, their sum, minimum, maximum,
first and last instant and the last value. That is enough to answer every `Aggregate` of a
series exactly: avg = sum / count, min, max, last = the value at the latest instant.

Maintenance is deferred off the write path. A write only notes the (site, device, metric,
minute) keys of its batch in `rollup_pending` (`note_touched`), in its own transaction, so a
crash loses nothing. `settle` later computes every bucket of the pending minutes again from the
level below (1 min from the raw readings, 5 min from 1 min, 1 h from 5 min), many writes at
once, and empties the table; the store runs it on a timer, when a read's range holds pending
minutes, and on opening a file a crash left with some. Recomputing rather than adding keeps a
late or out-of-order reading, and a replay that replaces a reading with another value (min and
max cannot be "subtracted"), right. `rebuild` computes every level again from the raw readings
(migration 3 on an existing file, `canteen rollups rebuild`).

Reading (`query_series`): the coarsest level whose buckets fit whole in the asked steps (the
step a multiple of the level's width, local midnights on its boundaries for daily steps) serves
the aligned middle of the range; the ragged ends, shorter than one bucket, come from the raw
readings in the same query. A week of 5-min rollups is 2 k rows per device instead of
10 k readings at one a minute (more for devices that report every few seconds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import duckdb
import numpy as np

from ingest.store import ROLLUP_WIDTHS_S, Aggregate, EnvelopeSteps, SeriesPoint

__all__ = [
    "LEVELS",
    "RollupLevel",
    "earliest_pending",
    "note_touched",
    "pending_count",
    "query_envelope_steps",
    "query_series",
    "rebuild",
    "rebuild_statements",
    "settle",
]

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class RollupLevel:
    table: str
    width_s: int


# The table of each width (readings schema 3).
_TABLES = {60: "rollup_1m", 300: "rollup_5m", 3_600: "rollup_1h"}

# Finest first: each level is computed from the one before it (the first from the readings).
LEVELS: tuple[RollupLevel, ...] = tuple(RollupLevel(_TABLES[w], w) for w in ROLLUP_WIDTHS_S)

_COLUMNS = "site, device, metric, bucket, n, total, low, high, first_ts, last_ts, last_value"

# The raw readings in the shape of a rollup row, so every level is computed by the same SQL.
_RAW_AS_ROLLUP = """SELECT site, device, metric, ts AS t, 1 AS n, value AS total, value AS low,
    value AS high, ts AS first_ts, ts AS last_ts, value AS last_value FROM readings"""


def _level_source(index: int) -> str:
    """The rows a level is computed from: the readings for the first, else the level below."""
    if index == 0:
        return _RAW_AS_ROLLUP
    below = LEVELS[index - 1].table
    return f"""SELECT site, device, metric, bucket AS t, n, total, low, high, first_ts,
        last_ts, last_value FROM {below}"""


_COMBINE = """s.site, s.device, s.metric, time_bucket(INTERVAL {width} SECOND, s.t) AS bucket,
    sum(s.n), sum(s.total), min(s.low), max(s.high), min(s.first_ts), max(s.last_ts),
    arg_max(s.last_value, s.last_ts)"""

# The buckets at `width` of the pending minutes in [$lo, $hi) (one UTC day's, see `settle`).
_TOUCHED = """SELECT DISTINCT site, device, metric,
    time_bucket(INTERVAL {width} SECOND, minute) AS bucket FROM rollup_pending
    WHERE minute >= $lo AND minute < $hi"""

# Touched buckets are deleted and computed again whole from the level below; $lo/$hi bound
# both to the pending minutes' range, so only its row groups are read. The tables have no
# primary key: an index over every bucket made each write's upsert cost more than the write.
_DELETE = """
DELETE FROM {table} USING ({touched}) k
WHERE {table}.site = k.site AND {table}.device = k.device AND {table}.metric = k.metric
  AND {table}.bucket = k.bucket AND {table}.bucket >= $lo AND {table}.bucket < $hi
"""

_INSERT = """
INSERT INTO {table} ({columns})
SELECT {combine}
FROM ({source}) s
JOIN ({touched}) k
  ON s.site = k.site AND s.device = k.device AND s.metric = k.metric
 AND time_bucket(INTERVAL {width} SECOND, s.t) = k.bucket
WHERE s.t >= $lo AND s.t < $hi
GROUP BY ALL
"""

# The minutes a write touched, recorded in its own transaction (`note_touched`). One row per
# (site, device, metric, minute) and batch; a minute written by several batches before the next
# settle has several rows, which `settle` reads as one.
_NOTE = """INSERT INTO rollup_pending (site, device, metric, minute)
SELECT DISTINCT site, device, metric, time_bucket(INTERVAL 60 SECOND, ts) FROM batch"""

# Pending minutes by UTC day: a day is a whole number of buckets of every level, so each day's
# buckets are computed apart, reading only that day's stretch of the readings.
_PENDING_DAYS = """SELECT min(minute), max(minute) FROM rollup_pending
GROUP BY time_bucket(INTERVAL 1 DAY, minute) ORDER BY 1"""

# The earliest pending minute that could change a read's rollup buckets. A bucket the read
# uses lies whole inside [start, end) and whole minutes inside it, so a pending minute outside
# that range cannot change the answer.
_OVERLAP = """SELECT min(minute) FROM rollup_pending WHERE site = $site AND device = $device
AND metric IN (SELECT unnest($metrics)) AND minute >= $start AND minute < $end"""

# Day by day, and within a day by key: a device's week is a few rows in each of 7 days' row
# groups (pruned on the device), and a write's recompute of today's buckets reads only today's
# row groups (pruned on the bucket). Sorted by key alone, every row group would span the
# whole history and each write would scan all of it.
_REBUILD = """
INSERT INTO {table} ({columns})
SELECT * FROM (SELECT {combine} FROM ({source}) s GROUP BY ALL)
ORDER BY time_bucket(INTERVAL 1 DAY, bucket), site, device, metric, bucket
"""


def rebuild_statements() -> tuple[str, ...]:
    """SQL that empties every level and computes it again from the readings, finest first."""
    out: list[str] = []
    for index, level in enumerate(LEVELS):
        out.append(f"DELETE FROM {level.table}")
        combine = _COMBINE.format(width=level.width_s)
        out.append(
            _REBUILD.format(
                table=level.table, columns=_COLUMNS, combine=combine, source=_level_source(index)
            )
        )
    return tuple(out)


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Every level again from the raw readings, in the caller's transaction; nothing is left
    pending."""
    for statement in rebuild_statements():
        con.execute(statement)
    con.execute("DELETE FROM rollup_pending")


def note_touched(con: duckdb.DuckDBPyConnection) -> int:
    """Record the minutes of the registered `batch` (the write's Arrow table) as pending; call
    inside the write's transaction, so a crash loses readings and their note together. Returns
    the rows added (the batch's distinct keys)."""
    [(added,)] = con.execute(_NOTE).fetchall()
    return int(added)


def settle(con: duckdb.DuckDBPyConnection) -> None:
    """Compute every bucket of the pending minutes again and forget them, in the caller's
    transaction. The recompute and the DELETE see the same snapshot: a minute a write notes
    meanwhile is neither recomputed nor forgotten (`ingest.duckdb_rollup_keeper`)."""
    for lo, hi in con.execute(_PENDING_DAYS).fetchall():
        for index, level in enumerate(LEVELS):
            touched = _TOUCHED.format(width=level.width_s)
            bounds = {
                "lo": _floor(lo, level.width_s),
                "hi": _floor(hi, level.width_s) + timedelta(seconds=level.width_s),
            }
            con.execute(_DELETE.format(table=level.table, touched=touched), bounds)
            insert = _INSERT.format(
                table=level.table,
                columns=_COLUMNS,
                combine=_COMBINE.format(width=level.width_s),
                width=level.width_s,
                source=_level_source(index),
                touched=touched,
            )
            con.execute(insert, bounds)
    con.execute("DELETE FROM rollup_pending")


def pending_count(con: duckdb.DuckDBPyConnection) -> int:
    [(count,)] = con.execute("SELECT count(*) FROM rollup_pending").fetchall()
    return int(count)


def earliest_pending(
    cursor: duckdb.DuckDBPyConnection,
    key: tuple[str, str, Sequence[str]],
    span: tuple[datetime, datetime],
) -> datetime | None:
    """The earliest pending minute that could change a rollup bucket a read of `key` (site,
    device, metrics) over `span` (naive UTC) uses; None: the rollups are exact for it."""
    site, device, metrics = key
    params = {
        "site": site,
        "device": device,
        "metrics": list(metrics),
        "start": span[0],
        "end": span[1],
    }
    [(earliest,)] = cursor.execute(_OVERLAP, params).fetchall()
    return cast("datetime | None", earliest)


# -- reading -----------------------------------------------------------------------------------

_VALUE = {
    Aggregate.AVG: "sum(total) / sum(n)",
    Aggregate.MIN: "min(low)",
    Aggregate.MAX: "max(high)",
    Aggregate.LAST: "arg_max(last_value, last_ts)",
}

# Steps shorter than a day align to the Unix epoch, so a 1 h step starts on the hour (UTC).
_EPOCH_BUCKET = "to_timestamp(floor(epoch(t) / $step) * $step)::TIMESTAMP"
# Steps of a day or longer align to local midnights in the site's zone (DuckDB's ICU bucketing
# follows DST: a local day may be 23 or 25 hours); whole days count in days, not seconds.
_LOCAL_BUCKET = "timezone('UTC', time_bucket({width}, timezone('UTC', t), $zone))"

_KEY = "site = $site AND device = $device"


@dataclass(frozen=True, slots=True)
class _Segment:
    """A part [start, end) of the asked range read from `level` (None: the raw readings)."""

    level: RollupLevel | None
    start: datetime
    end: datetime


def query_series(
    cursor: duckdb.DuckDBPyConnection,
    key: tuple[str, str, str],
    span: tuple[datetime, datetime],
    step_s: int,
    agg: Aggregate,
    *,
    zone: ZoneInfo | None,
    rollups: bool = True,
    raw_from: datetime | None = None,
) -> list[SeriesPoint]:
    """One metric per step, as `Store.series` promises (span naive UTC); `rollups=False`
    reads only the raw readings (a file from before them), `raw_from` reads them from that
    instant on (rollups not yet settled there)."""
    site, device, metric = key
    start, end = span
    bucket, params = _bucket(step_s, zone)
    plan = _plan(start, end, step_s, zone, rollups=rollups, raw_from=raw_from)
    sql = f"""SELECT {bucket} AS b, {_VALUE[agg]} AS value, sum(n) AS n
              FROM ({_parts(plan, "metric = $metric")}) GROUP BY b ORDER BY b"""
    params |= {"site": site, "device": device, "metric": metric}
    rows = cursor.execute(sql, params | _bounds(plan))
    return [SeriesPoint(_utc(b), value, int(n)) for b, value, n in rows.fetchall()]


def query_envelope_steps(
    cursor: duckdb.DuckDBPyConnection,
    site: str,
    device: str,
    metrics: Sequence[str],
    span: tuple[datetime, datetime],
    step_s: int,
    *,
    rollups: bool = True,
    raw_from: datetime | None = None,
) -> dict[str, EnvelopeSteps]:
    """Minimum, maximum, mean and count per epoch-aligned step of several metrics of one
    device, in one query (span naive UTC), fetched as arrays: no Python object per step."""
    start, end = span
    plan = _plan(start, end, step_s, None, rollups=rollups, raw_from=raw_from)
    parts = _parts(plan, "metric IN (SELECT unnest($metrics))", with_metric=True)
    sql = f"""SELECT metric, floor(epoch(t) / $step) * $step AS b, min(low)::DOUBLE AS low,
              max(high)::DOUBLE AS high, (sum(total) / sum(n))::DOUBLE AS mean,
              sum(n)::BIGINT AS n FROM ({parts}) GROUP BY metric, b ORDER BY metric, b"""
    params = {"site": site, "device": device, "metrics": list(metrics), "step": step_s}
    found = cursor.execute(sql, params | _bounds(plan)).fetchnumpy()
    names = np.asarray(found["metric"], dtype=object)
    out: dict[str, EnvelopeSteps] = {}
    for metric in metrics:
        rows = names == metric
        out[metric] = EnvelopeSteps(
            np.asarray(found["b"], np.float64)[rows],
            np.asarray(found["low"], np.float64)[rows],
            np.asarray(found["high"], np.float64)[rows],
            np.asarray(found["mean"], np.float64)[rows],
            np.asarray(found["n"], np.int64)[rows],
        )
    return out


def _parts(plan: Sequence[_Segment], metric_filter: str, *, with_metric: bool = False) -> str:
    """The UNION of the plan's segments, as rows of the rollup's shape; each segment is one
    range on its table's time column, so each is pruned on the file's zone maps."""
    metric = "metric, " if with_metric else ""
    selects = []
    for i, segment in enumerate(plan):
        if segment.level is None:
            selects.append(f"""SELECT {metric}ts AS t, 1 AS n, value AS total, value AS low,
                value AS high, ts AS last_ts, value AS last_value FROM readings
                WHERE {_KEY} AND {metric_filter} AND ts >= $lo{i} AND ts < $hi{i}""")
        else:
            selects.append(f"""SELECT {metric}bucket AS t, n, total, low, high, last_ts,
                last_value FROM {segment.level.table} WHERE {_KEY} AND {metric_filter}
                AND bucket >= $lo{i} AND bucket < $hi{i}""")
    return " UNION ALL ".join(selects)


def _bounds(plan: Sequence[_Segment]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, segment in enumerate(plan):
        out |= {f"lo{i}": segment.start, f"hi{i}": segment.end}
    return out


def _plan(
    start: datetime,
    end: datetime,
    step_s: int,
    zone: ZoneInfo | None,
    *,
    rollups: bool,
    raw_from: datetime | None = None,
) -> list[_Segment]:
    """[start, end) cut into segments: the coarsest level that fits the steps serves the
    aligned middle, finer levels the ends, the raw readings what is left (under a minute) and
    everything from `raw_from` on (steps that straddle it add both parts up)."""
    if not rollups:
        return [_Segment(None, start, end)]
    cut = end if raw_from is None else max(start, min(end, raw_from))
    fitting = [lv for lv in reversed(LEVELS) if _fits(lv.width_s, step_s, zone, start, end)]
    tail = [_Segment(None, cut, end)] if cut < end else []
    return [*_cut(start, cut, fitting), *tail]


def _cut(start: datetime, end: datetime, levels: Sequence[RollupLevel]) -> list[_Segment]:
    if start >= end:
        return []
    if not levels:
        return [_Segment(None, start, end)]
    level, finer = levels[0], levels[1:]
    middle_start, middle_end = _ceil(start, level.width_s), _floor(end, level.width_s)
    if middle_start >= middle_end:
        return _cut(start, end, finer)
    return [
        *_cut(start, middle_start, finer),
        _Segment(level, middle_start, middle_end),
        *_cut(middle_end, end, finer),
    ]


def _fits(width_s: int, step_s: int, zone: ZoneInfo | None, start: datetime, end: datetime) -> bool:
    """Whether every bucket of `width_s` lies whole inside one step of the series."""
    if zone is None or step_s < DAY_S:
        return step_s % width_s == 0
    if step_s % DAY_S != 0:
        return False
    # Local days: every local midnight in the range must fall on a bucket boundary (a zone
    # whose offset is not whole hours, e.g. +05:30, cannot use the hourly level).
    day = start.replace(tzinfo=UTC).astimezone(zone).date()
    last = end.replace(tzinfo=UTC).astimezone(zone).date()
    while day <= last + timedelta(days=1):
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        if int(midnight.timestamp()) % width_s != 0:
            return False
        day += timedelta(days=1)
    return True


def _bucket(step_s: int, zone: ZoneInfo | None) -> tuple[str, dict[str, Any]]:
    """The SQL of a row's bucket start (naive UTC, from its instant `t`) and its parameters."""
    if zone is None or step_s < DAY_S:
        return _EPOCH_BUCKET, {"step": step_s}
    if step_s % DAY_S == 0:
        return _LOCAL_BUCKET.format(width="to_days($days)"), {
            "days": step_s // DAY_S,
            "zone": zone.key,
        }
    return _LOCAL_BUCKET.format(width="to_seconds($step)"), {"step": step_s, "zone": zone.key}


def _floor(instant: datetime, width_s: int) -> datetime:
    """`instant` (naive UTC) down to a multiple of `width_s` since the epoch."""
    seconds = math.floor(instant.replace(tzinfo=UTC).timestamp() / width_s) * width_s
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _ceil(instant: datetime, width_s: int) -> datetime:
    floor = _floor(instant, width_s)
    return floor if floor == instant else floor + timedelta(seconds=width_s)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)
