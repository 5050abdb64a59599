"""Devices of the site, their latest values and their time series."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query

from core.metrics import METRICS, ValueType
from core.model import Device
from dashboard_api.deps import Context, DevicePath
from dashboard_api.errors import ApiError
from dashboard_api.params import parse_instant, parse_step
from ingest.store import Aggregate

router = APIRouter(tags=["devices"])

T = TypeVar("T")

# A chart of more points than this is unreadable and the query would be needlessly heavy.
MAX_POINTS = 10_000


@router.get("/api/devices", summary="All devices with presence and last reading time")
def list_devices(context: Context) -> list[dict[str, Any]]:
    site = context.config.site
    presence = {p.device: p for p in context.store.presence(site.id)}
    out = []
    for device in context.config.devices:
        seen = presence.get(device.id)
        out.append(
            {
                **_describe(context, device),
                "online": None if seen is None else seen.online,
                "presence_since": None if seen is None else _local(context, seen.since),
            }
        )
    return out


@router.get("/api/devices/{device_id}", summary="One device and its control limits")
def get_device(context: Context, device: DevicePath) -> dict[str, Any]:
    return _describe(context, device)


@router.get("/api/devices/{device_id}/latest", summary="Latest value of every metric")
def latest(context: Context, device: DevicePath) -> dict[str, Any]:
    values = context.store.latest(context.config.site.id, device.id)
    return {
        "device": device.id,
        "values": [
            {
                "metric": v.metric,
                "unit": _unit(v.metric),
                "ts": _local(context, v.ts),
                "value": _typed(v.metric, v.value),
            }
            for v in values
        ],
    }


@router.get("/api/devices/{device_id}/series", summary="A metric aggregated per step")
def series(
    context: Context,
    device: DevicePath,
    metric: Annotated[str, Query(description="Metric name, e.g. temp_c")],
    start: Annotated[
        str | None, Query(description="RFC 3339, local date-time or epoch ms; default end - 24 h")
    ] = None,
    end: Annotated[str | None, Query(description="Same forms as start; default now")] = None,
    step: Annotated[str, Query(description="Bucket length: 30s, 5m, 1h, 1d or seconds")] = "5m",
    agg: Annotated[Aggregate, Query(description="Aggregate per bucket")] = Aggregate.AVG,
) -> dict[str, Any]:
    if metric not in METRICS:
        raise ApiError(
            422, f"query parameter 'metric': unknown metric {metric!r}; known: {sorted(METRICS)}"
        )
    step_s = _parameter("step", parse_step, step)
    end_at = _instant(context, "end", end) if end else context.clock.now()
    start_at = _instant(context, "start", start) if start else end_at - timedelta(hours=24)
    if start_at >= end_at:
        raise ApiError(422, "query parameter 'start' must be before 'end'")
    buckets = (end_at - start_at).total_seconds() / step_s
    if buckets > MAX_POINTS:
        raise ApiError(
            422,
            f"query parameter 'step': {step_s} s over this range gives {buckets:.0f} points; "
            f"at most {MAX_POINTS} are allowed, so use a longer step or a shorter range",
        )
    points = context.store.series(
        context.config.site.id, device.id, metric, start_at, end_at, step_s, agg
    )
    return {
        "device": device.id,
        "metric": metric,
        "unit": _unit(metric),
        "agg": agg.value,
        "step_s": step_s,
        "start": _local(context, start_at),
        "end": _local(context, end_at),
        "points": [
            {"t": _local(context, p.start), "value": p.value, "count": p.count} for p in points
        ],
    }


def _describe(context: Context, device: Device) -> dict[str, Any]:
    limits = context.config.limits_for(device).model_dump(exclude_none=True)
    return {
        "id": device.id,
        "name": device.label,
        "kind": device.kind.value,
        "building": device.building,
        "location": device.location,
        "interval_s": device.interval_s,
        "limits": limits,
    }


def _instant(context: Context, name: str, text: str) -> datetime:
    return _parameter(name, lambda t: parse_instant(t, context.config.site.zone), text)


def _parameter(name: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise ApiError(422, f"query parameter '{name}': {exc}") from None


def _local(context: Context, instant: datetime) -> str:
    return instant.astimezone(context.config.site.zone).isoformat()


def _unit(metric: str) -> str:
    spec = METRICS.get(metric)
    return spec.unit if spec else ""


def _typed(metric: str, value: float) -> float | bool:
    spec = METRICS.get(metric)
    if spec is not None and spec.value_type is ValueType.BOOLEAN:
        return value >= 0.5
    return value
