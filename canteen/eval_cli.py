"""`canteen eval --scenario FILE`: a scenario simulated in batch mode, replayed through the real
rules and alert lifecycle (with a real DuckDB alert store), scored against its ground truth.

Prints one JSON object keyed by rule (see `alerts.evaluation`). The replay runs on event time:
readings are fed in one-minute slices in time order and the clock is moved to each slice's
end, so absence rules (offline, a missed disinfection) act exactly when the live service would.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from alerts.evaluation import (
    Detection,
    Outcome,
    SampleKeeping,
    outcomes,
    positives_from_truth,
)
from alerts.lifecycle import AlertChange
from alerts.model import AlertAction, DisinfectionStatus, RetentionStatus, RuleId
from alerts.rules.retention import DEFAULT_HOLD_H
from alerts.service import AlertService
from alerts.timetable import Timetable
from core.clock import StepClock, utc_from_ms
from core.config import SiteConfig
from core.model import DeviceKind
from core.readings import ReadingBatch
from ingest.duckdb_alerts import DuckDBAlertStore

__all__ = ["EvalResult", "evaluate_scenario", "register"]

SLICE_MS = 60_000
_DETECTING = (AlertAction.FIRED, AlertAction.REFIRED)


@dataclass(frozen=True, slots=True)
class EvalResult:
    scenario: str
    seed: int
    days: float
    outcomes: dict[RuleId, Outcome]
    detections: list[Detection]

    @property
    def scores(self) -> dict[str, dict[str, float | int | None]]:
        return {rule.value: outcome.summary() for rule, outcome in self.outcomes.items()}


def register(subparsers: Any) -> None:
    """Add `eval` to the `canteen` command's subparsers."""
    parser = subparsers.add_parser(
        "eval", help="score the rules on a simulated scenario against its ground truth"
    )
    parser.add_argument("--scenario", type=Path, required=True, help="scenario file (YAML)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.set_defaults(handler=_handle)


async def _handle(args: argparse.Namespace, stop: asyncio.Event) -> None:
    result = await asyncio.to_thread(evaluate_scenario, args.scenario, args.seed)
    print(json.dumps(result.scores, indent=2, sort_keys=True))


def evaluate_scenario(path: Path, seed: int | None = None) -> EvalResult:
    """Simulate the scenario, replay it through the rules with the rule settings of its site
    config, and score what they raised."""
    from firmware_sim.batch import run_batch
    from firmware_sim.scenario import load_scenario

    scenario = load_scenario(path)
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    config = _only(scenario.config, [d.id for d in scenario.devices])
    with tempfile.TemporaryDirectory(prefix="canteen-eval-") as tmp:
        out = Path(tmp)
        run_batch(scenario, out / "sim")
        truth = [json.loads(line) for line in (out / "sim" / "ground_truth.jsonl").open()]
        detections, device_days = _replay(config, out, scenario.start_s, scenario.end_s)
    window = timedelta(minutes=config.rules.disinfection_window_min)
    positives, spans = positives_from_truth(truth, config.site.zone, window, _keeping(config))
    end = utc_from_ms(int(scenario.end_s * 1000))
    found = outcomes(positives, spans, detections, device_days, end)
    days = (scenario.end_s - scenario.start_s) / 86_400
    return EvalResult(scenario.name, scenario.seed, days, found, detections)


def _keeping(config: SiteConfig) -> dict[str, SampleKeeping]:
    timetable = Timetable(config.meals, config.site.zone)
    out = {}
    for device in config.devices:
        if device.kind is DeviceKind.SAMPLE_FRIDGE:
            limits = config.limits_for(device)
            out[device.id] = SampleKeeping(
                timetable,
                timedelta(hours=limits.sample_hold_h or DEFAULT_HOLD_H),
                timedelta(minutes=limits.alert_after_min or 0.0),
            )
    return out


def _replay(
    config: SiteConfig, out: Path, start_s: float, end_s: float
) -> tuple[list[Detection], dict[RuleId, float]]:
    start_ms, end_ms = int(start_s * 1000), int(end_s * 1000)
    clock = StepClock(utc_from_ms(start_ms))
    store = DuckDBAlertStore(out / "alerts.duckdb")
    try:
        service = AlertService(config, store, clock)
        detections: list[Detection] = []
        service.add_change_listener(lambda change: _note(change, detections))
        for slice_end, batch in _slices(
            config.site.id, out / "sim" / "readings.parquet", start_ms, end_ms
        ):
            clock.instant = utc_from_ms(slice_end)
            service.process(batch)
            service.tick(clock.instant)
        detections = _register_detections(store, config, detections)
        days = (end_ms - start_ms) / 86_400_000
        device_days = {rule: days * count for rule, count in _devices_per_rule(service).items()}
    finally:
        store.close()
    return detections, device_days


def _note(change: AlertChange, into: list[Detection]) -> None:
    alert = change.alert
    if change.action in _DETECTING and alert.rule is not RuleId.DISINFECTION:
        into.append(Detection(alert.device, alert.rule, alert.updated_at))


def _register_detections(
    store: DuckDBAlertStore, config: SiteConfig, alerts: list[Detection]
) -> list[Detection]:
    """Disinfection and sample retention are judged per meal, by their register lines: a
    non-compliant disinfection line, a breached retention line (detected when the device's
    retention alert fired inside the line's window)."""
    first, last = datetime(1970, 1, 1).date(), datetime(9999, 1, 1).date()
    site = config.site.id
    disinfection = [
        Detection(
            r.device,
            RuleId.DISINFECTION,
            r.decided_at,
            meal=r.meal,
            service_date=r.service_date,
            window_end=r.window_end,
        )
        for r in store.disinfection_records(site, first, last, None)
        if r.status is not DisinfectionStatus.COMPLIANT
    ]
    fired = [d for d in alerts if d.rule is RuleId.SAMPLE_RETENTION]
    retention = []
    for record in store.retention_records(site, first, last, None):
        if record.status is not RetentionStatus.BREACHED:
            continue
        times = [d.at for d in fired if d.device == record.device]
        inside = [t for t in times if record.start <= t <= record.end]
        at = min(inside, default=record.updated_at)
        retention.append(
            Detection(
                record.device,
                RuleId.SAMPLE_RETENTION,
                at,
                meal=record.meal,
                service_date=record.service_date,
            )
        )
    others = [d for d in alerts if d.rule is not RuleId.SAMPLE_RETENTION]
    return others + disinfection + retention


def _devices_per_rule(service: AlertService) -> dict[RuleId, int]:
    counts: dict[RuleId, int] = {RuleId.OFFLINE: len(service.engine.devices)}
    for rules in service.engine.devices.values():
        named = {r.rule for r in rules.rules} | ({rules.sensor.rule} if rules.sensor else set())
        for rule in named:
            counts[rule] = counts.get(rule, 0) + 1
    return counts


def _slices(
    site: str, path: Path, start_ms: int, end_ms: int
) -> Iterator[tuple[int, ReadingBatch]]:
    """The readings in time order, one slice of `SLICE_MS` at a time (empty slices too, so the
    clock keeps moving through an outage)."""
    table = pq.read_table(path, columns=["device", "metric", "ts", "value"])
    ts: npt.NDArray[np.int64] = table.column("ts").cast("int64").to_numpy()
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    devices = np.asarray(table.column("device").to_pylist(), dtype=object)[order]
    metrics = np.asarray(table.column("metric").to_pylist(), dtype=object)[order]
    values = np.asarray(table.column("value").to_numpy(), dtype=np.float64)[order]
    edges = np.arange(start_ms, end_ms + SLICE_MS, SLICE_MS, dtype=np.int64)
    cuts = np.searchsorted(ts, edges)
    for index in range(1, len(edges)):
        a, b = int(cuts[index - 1]), int(cuts[index])
        batch = ReadingBatch(
            [site] * (b - a), devices[a:b].tolist(), metrics[a:b].tolist(), ts[a:b], values[a:b]
        )
        yield int(edges[index]), batch


def _only(config: SiteConfig, device_ids: list[str]) -> SiteConfig:
    """The site with only the scenario's devices: the others would all look offline."""
    data = config.model_dump()
    data["devices"] = [d for d in data["devices"] if d["id"] in device_ids]
    return SiteConfig.model_validate(data)
