"""Energy anomalies raised as alerts: night base load, holiday base load, night water flow
(a leak) and kitchen use out of hours (`energy.anomalies`) become findings for the alerts
service, so they get the alerts' lifecycle, routing, escalation and quiet hours (they are not
about food: a route's quiet hours hold them until the morning).

`EnergyAlerts.run` checks once at start and then every `every_s` (an hour by default: the
anomalies are judged per day or night, so a finer check finds nothing new) over the last
`lookback_days`. One alert per (meter, anomaly kind), as for every rule:

- an anomaly whose end is later than the last one raised for its meter and kind is a FIRING
  finding at its end (a run of days that grows refreshes the open alert without a new
  message; one that comes back after the alert resolved fires it again);
- the alert resolves by itself (a CLEARED finding) once a whole day after the last anomalous
  window has been measured (at least `min_completeness` of it) without the anomaly coming
  back. Not latched: every one of these windows recurs daily, so a normal day is evidence
  that the cause is gone, and a person need not remember to resolve a leak that was fixed;
  a day with too little data is no evidence either way and the alert stays.

Idempotent across restarts: what was raised (per meter and kind, the last anomaly's end and
whether its alert is open) is kept in the rule-state table (`energy:anomalies`) after each
check, so an anomaly already raised is not raised again; a finding re-sent after a crash
before that save carries the same event time, which the alert book ignores.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from alerts.engine import EngineOutput
from alerts.lifecycle import AlertChange
from alerts.model import Finding, Message, Phase, RuleId, Severity
from alerts.store import RuleStateStore
from alerts.text import energy_anomaly, energy_normal_again
from core.clock import Clock
from core.config import SiteConfig
from energy.anomalies import detect_anomalies
from energy.anomaly_model import AnomalyKind, EnergyAnomaly
from energy.anomaly_model import Severity as AnomalySeverity
from energy.labels import Lang, text
from energy.meters import site_meters
from energy.usage import MeterUsage, load_usage
from ingest.store import SiteStore

__all__ = ["ENERGY_STATE", "RULE_OF_KIND", "EnergyAlerts"]

log = logging.getLogger(__name__)

ENERGY_STATE = "energy:anomalies"  # beside the rules' states (no device id has a colon)
RULE_OF_KIND = {
    AnomalyKind.NIGHT_BASE_LOAD: RuleId.ENERGY_NIGHT_BASE_LOAD,
    AnomalyKind.HOLIDAY_BASE_LOAD: RuleId.ENERGY_HOLIDAY_BASE_LOAD,
    AnomalyKind.NIGHT_WATER_FLOW: RuleId.ENERGY_NIGHT_WATER_FLOW,
    AnomalyKind.KITCHEN_OFF_HOURS: RuleId.ENERGY_KITCHEN_OFF_HOURS,
}
_NORMAL_SPAN = timedelta(days=1)


class FindingSink(Protocol):
    """Where findings go (`alerts.AlertService.flush`): the alert book, then its listeners."""

    def flush(self, output: EngineOutput) -> list[AlertChange]: ...


@dataclass(slots=True)
class _Raised:
    until: datetime  # UTC end of the last anomaly raised for this meter and kind
    open: bool


class EnergyAlerts:
    def __init__(
        self,
        config: SiteConfig,
        store: SiteStore,
        alerts: FindingSink,
        states: RuleStateStore,
        clock: Clock,
        *,
        every_s: float = 3600.0,
        lookback_days: int = 7,
    ) -> None:
        self._config = config
        self._store = store
        self._alerts = alerts
        self._states = states
        self._clock = clock
        self._every_s = every_s
        self._lookback = lookback_days
        self._raised: dict[str, _Raised] | None = None

    async def run(self) -> None:
        """Check at start, then every `every_s` of the clock, until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # the store unreachable, a meter that does not read: next time
                log.exception("energy alerts: check failed; next in %.0f s", self._every_s)
            await self._clock.sleep(self._every_s)

    def check(self, now: datetime | None = None) -> list[AlertChange]:
        """Judge the last `lookback_days` up to `now`; hand the findings to the alerts."""
        now = now or self._clock.now()
        if not site_meters(self._config):
            return []
        # Worked on a copy: what the alerts did not take is raised again next time.
        raised = {key: _Raised(r.until, r.open) for key, r in self._load().items()}
        today = now.astimezone(self._config.site.zone).date()
        first = today - timedelta(days=self._lookback)
        usage = self._usage(first, today)
        found = detect_anomalies(self._config, usage, first, today)
        findings = self._fired(found, raised) + self._cleared(found, raised, usage, now)
        changes = self._alerts.flush(EngineOutput(findings=findings)) if findings else []
        if findings:
            self._save(raised)
            self._raised = raised
            log.info("energy alerts: %d findings, %d alert changes", len(findings), len(changes))
        return changes

    def _usage(self, first: date, last: date) -> MeterUsage:
        lookback = first - timedelta(days=self._config.energy.baseline_days)
        meters = site_meters(self._config)
        return load_usage(self._config, self._store, meters, lookback, last + timedelta(days=1))

    # -- findings ---------------------------------------------------------------------------

    def _fired(self, found: list[EnergyAnomaly], raised: dict[str, _Raised]) -> list[Finding]:
        out: list[Finding] = []
        for anomaly in found:
            key = _key(anomaly.device, anomaly.kind)
            known = raised.get(key)
            if known is not None and anomaly.end <= known.until:
                continue  # raised already (this run, or an earlier part of it)
            out.append(self._finding(anomaly))
            raised[key] = _Raised(anomaly.end, True)
        return out

    def _cleared(
        self,
        found: list[EnergyAnomaly],
        raised: dict[str, _Raised],
        usage: MeterUsage,
        now: datetime,
    ) -> list[Finding]:
        later = {_key(a.device, a.kind) for a in found}
        rows = {meter.id: row for row, meter in enumerate(usage.meters)}
        out: list[Finding] = []
        for key, known in raised.items():
            normal_until = known.until + _NORMAL_SPAN
            if not known.open or now < normal_until:
                continue
            device, kind = _split(key)
            recurred = key in later and any(
                a.end > known.until for a in found if _key(a.device, a.kind) == key
            )
            row = rows.get(device)
            if recurred or row is None or not self._measured(usage, row, known.until):
                continue
            out.append(self._clearing(device, kind, known.until, normal_until))
            known.open = False
        return out

    def _measured(self, usage: MeterUsage, row: int, since: datetime) -> bool:
        """Whether the day after `since` was measured well enough to call it normal."""
        calendar = usage.calendar
        first = int((since - calendar.start).total_seconds() // calendar.slot_s)
        count = int(_NORMAL_SPAN.total_seconds() // calendar.slot_s)
        if first < 0 or first + count > usage.covered.shape[1]:
            return False
        covered = float(np.sum(usage.covered[row, first : first + count]))
        return covered >= self._config.energy.min_completeness * _NORMAL_SPAN.total_seconds()

    def _finding(self, anomaly: EnergyAnomaly) -> Finding:
        zone = self._config.site.zone
        title = _message(anomaly.title("zh"), anomaly.title("en"))
        evidence = _message(anomaly.evidence("zh", zone), anomaly.evidence("en", zone))
        fields: dict[str, Any] = {
            **anomaly.evidence_fields(),
            "building": anomaly.building,
            "start": anomaly.start.isoformat(),
            "end": anomaly.end.isoformat(),
        }
        return Finding(
            device=anomaly.device,
            rule=RULE_OF_KIND[anomaly.kind],
            phase=Phase.FIRING,
            at_ms=_ms(anomaly.end),
            since_ms=_ms(anomaly.start),
            severity=(
                Severity.CRITICAL
                if anomaly.severity is AnomalySeverity.CRITICAL
                else Severity.WARNING
            ),
            message=energy_anomaly(self._label(anomaly.device), title, evidence),
            evidence=fields,
        )

    def _clearing(self, device: str, kind: AnomalyKind, since: datetime, at: datetime) -> Finding:
        zone = self._config.site.zone
        title = _message(_title(kind, "zh"), _title(kind, "en"))
        day = since.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return Finding(
            device=device,
            rule=RULE_OF_KIND[kind],
            phase=Phase.CLEARED,
            at_ms=_ms(at),
            since_ms=_ms(since),
            severity=Severity.WARNING,
            message=energy_normal_again(self._label(device), title, day),
            evidence={"normal_from": since.isoformat(), "normal_until": at.isoformat()},
        )

    def _label(self, device: str) -> str:
        found = self._config.device(device)
        return (found.name or found.id) if found is not None else device

    # -- state ------------------------------------------------------------------------------

    def _load(self) -> dict[str, _Raised]:
        if self._raised is None:
            saved = self._states.load_rule_state(self._config.site.id).get(ENERGY_STATE)
            self._raised = _parse(saved)
        return self._raised

    def _save(self, raised: dict[str, _Raised]) -> None:
        document = {k: {"until": v.until.isoformat(), "open": v.open} for k, v in raised.items()}
        self._states.save_rule_state(self._config.site.id, {ENERGY_STATE: json.dumps(document)})


def _parse(saved: str | None) -> dict[str, _Raised]:
    if saved is None:
        return {}
    try:
        document = json.loads(saved)
        return {
            key: _Raised(datetime.fromisoformat(v["until"]).astimezone(UTC), bool(v["open"]))
            for key, v in document.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("energy alerts: saved state unreadable (%s); judging afresh", exc)
        return {}


def _key(device: str, kind: AnomalyKind) -> str:
    return f"{device}|{kind.value}"


def _split(key: str) -> tuple[str, AnomalyKind]:
    device, _, kind = key.rpartition("|")
    return device, AnomalyKind(kind)


def _title(kind: AnomalyKind, lang: Lang) -> str:
    return text(f"anomaly.{kind.value}", lang)


def _message(zh: str, en: str) -> Message:
    return Message(zh, en)


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)
