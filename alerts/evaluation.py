"""The detection score: what the rules raised on a simulated run against the simulator's ground
truth (one JSON object per injected fault, `firmware_sim/truth.py`).

Which fault a rule should catch, and when a fault counts as a positive at all:

| fault | rule | a positive when |
| --- | --- | --- |
| seal_leak | seal_degradation | always |
| compressor_failure, door_left_open | over_temperature | the true temperature crossed the limit |
| disinfection_missed/_aborted/_under_temp | disinfection | per affected meal cycle |
| sensor_stuck/_spikes/_drift on temp_c | sensor_fault | always |
| device_offline (not buffered) | offline | readings went missing for longer than the threshold |
| battery_drain | offline | the battery went flat (the device fell silent) |
| over-temperature of a sample fridge | sample_retention | per meal held when it became an alert |

While a temperature probe is faulty, what the temperature rules raise on its device is not
counted as a false alarm (it is the sensor fault's consequence, scored under sensor_fault).

A detection is an alert firing (first firing or a re-fire after resolving) or, for
disinfection, a non-compliant register line, for sample retention a breached one (at the time
its alert fired). It is a true positive when it falls on the
fault's device between onset and end plus a grace; otherwise a false alarm. Time to detect
is from the fault's onset (for disinfection: from the close of the meal's window, the issue's
"within 15 min after the window closes"; for over-temperature: from the first true reading
above the limit; for sample retention: from then plus the alert duration, when the samples
had been out of band long enough to be spoiled). Meter faults belong to energy accounting and
are not scored here.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.model import RuleId
from alerts.timetable import Timetable

__all__ = [
    "Detection",
    "Outcome",
    "Positive",
    "SampleKeeping",
    "outcomes",
    "positives_from_truth",
    "score",
]

_FAULT_RULES = {
    "seal_leak": RuleId.SEAL_DEGRADATION,
    "compressor_failure": RuleId.OVER_TEMPERATURE,
    "door_left_open": RuleId.OVER_TEMPERATURE,
    "disinfection_missed": RuleId.DISINFECTION,
    "disinfection_aborted": RuleId.DISINFECTION,
    "disinfection_under_temp": RuleId.DISINFECTION,
    "sensor_stuck": RuleId.SENSOR_FAULT,
    "sensor_spikes": RuleId.SENSOR_FAULT,
    "sensor_drift": RuleId.SENSOR_FAULT,
    "device_offline": RuleId.OFFLINE,
    "battery_drain": RuleId.OFFLINE,
}
_TEMPERATURE_RULES = (
    RuleId.OVER_TEMPERATURE,
    RuleId.UNDER_TEMPERATURE,
    RuleId.SEAL_DEGRADATION,
    RuleId.SAMPLE_RETENTION,
)
# After a fault ends the plant needs a while to come back (a fridge to cool, a probe's fault
# to age out of the sensor rule's quiet period); a detection in that time is not a false alarm.
_GRACE = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class Detection:
    device: str
    rule: RuleId
    at: datetime
    meal: str | None = None
    service_date: date | None = None
    window_end: datetime | None = None  # disinfection: time to detect counts from here


@dataclass(frozen=True, slots=True)
class Positive:
    """Something the rules should catch: a fault, or one meal cycle a fault spoiled."""

    device: str
    rule: RuleId
    start: datetime  # from when a detection counts
    end: datetime | None
    reference: datetime  # time to detect is measured from here
    meal: str | None = None
    service_date: date | None = None
    fault_id: int | None = None
    severity: float | None = None
    ramp_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SampleKeeping:
    """How a sample fridge keeps samples: the meals, how long, and how long out of band spoils
    them (its over-temperature duration)."""

    timetable: Timetable
    hold: timedelta
    spoiled_after: timedelta


def positives_from_truth(
    truth: Iterable[Mapping[str, Any]],
    zone: ZoneInfo,
    window: timedelta,
    samples: Mapping[str, SampleKeeping] | None = None,
) -> tuple[list[Positive], list[tuple[str, RuleId, datetime, datetime | None]]]:
    """The positives, and every fault's (device, rule, onset, end) so that a detection during a
    fault that was not a positive (a compressor failure that stayed in band) is not a false
    alarm either. `window` is the disinfection window after a meal; `samples` says, per sample
    fridge, which meals' samples it holds."""
    positives: list[Positive] = []
    spans: list[tuple[str, RuleId, datetime, datetime | None]] = []
    for fault in truth:
        rule = _FAULT_RULES.get(str(fault["fault"]))
        if rule is None:
            continue
        onset, end = _instant(fault["onset"]), _maybe_instant(fault.get("end"))
        spans.append((str(fault["device"]), rule, onset, end))
        if rule is RuleId.SENSOR_FAULT and fault.get("measured", {}).get("metric") == "temp_c":
            # A wrong probe misleads every temperature rule: what they raise meanwhile is the
            # sensor fault's consequence, scored under sensor_fault, not as a false alarm.
            spans += [(str(fault["device"]), r, onset, end) for r in _TEMPERATURE_RULES]
        if rule is RuleId.OVER_TEMPERATURE:
            # A sample fridge out of band breaches the retention of the meals it holds.
            spans.append((str(fault["device"]), RuleId.SAMPLE_RETENTION, onset, end))
            keeping = (samples or {}).get(str(fault["device"]))
            if keeping is not None:
                positives.extend(_retention_positives(fault, keeping, int(fault["id"])))
        positives.extend(_positives(fault, rule, onset, end, zone, window))
    return positives, spans


def _positives(
    fault: Mapping[str, Any],
    rule: RuleId,
    onset: datetime,
    end: datetime | None,
    zone: ZoneInfo,
    window: timedelta,
) -> list[Positive]:
    device, kind, measured = str(fault["device"]), str(fault["fault"]), fault.get("measured", {})
    fault_id = int(fault["id"])
    if rule is RuleId.DISINFECTION:
        return [
            _meal_positive(device, cycle, zone, window, fault_id)
            for cycle in measured.get("cycles", [])
        ]
    if rule is RuleId.OVER_TEMPERATURE:
        crossed = measured.get("above_limit_at")
        if crossed is None:
            return []
        return [Positive(device, rule, onset, end, _instant(crossed), fault_id=fault_id)]
    if kind.startswith("sensor_") and measured.get("metric") != "temp_c":
        return []
    if kind == "device_offline" and (
        measured.get("buffered") or not measured.get("missing_readings")
    ):
        return []
    if kind == "battery_drain":
        empty = measured.get("empty_at")
        if empty is None:
            return []
        return [Positive(device, rule, _instant(empty), end, _instant(empty), fault_id=fault_id)]
    severity = fault.get("severity")
    ramp = float(fault.get("params", {}).get("ramp_s", 0.0) or 0.0)
    return [
        Positive(
            device,
            rule,
            onset,
            end,
            onset,
            fault_id=fault_id,
            severity=None if severity is None else float(severity),
            ramp_s=ramp,
        )
    ]


def _retention_positives(
    fault: Mapping[str, Any], keeping: SampleKeeping, fault_id: int
) -> list[Positive]:
    """The meals whose samples were in the fridge when the excursion had lasted long enough to
    spoil them (meals served later, during the excursion, may be breached too; they are
    neither positives nor false alarms)."""
    crossed = fault.get("measured", {}).get("above_limit_at")
    if crossed is None:
        return []
    spoiled = _instant(crossed) + keeping.spoiled_after
    at_ms = int(spoiled.timestamp() * 1000)
    hold_ms = int(keeping.hold.total_seconds() * 1000)
    services = keeping.timetable.services_ending(at_ms - hold_ms, at_ms)
    device = str(fault["device"])
    end = _maybe_instant(fault.get("end"))
    return [
        Positive(
            device,
            RuleId.SAMPLE_RETENTION,
            spoiled,
            end,
            spoiled,
            meal=s.meal,
            service_date=s.service_date,
            fault_id=fault_id,
        )
        for s in services
    ]


def _meal_positive(
    device: str, cycle: Mapping[str, Any], zone: ZoneInfo, window: timedelta, fault_id: int
) -> Positive:
    due = _instant(cycle["due"])
    service_date = due.astimezone(zone).date()
    # The record is decided after the window closes; the window runs from the meal's end,
    # which the cycle's due time follows.
    return Positive(
        device,
        RuleId.DISINFECTION,
        due - window,
        due + window,
        due,
        meal=str(cycle["meal"]),
        service_date=service_date,
        fault_id=fault_id,
    )


@dataclass(slots=True)
class Outcome:
    """One rule's result on one or more runs: each positive with its delay (None: missed),
    the false alarms, and the device-days watched. Outcomes of several runs add up."""

    found: list[tuple[Positive, float | None]] = field(default_factory=list)
    false_alarms: list[Detection] = field(default_factory=list)
    device_days: float = 0.0

    def add(self, other: Outcome) -> None:
        self.found += other.found
        self.false_alarms += other.false_alarms
        self.device_days += other.device_days

    def summary(self) -> dict[str, float | int | None]:
        delays = [d for _, d in self.found if d is not None]
        tp, fp = len(delays), len(self.false_alarms)
        days = self.device_days
        return {
            "tp": tp,
            "fp": fp,
            "fn": len(self.found) - tp,
            "recall": round(tp / len(self.found), 4) if self.found else None,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "ttd_median_h": round(statistics.median(delays), 3) if delays else None,
            "ttd_max_h": round(max(delays), 3) if delays else None,
            "false_alarms_per_100_device_days": round(100 * fp / days, 3) if days else None,
        }


def outcomes(
    positives: Sequence[Positive],
    spans: Sequence[tuple[str, RuleId, datetime, datetime | None]],
    detections: Sequence[Detection],
    device_days: Mapping[RuleId, float],
    run_end: datetime,
) -> dict[RuleId, Outcome]:
    """Per rule: which positives were caught and how late, which detections were false."""
    rules = sorted({p.rule for p in positives} | {d.rule for d in detections} | set(device_days))
    return {
        rule: _outcome(rule, positives, spans, detections, device_days.get(rule, 0.0), run_end)
        for rule in rules
    }


def score(
    positives: Sequence[Positive],
    spans: Sequence[tuple[str, RuleId, datetime, datetime | None]],
    detections: Sequence[Detection],
    device_days: Mapping[RuleId, float],
    run_end: datetime,
) -> dict[str, dict[str, float | int | None]]:
    """Per rule: tp, fp, fn, recall, precision, time to detect, false alarms per 100
    device-days (device-days of the devices the rule watches)."""
    found = outcomes(positives, spans, detections, device_days, run_end)
    return {rule.value: outcome.summary() for rule, outcome in found.items()}


def _outcome(
    rule: RuleId,
    positives: Sequence[Positive],
    spans: Sequence[tuple[str, RuleId, datetime, datetime | None]],
    detections: Sequence[Detection],
    device_days: float,
    run_end: datetime,
) -> Outcome:
    mine = [p for p in positives if p.rule is rule]
    found = [d for d in detections if d.rule is rule]
    outcome = Outcome(device_days=device_days)
    for positive in mine:
        hits = [d for d in found if _matches(d, positive, run_end)]
        delay = None
        if hits:
            first = min(hits, key=lambda h: h.at)
            reference = first.window_end or positive.reference
            delay = max(0.0, (first.at - reference).total_seconds() / 3600)
        outcome.found.append((positive, delay))
    outcome.false_alarms = [
        d
        for d in found
        if not any(_matches(d, p, run_end) for p in mine)
        and not any(_within(d, s, run_end) for s in spans if s[1] is rule)
    ]
    return outcome


def _matches(detection: Detection, positive: Positive, run_end: datetime) -> bool:
    if detection.device != positive.device:
        return False
    if positive.meal is not None:
        return (detection.meal, detection.service_date) == (positive.meal, positive.service_date)
    end = (positive.end or run_end) + _GRACE
    return positive.start <= detection.at <= end


def _within(
    detection: Detection,
    span: tuple[str, RuleId, datetime, datetime | None],
    run_end: datetime,
) -> bool:
    device, rule, onset, end = span
    if detection.device != device or (detection.meal is not None and rule is RuleId.DISINFECTION):
        return False
    return onset <= detection.at <= (end or run_end) + _GRACE


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _maybe_instant(text: Any) -> datetime | None:
    return None if text is None else _instant(str(text))
