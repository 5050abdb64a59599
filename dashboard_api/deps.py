"""Request dependencies: the API context, the alerts service and the device a path names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from core.model import Device
from dashboard_api.context import AlertsDesk, ApiContext
from dashboard_api.errors import ApiError, shown

__all__ = ["Context", "Desk", "DevicePath"]


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_desk(context: Context) -> AlertsDesk:
    if context.alerts is None:
        raise ApiError(503, "alerts are not running in this service")
    return context.alerts


Desk = Annotated[AlertsDesk, Depends(get_desk)]


def get_device(
    context: Context, device_id: Annotated[str, Path(description="Device id from the site config")]
) -> Device:
    device = context.config.device(device_id)
    if device is None:
        known = ", ".join(d.id for d in context.config.devices)
        raise ApiError(404, f"no device {shown(device_id)} at this site; known devices: {known}")
    return device


DevicePath = Annotated[Device, Depends(get_device)]
