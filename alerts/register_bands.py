"""The band each day of the temperature log is judged by: the limits in force that day.

An admin may lay a limit over the site config (`/admin/thresholds`); the history of those
overrides (`core.admin_records.LimitPeriod`, kept by the admin store) says which value held
when, and outside every period the config's value holds. A past day is judged with the band
of that day, never with today's: raising a fridge's high limit today does not clear last
month's excursions. A day in which the band changed is judged piece by piece: the minutes out
of band are counted against the band in force at each reading, the day's min, max, mean and
completeness over the whole day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from alerts.model import DailyTemperature
from alerts.product_log import AirReadings, with_product
from alerts.store import DayWindow, RegisterStore
from core.admin_records import LimitPeriod
from core.config import SiteConfig
from core.model import Device

__all__ = [
    "BAND_FIELDS",
    "Band",
    "BandSpan",
    "LimitChange",
    "band_spans",
    "judged_days",
    "limit_changes",
]

Band = tuple[float | None, float | None]  # (low, high) °C; None: no limit on that side
BAND_FIELDS = ("low_c", "high_c")
_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class BandSpan:
    """From `start` (UTC) to the next span or the day's end, the band in force."""

    start: datetime
    low_c: float | None
    high_c: float | None

    @property
    def band(self) -> Band:
        return self.low_c, self.high_c


@dataclass(frozen=True, slots=True)
class LimitChange:
    """A band limit changed by an admin: when, which, from what to what, who and why."""

    at: datetime
    device: str
    field: str
    before: float | None
    after: float | None
    by: str
    reason: str


class _History:
    """A device's limit periods over the config's limits: the band at any instant."""

    def __init__(self, config: SiteConfig, device: Device, periods: Sequence[LimitPeriod]):
        self.cold = device.kind.is_cold_storage
        self.base = config.configured_limits_for(device)
        self.periods = sorted(
            (p for p in periods if p.field in BAND_FIELDS), key=lambda p: p.valid_from
        )

    def band_at(self, at: datetime) -> Band:
        if not self.cold:
            return None, None
        fields = {f: self.value_at(f, at) for f in BAND_FIELDS}
        return fields["low_c"], fields["high_c"]

    def value_at(self, field: str, at: datetime) -> float | None:
        """The field's value in force at `at`: the period's over the config, else the config's."""
        configured: float | None = getattr(self.base, field)
        for period in self.periods:
            if period.field != field or period.valid_from > at:
                continue
            if period.valid_to is None or at < period.valid_to:
                return configured if period.value is None else period.value
        return configured

    def cuts(self, start: datetime, end: datetime) -> list[datetime]:
        edges = {p.valid_from for p in self.periods} | {
            p.valid_to for p in self.periods if p.valid_to is not None
        }
        return sorted(at for at in edges if start < at < end)


def band_spans(
    config: SiteConfig,
    device: Device,
    periods: Sequence[LimitPeriod] | None,
    windows: Sequence[DayWindow],
) -> dict[date, list[BandSpan]]:
    """Per day, the bands in force over it (one span unless a limit changed that day). Without
    a history (`periods` None: no admin store) the limits in force now hold for every day."""
    if periods is None:
        limits = config.limits_for(device)
        band = (limits.low_c, limits.high_c) if device.kind.is_cold_storage else (None, None)
        return {w.day: [BandSpan(w.start, *band)] for w in windows}
    history = _History(config, device, periods)
    spans: dict[date, list[BandSpan]] = {}
    for window in windows:
        day: list[BandSpan] = []
        for start in (window.start, *history.cuts(window.start, window.end)):
            band = history.band_at(start)
            if not day or day[-1].band != band:
                day.append(BandSpan(start, *band))
        spans[window.day] = day
    return spans


def limit_changes(
    config: SiteConfig,
    device: Device,
    periods: Sequence[LimitPeriod],
    start: datetime,
    end: datetime,
) -> list[LimitChange]:
    """The band limits an admin changed in [start, end), with the value before and after."""
    if not device.kind.is_cold_storage:
        return []
    history = _History(config, device, periods)
    changes = []
    for period in history.periods:
        if not start <= period.valid_from < end:
            continue
        before = history.value_at(period.field, period.valid_from - _BEFORE)
        after = history.value_at(period.field, period.valid_from)
        changes.append(
            LimitChange(
                period.valid_from, device.id, period.field, before, after, period.set_by,
                period.reason,
            )
        )  # fmt: skip
    return changes


def judged_days(
    registers: RegisterStore,
    config: SiteConfig,
    device: Device,
    windows: Sequence[DayWindow],
    spans: dict[date, list[BandSpan]],
    silence_s: float,
    product: tuple[AirReadings, float] | None,
) -> list[DailyTemperature]:
    """The daily log rows, each day judged by its own bands: days of one band are read together
    per band (one read when nothing changed), a day whose band changed is read whole for its
    figures and piece by piece for its minutes out of band."""
    rows: dict[date, DailyTemperature] = {}
    same: dict[Band, list[DayWindow]] = {}
    for window in windows:
        if len(spans[window.day]) == 1:
            same.setdefault(spans[window.day][0].band, []).append(window)
    for band, group in same.items():
        for row in _rows(registers, config, device, group, band, silence_s, product):
            rows[row.day] = row
    for window in windows:
        if len(spans[window.day]) > 1:
            rows[window.day] = _split_day(
                registers, config, device, window, spans[window.day], silence_s, product
            )
    return [rows[w.day] for w in windows]


def _split_day(
    registers: RegisterStore,
    config: SiteConfig,
    device: Device,
    window: DayWindow,
    spans: list[BandSpan],
    silence_s: float,
    product: tuple[AirReadings, float] | None,
) -> DailyTemperature:
    (whole,) = _rows(registers, config, device, [window], spans[0].band, silence_s, product)
    ends = [s.start for s in spans[1:]] + [window.end]
    out = 0.0
    product_out: float | None = None if whole.product_minutes_out_of_band is None else 0.0
    for span, end in zip(spans, ends, strict=True):
        piece = DayWindow(window.day, span.start, end)
        (row,) = _rows(registers, config, device, [piece], span.band, silence_s, product)
        out += row.minutes_out_of_band
        if product_out is not None and row.product_minutes_out_of_band is not None:
            product_out += row.product_minutes_out_of_band
    return replace(whole, minutes_out_of_band=out, product_minutes_out_of_band=product_out)


def _rows(
    registers: RegisterStore,
    config: SiteConfig,
    device: Device,
    windows: list[DayWindow],
    band: Band,
    silence_s: float,
    product: tuple[AirReadings, float] | None,
) -> list[DailyTemperature]:
    site = config.site.id
    rows = registers.daily_temperature_log(site, device.id, windows, *band, silence_s)
    if product is not None:
        rows = with_product(rows, windows, product[0], product[1], band, silence_s)
    return rows
