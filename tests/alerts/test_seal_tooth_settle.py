"""A clean tooth soon after a defrost counts for the seal where the unit's own learning days
showed such teeth to read as its quiet ones (`seal_settle`): then it waits
`seal_tooth_settle_h` instead of `seal_defrost_settle_h`, and adds half a quiet tooth's
evidence. A unit whose teeth after a defrost warmed faster keeps the full wait. The cabinets
are the simulator's units (`firmware_sim.families`) read by a bare probe (the defrosts seen
on the probe itself), through the real rule engine."""

from __future__ import annotations

import statistics

from alerts.engine import RuleEngine
from alerts.model import SealHealthPoint
from alerts.rules.seal_cold import ColdSealRule
from core.clock import StepClock
from firmware_sim.families import FAMILIES, Family
from tests.alerts.conftest import MIDNIGHT, school
from tests.alerts.test_seal_fuse import cabinet
from tests.alerts.test_seal_inference import run

HOUR_MS = 3_600_000


def _engine(interval_s: float, rules: dict[str, float]) -> RuleEngine:
    device = {"id": "f", "kind": "fridge", "building": "canteen", "interval_s": interval_s}
    return RuleEngine(school(devices=[{**device, "rules": rules}]), StepClock(MIDNIGHT))


def _seal(engine: RuleEngine) -> ColdSealRule:
    [rule] = [r for r in engine.devices["f"].rules if isinstance(r, ColdSealRule)]
    return rule


def _teeth_per_window(points: list[SealHealthPoint]) -> float:
    judged = [
        float(str(p.evidence["window_cycles"])) for p in points if "window_cycles" in p.evidence
    ]
    assert len(judged) > 48, "the baseline was learned and the unit judged for days"
    return statistics.mean(judged)


def _both(family: Family, index: int) -> tuple[ColdSealRule, float, float]:
    """The unit's seal rule as it is (no seal alert), and its clean teeth per window, and as
    many with the full wait."""
    rows, interval = cabinet(family, index, 9, interval_s=120.0)
    bare = [(device, at, {"temp_c": values["temp_c"]}) for device, at, values in rows]
    engine = _engine(interval, {})
    findings, points = run(engine, bare)
    assert findings == []
    _, points_waited = run(_engine(interval, {"seal_tooth_settle_h": 1.5}), bare)
    return _seal(engine), _teeth_per_window(points), _teeth_per_window(points_waited)


def test_a_fridge_whose_teeth_after_a_defrost_read_as_the_others_counts_them() -> None:
    rule, teeth, waited = _both(FAMILIES["small reach-in"], 4)
    assert rule.state.teeth_settle
    assert rule.state.settling == []  # kept apart only while learning
    assert teeth >= 1.15 * waited  # 28.0 against 22.2 clean teeth in a window


def test_a_walk_in_whose_teeth_after_a_defrost_warm_faster_keeps_the_full_wait() -> None:
    # its teeth after a defrost warmed 0.7 spreads faster than its quiet ones on its learning days
    rule, teeth, waited = _both(FAMILIES["walk-in cold room"], 0)
    assert not rule.state.teeth_settle
    assert teeth == waited


def test_a_tooth_never_waits_longer_than_the_hours_after_a_defrost() -> None:
    engine = _engine(60.0, {"seal_tooth_settle_h": 3.0, "seal_defrost_settle_h": 1.0})
    assert _seal(engine)._tooth_settle_ms == HOUR_MS
