"""Parsing of query parameters that people type: instants and step lengths.

An instant is RFC 3339 (`2026-11-24T08:00:00+08:00`, `...Z`), a date-time without offset (read
in the site's local time), or epoch milliseconds. A step is `90s`, `5m`, `1h`, `1d` or seconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["parse_instant", "parse_step"]

_STEP = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    text = text.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        instant = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date-time; use RFC 3339 such as 2026-11-24T08:00:00+08:00, "
            "a local date-time such as 2026-11-24T08:00, or epoch milliseconds"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return instant.astimezone(UTC)


def parse_step(text: str) -> int:
    match = _STEP.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"{text!r} is not a step; use a positive length such as 30s, 5m, 1h, 1d or seconds"
        )
    return int(match.group(1)) * _UNIT_S[match.group(2)]
