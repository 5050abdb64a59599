"""The probe calibration register (record a check, read the register) and every register as a
document an inspector takes away: `GET /api/registers/{name}.pdf` or `.xlsx`. Dates are local
(the site's zone), inclusive, YYYY-MM-DD, as in `routes.registers`.

What a check's verdict is and when a probe is overdue is decided in `alerts.calibration`; what
a register document holds in `alerts.register_export`; this module parses and shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import Field

from alerts import calibration as cal
from alerts import register_export as export
from alerts.calibration import CalibrationStore
from alerts.errors import AlertError
from core.model import Device
from core.records import CalibrationCheck, CalibrationMethod
from dashboard_api.context import ApiContext
from dashboard_api.deps import ActorFromLogin, Context, Desk, DevicePath, Staff
from dashboard_api.errors import ApiError, answers
from dashboard_api.register_scope import devices_of
from dashboard_api.routes.alerts import Lang
from dashboard_api.routes.registers import DeviceFilter, End, Start, _air_readings, _dates

__all__ = ["router"]

router = APIRouter(tags=["registers"])

_MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def get_calibration(context: Context) -> CalibrationStore:
    if context.calibration is None:
        raise ApiError(503, "the calibration register is not open in this service")
    return context.calibration


Calibration = Annotated[CalibrationStore, Depends(get_calibration)]


class CheckBody(ActorFromLogin):
    """Who checked is the person logged in (or the bearer token's name), never a typed name."""

    method: CalibrationMethod = Field(
        description="ice_point: the probe in iced water (0 °C); reference: beside a "
        "calibrated reference thermometer"
    )
    reference_c: float = Field(
        ge=-60, le=300, description="What the reference read (0 for an ice-point check)"
    )
    probe_c: float = Field(ge=-60, le=300, description="What the device's probe read")
    note: str | None = Field(default=None, max_length=2000)
    corrective_action: str | None = Field(
        default=None, max_length=2000, description="Needed when the check fails"
    )


@router.post(
    "/api/devices/{device_id}/calibration",
    status_code=201,
    summary="Record a probe calibration check (ice point or reference thermometer)",
    responses=answers(404, 422, 503),
)
def record_check(
    context: Context,
    store: Calibration,
    person: Staff,
    device: DevicePath,
    body: CheckBody,
    lang: Lang = "zh",
) -> dict[str, Any]:
    try:
        check = cal.record_check(
            store,
            context.config,
            device,
            at=context.clock.now(),
            method=body.method,
            reference_c=body.reference_c,
            probe_c=body.probe_c,
            by=person.name,
            note=body.note,
            corrective_action=body.corrective_action,
        )
    except cal.CalibrationError as exc:
        raise ApiError(422, exc.message) from None
    return _check(context, check, lang)


@router.get(
    "/api/registers/calibration",
    summary="Probe calibration register: checks, and each probe's status now",
    responses=answers(404, 422, 503),
)
def calibration_register(
    context: Context,
    store: Calibration,
    start: Start = None,
    end: End = None,
    device: DeviceFilter = None,
    lang: Lang = "zh",
) -> dict[str, Any]:
    first, last = _dates(context, start, end)
    devices = devices_of(context, export.RegisterName.CALIBRATION, device)
    now = context.clock.now()
    zone = context.config.site.zone
    lo = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    hi = datetime.combine(last, datetime.max.time(), tzinfo=zone)
    site = context.config.site.id
    checks = store.checks(site, device, until=hi)
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "probes": [_status(context, store, d, now, lang) for d in devices],
        "items": [_check(context, c, lang) for c in checks if c.checked_at >= lo],
    }


@router.get(
    "/api/registers/{name}.{fmt}",
    summary="A register as a PDF (print-ready, A4) or an XLSX workbook",
    responses={
        200: {"content": {m: {} for m in _MEDIA.values()}, "description": "The document"},
        **answers(404, 422, 503),
    },
    response_class=Response,
)
def register_document(
    context: Context,
    desk: Desk,
    store: Calibration,
    name: Annotated[export.RegisterName, Path(description="Which register")],
    fmt: Annotated[Literal["pdf", "xlsx"], Path(description="pdf or xlsx")],
    start: Start = None,
    end: End = None,
    device: DeviceFilter = None,
    lang: Lang = "zh",
) -> Response:
    first, last = _dates(context, start, end)
    devices = devices_of(context, name, device)
    sources = export.RegisterSources(
        context.config,
        desk.registers,
        store,
        desk.book.find,
        air=lambda d: _air_readings(context, d),
        limit_history=None if context.admin is None else context.admin.limits.history,
    )
    one = devices[0] if device is not None else None
    document = export.build_document(sources, name, one, first, last, context.clock.now(), lang)
    try:
        body = export.pdf_bytes(document) if fmt == "pdf" else export.xlsx_bytes(document)
    except AlertError as exc:
        raise ApiError(503, exc.message) from None
    filename = f"{context.config.site.id}_{name.value}_{first}_{last}.{fmt}"
    shown_name = f"{context.config.site.name}_{document.title}_{first}_{last}.{fmt}"
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(shown_name)}"
    return Response(body, media_type=_MEDIA[fmt], headers={"Content-Disposition": disposition})


def _status(
    context: ApiContext, store: CalibrationStore, device: Device, now: datetime, lang: str
) -> dict[str, Any]:
    zone = context.config.site.zone
    checks = store.checks(context.config.site.id, device.id, until=now)
    status = cal.calibration_status(checks, context.config, device, now)
    last = status.last_passed
    return {
        "device": device.id,
        "tolerance_k": status.tolerance_k,
        "interval_days": status.interval_days,
        "last_passed_at": None if last is None else last.checked_at.astimezone(zone).isoformat(),
        "last_passed_by": None if last is None else last.by,
        "due_at": None if status.due_at is None else status.due_at.astimezone(zone).isoformat(),
        "overdue": status.overdue,
        "flag": None if status.flag is None else status.flag.in_language(lang),
    }


def _check(context: ApiContext, check: CalibrationCheck, lang: str) -> dict[str, Any]:
    verdict = ("合格", "pass") if check.passed else ("不合格", "fail")
    return {
        "id": check.id,
        "device": check.device,
        "checked_at": check.checked_at.astimezone(context.config.site.zone).isoformat(),
        "method": check.method.value,
        "reference_c": check.reference_c,
        "probe_c": check.probe_c,
        "difference_k": check.difference_k,
        "tolerance_k": check.tolerance_k,
        "passed": check.passed,
        "result": verdict[1] if lang == "en" else verdict[0],
        "by": check.by,
        "note": check.note,
        "corrective_action": check.corrective_action,
    }
