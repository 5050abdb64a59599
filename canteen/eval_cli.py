"""`canteen eval --scenario FILE`: a scenario simulated in batch mode, replayed through the real
rules and alert lifecycle (with a real DuckDB alert store), scored against its ground truth.

Prints one JSON object keyed by rule (see `alerts.evaluation`). The replay and the scoring are
`alerts.replay`; this module wires the simulator's files and a store to it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from alerts.replay import EvalResult, evaluate_run, only_devices
from core.clock import utc_from_ms
from core.readings import ReadingBatch
from ingest.duckdb_alerts import DuckDBAlertStore

__all__ = ["evaluate_scenario", "register"]


def register(subparsers: Any) -> None:
    """Add `eval` to the `canteen` command's subparsers."""
    parser = subparsers.add_parser(
        "eval", help="score the rules on a simulated scenario against its ground truth"
    )
    parser.add_argument("--scenario", type=Path, required=True, help="scenario file (YAML)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.set_defaults(handler=_handle)


async def _handle(args: argparse.Namespace, stop: asyncio.Event) -> None:
    result = await asyncio.to_thread(evaluate_scenario, args.scenario, args.seed)
    print(json.dumps(result.scores, indent=2, sort_keys=True))


def evaluate_scenario(path: Path, seed: int | None = None) -> EvalResult:
    """Simulate the scenario, replay it through the rules with the rule settings of its site
    config, and score what they raised."""
    from firmware_sim.batch import run_batch
    from firmware_sim.scenario import load_scenario

    scenario = load_scenario(path)
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    config = only_devices(scenario.config, [d.id for d in scenario.devices])
    span = (utc_from_ms(int(scenario.start_s * 1000)), utc_from_ms(int(scenario.end_s * 1000)))
    with tempfile.TemporaryDirectory(prefix="canteen-eval-") as tmp:
        out = Path(tmp)
        run_batch(scenario, out / "sim")
        with (out / "sim" / "ground_truth.jsonl").open() as lines:
            truth = [json.loads(line) for line in lines]
        readings = _readings(out / "sim" / "readings.parquet", config.site.id)
        store = DuckDBAlertStore(out / "alerts.duckdb")
        try:
            return evaluate_run(
                config, readings, truth, store, span, name=scenario.name, seed=scenario.seed
            )
        finally:
            store.close()


def _readings(path: Path, site: str) -> ReadingBatch:
    """The simulator's readings file as one batch of the site's readings."""
    table = pq.read_table(path, columns=["device", "metric", "ts", "value"])
    devices = table.column("device").to_pylist()
    return ReadingBatch(
        [site] * len(devices),
        devices,
        table.column("metric").to_pylist(),
        table.column("ts").cast("int64").to_numpy(),
        table.column("value").to_numpy().astype("float64"),
    )
