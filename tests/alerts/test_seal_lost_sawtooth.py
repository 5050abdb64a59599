"""A leak can take the sawtooth away from a sparse probe, and the seal rule must not fall
silent then (issue 11: `seal-health` returned no points without saying why).

With a faster warming, the compressor's cycle shortens; a probe read every 5 min then sees
three or four readings a tooth, and the cycle reader no longer reads normal teeth from them.
Before, the hour's judgement stopped as soon as the evidence window held no clean cycle: no
seal-health point, no grading of the evidence the other streams (the probe's falling share)
kept gathering. Now every hour is still judged and written, saying how many clean cycles the
window held, and the probe's falling share may confirm a leak alone while the probe draws no
clean tooth (`ColdSealRule._cycles_read`). The cabinet is the simulator's upright freezer of
a tuning family (`firmware_sim.families`), read by a bare probe every 5 min."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from alerts.engine import RuleEngine
from alerts.model import SealHealthPoint
from core.clock import StepClock
from firmware_sim.families import FAMILIES, cold_params, draw_units
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import ColdStorageModel, SiteDay
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT, school
from tests.alerts.test_seal_inference import run

HOUR_MS = 3_600_000
EVERY_S = 300.0


def freezer(
    index: int,
    days: float,
    faults: list[Fault],
    family: str = "upright freezer",
    seed: int = 1,
) -> tuple[RuleEngine, list[Row]]:
    """A bare probe read every 5 min on a family's freezer drawn by `draw_units`."""
    [unit] = draw_units(FAMILIES[family], 1, seed=seed, first=index)
    site = school(
        devices=[{"id": "f", "kind": "freezer", "building": "canteen", "interval_s": EVERY_S}]
    )
    model = ColdStorageModel(
        site.devices[0], cold_params(unit), SiteDay.of(site), seed=index, faults=faults
    )
    times = MIDNIGHT.timestamp() + np.arange(0, days * 86_400, EVERY_S)
    temps = model.read(times).values["temp_c"]
    rows: list[Row] = [
        ("f", datetime.fromtimestamp(float(t), MIDNIGHT.tzinfo), {"temp_c": float(temps[i])})
        for i, t in enumerate(times)
    ]
    return RuleEngine(site, StepClock(MIDNIGHT)), rows


def judged(points: list[SealHealthPoint]) -> list[SealHealthPoint]:
    return [p for p in points if "learning" not in p.evidence]


def test_hours_without_a_clean_cycle_are_still_judged_and_say_so() -> None:
    onset = MIDNIGHT + timedelta(days=6)
    leak = Fault(FaultType.SEAL_LEAK, "f", onset.timestamp(), severity=0.6, ramp_s=12 * 3600.0)
    rules, rows = freezer(1, 10, [leak])
    _, points = run(rules, rows)
    shown = judged(points)
    assert shown and all("evidence_h" in p.evidence for p in shown), "per-cycle norms learned"
    # every hour from the first judgement to the last reading has its point
    hours = [int(p.ts.timestamp() * 1000) // HOUR_MS for p in shown]
    assert hours == list(range(hours[0], hours[0] + len(hours)))
    last_reading_h = int(rows[-1][1].timestamp() * 1000) // HOUR_MS
    assert hours[-1] >= last_reading_h - 1
    lost = [p for p in shown if p.evidence.get("window_cycles") == 0]
    assert lost, "the leak took the sawtooth away from this probe"
    # while no clean cycle is seen, the probe's own evidence is still shown, graded
    assert all("probe_evidence" in p.evidence for p in lost)
