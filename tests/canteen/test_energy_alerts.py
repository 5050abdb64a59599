"""Energy anomalies raised as alerts by the service's periodic check (`canteen.energy_alerts`)
on a real DuckDB file: a night leak fires one alert naming the meter, a growing run of leaking
nights refreshes it without a new message, a restart raises nothing twice, a measured normal
day resolves it, and a day without data leaves it open. The alert is not about food, so quiet
hours hold its notices."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from alerts import AlertService
from alerts.engine import EngineOutput
from alerts.lifecycle import AlertChange
from alerts.model import AlertAction, AlertQuery, AlertState, RuleId, Severity
from alerts.notify.routing import held_by_quiet_hours, subject_of
from canteen.energy_alerts import EnergyAlerts
from core.clock import StepClock
from core.config import SiteConfig
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.energy.conftest import Meters, local, school

SEPT_1 = date(2026, 9, 1)
LEAK_FROM = local(date(2026, 10, 20), 22)
FIXED_AT = local(date(2026, 10, 24), 8)


def water(t: datetime) -> float:
    """0.4 m³/h in school hours; 0.1 m³/h more, day and night, while the pipe leaks."""
    use = 0.4 if 8 <= t.hour < 18 and t.weekday() < 5 else 0.0
    return use + (0.1 if LEAK_FROM <= t < FIXED_AT else 0.0)


@dataclass
class Plant:
    config: SiteConfig
    readings: DuckDBStore
    records: DuckDBAlertStore
    service: AlertService
    clock: StepClock
    changes: list[AlertChange]

    def checker(self) -> EnergyAlerts:
        """A new checker, as after a restart: it knows only what the file holds."""
        return EnergyAlerts(self.config, self.readings, self.service, self.records, self.clock)

    def leak_alerts(self) -> list[AlertChange]:
        return [c for c in self.changes if c.alert.rule is RuleId.ENERGY_NIGHT_WATER_FLOW]


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    path = tmp_path / "energy-alerts.duckdb"
    config = school(site={"id": "test-school", "name": "Test School", "timezone": "Asia/Shanghai"})
    readings = DuckDBStore(path)
    records = DuckDBAlertStore(path)
    clock = StepClock(local(date(2026, 10, 22), 12))
    service = AlertService(config, records, clock)
    changes: list[AlertChange] = []
    service.add_change_listener(changes.append)
    try:
        yield Plant(config, readings, records, service, clock, changes)
    finally:
        records.close()
        readings.close()


def at(plant: Plant, day: int, hour: int = 12) -> datetime:
    plant.clock.instant = local(date(2026, 10, day), hour)
    return plant.clock.instant


def test_a_leak_fires_once_grows_quietly_and_resolves_after_a_normal_day(plant: Plant) -> None:
    Meters(plant.readings).write("water-t", "water_m3", SEPT_1, date(2026, 10, 26), water)
    checker = plant.checker()

    # 22nd at noon: the nights of the 20th and 21st leaked (0.1 m³/h never stops).
    checker.check(at(plant, 22))
    (fired,) = plant.leak_alerts()
    assert fired.action is AlertAction.FIRED and fired.alert.device == "water-t"
    alert = fired.alert
    assert alert.state is AlertState.FIRING and not alert.food_safety
    assert alert.severity is Severity.CRITICAL  # 0.1 m³/h ≥ 3 × the 0.02 m³/h leak threshold
    assert "夜间" in alert.message.zh and "0.10 m³/h" in alert.message.en, alert.message
    assert alert.evidence["observed"] == pytest.approx(0.1)

    # Checked again, and by a restarted service: nothing is raised twice.
    assert checker.check(at(plant, 22, 13)) == []
    assert plant.checker().check(at(plant, 22, 14)) == []
    # The 24th: two more leaking nights lengthen the run; the open alert is refreshed, no
    # new message. The pipe was fixed at 08:00; one normal day is not over yet.
    assert plant.checker().check(at(plant, 24)) == []
    refreshed = plant.service.book.get(alert.id)
    assert refreshed.state is AlertState.FIRING and refreshed.evidence["days"] == 4

    # The 25th at noon: a whole day after the last leaking night measured normal: resolved.
    (resolved,) = plant.checker().check(at(plant, 25))
    assert resolved.action is AlertAction.RESOLVED and resolved.alert.id == alert.id
    assert plant.checker().check(at(plant, 26)) == []
    assert [c.action for c in plant.leak_alerts()] == [AlertAction.FIRED, AlertAction.RESOLVED]
    # Not about food: quiet hours hold its notices until the morning.
    subject = subject_of(alert, plant.config)
    assert held_by_quiet_hours(alert, subject, plant.config)


def test_a_day_without_data_is_no_evidence_and_the_alert_stays(plant: Plant) -> None:
    silent_from = local(date(2026, 10, 24), 0)
    Meters(plant.readings).write(
        "water-t", "water_m3", SEPT_1, date(2026, 10, 27), water, silent=lambda t: t >= silent_from
    )
    checker = plant.checker()
    checker.check(at(plant, 23))
    (fired,) = plant.leak_alerts()
    for day in (25, 26, 27):
        assert checker.check(at(plant, day)) == []
    (still,) = plant.service.book.find(
        AlertQuery(site="test-school", rule=RuleId.ENERGY_NIGHT_WATER_FLOW)
    )
    assert still.id == fired.alert.id and still.state is AlertState.FIRING


def test_a_steady_school_raises_nothing(plant: Plant) -> None:
    Meters(plant.readings).write(
        "water-t",
        "water_m3",
        SEPT_1,
        date(2026, 10, 26),
        lambda t: 0.4 if 8 <= t.hour < 18 else 0.0,
    )
    assert plant.checker().check(at(plant, 25)) == []
    assert plant.changes == []


def test_the_check_is_quiet_at_a_site_without_meters(tmp_path: Path) -> None:
    config = SiteConfig.model_validate(
        {
            "site": {"id": "s", "name": "S"},
            "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
            "devices": [{"id": "fridge-1", "kind": "fridge", "building": "canteen"}],
        }
    )
    path = tmp_path / "none.duckdb"
    readings, records = DuckDBStore(path), DuckDBAlertStore(path)
    try:
        clock = StepClock(local(date(2026, 10, 22), 12))
        service = AlertService(config, records, clock)
        checker = EnergyAlerts(config, readings, service, records, clock)
        assert checker.check() == []
    finally:
        records.close()
        readings.close()


class RefusingOnce:
    """The alerts service, whose store refuses the first flush (the database was busy)."""

    def __init__(self, service: AlertService) -> None:
        self.service = service
        self.refused = False

    def flush(self, output: EngineOutput) -> list[AlertChange]:
        if not self.refused:
            self.refused = True
            raise RuntimeError("database is busy")
        return self.service.flush(output)


def test_an_anomaly_the_alerts_did_not_take_is_raised_next_time(plant: Plant) -> None:
    Meters(plant.readings).write("water-t", "water_m3", SEPT_1, date(2026, 10, 26), water)
    sink = RefusingOnce(plant.service)
    checker = EnergyAlerts(plant.config, plant.readings, sink, plant.records, plant.clock)
    with pytest.raises(RuntimeError):
        checker.check(at(plant, 22))
    assert plant.leak_alerts() == []
    (fired,) = checker.check(at(plant, 22, 13))
    assert fired.action is AlertAction.FIRED and fired.alert.device == "water-t"
