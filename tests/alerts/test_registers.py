"""What the registers say, without HTTP: the band and days of a temperature log, the
completeness of the disinfection register, which devices have a log or a seal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alerts.model import DisinfectionRecord, DisinfectionStatus, Message
from alerts.registers import (
    disinfection_summary,
    has_door_seal,
    keeps_temperature_log,
    local_days,
    seal_learning,
    temperature_band,
)
from core.model import Device
from tests.alerts.conftest import MIDNIGHT, school

CONFIG = school()
ZONE = CONFIG.site.zone


def device(device_id: str) -> Device:
    found = CONFIG.device(device_id)
    assert found is not None
    return found


def test_local_days_start_at_local_midnight_and_stop_at_now() -> None:
    # Monday 2026-11-23, 10:00 in Shanghai: Monday is cut at now, Tuesday not yet begun.
    now = MIDNIGHT + timedelta(hours=10)
    days = local_days(ZONE, date(2026, 11, 22), date(2026, 11, 24), now)
    assert [d.day for d in days] == [date(2026, 11, 22), date(2026, 11, 23)]
    sunday, monday = days
    # Shanghai is UTC+8 all year: a local day runs 16:00 UTC to 16:00 UTC.
    assert sunday.start == datetime(2026, 11, 21, 16, tzinfo=UTC)
    assert sunday.end == monday.start == MIDNIGHT
    assert monday.end == now


def test_the_band_is_the_cold_storage_limit_and_heated_cabinets_have_none() -> None:
    # Defaults (DESIGN.md): a fridge 0-8 °C, a freezer at most -12 °C.
    assert temperature_band(CONFIG, device("fridge-1")) == (0.0, 8.0)
    assert temperature_band(CONFIG, device("freezer-1"))[1] == -12.0
    assert temperature_band(CONFIG, device("ir-1")) == (None, None)
    assert keeps_temperature_log(device("ir-1")) and keeps_temperature_log(device("rice-1"))


def test_a_steam_cabinet_relearns_its_seal_from_cycles_a_fridge_from_days() -> None:
    assert has_door_seal(device("rice-1")) and not has_door_seal(device("ir-1"))
    assert seal_learning(CONFIG, device("rice-1")).days is None
    assert seal_learning(CONFIG, device("rice-1")).cycles is not None
    assert seal_learning(CONFIG, device("fridge-1")).cycles is None


def test_completeness_is_the_share_of_meals_with_a_compliant_record() -> None:
    records = [
        line("breakfast", DisinfectionStatus.COMPLIANT),
        line("lunch", DisinfectionStatus.COMPLIANT),
        line("dinner", DisinfectionStatus.MISSED),
        # A silent cabinet proves nothing yet: not a compliant record.
        line("supper", DisinfectionStatus.UNCONFIRMED),
    ]
    summary = disinfection_summary(records)
    assert summary.completeness == 0.5
    assert summary.counts == {
        DisinfectionStatus.COMPLIANT: 2,
        DisinfectionStatus.INCOMPLETE: 0,
        DisinfectionStatus.MISSED: 1,
        DisinfectionStatus.UNCONFIRMED: 1,
    }
    assert disinfection_summary([]).completeness is None


def line(meal: str, status: DisinfectionStatus) -> DisinfectionRecord:
    """A register line of Monday's `meal` (only its status counts here)."""
    return DisinfectionRecord(
        CONFIG.site.id,
        "ir-1",
        meal,
        date(2026, 11, 23),
        MIDNIGHT,
        MIDNIGHT + timedelta(minutes=90),
        status,
        120.0,
        120.0,
        10.0,
        MIDNIGHT + timedelta(minutes=90),
        Message("", ""),
    )
