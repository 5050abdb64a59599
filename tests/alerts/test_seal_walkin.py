"""A metered walk-in cold room's seal (`seal_fuse.Stream.move`): its probe draws a few clean
cycles an hour, so the 16 recent ones behind the per-cycle move reach back most of a day, half
from before a leak; read over the evidence's own run, the move of a 0.35 leak is seen hours
sooner, and a healthy walk-in stays silent. The rooms are the simulator's walk-in units
(`firmware_sim.families`, a held-out family of the bench) read as a plug meter and a door
contact report them, through the real rule engine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firmware_sim.families import FAMILIES
from firmware_sim.faults import Fault, FaultType
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_fuse import cabinet, firing
from tests.alerts.test_seal_inference import engine, run

HOUR_MS = 3_600_000
WALK_IN = FAMILIES["walk-in cold room"]


def test_a_walk_ins_035_leak_is_confirmed_from_the_cycles_of_its_run() -> None:
    onset = MIDNIGHT + timedelta(days=6)
    # issue 11: a leak of 0.35 ramping in over 12 h, as the bench's
    leak = Fault(FaultType.SEAL_LEAK, "f", onset.timestamp(), severity=0.35, ramp_s=12 * 3600.0)
    rows, interval = cabinet(WALK_IN, 1, 9, leak=leak)  # a reading every minute
    findings, _ = run(engine(interval), rows)
    fired = firing(findings)
    assert fired and fired[0].at_ms >= int(onset.timestamp() * 1000)
    hours = (fired[0].at_ms - onset.timestamp() * 1000) / HOUR_MS
    # the 16 recent cycles' median moved by 0.15 only 30 h after the onset; the run's by 26 h
    assert hours <= 27
    assert fired[0].evidence["evidence_streams"] == "cycles"
    assert float(str(fired[0].evidence["evidence_move"])) >= 0.15


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_healthy_metered_walk_in_raises_no_seal_alert(index: int) -> None:
    rows, interval = cabinet(WALK_IN, index, 10)
    findings, points = run(engine(interval), rows)
    assert [p for p in points if "learning" not in p.evidence], "the baseline was learned"
    assert findings == []
