"""The rule engine: every device's rules fed in event-time order, plus the site's offline watch.

`process` takes a reading batch (the store writer's listener), `presence` the gateway's
presence changes, `tick` the clock passing deadlines. Each returns what the rules found and
the register lines they wrote; the engine itself does no I/O, so the same code runs live,
in a replay after a restart and in `canteen eval`.

Per device, readings at or before the newest instant already processed (the watermark) are
skipped: duplicates and late readings are stored by ingest but do not re-open decisions
already taken (DESIGN.md, time); a rule whose verdict on a period is still open (a meal's
disinfection) may still count them (`Rule.observe_late`). Within a batch, readings are sorted
first, so a batch that arrives shuffled is judged as if it had arrived in order. A reading at
the watermark's own instant of a metric that instant did not have yet is no late one: it is
the rest of that instant (a device that sends its channels in messages of their own, stamped
alike, which the gateway may store in two batches), judged as a sample of its own there: none
of it is lost where a batch ended, though an instant split so reaches the rules as two samples.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from alerts.model import Finding, RuleId
from alerts.rule_faults import RuleFaults
from alerts.rules.base import DeviceSetup, RegisterRecord, Rule
from alerts.rules.disinfection import DisinfectionRule
from alerts.rules.disturbance import Disturbances
from alerts.rules.neighbour import ProbePair
from alerts.rules.offline import OfflineWatch
from alerts.rules.retention import RetentionRule
from alerts.rules.seal_cold import ColdSealRule
from alerts.rules.seal_peers import KitchenPeers
from alerts.rules.seal_steam import SteamSealRule
from alerts.rules.sensor import PLAUSIBLE_C, SensorFaultRule
from alerts.rules.threshold import ExcursionRule
from alerts.samples import Sample, samples_by_device
from alerts.timetable import Timetable
from core.clock import Clock, to_epoch_ms
from core.config import SiteConfig
from core.model import Device, DeviceKind
from core.readings import PresenceChange, ReadingBatch

__all__ = ["DeviceRules", "EngineOutput", "RuleEngine"]

log = logging.getLogger(__name__)

OFFLINE_KEY = "_offline"  # the snapshot name of the site-wide offline watch
_OFFLINE_STEP_MS = 1000  # the offline watch judges at most this often between batches


@dataclass(slots=True)
class EngineOutput:
    findings: list[Finding] = field(default_factory=list)
    records: list[RegisterRecord] = field(default_factory=list)

    def extend(self, other: EngineOutput) -> None:
        self.findings.extend(other.findings)
        self.records.extend(other.records)

    def __bool__(self) -> bool:
        return bool(self.findings or self.records)


class DeviceRules:
    """The rules that apply to one device, by its kind, and its watermark."""

    def __init__(self, setup: DeviceSetup) -> None:
        self.setup = setup
        self.watermark_ms: int | None = None
        # The metrics of the watermark's instant already judged (`_rest_of_instant`); None:
        # not known (a state saved before they were kept), so nothing more there is judged.
        self.mark_metrics: frozenset[str] | None = frozenset()
        kind = setup.device.kind
        self.disturbances = Disturbances(setup) if kind.is_cold_storage else None
        self.sensor = SensorFaultRule(setup, self.disturbances) if kind in PLAUSIBLE_C else None
        self.rules: list[Rule] = _rules_for(setup, self.disturbances, self.sensor)
        # Sensor rules of devices that name this one as their neighbouring probe.
        self.watchers: list[SensorFaultRule] = []
        # Most rules leave the clock and delivery hooks as Rule's no-ops: at thousands of
        # devices, calling them anyway was most of the cost of a batch and of every tick.
        self._timed = [rule for rule in self.rules if _overrides(rule, "at")]
        self._told = [rule for rule in self.rules if _overrides(rule, "delivered")]
        self._everyone: list[Rule] = [*self.rules, *([self.sensor] if self.sensor else [])]
        self.faults = RuleFaults(setup.id)  # a rule that fails fails alone (`rule_faults`)

    @property
    def timed(self) -> bool:
        """Whether a rule of this device acts on the clock passing (`at`)."""
        return bool(self._timed)

    def observe(
        self, samples: Sequence[Sample], out: EngineOutput, delivered_ms: int | None = None
    ) -> None:
        """`delivered_ms`: when they arrived by the real clock, if live (not a replay)."""
        # Looked up once per batch, not once per reading and rule (a batch of a busy device
        # holds hundreds of readings).
        findings, sensor, disturbances = out.findings, self.sensor, self.disturbances
        rules, watchers, mark = self.rules, self.watchers, self.watermark_ms
        for sample in samples:
            if mark is not None and sample.ts_ms <= mark:
                rest = self._rest_of_instant(sample) if sample.ts_ms == mark else None
                if rest is None:
                    self._late(sample)
                    continue
                sample = rest
            else:
                mark = self.watermark_ms = sample.ts_ms
                self.mark_metrics = frozenset(sample.values)
            # Each call guarded: a defect some reading brings out in one rule must not keep
            # the reading from the others, nor end the service (`rule_faults`). Free in
            # CPython 3.11+ while nothing is raised.
            if sensor is not None:
                try:
                    sensor.observe(sample, findings)
                except Exception as exc:  # see above
                    self.faults.note(sensor.rule.value, sample.ts_ms, exc)
                temp = sample.values.get("temp_c")
                if temp is not None and not sensor.plausible(temp):
                    del sample.values["temp_c"]  # an impossible value judges nothing else
                    temp = None
                if temp is not None:
                    for watcher in watchers:
                        try:
                            watcher.neighbour_reading(sample.ts_ms, temp, findings)
                        except Exception as exc:
                            name = f"{watcher.rule.value} of {watcher.setup.id}"
                            self.faults.note(name, sample.ts_ms, exc)
            if disturbances is not None:
                try:
                    disturbances.observe(sample)
                except Exception as exc:
                    self.faults.note("disturbances", sample.ts_ms, exc)
            for rule in rules:
                try:
                    rule.observe(sample, findings)
                except Exception as exc:
                    self.faults.note(rule.rule.value, sample.ts_ms, exc)
        if delivered_ms is not None:
            for rule in self._told:
                try:
                    rule.delivered(delivered_ms)
                except Exception as exc:
                    self.faults.note(rule.rule.value, delivered_ms, exc)
        self._collect(out)

    def _rest_of_instant(self, sample: Sample) -> Sample | None:
        """The metrics of a sample at the watermark's instant that it did not have yet, as a
        sample of their own (None: nothing new, a duplicate). Those it had go to `_late`."""
        seen = self.mark_metrics
        if seen is None:
            return None
        new = {m: v for m, v in sample.values.items() if m not in seen}
        if not new:
            return None
        if len(new) < len(sample.values):
            self._late(Sample(sample.ts_ms, {m: v for m, v in sample.values.items() if m in seen}))
        self.mark_metrics = seen.union(new)
        return Sample(sample.ts_ms, new)

    def _late(self, sample: Sample) -> None:
        """Older than the watermark: offered to the rules whose verdicts are still open."""
        temp = sample.get("temp_c")
        if self.sensor is not None and temp is not None and not self.sensor.plausible(temp):
            return
        for rule in self.rules:
            try:
                rule.observe_late(sample)
            except Exception as exc:  # see `observe`
                self.faults.note(rule.rule.value, sample.ts_ms, exc)

    def at(self, now_ms: int, out: EngineOutput) -> None:
        for rule in self._timed:
            try:
                rule.at(now_ms, out.findings)
            except Exception as exc:  # see `observe`
                self.faults.note(rule.rule.value, now_ms, exc)
        self._collect(out)

    def _collect(self, out: EngineOutput) -> None:
        for rule in self._everyone:
            if rule.records:
                out.records.extend(rule.records)
                rule.records = []

    def _all_rules(self) -> list[Rule]:
        return self._everyone

    def rule_ids(self) -> set[RuleId]:
        """The rules that watch this device (the site-wide offline watch aside)."""
        return {rule.rule for rule in self._all_rules()}

    def snapshot(self) -> str:
        document = {
            "watermark_ms": self.watermark_ms,
            "mark_metrics": None if self.mark_metrics is None else sorted(self.mark_metrics),
            "disturbances": self.disturbances.snapshot() if self.disturbances else None,
            "rules": {rule.rule.value: rule.snapshot() for rule in self._all_rules()},
        }
        return json.dumps(document, separators=(",", ":"))

    def restore(self, text: str) -> None:
        document = json.loads(text)
        self.watermark_ms = document.get("watermark_ms")
        saved = document.get("mark_metrics")
        self.mark_metrics = None if saved is None else frozenset(saved)
        if self.disturbances is not None and document.get("disturbances") is not None:
            self.disturbances.restore(document["disturbances"])
        saved = document.get("rules", {})
        for rule in self._all_rules():
            if rule.rule.value in saved:
                rule.restore(saved[rule.rule.value])


def _overrides(rule: Rule, hook: str) -> bool:
    """Whether the rule's class implements `hook` rather than inheriting Rule's no-op."""
    return getattr(type(rule), hook) is not getattr(Rule, hook)


def _rules_for(
    setup: DeviceSetup, disturbances: Disturbances | None, sensor: SensorFaultRule | None
) -> list[Rule]:
    kind = setup.device.kind
    rules: list[Rule] = []
    if kind.is_cold_storage and disturbances is not None:
        excursions = [
            ExcursionRule(setup, disturbances, above=above)
            for above, limit in ((True, setup.limits.high_c), (False, setup.limits.low_c))
            if limit is not None
        ]
        rules += [*excursions, ColdSealRule(setup, disturbances, excursions, sensor)]
        if kind is DeviceKind.SAMPLE_FRIDGE:
            rules.append(RetentionRule(setup, excursions))
    elif kind is DeviceKind.STEAM_CABINET:
        rules.append(SteamSealRule(setup))
    elif kind is DeviceKind.DISINFECTION_CABINET:
        rules.append(DisinfectionRule(setup))
    return rules


class RuleEngine:
    def __init__(self, config: SiteConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.site = config.site.id
        timetable = Timetable(config.meals, config.site.zone, config.calendar)
        setups = [_setup(config, d, timetable) for d in config.devices]
        self.devices = {s.id: DeviceRules(s) for s in setups}
        _pair_neighbours(self.devices)
        self._kitchens: dict[str, KitchenPeers] = {}  # per building (`seal_peers`)
        _share_kitchens(self.devices, self._kitchens)
        # The devices a tick has to call: most have no rule acting on the clock, and asking
        # each of thousands whether it has one cost ~1 ms per tick, a tick per batch.
        self._timed = [rules for rules in self.devices.values() if rules.timed]
        self.offline = OfflineWatch(self.site, config.site.name, setups)
        self._offline_judged_ms: int | None = None

    def process(self, batch: ReadingBatch, *, live: bool = True) -> EngineOutput:
        """Run the rules on a batch. `live`: it arrived just now (not a replay of the store),
        so its devices are talking now even when it is a backfill of old readings."""
        return self.judge(samples_by_device(batch, self.site).items(), live=live)

    def judge(
        self, groups: Iterable[tuple[str, Sequence[Sample]]], *, live: bool = True
    ) -> EngineOutput:
        """`process` for readings already grouped per device, each group in time order
        (`samples_by_device`; the live service's queue, `alerts.judge_queue`)."""
        out = EngineOutput()
        now_ms = to_epoch_ms(self.clock.now())
        watched = self.offline.state.devices
        back = self.offline.state.site_firing  # a device heard again may clear an offline alert
        for device, samples in groups:
            rules = self.devices.get(device)
            if rules is None or not samples:
                continue  # the gateway refuses unknown devices; a replay may still hold some
            rules.observe(samples, out, now_ms if live else None)
            seen = watched.get(device)
            back = back or (seen is not None and seen.phase != "ok")
            self.offline.seen(device, samples[-1].ts_ms, now_ms if live else None)
        self._watch_offline(now_ms, out, changed=back)
        return out

    def _watch_offline(self, now_ms: int, out: EngineOutput, *, changed: bool) -> None:
        """The site-wide offline watch judges every device, so it is not run for each batch:
        only when a device it holds offline (or the whole site) is heard again, and otherwise
        at most once per `_OFFLINE_STEP_MS` of clock time. Its deadlines are several reporting
        intervals long (minutes), so a verdict comes at most that much later."""
        last = self._offline_judged_ms
        if not changed and last is not None and 0 <= now_ms - last < _OFFLINE_STEP_MS:
            return
        self._offline_judged_ms = now_ms
        self.offline.at(now_ms, out.findings)

    def presence(self, changes: Sequence[PresenceChange]) -> EngineOutput:
        out = EngineOutput()
        for change in changes:
            if change.site == self.site:
                self.offline.presence(change.device, change.online, to_epoch_ms(change.at))
        self._watch_offline(to_epoch_ms(self.clock.now()), out, changed=True)
        return out

    def tick(self, now: datetime | None = None) -> EngineOutput:
        """The clock reached `now` (default: the engine's clock): absence rules act."""
        now_ms = to_epoch_ms(now or self.clock.now())
        out = EngineOutput()
        for rules in self._timed:
            rules.at(now_ms, out)
        self._watch_offline(now_ms, out, changed=False)
        return out

    def fault_figures(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per device whose rules failed on a reading or tick, per rule: how often, the last
        error and when (`rule_faults`; `/api/health`)."""
        devices = self.devices.items()
        return {name: rules.faults.figures() for name, rules in devices if rules.faults}

    def relearn_seal(self, device: str, by: str, reason: str) -> EngineOutput:
        """Start learning the device's door-seal baseline afresh, from its next readings (a
        new gasket, a repaired or moved cabinet). An open seal alert is cleared. A LookupError
        says the device is unknown or has no seal to judge."""
        rules = self.devices.get(device)
        seal = None
        if rules is not None:
            seal = next(
                (r for r in rules.rules if isinstance(r, ColdSealRule | SteamSealRule)), None
            )
        if seal is None:
            raise LookupError(f"device {device!r} has no door-seal health to re-learn")
        out = EngineOutput()
        now_ms = to_epoch_ms(self.clock.now())
        seal.relearn(now_ms, by, reason, out.findings)
        return out

    def reset_limits(self, device: str) -> None:
        """Judge `device` from now on by the limits the config gives it now (an admin changed
        them): its rules are built again on the new limits and take over the old ones' state
        (watermark, learned baselines, an excursion under way), so nothing is re-judged and
        nothing learned is lost. KeyError: not a device of this site."""
        old = self.devices[device]
        setup = replace(old.setup, limits=self.config.limits_for(old.setup.device))
        rules = DeviceRules(setup)
        _restore_or_start_afresh(device, rules, old.snapshot())
        self.devices[device] = rules
        for each in self.devices.values():
            each.watchers.clear()  # paired again below, with the new rules' sensor
        _pair_neighbours(self.devices)
        _share_kitchens(self.devices, self._kitchens)
        self._timed = [each for each in self.devices.values() if each.timed]

    def devices_per_rule(self) -> dict[RuleId, int]:
        """How many devices each rule watches; the offline watch watches every device."""
        counts = {RuleId.OFFLINE: len(self.devices)}
        for rules in self.devices.values():
            for rule in rules.rule_ids():
                counts[rule] = counts.get(rule, 0) + 1
        return counts

    def watermark_ms(self) -> int | None:
        """The oldest device watermark: replaying from here after a restart misses nothing."""
        marks = [r.watermark_ms for r in self.devices.values() if r.watermark_ms is not None]
        return min(marks) if marks else None

    def snapshot(self) -> dict[str, str]:
        states: dict[str, str] = {}
        for part in self.snapshot_parts(len(self.devices) or 1):
            states.update(part)
        return states

    def snapshot_parts(self, size: int) -> Iterator[dict[str, str]]:
        """The state, `size` devices at a time, then the offline watch's. The owner may judge
        batches between two parts: each device's state is whole, taken at one instant."""
        names = list(self.devices)
        for start in range(0, len(names), size):
            chosen = (self.devices.get(name) for name in names[start : start + size])
            yield {rules.setup.id: rules.snapshot() for rules in chosen if rules is not None}
        yield {OFFLINE_KEY: json.dumps(self.offline.snapshot(), separators=(",", ":"))}

    def restore(self, states: Mapping[str, str]) -> None:
        for name, saved in states.items():
            if name == OFFLINE_KEY:
                self.offline.restore(json.loads(saved))
            elif name in self.devices:
                _restore_or_start_afresh(name, self.devices[name], saved)


def _restore_or_start_afresh(device: str, rules: DeviceRules, saved: str) -> None:
    """A state saved by another release (a rule that has learned to keep more, or less) or a
    damaged one must not stop the service: that device starts afresh, its baselines are learned
    again from the readings replayed and those to come, and the log says so."""
    fresh = rules.snapshot()
    try:
        rules.restore(saved)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        rules.restore(fresh)
        log.warning(
            "alerts: the saved rule state of %s could not be read (%s: %s); its rules start "
            "afresh and learn again from the stored readings",
            device,
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
        )


def _pair_neighbours(devices: Mapping[str, DeviceRules]) -> None:
    """Each device that names a neighbouring probe compares its own with it."""
    for rules in devices.values():
        neighbour = rules.setup.device.neighbour
        other = devices.get(neighbour) if neighbour else None
        if rules.sensor is None or other is None:
            continue
        settings = rules.setup.settings
        rules.sensor.pair = ProbePair(settings, rules.setup.label, other.setup.label)
        other.watchers.append(rules.sensor)


def _share_kitchens(devices: Mapping[str, DeviceRules], kitchens: dict[str, KitchenPeers]) -> None:
    """The cold cabinets of each building hear what the others say of its kitchen
    (`seal_peers`); a building keeps its board when its devices' rules are built again."""
    for rules in devices.values():
        for rule in rules.rules:
            if isinstance(rule, ColdSealRule):
                building = rules.setup.device.building
                rule.peers = kitchens.setdefault(building, KitchenPeers())


def _setup(config: SiteConfig, device: Device, timetable: Timetable) -> DeviceSetup:
    limits, settings = config.limits_for(device), config.rules_for(device)
    return DeviceSetup(config.site.id, device, limits, settings, timetable)
