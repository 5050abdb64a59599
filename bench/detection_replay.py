"""The bench's replay: readings delivered to the real `AlertService` (real rules, real alert
book, a real DuckDB alert store) in the order and at the time they *arrive*, which for a live
probe is its event time and for a buffering gateway hours later.

Readings are fed in one-minute slices of arrival time and the clock is moved to each slice's
end, as `alerts.replay` does on event time; with arrival = event time the two agree. What the
rules raised comes back as alert firings and the disinfection register's lines.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from alerts import AlertAction, AlertChange, AlertService, DisinfectionRecord, RuleId
from alerts.seal_basis import seal_basis
from core.clock import StepClock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig
from core.readings import ReadingBatch
from ingest.duckdb_alerts import DuckDBAlertStore

__all__ = [
    "EVERY_DAY",
    "SITE",
    "Deliveries",
    "Firing",
    "Replayed",
    "replay",
    "seal_health_summary",
    "site_config",
    "site_document",
]

SITE = "bench"
SLICE_MS = 60_000
DEMO_MEALS = [  # the demo school's timetable (examples/demo-school.yaml)
    ("breakfast", "07:00", "07:40"),
    ("lunch", "11:40", "12:40"),
    ("dinner", "17:30", "18:20"),
]


# The simulated disinfection cabinets run after every meal of every day (a boarding school).
EVERY_DAY = ("school_day", "weekend", "holiday", "vacation")


def site_config(
    devices: list[dict[str, Any]], meals: bool = False, meal_days: Sequence[str] = EVERY_DAY
) -> SiteConfig:
    """A site of the given devices in one kitchen, the demo school's meals when asked, served
    on `meal_days` (the calendar's day types; its weekend is Saturday and Sunday)."""
    return SiteConfig.model_validate(site_document(devices, meals, meal_days))


def site_document(
    devices: list[dict[str, Any]], meals: bool = False, meal_days: Sequence[str] = EVERY_DAY
) -> dict[str, Any]:
    """`site_config`'s site as a config file holds it (`bench.detection_serve`)."""
    return {
        "site": {"id": SITE, "name": "detection bench", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "kitchen", "name": "kitchen", "kind": "canteen"}],
        "meals": [{"name": n, "start": a, "end": b} for n, a, b in DEMO_MEALS] if meals else [],
        "calendar": {"meal_days": list(meal_days)},
        "devices": [{"building": "kitchen", **d} for d in devices],
    }


@dataclass(slots=True)
class Deliveries:
    """Readings with the instant each reaches the service (ms)."""

    device: list[npt.NDArray[np.object_]] = field(default_factory=list)
    metric: list[npt.NDArray[np.object_]] = field(default_factory=list)
    ts_ms: list[npt.NDArray[np.int64]] = field(default_factory=list)
    value: list[npt.NDArray[np.float64]] = field(default_factory=list)
    arrive_ms: list[npt.NDArray[np.int64]] = field(default_factory=list)

    def add(
        self,
        device: str,
        metric: str,
        ts_ms: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64],
        arrive_ms: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self.device.append(np.full(len(ts_ms), device, dtype=object))
        self.metric.append(np.full(len(ts_ms), metric, dtype=object))
        self.ts_ms.append(ts_ms.astype(np.int64))
        self.value.append(value.astype(np.float64))
        self.arrive_ms.append((ts_ms if arrive_ms is None else arrive_ms).astype(np.int64))

    def __len__(self) -> int:
        return sum(len(t) for t in self.ts_ms)


@dataclass(frozen=True, slots=True)
class Firing:
    device: str
    rule: RuleId
    at: datetime
    # the evidence streams a seal alert rested on when it fired (`seal_confirm`: "cycles",
    # "rise+level"...; empty for other rules)
    streams: str = ""
    # what a meter read the compressor doing, unchanged up to an over-temperature alarm
    # ("running", "stopped"; empty where it read neither for long, or there is no meter)
    compressor: str = ""
    # the faults a sensor-fault alert named ("stuck", "spikes"...; empty for other rules)
    faults: str = ""


@dataclass(slots=True)
class Replayed:
    firings: list[Firing]
    disinfection: list[DisinfectionRecord]
    readings: int
    # The cold cabinets whose latest seal verdict rests on evidence that does not see the
    # compressor (`alerts.seal_basis`: the caution seal-health shows staff).
    unseen: list[str] = field(default_factory=list)
    # Per cold cabinet, the highest share of its threshold its seal verdict reached with a
    # move large enough to alert (1 alerts): how close a healthy unit came to a false alert,
    # which a count of false alerts alone does not say.
    closest: dict[str, float] = field(default_factory=dict)
    # When alerts resolved or closed: an alert fired before and still open covers what came
    # after it (`open_at`).
    resolved: list[Firing] = field(default_factory=list)
    # Every change of every alert, in order: (device, rule, action, event time).
    history: list[tuple[str, str, str, datetime]] = field(default_factory=list)

    def open_at(self, device: str, rule: RuleId, at: datetime) -> datetime | None:
        """When the alert of `rule` on `device` open at `at` fired, None if none was open."""
        fired = max(
            (f.at for f in self.firings if f.device == device and f.rule is rule and f.at <= at),
            default=None,
        )
        if fired is None:
            return None
        ended = (r for r in self.resolved if r.device == device and r.rule is rule)
        return None if any(fired <= r.at <= at for r in ended) else fired

    def first(self, device: str, rule: RuleId, after: datetime) -> datetime | None:
        found = self.first_firing(device, rule, after)
        return None if found is None else found.at

    def first_firing(self, device: str, rule: RuleId, after: datetime) -> Firing | None:
        return min(
            (f for f in self.firings if f.device == device and f.rule is rule and f.at >= after),
            key=lambda f: f.at,
            default=None,
        )

    def count(self, device: str, rule: RuleId) -> int:
        return sum(1 for f in self.firings if f.device == device and f.rule is rule)


def replay(config: SiteConfig, deliveries: Deliveries, start: datetime, end: datetime) -> Replayed:
    # Each flush writes; on a RAM disk the alert store's writes cost microseconds, not a sync.
    ram = Path("/dev/shm")
    folder = str(ram) if ram.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="bench-detection-", dir=folder) as tmp:
        store = DuckDBAlertStore(Path(tmp) / "alerts.duckdb")
        try:
            return _replay(config, deliveries, store, start, end)
        finally:
            store.close()


def _replay(
    config: SiteConfig,
    deliveries: Deliveries,
    store: DuckDBAlertStore,
    start: datetime,
    end: datetime,
) -> Replayed:
    clock = StepClock(start)
    service = AlertService(config, store, clock)
    firings: list[Firing] = []
    resolved: list[Firing] = []
    history: list[tuple[str, str, str, datetime]] = []
    service.add_change_listener(lambda change: _note(change, firings, resolved, history))
    arrive = np.concatenate(deliveries.arrive_ms)
    order = np.lexsort((np.concatenate(deliveries.ts_ms), arrive))
    arrive = arrive[order]
    devices = np.concatenate(deliveries.device)[order]
    metrics = np.concatenate(deliveries.metric)[order]
    ts = np.concatenate(deliveries.ts_ms)[order]
    values = np.concatenate(deliveries.value)[order]
    start_ms, end_ms = to_epoch_ms(start), to_epoch_ms(end)
    edges = np.arange(start_ms, max(end_ms, int(arrive[-1]) + 1) + SLICE_MS, SLICE_MS)
    cuts = np.searchsorted(arrive, edges, side="right")
    # Slices hold what arrived after their start up to their end; the first holds what arrived
    # at the run's very start too (a door contact's first report), not left out.
    cuts[0] = 0
    for index in range(1, len(edges)):
        a, b = int(cuts[index - 1]), int(cuts[index])
        clock.instant = utc_from_ms(int(edges[index]))
        if b > a:
            batch = ReadingBatch(
                [SITE] * (b - a), devices[a:b].tolist(), metrics[a:b].tolist(), ts[a:b], values[a:b]
            )
            service.process(batch)
        service.tick(clock.instant)
    records = store.disinfection_records(SITE, date(1970, 1, 1), date(9999, 1, 1), None)
    unseen, closest = seal_health_summary(config, store, start, clock.instant)
    return Replayed(firings, records, len(ts), unseen, closest, resolved, history)


def seal_health_summary(
    config: SiteConfig, store: DuckDBAlertStore, start: datetime, end: datetime
) -> tuple[list[str], dict[str, float]]:
    """The cabinets whose latest seal-health point cautions that the probe does not see the
    compressor, and each cabinet's closest approach to a seal alert (`Replayed.closest`)."""
    unseen: list[str] = []
    closest: dict[str, float] = {}
    for device in config.devices:
        points = store.seal_health(SITE, device.id, start, end)
        judged = [p for p in points if "learning" not in p.evidence]
        basis = seal_basis(judged[-1]) if judged else None
        if basis is not None and not basis.compressor_seen:
            unseen.append(device.id)
        shares = [
            float(share)
            for p in judged
            if p.evidence.get("verdict_moved")
            and isinstance(share := p.evidence.get("verdict"), (int, float))
        ]
        if judged:
            closest[device.id] = max(shares, default=0.0)
    return unseen, closest


def _note(
    change: AlertChange,
    into: list[Firing],
    resolved: list[Firing],
    history: list[tuple[str, str, str, datetime]],
) -> None:
    alert = change.alert
    history.append((alert.device, alert.rule.value, change.action.value, alert.updated_at))
    if change.action in (AlertAction.RESOLVED, AlertAction.CLOSED):
        resolved.append(Firing(change.alert.device, change.alert.rule, change.alert.updated_at))
    if change.action in (AlertAction.FIRED, AlertAction.REFIRED):
        streams = change.alert.evidence.get("evidence_streams")
        compressor = change.alert.evidence.get("compressor")
        faults = change.alert.evidence.get("faults")
        alert = change.alert
        into.append(
            Firing(
                alert.device,
                alert.rule,
                alert.updated_at,
                streams if isinstance(streams, str) else "",
                compressor if isinstance(compressor, str) else "",
                faults if isinstance(faults, str) else "",
            )
        )
