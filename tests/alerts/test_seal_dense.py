"""A probe read every couple of seconds: the seal rule takes a temperature alone once per 10 s
(a cabinet's cycle lasts minutes), every reading that carries the compressor, its power or the
door, and the other rules still see every reading."""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np

from alerts.engine import RuleEngine
from alerts.rules.seal_cold import ColdSealRule
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

Row = cold_plant.Row


def dense(rows: list[Row], every_s: float, noise_c: float, seed: int) -> list[Row]:
    """`rows` (10 s apart) with readings in between, each the row before with fresh probe
    noise: what a probe reporting every `every_s` would add."""
    rng = np.random.default_rng(seed)
    out: list[Row] = []
    for device, at, metrics in rows:
        out.append((device, at, metrics))
        for k in range(1, round(10.0 / every_s)):
            temp = metrics["temp_c"] + float(rng.normal(0, noise_c))
            extra = {"temp_c": round(temp, 1)}
            out.append((device, at + timedelta(seconds=k * every_s), extra))
    return out


def seal_rule(rules: RuleEngine) -> ColdSealRule:
    (rule,) = [r for r in rules.devices["f"].rules if isinstance(r, ColdSealRule)]
    return rule


def test_a_dense_probe_teaches_the_cycle_inference_what_its_10_s_readings_would() -> None:
    plant = ColdPlant(differential_k=2.0, interval_s=10.0, noise_c=0.05)
    rows = cold_plant.fridge("f", MIDNIGHT, 1.5, plant, seed=3)
    sparse_rules, dense_rules = engine(10.0), engine(10.0)
    run(sparse_rules, rows)
    run(dense_rules, dense(rows, 2.0, 0.3, seed=4))
    taught, seen = seal_rule(sparse_rules).state.cycles, seal_rule(dense_rules).state.cycles
    # The readings in between (noisier than the rows: taken, they would move every figure)
    # were passed over: the probe's resolution, noise, gaps and teeth are the 10 s stream's.
    assert len(taught.swings) > 10
    for name in ("step_c", "d2_median", "gaps_ms", "slopes", "swings", "peaks", "rates"):
        assert getattr(seen, name) == getattr(taught, name), name


def test_readings_with_the_compressor_or_the_door_are_all_taken() -> None:
    plant = ColdPlant(differential_k=2.0, interval_s=10.0, metered=True)
    rows = cold_plant.fridge("f", MIDNIGHT, 0.5, plant, seed=5)
    # 5 s before each compressor start, the meter's start already (beside the row's temperature): a
    # meter reporting each change as it comes, between two temperatures.
    between: list[Row] = []
    starts = 0
    for (device, at, metrics), (_, _, after) in itertools.pairwise(rows):
        between.append((device, at, metrics))
        if after["power_w"] > metrics["power_w"] == 15.0:
            starts += 1
            early = {"temp_c": metrics["temp_c"], "power_w": after["power_w"]}
            between.append((device, at + timedelta(seconds=5), early))
    between.append(rows[-1])
    sparse_rules, dense_rules = engine(10.0), engine(10.0)
    run(sparse_rules, rows)
    run(dense_rules, between)
    sparse, dense_ = seal_rule(sparse_rules).state.cycles, seal_rule(dense_rules).state.cycles
    # Each start came 5 s sooner and was taken: 5 s more on-time a start.
    assert starts > 10
    assert dense_.metered_ms >= sparse.metered_ms  # the first start tells the draw 5 s sooner
    assert dense_.on_ms == sparse.on_ms + starts * 5_000
