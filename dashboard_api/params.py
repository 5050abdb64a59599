"""Parsing of query parameters that people type: instants, step lengths and local dates, each
refused with the range it must lie in.

An instant is RFC 3339 (`2026-11-24T08:00:00+08:00`, `...Z`), a date-time without offset (read
in the site's local time), or epoch milliseconds. A step is `90s`, `5m`, `1h`, `1d` or seconds.
A date is YYYY-MM-DD in the site's zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field

from dashboard_api.errors import ApiError, shown

__all__ = [
    "EARLIEST_INSTANT",
    "FIRST_DAY",
    "LAST_DAY",
    "LATEST_INSTANT",
    "MAX_STEP_S",
    "PersonName",
    "check_date",
    "parse_date",
    "parse_instant",
    "parse_step",
    "query_value",
]

# Who acted, as the register will show it: a name, without control characters (a NUL or a line
# break would forge or hide a line of the register).
PersonName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]

S = TypeVar("S")
T = TypeVar("T")

# Instants: epoch milliseconds start at 1970 (they have no sign here), and Python's calendar ends
# with year 9999. The last day of 9999 is left out because the answers show local time, and an
# instant on it has none in zones east of UTC (offsets reach +14 h).
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 12, 31, tzinfo=UTC)
_LATEST_MS = (LATEST_INSTANT - EARLIEST_INSTANT) // timedelta(milliseconds=1)
_INSTANTS = "instants run from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z"

# Steps: a chart bucket longer than a year compares nothing a canteen needs (a school year is
# the longest period a register covers), and 1 s is the finest a reading is stamped.
MAX_STEP_S = 366 * 86_400
_STEPS = "a step runs from 1 s to 366 d"

# Local dates (registers, energy reports and anomalies): no canteen sensor recorded anything
# before 2000, and 2100 outlasts any installation. The bounds keep every day a request derives
# (the week before, a year before, the day after) inside the calendar.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
_DATES = "dates run from 2000-01-01 to 2100-12-31"

_STEP = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    text = text.strip()
    if text.isascii() and text.isdigit():
        ms = int(text)
        if ms > _LATEST_MS:
            raise ValueError(f"{shown(text)} ms is out of range; {_INSTANTS}")
        return EARLIEST_INSTANT + timedelta(milliseconds=ms)
    try:
        instant = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"{shown(text)} is not a date-time; use RFC 3339 such as 2026-11-24T08:00:00+08:00, "
            "a local date-time such as 2026-11-24T08:00, or epoch milliseconds"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    try:
        instant = instant.astimezone(UTC)
    except OverflowError:  # before year 1 or after 9999 once in UTC
        raise ValueError(f"{shown(text)} is out of range; {_INSTANTS}") from None
    if not EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
        raise ValueError(f"{shown(text)} is out of range; {_INSTANTS}")
    return instant


def parse_step(text: str) -> int:
    match = _STEP.match(text)
    if match is None:
        raise ValueError(
            f"{shown(text)} is not a step; use a length such as 30s, 5m, 1h, 1d or seconds"
        )
    step_s = int(match.group(1)) * _UNIT_S[match.group(2)]
    if not 1 <= step_s <= MAX_STEP_S:
        raise ValueError(f"{shown(text)} is out of range; {_STEPS}")
    return step_s


def parse_date(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{shown(text)} is not a date; use YYYY-MM-DD") from None
    return check_date(day)


def check_date(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{shown(day.isoformat())} is out of range; {_DATES}")
    return day


def query_value(name: str, parse: Callable[[S], T], given: S) -> T:
    """`parse(given)`, its refusal a 422 that names the query parameter."""
    try:
        return parse(given)
    except ValueError as exc:
        raise ApiError(422, f"query parameter '{name}': {exc}") from None
