"""How busy a building is through the local day (0 = empty, 1 = peak), by building kind.

Teaching buildings follow class hours on weekdays, canteens their meal timetable, dormitories
mornings and evenings. Shapes are assumptions for a Chinese primary school with boarders (classes
about 07:30-17:00 with a midday break, evening self-study, lights out around 21:30). Weekends and
school holidays (from the scenario's calendar) scale the weekday profile down.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from core.model import BuildingKind
from firmware_sim.models.calendar import KitchenPhase, SiteDay, phase_table

__all__ = ["BuildingActivity", "DayProfile"]


@dataclass(frozen=True, slots=True)
class DayProfile:
    """Piecewise-linear activity through the day between (hour, level) knots from 0 to 24."""

    knots: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        hours = [h for h, _ in self.knots]
        if hours[0] != 0.0 or hours[-1] != 24.0 or hours != sorted(hours):
            raise ValueError(f"knots must run from hour 0 to 24 in order, got {hours}")

    def level(self, hours: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.interp(hours, [h for h, _ in self.knots], [v for _, v in self.knots])


TEACHING_DAY = DayProfile(
    (
        (0.0, 0.0), (6.5, 0.0), (7.5, 0.8), (11.7, 0.8), (12.0, 0.3), (13.5, 0.3),
        (14.0, 0.9), (17.0, 0.9), (17.8, 0.2), (18.5, 0.4), (20.5, 0.4), (21.0, 0.0),
        (24.0, 0.0),
    )
)  # fmt: skip
DORMITORY_DAY = DayProfile(
    (
        (0.0, 0.03), (5.8, 0.03), (6.2, 1.0), (7.2, 1.0), (7.6, 0.1), (12.0, 0.1),
        (12.3, 0.5), (13.8, 0.5), (14.0, 0.1), (18.3, 0.1), (18.8, 0.8), (21.3, 0.9),
        (21.8, 0.2), (22.3, 0.03), (24.0, 0.03),
    )
)  # fmt: skip
OFFICE_DAY = DayProfile(((0.0, 0.0), (7.5, 0.0), (8.5, 0.8), (17.5, 0.8), (18.5, 0.0), (24.0, 0.0)))
CANTEEN_BY_PHASE = MappingProxyType(
    {
        KitchenPhase.NIGHT: 0.0,
        KitchenPhase.STAFFED: 0.25,
        KitchenPhase.PREP: 0.9,
        KitchenPhase.SERVICE: 1.0,
        KitchenPhase.CLEAN_UP: 0.6,
    }
)
# Share of the weekday activity left at weekends: classes stop, most boarders go home.
WEEKEND_FACTOR = MappingProxyType(
    {
        BuildingKind.TEACHING: 0.08,
        BuildingKind.CANTEEN: 0.5,
        BuildingKind.DORMITORY: 0.5,
        BuildingKind.OFFICE: 0.1,
        BuildingKind.SPORTS: 0.6,
        BuildingKind.OTHER: 0.3,
    }
)
# School holidays (assumed): classes stop, boarders go home, the canteen closes; a caretaker
# and a few staff remain.
HOLIDAY_FACTOR = MappingProxyType(
    {
        BuildingKind.TEACHING: 0.02,
        BuildingKind.CANTEEN: 0.0,
        BuildingKind.DORMITORY: 0.03,
        BuildingKind.OFFICE: 0.1,
        BuildingKind.SPORTS: 0.1,
        BuildingKind.OTHER: 0.1,
    }
)


class BuildingActivity:
    """Activity of one building kind at instants, in the site's local time."""

    def __init__(self, kind: BuildingKind, site_day: SiteDay) -> None:
        self.kind = kind
        self._day = site_day
        profiles = {BuildingKind.TEACHING: TEACHING_DAY, BuildingKind.DORMITORY: DORMITORY_DAY}
        self._profile = profiles.get(kind, OFFICE_DAY)
        self._canteen = phase_table(CANTEEN_BY_PHASE)

    def level(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self.kind is BuildingKind.CANTEEN:
            level = self._canteen[self._day.phase_of(t)]  # closed on holidays: night phase
        else:
            level = self._profile.level(self._day.hour_of(t))
        level = np.where(self._day.weekend_of(t), level * WEEKEND_FACTOR[self.kind], level)
        return np.where(self._day.holiday_of(t), level * HOLIDAY_FACTOR[self.kind], level)
