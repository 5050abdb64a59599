"""Scoring the rules on a recorded run: its readings replayed through the real rules and alert
lifecycle (an `AlertService` on a real `AlertPersistence`), what they raised scored against the
run's ground truth (`alerts.evaluation`). `canteen eval` records the run with the simulator.

The replay runs on event time: readings are fed in one-minute slices in time order and the
clock is moved to each slice's end, so absence rules (offline, a missed disinfection) act
exactly when the live service would (DESIGN.md, time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from alerts.evaluation import Detection, Outcome, SampleKeeping, outcomes, positives_from_truth
from alerts.lifecycle import AlertChange
from alerts.model import AlertAction, DisinfectionStatus, RetentionStatus, RuleId
from alerts.rules.retention import DEFAULT_HOLD_H
from alerts.service import AlertService
from alerts.store import AlertPersistence, RegisterStore
from alerts.timetable import Timetable
from core.clock import StepClock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig
from core.model import DeviceKind
from core.readings import ReadingBatch

__all__ = ["SLICE_MS", "EvalResult", "evaluate_run", "event_time_slices", "only_devices"]

SLICE_MS = 60_000
_DETECTING = (AlertAction.FIRED, AlertAction.REFIRED)
_ALL_DATES = (date(1970, 1, 1), date(9999, 1, 1))


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


@dataclass(frozen=True, slots=True)
class _Replayed:
    detections: list[Detection]
    device_days: dict[RuleId, float]  # per rule, the device-days of the devices it watched


def evaluate_run(
    config: SiteConfig,
    readings: ReadingBatch,
    truth: Sequence[Mapping[str, Any]],
    store: AlertPersistence,
    span: tuple[datetime, datetime],
    *,
    name: str,
    seed: int,
) -> EvalResult:
    """Replay `readings` (any order) over `span` through the rules with `config`'s settings,
    keeping alerts and registers in `store`, and score what they raised against `truth`."""
    start, end = span
    replayed = _replay(config, readings, store, start, end)
    window = timedelta(minutes=config.rules.disinfection_window_min)
    positives, spans = positives_from_truth(
        truth, config.site.zone, window, _sample_keeping(config)
    )
    found = outcomes(positives, spans, replayed.detections, replayed.device_days, end)
    days = (end - start).total_seconds() / 86_400
    return EvalResult(name, seed, days, found, replayed.detections)


def only_devices(config: SiteConfig, device_ids: Sequence[str]) -> SiteConfig:
    """The site with only these devices: a run that records some of them would leave the
    others silent, and the offline rule would count each of them as a false alarm."""
    data = config.model_dump()
    data["devices"] = [d for d in data["devices"] if d["id"] in device_ids]
    return SiteConfig.model_validate(data)


def event_time_slices(
    readings: ReadingBatch, start_ms: int, end_ms: int
) -> Iterator[tuple[int, ReadingBatch]]:
    """The readings in time order, one slice of `SLICE_MS` at a time, with each slice's end
    (empty slices too, so the clock keeps moving through an outage)."""
    order = np.argsort(readings.ts_ms, kind="stable")
    ts = readings.ts_ms[order]
    values = readings.value[order]
    sites = np.asarray(readings.site, dtype=object)[order]
    devices = np.asarray(readings.device, dtype=object)[order]
    metrics = np.asarray(readings.metric, dtype=object)[order]
    edges = np.arange(start_ms, end_ms + SLICE_MS, SLICE_MS, dtype=np.int64)
    cuts = np.searchsorted(ts, edges)
    for index in range(1, len(edges)):
        a, b = int(cuts[index - 1]), int(cuts[index])
        batch = ReadingBatch(
            sites[a:b].tolist(), devices[a:b].tolist(), metrics[a:b].tolist(), ts[a:b], values[a:b]
        )
        yield int(edges[index]), batch


def _replay(
    config: SiteConfig,
    readings: ReadingBatch,
    store: AlertPersistence,
    start: datetime,
    end: datetime,
) -> _Replayed:
    clock = StepClock(start)
    service = AlertService(config, store, clock)
    alerts: list[Detection] = []
    service.add_change_listener(lambda change: _note(change, alerts))
    for slice_end, batch in event_time_slices(readings, to_epoch_ms(start), to_epoch_ms(end)):
        clock.instant = utc_from_ms(slice_end)
        service.process(batch)
        service.tick(clock.instant)
    detections = _register_detections(store, config.site.id, alerts)
    days = (end - start).total_seconds() / 86_400
    watched = service.devices_per_rule()
    return _Replayed(detections, {rule: days * count for rule, count in watched.items()})


def _note(change: AlertChange, into: list[Detection]) -> None:
    alert = change.alert
    if change.action in _DETECTING and alert.rule is not RuleId.DISINFECTION:
        into.append(Detection(alert.device, alert.rule, alert.updated_at))


def _register_detections(
    registers: RegisterStore, site: str, alerts: list[Detection]
) -> list[Detection]:
    """Disinfection and sample retention are judged per meal, by their register lines: a
    non-compliant disinfection line, a breached retention line (detected when the device's
    retention alert fired inside the line's window)."""
    first, last = _ALL_DATES
    disinfection = [
        Detection(
            r.device,
            RuleId.DISINFECTION,
            r.decided_at,
            meal=r.meal,
            service_date=r.service_date,
            window_end=r.window_end,
        )
        for r in registers.disinfection_records(site, first, last, None)
        if r.status is not DisinfectionStatus.COMPLIANT
    ]
    fired = [d for d in alerts if d.rule is RuleId.SAMPLE_RETENTION]
    retention = []
    for record in registers.retention_records(site, first, last, None):
        if record.status is not RetentionStatus.BREACHED:
            continue
        inside = [
            d.at for d in fired if d.device == record.device and record.start <= d.at <= record.end
        ]
        retention.append(
            Detection(
                record.device,
                RuleId.SAMPLE_RETENTION,
                min(inside, default=record.updated_at),
                meal=record.meal,
                service_date=record.service_date,
            )
        )
    others = [d for d in alerts if d.rule is not RuleId.SAMPLE_RETENTION]
    return others + disinfection + retention


def _sample_keeping(config: SiteConfig) -> dict[str, SampleKeeping]:
    """Per sample fridge: the meals whose samples it keeps, how long, and how long out of band
    spoils them (its over-temperature duration)."""
    timetable = Timetable(config.meals, config.site.zone, config.calendar)
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
