"""A register as a document: its tables (typed cells: dates stay dates for the spreadsheet),
the site, the period and the persons recorded in it, in Chinese or English. `pdf` and `xlsx`
only lay a `RegisterDocument` out; what a register holds is decided here and in
`alerts.registers` / `alerts.calibration`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from alerts.calibration import (
    CALIBRATED_KINDS,
    CalibrationGap,
    CalibrationStore,
    calibration_status,
    overdue_gaps,
)
from alerts.errors import AlertError
from alerts.product_log import AirReadings
from alerts.register_export.labels import Lang, label
from alerts.store import RegisterStore
from core.admin_records import LimitPeriod
from core.config import SiteConfig
from core.model import Device, DeviceKind
from core.records import Alert, AlertQuery, AlertState, RuleId

__all__ = [
    "REGISTER_KINDS",
    "CalibrationFlags",
    "Cell",
    "RegisterDocument",
    "RegisterKindError",
    "RegisterName",
    "RegisterSources",
    "Table",
    "register_devices",
]

Cell = str | int | float | date | datetime | None


class RegisterName(StrEnum):
    TEMPERATURE_LOG = "temperature-log"
    DISINFECTION = "disinfection"
    SAMPLE_RETENTION = "sample-retention"
    CALIBRATION = "calibration"


# The device kinds each register is kept for.
REGISTER_KINDS: dict[RegisterName, tuple[DeviceKind, ...]] = {
    RegisterName.TEMPERATURE_LOG: CALIBRATED_KINDS,
    RegisterName.DISINFECTION: (DeviceKind.DISINFECTION_CABINET, DeviceKind.STEAM_CABINET),
    RegisterName.SAMPLE_RETENTION: (DeviceKind.SAMPLE_FRIDGE,),
    RegisterName.CALIBRATION: CALIBRATED_KINDS,
}
# The alerts whose handling (who acknowledged, who closed, what was done) a register shows.
_REGISTER_RULES: dict[RegisterName, tuple[RuleId, ...]] = {
    RegisterName.TEMPERATURE_LOG: (
        RuleId.OVER_TEMPERATURE,
        RuleId.UNDER_TEMPERATURE,
        RuleId.SENSOR_FAULT,
        RuleId.OFFLINE,
    ),
    RegisterName.DISINFECTION: (RuleId.DISINFECTION, RuleId.DISINFECTION_UNCONFIRMED),
    RegisterName.SAMPLE_RETENTION: (RuleId.SAMPLE_RETENTION, RuleId.OVER_TEMPERATURE),
    RegisterName.CALIBRATION: (),
}


class RegisterKindError(AlertError):
    """A register asked of a device it is not kept for."""


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[Cell]]
    # Relative column widths for the PDF (None: equal).
    widths: list[float] | None = None


@dataclass(frozen=True, slots=True)
class RegisterDocument:
    name: RegisterName
    lang: Lang
    site_name: str
    title: str
    first: date
    last: date
    generated_at: datetime  # local time of the site
    tables: list[Table]
    persons: list[str] = field(default_factory=list)

    @property
    def period(self) -> str:
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


@dataclass(frozen=True, slots=True)
class RegisterSources:
    """What a document is read from; all handed in by the caller (the API)."""

    config: SiteConfig
    registers: RegisterStore
    calibration: CalibrationStore
    find_alerts: Callable[[AlertQuery], list[Alert]]
    air: Callable[[Device], AirReadings] | None = None
    # A device's limit periods over [start, end) (`LimitDesk.history`); None: no admin store,
    # every day is judged by today's limits.
    limit_history: Callable[[Device, datetime, datetime], Sequence[LimitPeriod]] | None = None


def register_devices(config: SiteConfig, name: RegisterName, device: Device | None) -> list[Device]:
    """The devices a register covers: `device` alone, or every device of the kinds it is kept
    for. Raises `RegisterKindError` for a device of another kind."""
    kinds = REGISTER_KINDS[name]
    if device is None:
        return [d for d in config.devices if d.kind in kinds]
    if device.kind not in kinds:
        allowed = ", ".join(k.value for k in kinds)
        raise RegisterKindError(
            f"device {device.id!r} is a {device.kind.value}; the {name.value} register is kept "
            f"for {allowed}",
            device=device.id,
        )
    return [device]


def local_bounds(config: SiteConfig, first: date, last: date) -> tuple[datetime, datetime]:
    zone = config.site.zone
    start = datetime.combine(first, time(0), tzinfo=zone)
    return start, datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)


def alert_table(
    sources: RegisterSources,
    name: RegisterName,
    devices: Sequence[Device],
    span: tuple[datetime, datetime],
    lang: Lang,
) -> tuple[Table, list[str]]:
    """The alerts of the register's rules on its devices in the period, with who acknowledged
    and who closed them and what they did: the signatures the register carries."""
    rules = _REGISTER_RULES[name]
    ids = {d.id for d in devices}
    zone = sources.config.site.zone
    found: list[Alert] = []
    for rule in rules:
        query = AlertQuery(
            sources.config.site.id,
            states=tuple(AlertState),
            rule=rule,
            since=span[0],
            until=span[1],
            limit=10_000,
        )
        found += [a for a in sources.find_alerts(query) if a.device in ids]
    found.sort(key=lambda a: (a.pending_since, a.id))

    def local(at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(zone).replace(tzinfo=None)

    rows: list[list[Cell]] = [
        [
            a.id,
            a.device,
            label(f"rule.{a.rule.value}", lang, a.rule.value),
            local(a.fired_at or a.pending_since),
            a.acknowledged_by,
            local(a.acknowledged_at),
            a.closed_by,
            local(a.closed_at),
            a.corrective_action,
            None if a.food_decision is None else label(f"food.{a.food_decision.value}", lang),
        ]
        for a in found
    ]
    header = [label(f"alerts.{k}", lang) for k in _ALERT_COLUMNS]
    persons = [p for a in found for p in (a.acknowledged_by, a.closed_by) if p]
    widths = [0.5, 1.0, 1.0, 1.3, 0.9, 1.3, 0.9, 1.3, 2.2, 0.8]
    return Table(label("alerts.title", lang), header, rows, widths), persons


_ALERT_COLUMNS = (
    "id",
    "device",
    "rule",
    "fired",
    "ack_by",
    "ack_at",
    "closed_by",
    "closed_at",
    "action",
    "food",
)


class CalibrationFlags:
    """The calibration flag of a register's rows: each device's checks are read once, its
    uncovered spans computed once up to `now`, and each row asks whether its own span meets
    one of them (the first it meets names the flag)."""

    def __init__(self, sources: RegisterSources, now: datetime, lang: Lang) -> None:
        self._sources, self._now, self._lang = sources, now, lang
        self._gaps: dict[str, list[CalibrationGap]] = {}

    def __call__(self, device: Device, start: datetime, end: datetime) -> str | None:
        gaps = self._gaps.get(device.id)
        if gaps is None:
            gaps = self._device_gaps(device)
            self._gaps[device.id] = gaps
        end = min(end, self._now)
        hit = next((g for g in gaps if g.overlaps(start, end)), None)
        return None if hit is None else hit.text.in_language(self._lang)

    def _device_gaps(self, device: Device) -> list[CalibrationGap]:
        config = self._sources.config
        checks = self._sources.calibration.checks(config.site.id, device.id, until=self._now)
        # From before any register could begin: the earliest a request may ask is 2000-01-01.
        since = datetime(2000, 1, 1, tzinfo=UTC)
        return overdue_gaps(checks, config, device, since, self._now)


def calibration_summary(
    sources: RegisterSources, devices: Sequence[Device], now: datetime, lang: Lang
) -> Table:
    """Each probe now: last passing check, due date, overdue."""
    zone = sources.config.site.zone
    rows: list[list[Cell]] = []
    for device in devices:
        checks = sources.calibration.checks(sources.config.site.id, device.id, until=now)
        status = calibration_status(checks, sources.config, device, now)
        last = status.last_passed
        rows.append(
            [
                device.id,
                device.name or device.id,
                None if last is None else last.checked_at.astimezone(zone).replace(tzinfo=None),
                None if last is None else last.by,
                None if status.due_at is None else status.due_at.astimezone(zone).date(),
                f"±{status.tolerance_k:g} K / {status.interval_days} d",
                label("cal.ok", lang) if status.flag is None else status.flag.in_language(lang),
            ]
        )
    header = [label(f"cal.status.{k}", lang) for k in _STATUS_COLUMNS]
    return Table(label("cal.status.title", lang), header, rows, [1, 1.6, 1.3, 1, 1, 1.1, 1])


_STATUS_COLUMNS = ("device", "name", "last", "by", "due", "policy", "state")
