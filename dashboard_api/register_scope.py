"""Which devices a register request covers (404 for a device the site does not have, 422 for
one the register is not kept for, naming the kinds it is), and the calibration flag of the
JSON registers: the spans of the asked dates in which a probe behind the register had no
passing check (`alerts.calibration.register_gaps`), in the site's local time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from alerts.calibration import register_gaps
from alerts.register_export import RegisterKindError, RegisterName, register_devices
from core.model import Device
from dashboard_api.context import ApiContext
from dashboard_api.errors import ApiError, shown

__all__ = ["calibration_gaps", "devices_of"]


def devices_of(context: ApiContext, name: RegisterName, device: str | None) -> list[Device]:
    found = None
    if device is not None:
        found = context.config.device(device)
        if found is None:
            known = ", ".join(d.id for d in context.config.devices)
            raise ApiError(404, f"no device {shown(device)} at this site; known devices: {known}")
    try:
        return register_devices(context.config, name, found)
    except RegisterKindError as exc:
        raise ApiError(422, exc.message) from None


def calibration_gaps(
    context: ApiContext, devices: Sequence[Device], first: date, last: date, lang: str
) -> list[dict[str, Any]] | None:
    """None when the service runs without the calibration register."""
    if context.calibration is None:
        return None
    zone = context.config.site.zone
    span = (
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone),
    )
    now = context.clock.now()
    return [
        {
            "device": gap.device,
            "kind": gap.kind.value,
            "from": gap.start.astimezone(zone).isoformat(),
            "until": gap.end.astimezone(zone).isoformat(),
            "text": gap.text.in_language(lang),
        }
        for gap in register_gaps(context.calibration, context.config, devices, span, now)
    ]
