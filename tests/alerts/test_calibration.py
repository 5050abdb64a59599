"""The probe calibration register: a check passes within the tolerance, a failed one needs its
corrective action, a probe is overdue once its last pass is older than the interval (on an
injected clock), and the register survives reopening the DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from alerts.calibration import (
    CalibrationError,
    GapKind,
    calibration_status,
    overdue_gaps,
    record_check,
)
from core.clock import StepClock
from core.config import SiteConfig
from core.model import Device
from core.records import CalibrationMethod
from ingest.duckdb_calibration import DuckDBCalibrationStore
from tests.alerts.conftest import MIDNIGHT, SITE, school

ICE = CalibrationMethod.ICE_POINT
REF = CalibrationMethod.REFERENCE


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBCalibrationStore]:
    opened = DuckDBCalibrationStore(tmp_path / "cal.duckdb")
    yield opened
    opened.close()


def device(config: SiteConfig, device_id: str) -> Device:
    found = config.device(device_id)
    assert found is not None
    return found


def check(
    store: DuckDBCalibrationStore,
    config: SiteConfig,
    at: datetime,
    probe_c: float,
    *,
    device_id: str = "fridge-1",
    method: CalibrationMethod = ICE,
    reference_c: float = 0.0,
    action: str | None = None,
) -> bool:
    stored = record_check(
        store,
        config,
        device(config, device_id),
        at=at,
        method=method,
        reference_c=reference_c,
        probe_c=probe_c,
        by="王师傅",
        corrective_action=action,
    )
    return stored.passed


def test_a_check_within_one_kelvin_passes_and_one_outside_needs_its_action(
    store: DuckDBCalibrationStore,
) -> None:
    config = school()
    assert check(store, config, MIDNIGHT, 1.0)  # exactly the ±1.0 K tolerance
    assert check(store, config, MIDNIGHT, -0.4, method=REF, reference_c=-0.9, device_id="ir-1")
    with pytest.raises(CalibrationError) as refused:
        check(store, config, MIDNIGHT, 1.3)
    assert refused.value.field == "corrective_action"
    assert "+1.30 K" in refused.value.message and "±1.0 K" in refused.value.message
    assert not check(store, config, MIDNIGHT, 1.3, action="探头更换")
    stored = store.checks(SITE, "fridge-1")
    assert [(c.passed, c.difference_k, c.by) for c in stored] == [
        (True, 1.0, "王师傅"),
        (False, 1.3, "王师傅"),
    ]
    assert stored[1].corrective_action == "探头更换" and stored[1].tolerance_k == 1.0


def test_what_cannot_be_a_check_is_refused_naming_the_field(
    store: DuckDBCalibrationStore,
) -> None:
    config = school(devices=[*school().devices, _meter()], tariffs=[])
    with pytest.raises(CalibrationError) as meter:
        check(store, config, MIDNIGHT, 0.0, device_id="meter-1")
    assert meter.value.field == "device"
    assert "electricity_meter" in meter.value.message and "fridge, freezer" in meter.value.message
    with pytest.raises(CalibrationError) as ice:
        check(store, config, MIDNIGHT, 5.0, reference_c=5.0)
    assert ice.value.field == "reference_c" and "method 'reference'" in ice.value.message
    with pytest.raises(CalibrationError) as typo:
        check(store, config, MIDNIGHT, 400.0, method=REF, reference_c=0.0)
    assert typo.value.field == "probe_c"
    assert store.checks(SITE, None) == []


def _meter() -> Device:
    return Device.model_validate(
        {"id": "meter-1", "kind": "electricity_meter", "building": "canteen", "counter": {}}
    )


def test_a_probe_is_overdue_once_its_last_pass_is_older_than_30_days(
    store: DuckDBCalibrationStore,
) -> None:
    config = school()
    fridge = device(config, "fridge-1")
    clock = StepClock(MIDNIGHT)
    assert calibration_status([], config, fridge, clock.now()).overdue  # never checked
    check(store, config, clock.now(), 0.3)
    clock.instant = MIDNIGHT + timedelta(days=29, hours=23)
    status = calibration_status(store.checks(SITE, "fridge-1"), config, fridge, clock.now())
    assert not status.overdue and status.flag is None
    assert status.due_at == MIDNIGHT + timedelta(days=30)
    # A failed check on day 20 does not renew the cover: still due on day 30.
    check(store, config, MIDNIGHT + timedelta(days=20), 2.5, action="重新校准")
    clock.instant = MIDNIGHT + timedelta(days=30)
    status = calibration_status(store.checks(SITE, "fridge-1"), config, fridge, clock.now())
    assert status.overdue and status.flag is not None and status.flag.zh == "校准逾期"
    assert status.flag.en == "overdue calibration"


def test_overdue_spans_cover_the_time_before_the_first_pass_and_after_expiry(
    store: DuckDBCalibrationStore,
) -> None:
    config = school()
    fridge = device(config, "fridge-1")
    day = timedelta(days=1)
    check(store, config, MIDNIGHT + 5 * day, 0.2)
    check(store, config, MIDNIGHT + 20 * day, 0.1)  # within cover: extends to day 50
    gaps = overdue_gaps(
        store.checks(SITE, "fridge-1"), config, fridge, MIDNIGHT, MIDNIGHT + 60 * day
    )
    assert [(g.kind, (g.start - MIDNIGHT) / day, (g.end - MIDNIGHT) / day) for g in gaps] == [
        (GapKind.NEVER, 0, 5),
        (GapKind.OVERDUE, 50, 60),
    ]
    covered = overdue_gaps(
        store.checks(SITE, "fridge-1"), config, fridge, MIDNIGHT + 6 * day, MIDNIGHT + 49 * day
    )
    assert covered == []


def test_the_interval_and_tolerance_are_set_per_kind_and_per_device(
    store: DuckDBCalibrationStore,
) -> None:
    config = school(
        calibration={
            "interval_days": 28,
            "kinds": {"sample_fridge": {"interval_days": 7}},
            "devices": {"ir-1": {"tolerance_k": 2.0}},
        }
    )
    assert config.calibration.for_device(device(config, "fridge-1")) == (1.0, 28)
    assert config.calibration.for_device(device(config, "sample-1")) == (1.0, 7)
    assert config.calibration.for_device(device(config, "ir-1")) == (2.0, 28)
    assert check(store, config, MIDNIGHT, 121.8, method=REF, reference_c=120.0, device_id="ir-1")
    sample = device(config, "sample-1")
    check(store, config, MIDNIGHT, 0.0, device_id="sample-1")
    later = MIDNIGHT + timedelta(days=7)
    assert calibration_status(store.checks(SITE, "sample-1"), config, sample, later).overdue
    with pytest.raises(ValueError, match=r"calibration\.devices\.fridge-9: not a device"):
        school(calibration={"devices": {"fridge-9": {"interval_days": 7}}})


def test_the_register_survives_reopening_and_records_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "cal.duckdb"
    first = DuckDBCalibrationStore(path)
    config = school()
    check(first, config, datetime(2026, 11, 23, 2, 0, tzinfo=UTC), 0.5)
    first.close()
    again = DuckDBCalibrationStore(path)
    [stored] = again.checks(SITE, "fridge-1")
    assert stored.checked_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC) and stored.id == 1
    again.close()
    with duckdb.connect(str(path)) as con:
        rows = con.execute(
            "SELECT version, summary FROM schema_migrations WHERE component = 'calibration'"
        ).fetchall()
    assert rows == [(1, "probe calibration checks")]
