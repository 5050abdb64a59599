"""The food-safety registers an inspector asks for: the disinfection register per meal, the
food-sample retention records, the daily temperature log per device, and a device's
door-seal health over time. Dates are local (the site's zone), inclusive, YYYY-MM-DD.

What a register says (bands, gaps, local days, completeness) is decided in `alerts.registers`;
this module parses the request, calls it and shapes the answer.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import Field

from alerts import registers as alert_registers
from alerts.model import DisinfectionRecord, RetentionRecord
from alerts.product_log import AIR_STEP_S
from alerts.register_bands import LimitChange
from alerts.register_export import RegisterName
from core.admin_records import LimitPeriod
from core.model import Device
from dashboard_api.context import ApiContext
from dashboard_api.deps import ActorFromLogin, Context, Desk, DevicePath, Staff
from dashboard_api.errors import ApiError, answers
from dashboard_api.params import parse_date, query_value
from dashboard_api.register_scope import calibration_gaps, devices_of
from dashboard_api.routes.alerts import Lang, Language, describe
from ingest.store import Aggregate

__all__ = ["router"]

router = APIRouter(tags=["registers"])

MAX_DAYS = 366  # a school year at most per request
DEFAULT_DAYS = 7

Start = Annotated[
    str | None,
    Query(
        max_length=64,
        description="First local date, YYYY-MM-DD, 2000-01-01 to 2100-12-31; default a week ago",
    ),
]
End = Annotated[
    str | None, Query(max_length=64, description="Last local date, YYYY-MM-DD; default today")
]
DeviceFilter = Annotated[str | None, Query(max_length=64, description="Only this device")]


@router.get(
    "/api/registers/disinfection",
    summary="Disinfection register: one line per meal",
    responses=answers(404, 422, 503),
)
def disinfection(
    context: Context,
    desk: Desk,
    start: Start = None,
    end: End = None,
    device: DeviceFilter = None,
    lang: Lang = "zh",
) -> dict[str, Any]:
    first, last = _dates(context, start, end)
    devices = devices_of(context, RegisterName.DISINFECTION, device)
    records = desk.registers.disinfection_records(context.config.site.id, first, last, device)
    summary = alert_registers.disinfection_summary(records)
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "counts": {status.value: count for status, count in summary.counts.items()},
        "completeness": summary.completeness,
        "items": [_disinfection(context, r, lang) for r in records],
        "calibration_gaps": calibration_gaps(context, devices, first, last, lang),
    }


@router.get(
    "/api/registers/sample-retention",
    summary="Food samples kept in band per meal",
    responses=answers(404, 422, 503),
)
def sample_retention(
    context: Context,
    desk: Desk,
    start: Start = None,
    end: End = None,
    device: DeviceFilter = None,
    lang: Lang = "zh",
) -> dict[str, Any]:
    first, last = _dates(context, start, end)
    devices = devices_of(context, RegisterName.SAMPLE_RETENTION, device)
    records = desk.registers.retention_records(context.config.site.id, first, last, device)
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "items": [_retention(context, r) for r in records],
        "calibration_gaps": calibration_gaps(context, devices, first, last, lang),
    }


@router.get(
    "/api/devices/{device_id}/temperature-log",
    summary="Daily min, max, mean, time out of band",
    responses=answers(404, 422, 503),
)
def temperature_log(
    context: Context,
    desk: Desk,
    device: DevicePath,
    start: Start = None,
    end: End = None,
    lang: Lang = "zh",
) -> dict[str, Any]:
    _has_temperature(device)
    first, last = _dates(context, start, end)
    log = alert_registers.temperature_log(
        desk.registers,
        context.config,
        device,
        first,
        last,
        context.clock.now(),
        air=_air_readings(context, device),
        history=_limit_history(context, device, first, last),
    )
    zone = context.config.site.zone
    return {
        "device": device.id,
        "low_c": log.low_c,
        "high_c": log.high_c,
        "limit_changes": [_limit_change(c, zone) for c in log.changes],
        "judged_on": log.judged_on,
        "product_tau_min": log.product_tau_min,
        "calibration_gaps": calibration_gaps(context, [device], first, last, lang),
        "days": [
            {
                "date": r.day.isoformat(),
                "readings": r.readings,
                "min_c": r.min_c,
                "max_c": r.max_c,
                "mean_c": None if r.mean_c is None else round(r.mean_c, 2),
                "minutes_out_of_band": round(r.minutes_out_of_band, 1),
                "completeness": round(r.completeness, 4),
                "product_min_c": r.product_min_c,
                "product_max_c": r.product_max_c,
                "product_mean_c": r.product_mean_c,
                "product_minutes_out_of_band": None
                if r.product_minutes_out_of_band is None
                else round(r.product_minutes_out_of_band, 1),
                # The band(s) this day is judged by: the limits in force that day.
                "bands": [
                    {
                        "from": b.start.astimezone(zone).isoformat(),
                        "low_c": b.low_c,
                        "high_c": b.high_c,
                    }
                    for b in log.day_bands.get(r.day, [])
                ],
            }
            for r in log.days
        ],
    }


def _limit_history(
    context: ApiContext, device: Device, first: date, last: date
) -> list[LimitPeriod] | None:
    """The device's limit periods over the local dates (None without an admin store: every
    day is then judged by today's limits)."""
    if context.admin is None:
        return None
    zone = context.config.site.zone
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return context.admin.limits.history(device, start, end)


def _limit_change(change: LimitChange, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "at": change.at.astimezone(zone).isoformat(),
        "field": change.field,
        "before": change.before,
        "after": change.after,
        "by": change.by,
        "reason": change.reason,
    }


def _air_readings(context: ApiContext, device: Device) -> alert_registers.AirReadings:
    """The device's stored air readings, for the estimated food temperature in the log."""

    def read(start: datetime, end: datetime) -> tuple[list[int], list[float]]:
        # One mean a minute, from the store's 1-min rollups (alerts.product_log says why).
        points = context.store.series(
            context.config.site.id, device.id, "temp_c", start, end, AIR_STEP_S, Aggregate.AVG
        )
        return [int(p.start.timestamp() * 1000) for p in points], [p.value for p in points]

    return read


@router.get(
    "/api/devices/{device_id}/seal-health",
    summary="Door-seal health (0-1) over time",
    responses=answers(404, 422, 503),
)
def seal_health(
    context: Context, desk: Desk, device: DevicePath, start: Start = None, end: End = None
) -> dict[str, Any]:
    _has_seal(device)
    first, last = _dates(context, start, end)
    health = alert_registers.seal_health(
        desk.registers, context.config, device, first, last, context.clock.now()
    )
    zone = context.config.site.zone
    learning: dict[str, str | int | float | None] | None = None
    if health.learning:
        n, m, unit = health.learned, health.needed, health.unit
        zh = f"学习中：{n} / {m} {'小时' if unit == 'h' else '个周期'}"
        en = f"learning, {n} {unit} of {m}"
        told: dict[str, str | int | float | None] = {"learned": n, "needed": m, "unit": unit}
        d, e = health.served_days, health.needed_days
        if d is not None and e is not None:  # a cold cabinet counts its days with meals
            zh, en = f"{zh}，就餐日 {d:g} / {e:g} 天", f"{en}, {d:g} of {e:g} days with meals"
            told |= {"days_with_meals": d, "days_needed": e}
        learning = told | {"zh": zh, "en": en}
    basis = health.basis
    return {
        "device": device.id,
        "status": "learning" if health.learning else "judged",
        "learning": learning,
        "basis": None
        if basis is None
        else {
            "streams": list(basis.streams),
            "compressor_seen": basis.compressor_seen,
            "on_change": basis.on_change,
            "reported": basis.reported,
            "paused_until": None
            if basis.paused_until is None
            else basis.paused_until.astimezone(zone).isoformat(),
            **basis.text(device.interval_s, zone),
        },
        "points": [
            {"t": p.ts.astimezone(zone).isoformat(), "health": round(p.health, 3), **p.evidence}
            for p in health.points
        ],
    }


class Relearn(ActorFromLogin):
    reason: str = Field(
        min_length=1, max_length=2000, description="What changed: new gasket, cabinet moved..."
    )


@router.post(
    "/api/devices/{device_id}/seal-health/relearn",
    summary="Learn the door-seal baseline afresh (after a repair, a new gasket, a move)",
    responses=answers(404, 422, 503),
)
async def relearn_seal(
    context: Context,
    desk: Desk,
    person: Staff,
    device: DevicePath,
    body: Relearn,
    lang: Lang = "zh",
) -> dict[str, Any]:
    """The health score compares a cabinet with its own baseline; after the seal is repaired
    or the cabinet replaced or moved, that baseline no longer describes it. The next
    `seal_baseline_days` (cold cabinets) or `seal_baseline_cycles` (steam cabinets) are learned
    as the new baseline, and an open seal alert is resolved. Async: the re-learn is handed to
    the loop that owns the rules, never run on a request thread."""
    _has_seal(device)
    try:
        changes = await desk.relearn_seal_live(device.id, person.name, body.reason)
    except LookupError as exc:
        raise ApiError(422, str(exc)) from None
    learning = alert_registers.seal_learning(context.config, device)
    return {
        "device": device.id,
        "learning_from": context.clock.now().astimezone(context.config.site.zone).isoformat(),
        "learning_days": learning.days,
        "learning_cycles": learning.cycles,
        "resolved_alerts": [describe(context, c.alert, lang) for c in changes],
    }


def _has_seal(device: Device) -> None:
    if not alert_registers.has_door_seal(device):
        raise ApiError(422, f"device {device.id!r} is a {device.kind.value}; it has no door seal")


def _dates(context: Context, start: str | None, end: str | None) -> tuple[date, date]:
    today = context.clock.now().astimezone(context.config.site.zone).date()
    last = query_value("end", parse_date, end) if end else today
    first = (
        query_value("start", parse_date, start)
        if start
        else last - timedelta(days=DEFAULT_DAYS - 1)
    )
    if first > last:
        raise ApiError(422, "query parameter 'start' must not be after 'end'")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(
            422,
            f"query parameters 'start'..'end' span {(last - first).days + 1} days; at most "
            f"{MAX_DAYS} days per request, so ask for a shorter range of dates",
        )
    return first, last


def _has_temperature(device: Device) -> None:
    if not alert_registers.keeps_temperature_log(device):
        raise ApiError(
            422, f"device {device.id!r} is a {device.kind.value}; it has no temperature log"
        )


def _disinfection(context: Context, r: DisinfectionRecord, lang: Language) -> dict[str, Any]:
    zone = context.config.site.zone

    def local(instant: datetime | None) -> str | None:
        return None if instant is None else instant.astimezone(zone).isoformat()

    return {
        "device": r.device,
        "meal": r.meal,
        "date": r.service_date.isoformat(),
        "status": r.status.value,
        "reason": r.reason.in_language(lang),
        "window_start": local(r.window_start),
        "window_end": local(r.window_end),
        "cycles": r.cycles,
        "cycle_start": local(r.cycle_start),
        "cycle_end": local(r.cycle_end),
        "max_temp_c": r.max_temp_c,
        "hold_min": r.hold_min,
        "target_c": r.target_c,
        "hold_threshold_c": r.hold_threshold_c,
        "required_hold_min": r.required_hold_min,
        "decided_at": local(r.decided_at),
        # Earlier verdicts that data received later replaced: the inspector sees the correction.
        "amendments": [
            {
                "status": a["status"],
                "decided_at": local(datetime.fromisoformat(a["decided_at"])),
                "reason": a["reason_en"] if lang == "en" else a["reason_zh"],
                "amended_at": local(datetime.fromisoformat(a["amended_at"])),
                "note": a["note_en"] if lang == "en" else a["note_zh"],
            }
            for a in r.amendments
        ],
    }


def _retention(context: Context, r: RetentionRecord) -> dict[str, Any]:
    zone = context.config.site.zone
    return {
        "device": r.device,
        "meal": r.meal,
        "date": r.service_date.isoformat(),
        "status": r.status.value,
        "start": r.start.astimezone(zone).isoformat(),
        "end": r.end.astimezone(zone).isoformat(),
        "low_c": r.low_c,
        "high_c": r.high_c,
        "min_c": r.min_c,
        "max_c": r.max_c,
        "minutes_out_of_band": r.minutes_out_of_band,
        "completeness": r.completeness,
        "longest_gap_min": r.longest_gap_min,
        "updated_at": r.updated_at.astimezone(zone).isoformat(),
        # An unverified verdict given while the fridge was silent that its later data replaced.
        "amendments": [
            {
                "status": a["status"],
                "decided_at": datetime.fromisoformat(a["decided_at"]).astimezone(zone).isoformat(),
                "amended_at": datetime.fromisoformat(a["amended_at"]).astimezone(zone).isoformat(),
                "note": {"zh": a["note_zh"], "en": a["note_en"]},
            }
            for a in r.amendments
        ],
    }
