"""Where the alert bench's time goes: the per-crossing stages read from the service's own stamps
(the outbox's and the delivery log's rows in its DuckDB file), the readings path's steps in the
sampling window (`/api/health` `ingest_latency_ms`, core/stages.py) and the rules' and alert
book's figures polled after each crossing (`/api/health` `rules`, alerts/pace.py)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from alerts.pace import BOOK_STEPS

__all__ = ["STAGES", "ingest_window", "quantile", "rules_lag", "stage_timings"]


_STAGES_SQL = """
SELECT a.device, epoch_ms(o.created_at), epoch_ms(l."at"), l.latency_ms
FROM alerts a
JOIN outbox o ON list_contains(o.alert_ids, a.id) AND o.kind IN ('fired', 'digest')
JOIN delivery_log l ON l.notice_key = o."key" AND l.attempt = 1
WHERE a.device LIKE 'probe-%'
"""
_SLOWEST = 3  # crossings shown stage by stage
STAGES = {
    "to_notice": "publish > gateway batch, DuckDB write, rules, alert book > the notice made",
    "to_send": "notice made > outbox persisted (with the alert) > handed to its lane > send begins",
    "send_to_received": "send begins > webhook request received by the receiver",
    "send_recorded": "the channel's own send time, as its delivery log row says",
}


def stage_timings(
    db: Path, published: dict[str, float], arrived: dict[str, float], devices: Sequence[str]
) -> dict[str, Any]:
    """p50/p99 of each stage for `devices`, from the service's own stamps (the outbox's
    created_at, the delivery log's send start and latency; wall clock, UTC) and the bench's
    wall-clock publish and arrival instants, and the `slowest` crossings stage by stage (where
    a p99 comes from). Read after the service stopped."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = {str(r[0]): r[1:] for r in con.execute(_STAGES_SQL).fetchall()}
    spans: dict[str, list[float]] = {name: [] for name in STAGES}
    crossings: list[dict[str, float]] = []
    for device in devices:
        if device not in rows or device not in arrived:
            continue
        made_ms, begun_ms, sent_ms = rows[device]
        crossing = {
            "to_notice": made_ms - published[device] * 1000.0,
            "to_send": begun_ms - made_ms,
            "send_to_received": arrived[device] * 1000.0 - begun_ms,
            "send_recorded": float(sent_ms),
        }
        for name, value in crossing.items():
            spans[name].append(value)
        crossing["total"] = (arrived[device] - published[device]) * 1000.0
        crossings.append({name: round(value, 1) for name, value in crossing.items()})
    out: dict[str, Any] = {
        name: {
            "n": len(values),
            "p50": round(quantile(sorted(values), 0.5), 1),
            "p99": round(quantile(sorted(values), 0.99), 1),
        }
        for name, values in spans.items()
        if values
    }
    out["slowest"] = sorted(crossings, key=lambda c: -c["total"])[:_SLOWEST]
    return out


def ingest_window(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The readings path's steps between two `ingest_latency_ms` answers: how many batches and
    their mean in that window (from the running counts and means), and beside it the p99 and
    max since the service started (a histogram bucket's bound: the service keeps no window)."""
    out: dict[str, dict[str, Any]] = {}
    for stage, now in after.items():
        then = before.get(stage, {"count": 0, "mean": 0.0})
        count = int(now["count"]) - int(then["count"])
        if count <= 0:
            continue
        total = now["count"] * now["mean"] - then["count"] * then["mean"]
        out[stage] = {
            "batches": count,
            "mean": round(total / count, 2),
            "p99_since_start": now["p99"],
            "max_since_start": now["max"],
        }
    return out


def rules_lag(seen: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rules' figures polled after each crossing, summed up: how old the readings were when
    judged (the median of the polls' p50 and the largest p99 and max: each poll covers the
    service's last 256 batches), the rules' own time per reading and share of a core."""
    polls = [f for f in seen if f.get("age_ms", {}).get("p50") is not None]
    if not polls:
        return {"polls": 0}

    def median(path: tuple[str, ...], digits: int = 1) -> float | None:
        values = [_dig(f, path) for f in polls]
        present = sorted(v for v in values if v is not None)
        return round(statistics.median(present), digits) if present else None

    def largest(path: tuple[str, ...]) -> float | None:
        present = [v for v in (_dig(f, path) for f in polls) if v is not None]
        return round(max(present), 1) if present else None

    return {
        "polls": len(polls),
        "age_ms_p50": median(("age_ms", "p50")),
        "age_ms_p99": largest(("age_ms", "p99")),
        "age_ms_max": largest(("age_ms", "max")),
        "judge_us_per_reading": median(("judge_us_per_reading",)),
        "judge_wall_us_per_reading": median(("judge_wall_us_per_reading",)),
        "busy_share": median(("busy_share",), 3),
        "findings_wait_ms_p99": largest(("findings_wait_ms", "p99")),
        "thread_hop_ms_p50": median(("thread_hop_ms", "p50")),
        "thread_hop_ms_p99": largest(("thread_hop_ms", "p99")),
        "alert_book_ms_p50": median(("alert_book_ms", "p50")),
        "alert_book_ms_p99": largest(("alert_book_ms", "p99")),
        "state_snapshot_ms": largest(("state_snapshot_ms",)),
        "alert_book_steps_ms": {
            step: {
                "p50": median(("alert_book_steps_ms", step, "p50")),
                "p99": largest(("alert_book_steps_ms", step, "p99")),
            }
            for step in BOOK_STEPS
        },
    }


def _dig(figures: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = figures
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (the value below which q of the samples lie)."""
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return ordered[rank - 1]
