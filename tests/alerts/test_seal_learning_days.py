"""The seal's baseline is learned over school days: a cabinet installed late in the week learns
over the weekend too, but its weekend does not count towards the days asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.timetable import Timetable
from core.energy_model import SchoolCalendar
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

ZONE = ZoneInfo("Asia/Shanghai")
PLANT = ColdPlant(differential_k=1.5, noise_c=0.05)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_the_served_time_leaves_out_days_without_meals() -> None:
    thursday = datetime(2026, 11, 26, tzinfo=ZONE)
    with_school = Timetable((), ZONE, SchoolCalendar())
    start, end = _ms(thursday + timedelta(hours=6)), _ms(thursday + timedelta(days=5, hours=12))
    # Thursday from 06:00, Friday, Monday, Tuesday until noon; not Saturday nor Sunday
    assert with_school.served_ms(start, end) == (18 + 24 + 24 + 12) * 3_600_000
    assert Timetable((), ZONE).served_ms(start, end) == end - start  # no calendar: every day
    assert with_school.served_ms(end, start) == 0


def _learning_ends(start: datetime) -> datetime:
    rows = cold_plant.fridge("f", start, 8.0, PLANT, seed=5)
    _, points = run(engine(PLANT.interval_s), rows)
    learning = [p.ts for p in points if "learning" in p.evidence]
    judged = [p.ts for p in points if "learning" not in p.evidence]
    assert learning and judged and max(learning) < min(judged)
    return min(judged).astimezone(ZONE)


def test_a_cabinet_installed_on_a_thursday_learns_four_school_days() -> None:
    # Monday: Monday to Thursday. Thursday: Thursday, Friday, Monday and Tuesday; the weekend
    # between is learned, but a weekend's quiet kitchen is not what school days are judged on.
    monday = _learning_ends(MIDNIGHT)
    assert monday.strftime("%a") == "Fri" and monday - MIDNIGHT < timedelta(days=4, hours=2)
    thursday = _learning_ends(MIDNIGHT + timedelta(days=3))
    assert thursday.strftime("%a") == "Wed"
    assert thursday - (MIDNIGHT + timedelta(days=3)) < timedelta(days=6, hours=2)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_metered_cabinet_that_learned_over_a_weekend_reads_its_school_days_as_usual(
    seed: int,
) -> None:
    # Installed on a Thursday, it learns Thursday to Tuesday with the weekend between, its
    # kitchen cool and shut. The clean hours' on-share norms are its school days': the next
    # school days add little evidence (learned over all six days, they read 0.88-1.18 of h).
    plant = ColdPlant(metered=True, differential_k=2.0, defrosts_a_day=2, quiet_weekends=True)
    thursday = MIDNIGHT + timedelta(days=3)
    _, points = run(
        engine(plant.interval_s), cold_plant.fridge("f", thursday, 9.0, plant, seed=seed)
    )
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and min(p.ts for p in judged).astimezone(ZONE).strftime("%a") == "Wed"
    highest = max(float(p.evidence.get("duty_evidence") or 0.0) for p in judged)
    assert highest < 0.6


@pytest.mark.parametrize(
    ("quiet_weekends", "doors", "seed", "settles"),
    [
        # clean hours on its quiet weekend nights: at six days, past half the hours asked
        (True, 20.0, 1, False),
        (True, 20.0, 2, False),
        # a kitchen busy every day: 14 clean hours at six days, 23 with its meter's hours
        (False, 23.0, 2, True),
    ],
)
def test_a_busy_metered_cabinet_without_clean_hours_learns_on_its_meters_every_hour(
    quiet_weekends: bool, doors: float, seed: int, settles: bool
) -> None:
    # Six defrosts a day and a door every few minutes from 06:00 to 19:00 leave a clean
    # metered hour only now and then, and its lagging probe read every 5 min draws no tooth:
    # neither the clean hours' norms nor the cycles' could be learned, and it was still
    # learning after nine days. Its every-hour meter reads every hour's whole cycles; once the
    # learning has waited its longest (six days), that meter's norms are its baseline, and its
    # hours count towards the half asked where the clean ones fall short.
    plant = ColdPlant(
        metered=True,
        interval_s=300,
        defrosts_a_day=6,
        doors_per_busy_hour=doors,
        quiet_weekends=quiet_weekends,
        probe_lag_s=600,
    )
    rows = cold_plant.fridge("f", MIDNIGHT, 7.0, plant, seed=seed)
    _, points = run(engine(plant.interval_s), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged, points[-1].evidence
    assert judged[0].ts - MIDNIGHT < timedelta(days=6, hours=2)
    assert all("power_h" in p.evidence and "duty_h" not in p.evidence for p in judged)
    assert max(float(p.evidence.get("verdict") or 0.0) for p in judged) < 0.5
    last = [p for p in points if "learning" in p.evidence][-1].evidence
    short = float(last["learned_h"]) < 0.5 * float(last["needed_h"])
    assert short == settles
