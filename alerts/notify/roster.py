"""Who holds a role at an instant: the people of every shift of its roster that covers the
site's local wall-clock time, or, when none does (a gap in the roster, or a role with no
roster), the role's `default` people. Overnight shifts belong to the day they start on
(Monday 22:00-06:00 covers Tuesday 03:00). Gaps are reported when the config loads
(`NotifyConfig.warnings`); at runtime a gap is not an error, the fallback is said in `OnDuty`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.notify_config import Role

__all__ = ["OnDuty", "on_duty"]


@dataclass(frozen=True, slots=True)
class OnDuty:
    people: tuple[str, ...]
    fallback: bool  # no shift covered the instant: these are the role's default people


def on_duty(role: Role, instant: datetime, zone: str) -> OnDuty:
    """The people holding `role` at `instant` (aware, any zone) in the site's `zone`."""
    local = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    people: list[str] = []
    for shift in role.roster:
        if shift.covers(local):
            people.extend(p for p in shift.people if p not in people)
    if people:
        return OnDuty(tuple(people), fallback=False)
    return OnDuty(tuple(role.default), fallback=True)
