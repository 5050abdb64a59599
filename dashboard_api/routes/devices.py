"""Devices of the site, their latest values and their time series."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from core.metrics import METRICS
from core.model import Device
from dashboard_api.deps import Context, DevicePath
from dashboard_api.device_answers import (
    describe_device,
    device_answers,
    device_row,
    latest_body,
)
from dashboard_api.errors import ApiError, answers, shown
from dashboard_api.params import parse_instant, parse_step, query_value
from ingest.store import Aggregate

router = APIRouter(tags=["devices"])

# A chart of more points than this is unreadable and the query would be needlessly heavy.
MAX_POINTS = 10_000


@router.get(
    "/api/devices",
    summary="All devices with presence and last reading time",
    response_model=list[dict[str, Any]],
)
async def list_devices(request: Request, context: Context) -> Response:
    if context.live is not None:
        return await device_answers(request, context, context.live).devices(request)
    rows = await run_in_threadpool(_devices_from_store, context)
    return JSONResponse(rows)


def _devices_from_store(context: Context) -> list[dict[str, Any]]:
    presence = {p.device: p for p in context.store.presence(context.config.site.id)}
    return [
        device_row(context, d, None if (p := presence.get(d.id)) is None else (p.online, p.since))
        for d in context.config.devices
    ]


@router.get(
    "/api/devices/{device_id}", summary="One device and its control limits", responses=answers(404)
)
def get_device(context: Context, device: DevicePath) -> dict[str, Any]:
    return _describe(context, device)


@router.get(
    "/api/devices/{device_id}/latest",
    summary="Latest value of every metric",
    responses=answers(404),
    response_model=dict[str, Any],
)
async def latest(request: Request, context: Context, device: DevicePath) -> Response:
    if context.live is not None:
        return await device_answers(request, context, context.live).latest(request, device.id)
    values = await run_in_threadpool(context.store.latest, context.config.site.id, device.id)
    return JSONResponse(
        latest_body(context, device.id, [(v.metric, v.ts, v.value) for v in values])
    )


@router.get(
    "/api/devices/{device_id}/series",
    summary="A metric aggregated per step",
    responses=answers(404, 422),
)
def series(
    context: Context,
    device: DevicePath,
    metric: Annotated[str, Query(max_length=64, description="Metric name, e.g. temp_c")],
    start: Annotated[
        str | None,
        Query(
            max_length=64,
            description="RFC 3339, local date-time or epoch ms, from 1970-01-01T00:00:00Z to "
            "9999-12-31T00:00:00Z; default end - 24 h",
        ),
    ] = None,
    end: Annotated[
        str | None, Query(max_length=64, description="Same forms as start; default now")
    ] = None,
    step: Annotated[
        str,
        Query(max_length=64, description="Bucket length, 1 s to 366 d: 30s, 5m, 1h, 1d or seconds"),
    ] = "5m",
    agg: Annotated[Aggregate, Query(description="Aggregate per bucket")] = Aggregate.AVG,
) -> dict[str, Any]:
    if metric not in METRICS:
        raise ApiError(
            422,
            f"query parameter 'metric': unknown metric {shown(metric)}; known: {sorted(METRICS)}",
        )
    _require_metric(context, device, metric)
    step_s = query_value("step", parse_step, step)
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
        context.config.site.id,
        device.id,
        metric,
        start_at,
        end_at,
        step_s,
        agg,
        zone=context.config.site.zone,
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
            {"t": _local(context, p.start), "value": _figure(p.value), "count": p.count}
            for p in points
        ],
    }


def _require_metric(context: Context, device: Device, metric: str) -> None:
    """A metric the device has never reported is a wrong question (a 422 naming the ones it
    has), not an empty series; a device that has reported nothing yet cannot be judged."""
    have = sorted({v.metric for v in context.store.latest(context.config.site.id, device.id)})
    if have and metric not in have:
        raise ApiError(
            422,
            f"query parameter 'metric': device {shown(device.id)} has no metric "
            f"{shown(metric)}; its metrics: {have}",
        )


def _describe(context: Context, device: Device) -> dict[str, Any]:
    return describe_device(context.config, device)


def _instant(context: Context, name: str, text: str) -> datetime:
    return query_value(name, lambda t: parse_instant(t, context.config.site.zone), text)


def _local(context: Context, instant: datetime) -> str:
    return instant.astimezone(context.config.site.zone).isoformat()


def _unit(metric: str) -> str:
    spec = METRICS.get(metric)
    return spec.unit if spec else ""


# Means carry binary noise (6.330000000000001); six decimals keep a 0.001 kWh meter register
# exact at any size a school's meter reaches while dropping that noise.
_SERIES_DECIMALS = 6


def _figure(value: float) -> float:
    return round(value, _SERIES_DECIMALS) + 0.0
