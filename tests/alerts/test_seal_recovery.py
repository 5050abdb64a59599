"""A compressor failure is not a leaking seal: after the cabinet is back in band, the food it
warmed gives its heat back through the air for most of a day, and the compressor works harder
meanwhile, as it would for a leak. Seal evidence waits twice as long as the cabinet was out of
band (`seal_cold.recovery_ms`); before, it waited 6 h, and each of these upright freezers (a
tuning family of `firmware_sim.families`, food 300 kJ/K behind 8 W/K: a time constant of
10 h) raised a seal alert 10-21 h after a 10 h failure ended."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from alerts.engine import RuleEngine
from alerts.model import RuleId
from alerts.rules.seal_cold import recovery_ms
from alerts.seal_basis import seal_basis
from core.clock import StepClock
from firmware_sim.families import FAMILIES, cold_params, draw_units
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import ColdStorageModel, SiteDay
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT, school
from tests.alerts.test_seal_inference import run

HOUR_MS = 3_600_000
METERED = ("temp_c", "power_w", "door_open")


def failed_freezer(index: int, failure_h: float) -> tuple[RuleEngine, list[Row], datetime]:
    """Unit `index` of the upright freezers, metered, 9 days; its compressor stops on day 6
    at 10:00 local for `failure_h` hours."""
    [unit] = draw_units(FAMILIES["upright freezer"], 1, seed=1, first=index)
    site = school(
        devices=[
            {"id": "f", "kind": "freezer", "building": "canteen", "interval_s": unit.interval_s}
        ]
    )
    onset = MIDNIGHT + timedelta(days=6, hours=10)
    end = onset + timedelta(hours=failure_h)
    failure = Fault(FaultType.COMPRESSOR_FAILURE, "f", onset.timestamp(), end.timestamp())
    model = ColdStorageModel(
        site.devices[0], cold_params(unit), SiteDay.of(site), seed=index, faults=[failure]
    )
    times = MIDNIGHT.timestamp() + np.arange(0, 9 * 86_400, unit.interval_s)
    values = model.read(times).values
    rows: list[Row] = [
        (
            "f",
            datetime.fromtimestamp(float(at), MIDNIGHT.tzinfo),
            {m: float(values[m][i]) for m in METERED},
        )
        for i, at in enumerate(times)
    ]
    return RuleEngine(site, StepClock(MIDNIGHT)), rows, end


@pytest.mark.parametrize("index", [1, 2, 3])
def test_a_freezer_recovering_from_a_compressor_failure_raises_no_seal_alert(index: int) -> None:
    rules, rows, end = failed_freezer(index, 10.0)
    findings, points = run(rules, rows)
    assert [p for p in points if "learning" not in p.evidence], "the baseline was learned"
    fired = [f for f in findings if f.phase.value == "firing" and f.rule is RuleId.SEAL_DEGRADATION]
    assert fired == [], [f.evidence.get("evidence_streams") for f in fired]
    assert rows[-1][1] - end > timedelta(days=2)  # two days after the failure were judged
    # seal-health says why the evidence waits, and until when (twice the time out of band,
    # the over-temperature alarm's own delay aside)
    waiting = [p for p in points if "recovering_until" in p.evidence]
    assert waiting and all(p.ts < end + timedelta(hours=21) for p in waiting)
    until = datetime.fromisoformat(str(waiting[-1].evidence["recovering_until"]))
    assert end + timedelta(hours=15) <= until <= end + timedelta(hours=21)
    assert "recovering_until" not in points[-1].evidence
    # ... and so does the page, in the site's time, while it waits (and not after)
    basis = seal_basis(waiting[-1])
    assert basis is not None and basis.paused_until == until
    told = basis.text(600, MIDNIGHT.tzinfo)
    resumes = until.astimezone(MIDNIGHT.tzinfo)
    assert f"waits until {resumes:%m-%d %H:%M}" in told["en"]
    assert f"暂停到 {resumes:%m-%d %H:%M}" in told["zh"]
    assert told["en"].startswith("The cabinet was out of its band") and "Judged on" in told["en"]
    after = seal_basis(points[-1])
    assert after is not None and after.paused_until is None
    assert "waits until" not in after.text(600, MIDNIGHT.tzinfo)["en"]


def test_the_wait_grows_with_the_excursion_and_is_bounded() -> None:
    assert recovery_ms(10 * 60_000) == 6 * HOUR_MS  # a door left ajar: the usual settle
    assert recovery_ms(10 * HOUR_MS) == 20 * HOUR_MS
    assert recovery_ms(5 * 24 * HOUR_MS) == 48 * HOUR_MS  # off over a long weekend
