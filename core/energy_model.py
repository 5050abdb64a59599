"""Energy settings of a site as config types: the school calendar and the tariffs.

Times of day are minutes since local midnight in the site's time zone, written `HH:MM` in the
file (`24:00` closes a band at the end of the day). Energy accounting works in 15-minute slots,
so tariff bands start and end on a quarter hour; every time zone's offset is a multiple of 15
minutes, so local days and bands always fall on slot edges.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.model import TOPIC_SAFE_ID, Carrier

__all__ = [
    "SLOT_MIN",
    "ClockMinute",
    "ClockWindow",
    "CriticalPeak",
    "DateSpan",
    "DayType",
    "PriceTier",
    "SchoolCalendar",
    "Season",
    "Tariff",
    "TariffPeriod",
    "TimeBand",
    "Weekday",
]

SLOT_MIN = 15
_DAY_MIN = 24 * 60


def _clock_minute(value: object) -> object:
    """'HH:MM' (00:00-24:00) as minutes of the day. YAML reads 10:00 unquoted as the
    sexagesimal integer 600, which already is the minute."""
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if match is None or int(match.group(2)) >= 60:
            raise ValueError(f"{value!r} is not a clock time; use HH:MM such as 08:00 or 24:00")
        return int(match.group(1)) * 60 + int(match.group(2))
    return value


ClockMinute = Annotated[int, BeforeValidator(_clock_minute), Field(ge=0, le=_DAY_MIN)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DayType(StrEnum):
    SCHOOL_DAY = "school_day"
    WEEKEND = "weekend"  # a weekend day in term
    HOLIDAY = "holiday"  # a public holiday (法定节假日), in term or not
    VACATION = "vacation"  # outside every term (寒暑假)

    @property
    def is_school_day(self) -> bool:
        return self is DayType.SCHOOL_DAY


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as `date.weekday()`."""
        return list(Weekday).index(self)


class DateSpan(_Frozen):
    """Whole local days from `start` to `end`, both included."""

    name: str = ""
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateSpan:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


class ClockWindow(_Frozen):
    """A daily window of local time; it runs past midnight when `end` <= `start`."""

    start: ClockMinute
    end: ClockMinute

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


class SchoolCalendar(_Frozen):
    """Terms, public holidays, make-up school days and the parts of the day that drive
    baselines: the night (base load, leaks) and the days the canteen serves meals."""

    terms: list[DateSpan] = []
    holidays: list[DateSpan] = []
    # Weekend days declared school days by the holiday arrangement (调休).
    workdays: list[date] = []
    weekend: list[Weekday] = [Weekday.SAT, Weekday.SUN]
    meal_days: list[DayType] = [DayType.SCHOOL_DAY]
    night: ClockWindow = ClockWindow(start=23 * 60, end=5 * 60)

    def day_type(self, day: date) -> DayType:
        if any(day in span for span in self.holidays):
            return DayType.HOLIDAY
        if self.terms and not any(day in span for span in self.terms):
            return DayType.VACATION
        if day in self.workdays:
            return DayType.SCHOOL_DAY
        if day.weekday() in {w.number for w in self.weekend}:
            return DayType.WEEKEND
        return DayType.SCHOOL_DAY


class TariffPeriod(StrEnum):
    CRITICAL_PEAK = "critical_peak"  # 尖峰
    PEAK = "peak"  # 高峰
    FLAT = "flat"  # 平段
    VALLEY = "valley"  # 低谷


class TimeBand(_Frozen):
    period: TariffPeriod
    start: ClockMinute
    end: ClockMinute


class Season(_Frozen):
    """Months whose day is cut into bands differently from the tariff's default day."""

    name: str = ""
    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(min_length=1)
    bands: list[TimeBand] = Field(min_length=1)


class CriticalPeak(_Frozen):
    """Windows priced as critical peak on whole months and on declared days (in Guangdong a
    day forecast at 35 °C or more)."""

    months: list[Annotated[int, Field(ge=1, le=12)]] = []
    dates: list[date] = []
    windows: list[ClockWindow] = Field(min_length=1)

    @model_validator(mode="after")
    def _quarter_hours(self) -> CriticalPeak:
        for window in self.windows:
            if window.start % SLOT_MIN or window.end % SLOT_MIN or window.end <= window.start:
                raise ValueError(
                    f"window {_hhmm(window.start)}-{_hhmm(window.end)}: critical peak windows "
                    "lie within one day and start and end on a quarter hour"
                )
        return self

    def applies(self, day: date) -> bool:
        return day.month in self.months or day in self.dates


class PriceTier(_Frozen):
    """Price of the volume a meter uses in a calendar month up to `up_to` (None: no limit)."""

    up_to: float | None = Field(default=None, gt=0)
    price: float = Field(ge=0)


class Tariff(_Frozen):
    """A price list for one carrier: one price, time-of-use periods priced by `prices` or by
    `base_price` × `ratios`, or monthly volume tiers."""

    id: Annotated[str, Field(pattern=TOPIC_SAFE_ID)]
    name: str = Field(min_length=1)
    carrier: Carrier
    currency: str = "CNY"
    base_price: float | None = Field(default=None, ge=0)
    ratios: dict[TariffPeriod, Annotated[float, Field(ge=0)]] = {}
    prices: dict[TariffPeriod, Annotated[float, Field(ge=0)]] = {}
    tiers: list[PriceTier] = []
    bands: list[TimeBand] = []
    seasons: list[Season] = []
    critical_peak: CriticalPeak | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Tariff:
        given = {
            "base_price": self.base_price is not None,
            "prices": self.prices,
            "tiers": self.tiers,
        }
        forms = [name for name, value in given.items() if value]
        if len(forms) != 1:
            raise ValueError(
                "give exactly one of base_price (with optional ratios), prices or tiers; "
                f"found {forms or 'none'}"
            )
        _check_day(self.bands, "bands")
        for index, season in enumerate(self.seasons):
            _check_day(season.bands, f"seasons[{index}].bands")
        if self.tiers and (self.bands or self.seasons or self.critical_peak):
            raise ValueError("tiers price monthly volume; they cannot be combined with bands")
        _check_tiers(self.tiers)
        missing = sorted(p.value for p in self.periods() if self.price(p) is None)
        if missing and not self.tiers:
            raise ValueError(f"no price for period(s) {missing}; add them to prices or ratios")
        return self

    def periods(self) -> set[TariffPeriod]:
        bands = [*self.bands, *(b for s in self.seasons for b in s.bands)]
        used = {b.period for b in bands} or {TariffPeriod.FLAT}
        if self.critical_peak is not None:
            used.add(TariffPeriod.CRITICAL_PEAK)
        return used

    def bands_for(self, month: int) -> list[TimeBand]:
        """The bands of a day in `month`; one flat band when the tariff has no time of use."""
        for season in self.seasons:
            if month in season.months:
                return season.bands
        return self.bands or [TimeBand(period=TariffPeriod.FLAT, start=0, end=_DAY_MIN)]

    def price(self, period: TariffPeriod) -> float | None:
        """Price per unit in `period`; None for tiered tariffs (the month's volume decides)."""
        if self.prices:
            return self.prices.get(period)
        if self.base_price is None:
            return None
        ratio = self.ratios.get(period, 1.0 if period is TariffPeriod.FLAT else None)
        return None if ratio is None else self.base_price * ratio


def _check_day(bands: list[TimeBand], where: str) -> None:
    """Bands must tile the day from 00:00 to 24:00 in order, on quarter hours."""
    if not bands:
        return
    edge = 0
    for band in sorted(bands, key=lambda b: b.start):
        if band.start != edge:
            gap_or_overlap = "a gap" if band.start > edge else "an overlap"
            raise ValueError(f"{where}: {gap_or_overlap} at {_hhmm(min(edge, band.start))}")
        if band.end <= band.start:
            raise ValueError(f"{where}: band {_hhmm(band.start)}-{_hhmm(band.end)} is empty")
        if band.start % SLOT_MIN or band.end % SLOT_MIN:
            raise ValueError(f"{where}: band edges must be on a quarter hour (HH:00/15/30/45)")
        edge = band.end
    if edge != _DAY_MIN:
        raise ValueError(f"{where}: the bands end at {_hhmm(edge)}; they must cover to 24:00")


def _check_tiers(tiers: list[PriceTier]) -> None:
    limits = [t.up_to for t in tiers]
    if tiers and (limits[-1] is not None or None in limits[:-1]):
        raise ValueError("tiers: only the last tier has no up_to limit, and it must have none")
    bounded = [x for x in limits if x is not None]
    if bounded != sorted(set(bounded)):
        raise ValueError(f"tiers: up_to limits must rise, got {bounded}")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
