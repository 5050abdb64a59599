"""A tile of the overview: the facts of one device (its main value, band, presence, open
alerts, today's disinfection verdicts), the status they imply, and the words it is shown with.

Status, most urgent first (`static/live.js` derives it with the same rule):

- offline: the device's presence is offline (its Last Will or the gateway said so);
- alert: an open alert that has fired (firing, acknowledged, or resolved but not yet closed);
- stale: no reading for more than 3 × the device's reporting interval;
- warning: an alert pending (condition true, duration not yet met) or the value out of band;
- ok: none of these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.text import meal_name
from core.metrics import METRICS, ValueType
from core.model import Device, DeviceKind, Limits
from core.records import Alert, AlertState
from dashboard_api.context import ApiContext
from ingest.store import LatestValue

__all__ = [
    "STALE_INTERVALS",
    "MealVerdict",
    "Tile",
    "band_text",
    "build_tiles",
    "decimals",
    "main_metric",
    "tile_status",
    "tile_texts",
]

# A device that has said nothing for this many reporting intervals is stale (the brief of the
# overview: "no reading for more than 3 × its interval").
STALE_INTERVALS = 3


@dataclass(slots=True)
class MealVerdict:
    meal: str
    status: str  # compliant, incomplete, missed, unconfirmed, or pending (no verdict yet)


@dataclass(slots=True)
class Tile:
    device: Device
    metric: str | None
    value: float | bool | None
    unit: str
    decimals: int
    reading_at: datetime | None
    band: Limits
    online: bool | None
    fired: int = 0  # open alerts that fired (not pending)
    pending: int = 0
    out_of_band: bool = False
    status: str = "ok"
    meals: list[MealVerdict] = field(default_factory=list)

    @property
    def stale_after_s(self) -> float:
        return STALE_INTERVALS * self.device.interval_s

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """Everything the tile's HTML depends on besides the device's config, the language
        and the day (a reading of another day shows its date)."""
        meals = tuple((m.meal, m.status) for m in self.meals)
        facts = (self.metric, self.value, self.reading_at, self.online, self.fired, self.pending)
        return (*facts, self.status, meals)

    def turns_stale_at(self) -> datetime | None:
        """When the tile's status changes with time alone (a fresh reading goes stale), or
        None when it will not (offline, alert, stale already, or never read)."""
        if self.status not in ("ok", "warning") or self.reading_at is None:
            return None
        return self.reading_at + timedelta(seconds=self.stale_after_s)


def tile_status(
    *,
    online: bool | None,
    fired: int,
    pending: int,
    age_s: float | None,
    stale_after_s: float,
    out_of_band: bool,
) -> str:
    """The tile's status, most urgent first (the module docstring; live.js has the same)."""
    if online is False:
        return "offline"
    if fired:
        return "alert"
    if age_s is None or age_s > stale_after_s:
        return "stale"
    if pending or out_of_band:
        return "warning"
    return "ok"


def build_tiles(
    context: ApiContext,
    alerts: Sequence[Alert],
    meals: Mapping[str, list[MealVerdict]],
    now: datetime,
    latest: Mapping[str, Sequence[LatestValue]],
    presence: Mapping[str, bool],
) -> list[Tile]:
    """A tile per device of the config, in its order, with the status at `now`."""
    counted: dict[str, list[int]] = {}
    for alert in alerts:
        fired_pending = counted.setdefault(alert.device, [0, 0])
        fired_pending[1 if alert.state is AlertState.PENDING else 0] += 1
    tiles = []
    for device in context.config.devices:
        tile = _tile(context, device, latest.get(device.id, ()), presence)
        tile.fired, tile.pending = counted.get(device.id, (0, 0))
        if device.kind is DeviceKind.DISINFECTION_CABINET:
            tile.meals = meals.get(device.id, [])
        age = None if tile.reading_at is None else (now - tile.reading_at).total_seconds()
        tile.status = tile_status(
            online=tile.online,
            fired=tile.fired,
            pending=tile.pending,
            age_s=age,
            stale_after_s=tile.stale_after_s,
            out_of_band=tile.out_of_band,
        )
        tiles.append(tile)
    return tiles


def _tile(
    context: ApiContext,
    device: Device,
    latest: Sequence[LatestValue],
    presence: Mapping[str, bool],
) -> Tile:
    metric = main_metric(device, latest)
    value = next((v for v in latest if v.metric == metric), None)
    spec = METRICS.get(metric) if metric else None
    band = context.config.limits_for(device)
    shown: float | bool | None = None
    if value is not None:
        boolean = spec is not None and spec.value_type is ValueType.BOOLEAN
        shown = value.value >= 0.5 if boolean else value.value
    return Tile(
        device=device,
        metric=metric,
        value=shown,
        unit=spec.unit if spec else "",
        decimals=decimals(metric) if metric else 1,
        reading_at=value.ts if value else None,
        band=band,
        online=presence.get(device.id),
        out_of_band=_out_of_band(device, band, shown),
    )


# Decimals a value is shown with: a thermometer is read to 0.1 °C, a meter's register to
# 0.01 kWh or m³; counts of percent, dBm, W and V need no fraction.
_DECIMALS = {
    "energy_kwh": 2,
    "water_m3": 2,
    "gas_m3": 2,
    "flow_m3_h": 2,
    "humidity_pct": 0,
    "battery_pct": 0,
    "rssi_dbm": 0,
    "power_w": 0,
    "voltage_v": 0,
}


def decimals(metric: str) -> int:
    return _DECIMALS.get(metric, 1)


def main_metric(device: Device, latest: Sequence[LatestValue]) -> str | None:
    """What a tile shows: the temperature of a cabinet, the counter of a meter, else the
    first metric the device has reported."""
    carrier = device.kind.carrier
    wanted = carrier.metric if carrier is not None else "temp_c"
    have = [v.metric for v in latest]
    if wanted in have or not have:
        return wanted
    return have[0]


def _out_of_band(device: Device, band: Limits, value: float | bool | None) -> bool:
    """A cold store's value beyond its limits (not yet an alert: that needs the duration)."""
    if not device.kind.is_cold_storage or isinstance(value, bool) or value is None:
        return False
    return (band.high_c is not None and value > band.high_c) or (
        band.low_c is not None and value < band.low_c
    )


def band_text(device: Device, band: Limits, lang: str) -> str:
    """The band a person checks the value against: a cold store's limits, a heated
    cabinet's target and hold time; a meter has none."""
    if device.kind.is_cold_storage:
        if band.low_c is not None and band.high_c is not None:
            return f"{band.low_c:g}–{band.high_c:g} °C"
        if band.high_c is not None:
            return f"≤ {band.high_c:g} °C"
        if band.low_c is not None:
            return f"≥ {band.low_c:g} °C"
    if band.target_c is not None:
        minutes = "分钟" if lang == "zh" else "min"
        hold = "" if band.hold_min is None else f", {band.hold_min:g} {minutes}"
        return f"≥ {band.target_c:g} °C{hold}"
    return "—"


def tile_texts(
    tile: Tile, words: Mapping[str, str], lang: str, context: ApiContext, now: datetime
) -> dict[str, object]:
    """The tile's words and data attributes, made here rather than in the template: a school
    with 200 devices renders 200 tiles per page view, and Jinja's calls cost more than these
    lines (measured: the template alone took most of the overview's time)."""
    device, zone = tile.device, context.config.site.zone
    value = tile.value
    if value is None:
        shown = "—"
    elif isinstance(value, bool):
        shown = words["value.on"] if value else words["value.off"]
    else:
        shown = f"{value:.{tile.decimals}f}"
    at = tile.reading_at.astimezone(zone) if tile.reading_at else None
    same_day = at is not None and at.date() == now.astimezone(zone).date()
    alerts = (
        words[_counted("overview.open_alerts", tile.fired)].format(n=tile.fired)
        if tile.fired
        else words["overview.no_open_alerts"]
    )
    if tile.pending:
        alerts += " · " + words["overview.pending_alerts"].format(n=tile.pending)
    cold = device.kind.is_cold_storage
    return {
        "value": shown,
        "value_attr": "" if value is None or isinstance(value, bool) else repr(value),
        "time": words["overview.no_reading"]
        if at is None
        else at.strftime("%H:%M" if same_day else "%m-%d %H:%M"),
        "time_attr": "" if at is None else at.isoformat(timespec="seconds"),
        "reading_ms": "" if at is None else str(int(at.timestamp() * 1000)),
        "where": " · ".join(x for x in (device.location, words[f"kind.{device.kind.value}"]) if x),
        "band": f"{words['overview.band']}: {band_text(device, tile.band, lang)}",
        "status": words[f"status.{tile.status}"],
        "alerts": alerts,
        "online": "" if tile.online is None else ("true" if tile.online else "false"),
        "low": "" if not cold or tile.band.low_c is None else repr(tile.band.low_c),
        "high": "" if not cold or tile.band.high_c is None else repr(tile.band.high_c),
        "meals": [
            (
                m.meal,
                m.status,
                meal_name(m.meal).in_language(lang),
                words[f"disinfection.{m.status}"],
            )
            for m in tile.meals
        ],
    }


def _counted(key: str, n: int) -> str:
    """English counts one alert, two alerts: the catalogue has a `_one` form for 1."""
    return f"{key}_one" if n == 1 else key
