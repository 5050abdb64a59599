"""The timetable in local time, and `canteen eval` end to end on a short simulated scenario."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.model import RuleId
from alerts.timetable import Timetable
from canteen import eval_cli
from canteen.eval_cli import evaluate_scenario
from core.energy_model import SchoolCalendar
from core.model import Meal
from tests.conftest import EXAMPLES

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_services_are_local_wall_clock_times_stored_as_utc() -> None:
    timetable = Timetable([Meal(name="lunch", start="11:40", end="12:40")], SHANGHAI)  # type: ignore[arg-type]
    day_start = int(datetime(2026, 11, 23, tzinfo=SHANGHAI).timestamp() * 1000)
    [lunch] = timetable.services_ending(day_start, day_start + 86_400_000)
    assert datetime.fromtimestamp(lunch.end_ms / 1000, UTC) == datetime(
        2026, 11, 23, 4, 40, tzinfo=UTC
    )
    assert lunch.service_date.isoformat() == "2026-11-23"


def test_a_meal_across_midnight_ends_the_next_day_and_keeps_its_date() -> None:
    timetable = Timetable([Meal(name="supper", start="23:30", end="00:20")], SHANGHAI)  # type: ignore[arg-type]
    monday = int(datetime(2026, 11, 23, 12, tzinfo=SHANGHAI).timestamp() * 1000)
    [supper] = timetable.services_ending(monday, monday + 86_400_000)
    end = datetime.fromtimestamp(supper.end_ms / 1000, SHANGHAI)
    assert (end.day, end.hour, end.minute) == (24, 0, 20)
    assert supper.service_date.isoformat() == "2026-11-23"
    assert supper.end_ms - supper.start_ms == 50 * 60_000


def _calendar(**fields: object) -> SchoolCalendar:
    return SchoolCalendar.model_validate(fields)


def test_meals_are_served_only_on_the_calendars_meal_days() -> None:
    # A day school: Monday to Friday; 2026-10-01..07 is National Day; 2026-10-10 (a Saturday) is
    # a make-up school day (调休). Friday 2026-09-25 .. Monday 2026-10-12, lunch only.
    calendar = _calendar(
        holidays=[{"start": "2026-10-01", "end": "2026-10-07"}], workdays=["2026-10-10"]
    )
    lunch = [Meal(name="lunch", start="11:40", end="12:40")]  # type: ignore[arg-type]
    timetable = Timetable(lunch, SHANGHAI, calendar)
    start = int(datetime(2026, 9, 25, tzinfo=SHANGHAI).timestamp() * 1000)
    served = timetable.services_ending(start, start + 18 * 86_400_000)
    assert [s.service_date.isoformat() for s in served] == [
        "2026-09-25", "2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08", "2026-10-09",
        "2026-10-10", "2026-10-12",
    ]  # fmt: skip
    boarding = Timetable(lunch, SHANGHAI, _calendar(meal_days=["school_day", "weekend"]))
    weekend = boarding.services_ending(start, start + 4 * 86_400_000)
    assert [s.service_date.isoformat() for s in weekend] == [
        "2026-09-25",
        "2026-09-26",
        "2026-09-27",
        "2026-09-28",
    ]


def test_the_first_meal_after_a_long_vacation_is_found_weeks_ahead() -> None:
    # Each rule asks from its last verdict: from the last meal of the autumn term, the next is the
    # first of the spring term, five weeks later; nothing in between is judged, nothing skipped.
    calendar = _calendar(
        terms=[
            {"start": "2026-09-01", "end": "2027-01-22"},
            {"start": "2027-02-22", "end": "2027-07-02"},
        ]
    )
    dinner = [Meal(name="dinner", start="17:30", end="18:20")]  # type: ignore[arg-type]
    timetable = Timetable(dinner, SHANGHAI, calendar)
    [last] = timetable.services_ending(
        int(datetime(2027, 1, 22, tzinfo=SHANGHAI).timestamp() * 1000),
        int(datetime(2027, 1, 23, tzinfo=SHANGHAI).timestamp() * 1000),
    )
    assert timetable.services_ending(last.end_ms, last.end_ms + 30 * 86_400_000) == []
    [first] = timetable.services_ending(last.end_ms, last.end_ms + 31 * 86_400_000)
    assert first.service_date.isoformat() == "2027-02-22"


@pytest.mark.timeout(120)
def test_eval_scores_a_simulated_scenario_against_its_ground_truth(tmp_path: Path) -> None:
    scenario = tmp_path / "missed-lunch.yaml"
    scenario.write_text(
        json.dumps(
            {
                "name": "missed-lunch",
                "site": str(EXAMPLES / "demo-school.yaml"),
                "start": "2026-11-02",
                "duration": "2d",
                "seed": 4,
                "devices": ["disinfect-1", "fridge-1"],
                "faults": [
                    {
                        "device": "disinfect-1",
                        "type": "disinfection_missed",
                        "onset": "2026-11-03",
                        "meal": "lunch",
                    }
                ],
            }
        )
    )
    result = evaluate_scenario(scenario)
    disinfection = result.scores["disinfection"]
    assert (disinfection["tp"], disinfection["fp"], disinfection["fn"]) == (1, 0, 0)
    assert disinfection["ttd_max_h"] is not None and disinfection["ttd_max_h"] <= 0.25
    assert all(s["fp"] == 0 for s in result.scores.values())
    assert set(result.scores["over_temperature"]) == {
        "tp", "fp", "fn", "recall", "precision", "ttd_median_h", "ttd_max_h",
        "false_alarms_per_100_device_days",
    }  # fmt: skip


async def test_eval_registers_as_a_canteen_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="canteen")
    eval_cli.register(parser.add_subparsers())
    scenario = tmp_path / "quiet.yaml"
    scenario.write_text(
        json.dumps(
            {
                "site": str(EXAMPLES / "demo-school.yaml"),
                "start": "2026-11-02",
                "duration": "1d",
                "devices": ["fridge-1"],
            }
        )
    )
    args = parser.parse_args(["eval", "--scenario", str(scenario), "--seed", "7"])
    await args.handler(args, asyncio.Event())
    printed = json.loads(capsys.readouterr().out)
    assert printed["over_temperature"]["fp"] == 0 and printed["offline"]["tp"] == 0


@pytest.mark.timeout(120)
def test_eval_scores_sample_retention_per_meal_held_when_the_fridge_failed() -> None:
    # Two excursions of the sample fridge, each with the samples of the 48 h before it inside
    # (three meals a day on the timetable): 6 meals breached each time, none missed.
    result = evaluate_scenario(EXAMPLES / "scenarios" / "sample-retention.yaml")
    retention = result.outcomes[RuleId.SAMPLE_RETENTION]
    meals = sorted(
        (p.service_date.isoformat(), p.meal) for p, _ in retention.found if p.service_date
    )
    assert len(meals) == 12 and ("2026-11-04", "lunch") in meals
    assert result.scores["sample_retention"]["fn"] == 0
    assert result.scores["sample_retention"]["fp"] == 0
    assert result.scores["over_temperature"]["tp"] == 2
