"""The warming half of each clean cycle read alone (`seal_rise`): a free thermostat shows a
leak as a shorter off time, one held off by its controller's minimum off time as a larger
rise; the cycle's z is whichever reads the load, and a coarse display's rises are not read."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from alerts import RuleId
from alerts.engine import RuleEngine
from alerts.model import Finding, Phase, SealHealthPoint
from alerts.rules.base import dump_state, load_state
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cold import ColdSealState
from alerts.rules.seal_cusum import PACE, RISE, HourNorm, cycle_log, cycle_logs, learn_cusum
from alerts.rules.seal_rise import score_rise
from core.clock import StepClock
from firmware_sim.families import FAMILIES, cold_params, draw_units
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import ColdStorageModel, SiteDay
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant, Row
from tests.alerts.conftest import MIDNIGHT, school
from tests.alerts.test_seal_inference import engine, run

HOUR_MS = 3_600_000
OFF_MS = 6 * 60_000  # the usual off time
WARM = 20.0  # K/h: a 2 K rise in 6 min
SIGMA = 0.1


def norm() -> HourNorm:
    logs = cycle_log(WARM, 30.0, None, off=(OFF_MS, 0.0, 0.0))
    return HourNorm(dict(logs), {f: SIGMA for f in logs})


def test_a_cycle_reads_its_pace_and_its_rise() -> None:
    logs = cycle_log(WARM, 30.0, None, off=(OFF_MS, 0.05, 0.0))
    assert logs[PACE] == pytest.approx(-math.log(0.1))  # 6 min: a tenth of an hour
    assert logs[RISE] == pytest.approx(math.log(2.0))  # 20 K/h for a tenth of an hour
    assert "pace" not in cycle_log(WARM, 30.0, None)  # an hour kept before off times were


def test_the_cycle_scores_whichever_half_reads_the_load() -> None:
    # free: the off time shortens by 15 %, the rise (the differential) stays
    free = cycle_log(WARM * 1.15, 30.0, None, off=(OFF_MS / 1.15, 0.0, 0.0))
    # held off at its minimum: the off time stays, the air rises 15 % further
    held = cycle_log(WARM * 1.15, 30.0, None, off=(OFF_MS, 0.0, 0.0))
    # a free thermostat read through a lagging probe: the rise even shrinks a little
    lagged = cycle_log(WARM * 1.1, 30.0, None, off=(OFF_MS / 1.15, 0.0, 0.0))
    healthy = cycle_log(WARM, 30.0, None, off=(OFF_MS, 0.0, 0.0))
    for logs in (free, held, lagged):
        z, move = score_rise(logs, norm())
        assert z == pytest.approx(math.log(1.15) / SIGMA)
        assert move == pytest.approx(0.15)
    assert score_rise(healthy, norm()) == (0.0, 0.0)


def test_one_wild_half_adds_less_than_the_per_cycle_streams_bound() -> None:
    wild = cycle_log(WARM * 5, 30.0, None, off=(OFF_MS / 5, 0.0, 0.0))
    z, _ = score_rise(wild, norm(), clip=3.0)
    assert z == pytest.approx(2.0)


# -- through the engine, on a tuning fridge held off by its controller ---------------------


def held_fridge(
    days: float, faults: list[Fault], min_off_s: float, metered: bool = False
) -> tuple[RuleEngine, list[Row]]:
    """A sample fridge of the tuning families read every minute (its off time about 6 min),
    its controller holding the compressor off for `min_off_s` after each stop."""
    [unit] = draw_units(FAMILIES["sample fridge"], 1, seed=4, first=1)
    site = school(devices=[{"id": "f", "kind": "fridge", "building": "canteen", "interval_s": 60}])
    params = dataclasses.replace(cold_params(unit), min_off_s=min_off_s)
    model = ColdStorageModel(site.devices[0], params, SiteDay.of(site), seed=2, faults=faults)
    times = MIDNIGHT.timestamp() + np.arange(0, days * 86_400, 60.0)
    values = model.read(times).values
    metrics = ("temp_c", "power_w", "door_open") if metered else ("temp_c",)
    rows: list[Row] = [
        (
            "f",
            datetime.fromtimestamp(float(t), MIDNIGHT.tzinfo),
            {m: float(values[m][i]) for m in metrics},
        )
        for i, t in enumerate(times)
    ]
    return RuleEngine(site, StepClock(MIDNIGHT)), rows


def fired(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule is RuleId.SEAL_DEGRADATION and f.phase is Phase.FIRING]


def rise_judged(points: list[SealHealthPoint]) -> list[SealHealthPoint]:
    return [p for p in points if "rise_evidence" in p.evidence]


def test_a_fridge_held_off_by_its_controller_shows_a_leak_in_its_rise() -> None:
    # held 8 min against a natural off time of about 6: every rise ends above the cut-in,
    # at the load times the minimum off time, and a leak lifts it (counted in readings, its
    # rises stood at half the threshold the night before the onset)
    onset = MIDNIGHT + timedelta(days=6)
    leak = Fault(FaultType.SEAL_LEAK, "f", onset.timestamp(), severity=0.35, ramp_s=12 * 3600.0)
    healthy_findings, healthy_points = run(*held_fridge(10, [], 480.0))
    assert rise_judged(healthy_points), "the rise stream was learned"
    assert fired(healthy_findings) == []
    findings, points = run(*held_fridge(10, [leak], 480.0))
    confirmed = fired(findings)
    assert confirmed, "the leak is confirmed"
    hours = (confirmed[0].at_ms - onset.timestamp() * 1000) / HOUR_MS
    assert 0 <= hours <= 24
    assert "rise" in str(confirmed[0].evidence["evidence_streams"]).split("+")
    # the rise alone reaches its threshold within the day, with a move of the leak's size
    risen = [
        p
        for p in rise_judged(points)
        if p.ts >= onset and float(p.evidence["rise_evidence"]) >= 1.0  # type: ignore[arg-type]
    ]
    assert risen and (risen[0].ts - onset).total_seconds() / 3600 <= 24
    assert float(risen[0].evidence["rise_evidence_move"]) >= 0.25  # type: ignore[arg-type]
    # before the onset it stood well below it: its off times and rises read between readings
    before = [p for p in rise_judged(points) if onset - timedelta(days=1) <= p.ts < onset]
    assert max(float(p.evidence["rise_evidence"]) for p in before) < 0.5  # type: ignore[arg-type]


def test_a_coarse_display_learns_no_rise_stream() -> None:
    # a 1 K fridge read by a 0.5 K display: its teeth read as 2 K, in four steps
    plant = ColdPlant(differential_k=1.0, resolution_c=0.5)
    rows = cold_plant.fridge("f", MIDNIGHT, 8, plant, seed=1)
    findings, points = run(engine(plant.interval_s), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and all("evidence" in p.evidence for p in judged), "the cycles are judged"
    assert not rise_judged(judged)
    assert findings == []


def learned_hours(days: int, rng: np.random.Generator) -> list[HourFeatures]:
    """`days` of hours, each with four clean cycles scattered by `SIGMA` about the norm."""
    out = []
    for i in range(days * 24):
        hour = HourFeatures(i * HOUR_MS, i % 24)
        for _ in range(4):
            warm = WARM * math.exp(rng.normal(0, SIGMA))
            hour.warm.append(warm)
            hour.cool.append(30.0)
            hour.duty.append(None)
            hour.duty_read.append(0.0)
            hour.rate_read.append(0.02)
            hour.warm_fit.append(warm)
            hour.cool_fit.append(30.0)
            off_ms = OFF_MS * math.exp(rng.normal(0, SIGMA))
            hour.off_ms.append(off_ms)
            hour.off_read.append(0.05)
            hour.rise_c.append(warm * off_ms / HOUR_MS)
        out.append(hour)
    return out


def test_the_rise_stream_survives_a_restart_and_an_older_state_loads() -> None:
    hours = learned_hours(4, np.random.default_rng(3))
    model = learn_cusum(hours, score=score_rise)
    assert model is not None and PACE in model.hours[5].center and RISE in model.hours[5].center
    state = ColdSealState(history=hours[-3:], rise_model=model)
    state.rise.add(1.5, 0.2, model)
    saved = json.loads(json.dumps(dump_state(state)))
    restored = load_state(ColdSealState, saved)
    assert restored.rise_model == model and restored.rise == state.rise
    assert restored.history[-1].off_ms == hours[-1].off_ms
    assert restored.history[-1].rise_c == hours[-1].rise_c
    # a state saved before rises were read where the air turned: each cycle's rise is its off
    # time times its warming rate, as it was read then
    for hour in saved["history"]:
        del hour["rise_c"]
    earlier = load_state(ColdSealState, saved)
    assert earlier.history[-1].rise_c == []
    assert [logs[RISE] for logs in cycle_logs(earlier.history[-1])] == pytest.approx(
        [logs[RISE] for logs in cycle_logs(hours[-1])]
    )
    # a state saved before the stream existed: no rise model, hours without off times
    del saved["rise_model"], saved["rise"]
    for hour in saved["history"]:
        del hour["off_ms"], hour["off_read"]
    older = load_state(ColdSealState, saved)
    assert older.rise_model is None and older.history[-1].off_ms == []
    assert all(PACE not in logs for logs in cycle_logs(older.history[-1]))


def test_beside_a_meter_the_rise_is_learned_and_the_leak_confirmed() -> None:
    # when the rise may speak alone beside a meter: tests/alerts/test_seal_fuse.py
    onset = MIDNIGHT + timedelta(days=6)
    leak = Fault(FaultType.SEAL_LEAK, "f", onset.timestamp(), severity=0.35, ramp_s=12 * 3600.0)
    findings, points = run(*held_fridge(10, [leak], 480.0, metered=True))
    assert rise_judged(points), "the rise stream is learned beside the meter too"
    assert fired(findings), "the leak is confirmed"
