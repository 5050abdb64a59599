"""What the fuzz benchmark found: the rows in the service's DuckDB file against what was sent,
the verdict, and the report as a person reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.backlog import BenchError
from bench.fuzz_payloads import DEVICES, SITE, Role
from bench.fuzz_stream import GOOD_FAMILIES

__all__ = ["count_store", "judge", "render"]

_MUTANTS = [d.id for d in DEVICES if d.role is Role.MUTANT]


def count_store(db: Path, good_window_ms: tuple[int, int]) -> dict[str, Any]:
    """Rows per device in the good time window, before it (hostile payloads' times) and after
    it (receipt times given to messages that carry none)."""
    import duckdb

    start, end = (
        datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None) for ms in good_window_ms
    )
    split = (
        "count(*) FILTER (WHERE ts >= $start AND ts < $end), "
        "count(*) FILTER (WHERE ts < $start), count(*) FILTER (WHERE ts >= $end)"
    )
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise BenchError(f"cannot open the service's store {db}: {exc}") from exc
    try:
        params = {"start": start, "end": end, "site": SITE}
        readings = con.execute(
            f"SELECT device, {split} FROM readings WHERE site = $site GROUP BY device", params
        ).fetchall()
        events = con.execute(
            f"SELECT device, {split} FROM device_events WHERE site = $site GROUP BY device", params
        ).fetchall()
        metrics = con.execute(
            "SELECT device || '.' || metric, count(*) FROM readings WHERE site = $site "
            "AND device IN (SELECT unnest($devices)) GROUP BY ALL ORDER BY 1",
            {"site": SITE, "devices": [d.id for d in DEVICES if d.role is not Role.GOOD]},
        ).fetchall()
        letters = con.execute("SELECT count(*) FROM dead_letters").fetchone()
    finally:
        con.close()
    return {
        "readings_by_device": _column(readings, 1),
        "old_window_readings_by_device": _column(readings, 2),
        "receipt_time_readings_by_device": _column(readings, 3),
        "events_by_device": _column(events, 1),
        "old_window_events_by_device": _column(events, 2),
        "receipt_time_events_by_device": _column(events, 3),
        "not_good_devices_by_metric": {str(k): int(n) for k, n in metrics},
        "dead_letters": int(letters[0]) if letters else 0,
    }


def _column(rows: list[tuple[Any, ...]], index: int) -> dict[str, int]:
    return {str(row[0]): int(row[index]) for row in rows if row[index]}


def judge(report: dict[str, Any]) -> dict[str, Any]:
    """Expected against stored, for the good devices; the run fails on a crash or a loss."""
    sent, store = report["sent"], report["store"]
    readings = _compare(sent["good_readings_by_device"], store["readings_by_device"])
    events = _compare(sent["good_events_by_device"], store["events_by_device"])
    by_metric = store["not_good_devices_by_metric"]
    verdict = {
        "good_readings": readings,
        "good_events": events,
        "at_stake": {
            "sent": sent["at_stake_by_device"],
            "stored_by_metric": _of_devices(by_metric, set(sent["at_stake_by_device"])),
        },
        "mutant_readings_stored": sum(_of_devices(by_metric, set(_MUTANTS)).values()),
        "hostile_stored": _good_devices_only(store, "old_window"),
        "receipt_time_stored": _good_devices_only(store, "receipt_time"),
        "crash_count": len(report["crashes"]),
    }
    verdict["passed"] = not report["crashes"] and readings["lost"] == 0 and events["lost"] == 0
    return verdict


def _good_devices_only(store: dict[str, Any], window: str) -> dict[str, int]:
    """Readings and events of the good devices outside the good window (mutants excluded)."""
    good = {d.id for d in DEVICES if d.role is Role.GOOD}
    readings, events = store[f"{window}_readings_by_device"], store[f"{window}_events_by_device"]
    return {
        "readings": sum(n for d, n in readings.items() if d in good),
        "events": sum(n for d, n in events.items() if d in good),
    }


def _of_devices(by_metric: dict[str, int], devices: set[str]) -> dict[str, int]:
    """The "device.metric" counts of some devices."""
    return {key: n for key, n in by_metric.items() if key.split(".")[0] in devices}


def _compare(expected: dict[str, int], stored: dict[str, int]) -> dict[str, Any]:
    devices = {
        device: {"sent": n, "stored": stored.get(device, 0)} for device, n in expected.items()
    }
    return {
        "expected": sum(expected.values()),
        "stored": sum(stored.get(d, 0) for d in expected),
        "lost": sum(max(0, n - stored.get(d, 0)) for d, n in expected.items()),
        "extra": sum(max(0, stored.get(d, 0) - n) for d, n in expected.items()),
        "by_device": devices,
    }


def render(report: dict[str, Any]) -> str:
    sent, verdict, service = report["sent"], report["verdict"], report["service"]
    acknowledged = "all" if report["caught_up"] else "NOT all"
    lines = [
        f"bench.fuzz  seed {report['seed']}  gateway at {report['commit']}",
        f"sent {sent['messages']:,} messages ({sent['payload_mb']} MB) in "
        f"{report['published_s']} s; acknowledged by the service: {acknowledged}",
        "",
        "sent by family",
    ]
    for family, count in sent["by_family"].items():
        kind = (
            "good"
            if family in GOOD_FAMILIES
            else "mixed"
            if family in ("mutation", "z2m_numeric_string")
            else "hostile"
        )
        lines.append(f"  {kind:8} {family:20} {count:>9,}")
    lines += ["", *_stored_lines(verdict), "", *_service_lines(report, service)]
    lines += ["", _result_line(verdict)]
    return "\n".join(lines)


def _stored_lines(verdict: dict[str, Any]) -> list[str]:
    readings, events = verdict["good_readings"], verdict["good_events"]
    lines = [
        f"good readings  expected {readings['expected']:,}  stored {readings['stored']:,}  "
        f"lost {readings['lost']:,}  extra {readings['extra']:,}",
    ]
    for device, figures in readings["by_device"].items():
        lines.append(f"  {device:12} {figures['stored']:>9,} of {figures['sent']:,}")
    lines.append(
        f"good events    expected {events['expected']:,}  stored {events['stored']:,}  "
        f"lost {events['lost']:,}"
    )
    stake = verdict["at_stake"]
    lines.append(
        f'beside a numeric string (Zigbee2MQTT "battery": "100.00"): good readings sent '
        f"{sum(stake['sent'].values()):,}, stored by metric {stake['stored_by_metric'] or 'none'}"
    )
    lines.append(f"from mutated payloads: {verdict['mutant_readings_stored']:,} readings stored")
    old, receipt = verdict["hostile_stored"], verdict["receipt_time_stored"]
    lines.append(
        f"from hostile payloads on good devices: {old['readings']:,} readings and "
        f"{old['events']:,} events with their own (old-window) time, {receipt['readings']:,} "
        f"readings and {receipt['events']:,} events at receipt time (no time in the payload)"
    )
    return lines


def _service_lines(report: dict[str, Any], service: dict[str, Any]) -> list[str]:
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(service["dead_letters_by_reason"].items()))
    lines = [
        f"dead letters (gateway counters over {report['lifetimes']} lifetime(s)): "
        f"{service.get('dead_letters', 0):,}  {reasons or '-'}",
        f"dead letters in the store: {report['store']['dead_letters']:,};  "
        f"store retries: {service.get('store_retries', 0):,}",
        f"crashes: {len(report['crashes'])}"
        + ("  (gave up restarting)" if report["gave_up_restarting"] else ""),
    ]
    for crash in report["crashes"]:
        lines.append(
            f"  #{crash['lifetime']} exit {crash['exit_code']} after {crash['uptime_s']} s: "
            f"{crash['reason']}"
        )
    bare = report["bare_paho_msgs_per_s"]
    lag = max(0.0, report["elapsed_s"] - report["published_s"])
    rate = f"{report['msgs_per_s']:,} msg/s end to end" if report["caught_up"] else "no rate"
    lines += [
        f"peak RSS (canteen serve and children): {report['peak_rss_mb']} MB",
        f"elapsed {report['elapsed_s']} s (first publish to last acknowledgement seen): {rate}",
        f"  the last acknowledgement came {lag:.1f} s after the last PUBACK "
        "(health is polled every 0.5 s; near 0: the service kept up, the rate is the publisher's)",
    ]
    if bare:
        lines.append(f"a bare paho subscriber drains its copy of the backlog at {bare:,} msg/s")
    return lines


def _result_line(verdict: dict[str, Any]) -> str:
    if verdict["passed"]:
        return "RESULT: PASS (no crash, no good reading or event lost)"
    why = []
    if verdict["crash_count"]:
        why.append(f"{verdict['crash_count']} crash(es)")
    lost = verdict["good_readings"]["lost"]
    if lost:
        why.append(f"{lost:,} good readings lost")
    if verdict["good_events"]["lost"]:
        why.append(f"{verdict['good_events']['lost']:,} good events lost")
    return f"RESULT: FAIL ({'; '.join(why)})"
