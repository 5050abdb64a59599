"""`/api/devices` and `/api/devices/{id}/latest` answered from the live hub's memory.

A dashboard polls these; twenty clients at once must not each ask the store. With the live hub
running, the device list is made from the config and the hub's presence, a device's latest
values from the hub's latest values (seeded from the store, then kept by every stored batch:
the same values the store answers). Each answer is encoded once per state of what it shows and
carries a weak ETag of that state; a client that sends it back in `If-None-Match` gets a 304.
The tag includes a token of this run, so a tag from before a restart never matches.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from core.config import SiteConfig
from core.metrics import METRICS, ValueType
from core.model import Device
from dashboard_api.context import ApiContext
from dashboard_api.live import LiveHub

__all__ = ["DeviceAnswers", "describe_device", "device_answers", "device_row", "latest_body"]


def describe_device(config: SiteConfig, device: Device) -> dict[str, Any]:
    limits = config.limits_for(device).model_dump(exclude_none=True)
    return {
        "id": device.id,
        "name": device.label,
        "kind": device.kind.value,
        "building": device.building,
        "location": device.location,
        "interval_s": device.interval_s,
        "limits": limits,
    }


def device_row(
    context: ApiContext, device: Device, seen: tuple[bool, datetime] | None
) -> dict[str, Any]:
    """A device of `/api/devices`: its description and presence (online, since)."""
    zone = context.config.site.zone
    return {
        **describe_device(context.config, device),
        "online": None if seen is None else seen[0],
        "presence_since": None if seen is None else seen[1].astimezone(zone).isoformat(),
    }


def latest_body(
    context: ApiContext, device: str, values: Sequence[tuple[str, datetime, float]]
) -> dict[str, Any]:
    """`/latest`'s answer: (metric, instant, value) in metric order, local times, units."""
    zone = context.config.site.zone
    return {
        "device": device,
        "values": [
            {
                "metric": metric,
                "unit": spec.unit if (spec := METRICS.get(metric)) else "",
                "ts": at.astimezone(zone).isoformat(),
                "value": value >= 0.5
                if spec is not None and spec.value_type is ValueType.BOOLEAN
                else value,
            }
            for metric, at, value in sorted(values)
        ],
    }


class DeviceAnswers:
    """One app's encoded answers, made on the event loop."""

    def __init__(self, context: ApiContext, hub: LiveHub) -> None:
        self._context = context
        self._hub = hub
        self._run = secrets.token_hex(4)
        self._devices: tuple[int, bytes] | None = None
        self._latest: dict[str, tuple[int, bytes]] = {}

    async def devices(self, request: Request) -> Response:
        await self._hub.ready()
        version = self._hub.presence_version
        kept = self._devices
        if kept is None or kept[0] != version:
            rows = [
                device_row(self._context, d, self._hub.presence_of(d.id))
                for d in self._context.config.devices
            ]
            kept = self._devices = (version, _encoded(rows))
        return self._answer(request, f"d{version}", kept[1])

    async def latest(self, request: Request, device: str) -> Response:
        await self._hub.ready()
        version = self._hub.version_of(device)
        kept = self._latest.get(device)
        if kept is None or kept[0] != version:
            values = [
                (metric, datetime.fromtimestamp(ts / 1000, UTC), value)
                for metric, (ts, value) in self._hub.values_of(device).items()
            ]
            kept = (version, _encoded(latest_body(self._context, device, values)))
            self._latest[device] = kept
        return self._answer(request, f"l{version}", kept[1])

    def _answer(self, request: Request, state: str, body: bytes) -> Response:
        tag = f'W/"{self._run}-{state}"'
        headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)


def _encoded(content: object) -> bytes:
    """As FastAPI's JSONResponse encodes it."""
    return bytes(JSONResponse(content).body)


def device_answers(request: Request, context: ApiContext, hub: LiveHub) -> DeviceAnswers:
    """The app's answers, made on first use (one per app, as the hub is)."""
    answers: DeviceAnswers | None = getattr(request.app.state, "device_answers", None)
    if answers is None:
        answers = DeviceAnswers(context, hub)
        request.app.state.device_answers = answers
    return answers
