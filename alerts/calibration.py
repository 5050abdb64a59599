"""The probe calibration register: staff check a device's temperature probe in iced water
(0 °C) or beside a reference thermometer; a check passes when the probe reads within the
tolerance of the reference. A probe whose last passing check is older than its interval is
overdue, and every register that relies on that probe carries the flag for the time affected.

Tolerance and interval come from the site config (`calibration:`, per kind and per device;
defaults and their source in `core.config.CalibrationSettings`). A check is judged when it is
recorded and stored with its tolerance, so changing the tolerance never rewrites the register.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from alerts.errors import AlertError
from core.config import SiteConfig
from core.model import Device, DeviceKind
from core.records import CalibrationCheck, CalibrationMethod, Message

__all__ = [
    "CALIBRATED_KINDS",
    "CalibrationError",
    "CalibrationGap",
    "CalibrationStatus",
    "CalibrationStore",
    "GapKind",
    "calibration_status",
    "has_probe",
    "overdue_gaps",
    "record_check",
    "register_gaps",
]

# Kinds with a temperature probe whose readings a register relies on: cold storage and the
# heated cabinets (their cycle temperature decides the disinfection register).
CALIBRATED_KINDS = (
    DeviceKind.FRIDGE,
    DeviceKind.FREEZER,
    DeviceKind.SAMPLE_FRIDGE,
    DeviceKind.STEAM_CABINET,
    DeviceKind.DISINFECTION_CABINET,
)
# Iced water is 0 °C only while ice and water are both present; a reference above this is not
# an ice-point check (FSA SFBB: the probe in iced water reads -1 °C to +1 °C).
_ICE_POINT_C = 0.0
# A reading outside what any food probe measures is a typing error, not a check.
_PLAUSIBLE_C = (-60.0, 300.0)


class CalibrationError(AlertError):
    """A check that cannot be recorded as given; `field` names the part of it at fault."""

    def __init__(self, message: str, *, device: str, field: str) -> None:
        super().__init__(message, device=device)
        self.field = field


class CalibrationStore(Protocol):
    def add_check(self, check: CalibrationCheck) -> CalibrationCheck:
        """Store a new check; its `id` is assigned here and returned."""
        ...

    def checks(
        self, site: str, device: str | None, until: datetime | None = None
    ) -> list[CalibrationCheck]:
        """Checks of a device (None: all devices) up to `until`, oldest first."""
        ...


class GapKind(StrEnum):
    NEVER = "never"  # no passing check on record before this time
    OVERDUE = "overdue"  # the last passing check is older than the interval


_GAP_TEXT = {
    GapKind.NEVER: Message("无校准记录", "no calibration on record"),
    GapKind.OVERDUE: Message("校准逾期", "overdue calibration"),
}


@dataclass(frozen=True, slots=True)
class CalibrationGap:
    """A span [start, end) in which a device's probe was not covered by a passing check."""

    device: str
    kind: GapKind
    start: datetime
    end: datetime

    @property
    def text(self) -> Message:
        return _GAP_TEXT[self.kind]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True, slots=True)
class CalibrationStatus:
    """A device's probe now: its last passing check, when the next one is due, overdue?"""

    device: str
    tolerance_k: float
    interval_days: int
    last_passed: CalibrationCheck | None
    due_at: datetime | None  # None: never checked, due now
    overdue: bool

    @property
    def flag(self) -> Message | None:
        """What the registers print beside this probe's figures now, None when in date."""
        if not self.overdue:
            return None
        return _GAP_TEXT[GapKind.NEVER if self.last_passed is None else GapKind.OVERDUE]


def has_probe(device: Device) -> bool:
    return device.kind in CALIBRATED_KINDS


def record_check(
    store: CalibrationStore,
    config: SiteConfig,
    device: Device,
    *,
    at: datetime,
    method: CalibrationMethod,
    reference_c: float,
    probe_c: float,
    by: str,
    note: str | None = None,
    corrective_action: str | None = None,
) -> CalibrationCheck:
    """Judge a check against the device's tolerance and store it. A failed check must say what
    was done about it (probe adjusted, replaced, taken out of use): the register needs it."""
    _check_device(device)
    _check_readings(device.id, method, reference_c, probe_c)
    tolerance, _ = config.calibration.for_device(device)
    passed = abs(probe_c - reference_c) <= tolerance + 1e-9
    if not passed and not (corrective_action or "").strip():
        raise CalibrationError(
            f"the probe of {device.id!r} reads {probe_c - reference_c:+.2f} K off the "
            f"reference, outside ±{tolerance} K: a failed check needs 'corrective_action' "
            "(what was done: probe adjusted, replaced, taken out of use)",
            device=device.id,
            field="corrective_action",
        )
    check = CalibrationCheck(
        site=config.site.id,
        device=device.id,
        checked_at=at,
        method=method,
        reference_c=reference_c,
        probe_c=probe_c,
        tolerance_k=tolerance,
        passed=passed,
        by=by,
        note=note,
        corrective_action=corrective_action,
    )
    return store.add_check(check)


def _check_device(device: Device) -> None:
    if not has_probe(device):
        allowed = ", ".join(k.value for k in CALIBRATED_KINDS)
        raise CalibrationError(
            f"device {device.id!r} is a {device.kind.value}; it has no temperature probe to "
            f"calibrate (kinds with one: {allowed})",
            device=device.id,
            field="device",
        )


def _check_readings(
    device: str, method: CalibrationMethod, reference_c: float, probe: float
) -> None:
    low, high = _PLAUSIBLE_C
    for field, value in (("reference_c", reference_c), ("probe_c", probe)):
        if not low <= value <= high:
            raise CalibrationError(
                f"{field} {value} °C is outside what a food probe measures ({low} to {high} °C)",
                device=device,
                field=field,
            )
    if method is CalibrationMethod.ICE_POINT and reference_c != _ICE_POINT_C:
        raise CalibrationError(
            f"an ice-point check is against 0 °C (ice and water), not {reference_c} °C; use "
            "method 'reference' for a check beside a reference thermometer",
            device=device,
            field="reference_c",
        )


def calibration_status(
    checks: Sequence[CalibrationCheck], config: SiteConfig, device: Device, now: datetime
) -> CalibrationStatus:
    tolerance, interval = config.calibration.for_device(device)
    passed = [c for c in checks if c.passed and c.device == device.id and c.checked_at <= now]
    last = passed[-1] if passed else None
    due = None if last is None else last.checked_at + timedelta(days=interval)
    return CalibrationStatus(
        device.id, tolerance, interval, last, due, overdue=due is None or due <= now
    )


def overdue_gaps(
    checks: Sequence[CalibrationCheck],
    config: SiteConfig,
    device: Device,
    start: datetime,
    end: datetime,
) -> list[CalibrationGap]:
    """The spans of [start, end) in which `device`'s probe had no passing check within its
    interval: before its first passing check ("never"), or after a passing check expired
    ("overdue"). `checks` must include those before `start`, which cover its beginning. A
    failed check covers nothing; it does not end an earlier pass's cover either."""
    if start >= end:
        return []
    _, interval = config.calibration.for_device(device)
    span = timedelta(days=interval)
    passes = sorted(c.checked_at for c in checks if c.passed and c.device == device.id)
    gaps: list[CalibrationGap] = []
    cursor, kind = start, GapKind.NEVER
    for at in passes:
        if at >= end:
            break
        if at > cursor:
            gaps.append(CalibrationGap(device.id, kind, cursor, at))
        cursor, kind = max(cursor, at + span), GapKind.OVERDUE
    if cursor < end:
        gaps.append(CalibrationGap(device.id, kind, cursor, end))
    return gaps


def register_gaps(
    store: CalibrationStore,
    config: SiteConfig,
    devices: Sequence[Device],
    span: tuple[datetime, datetime],
    now: datetime,
) -> list[CalibrationGap]:
    """The spans of `span` (up to `now`) in which a probe behind a register was not covered
    by a passing check, device by device; devices without a probe have none."""
    start, end = span[0], min(span[1], now)
    gaps: list[CalibrationGap] = []
    for device in devices:
        if has_probe(device):
            checks = store.checks(config.site.id, device.id, until=end)
            gaps += overdue_gaps(checks, config, device, start, end)
    return gaps
