"""Rate limits as the site config writes them: `20/min`, `5/s, 100/min`, `10/30s`, `none`.

A limit is one or more sliding windows (`Window(20, 60)`: at most 20 messages in any 60 s).
The config validates the text here (core: the site config checks it when it loads); the
notification dispatcher (`alerts.notify.ratelimit`) enforces the windows and knows each
vendor's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Window", "parse_limits"]

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0}
_WINDOW = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Window:
    """At most `count` messages in any `per_s` seconds."""

    count: int
    per_s: float

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a rate limit allows at least 1 message, got {self.count}")
        if self.per_s <= 0:
            raise ValueError(f"a rate limit's window is longer than 0 s, got {self.per_s:g} s")

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.per_s)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.per_s:g}s"


def parse_limits(text: str) -> tuple[Window, ...]:
    """'20/min', '5/s, 100/min', '10/30s' as windows; 'none' for no limit.

    Raises ValueError naming the part that does not read and what is allowed."""
    if text.strip().lower() in ("none", "unlimited", ""):
        return ()
    windows: list[Window] = []
    for part in text.split(","):
        match = _WINDOW.match(part.lower())
        if match is None or match.group(3) not in _UNITS:
            raise ValueError(
                f"rate limit {part.strip()!r} does not read as COUNT/UNIT: write e.g. '20/min', "
                f"'5/s, 100/min' or '10/30s' (units: {', '.join(sorted(_UNITS))}), or 'none'"
            )
        count, number, unit = match.groups()
        per = float(number) if number else 1.0
        windows.append(Window(int(count), per * _UNITS[unit]))
    return tuple(windows)
