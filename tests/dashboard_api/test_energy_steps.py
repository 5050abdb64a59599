"""The energy page's list of gaps and review items: the first ones listed, the count of the
rest said with where to find them (a zigzagging counter holds tens of thousands, megabytes of
page), the count and the list of the building asked for."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard_api.web.energy_view import energy_view
from energy.periods import ReportPeriod
from energy.report import build_report
from ingest import DuckDBStore
from tests.energy.conftest import Meters, constant, school
from tests.energy.conftest import meters as meters
from tests.energy.conftest import store as store

OCTOBER = ReportPeriod.month(2026, 10)


def test_the_page_lists_the_first_steps_and_counts_the_rest(
    store: DuckDBStore,
    meters: Meters,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("dashboard_api.web.energy_view.STEPS_LISTED", 40)
    # Silent from 03:00 to 04:00 and 16:00 to 17:00 every day: 62 gaps in October.
    meters.write(
        "elec-c",
        "energy_kwh",
        date(2026, 10, 1),
        date(2026, 10, 31),
        constant(4.0),
        silent=lambda t: t.hour in (3, 16),
    )
    report = build_report(school(), store, OCTOBER)
    assert len(report.steps) == 62
    view = energy_view(report, None, "en")
    assert (len(view.steps), view.steps_total) == (40, 62)
    canteen = report.steps[0].meter.building.id
    assert energy_view(report, canteen, "en").steps_total == 62
    other = next(b.id for b in school().buildings if b.id != canteen)
    assert energy_view(report, other, "en").steps == []
    assert energy_view(report, other, "en").steps_total == 0
