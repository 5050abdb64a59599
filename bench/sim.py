"""Simulator throughput: batch mode on 30 days of the demo school, and live-mode capacity.

Run ``python -m bench.sim [--days N] [--skip-live] [--json-only]``. One JSON object goes to
stdout; progress goes to stderr.

Batch
    The healthy-week scenario (`examples/scenarios/healthy-week.yaml`, all 20 devices of the
    demo school) stretched to `--days` (default 30), run by `run_batch` into a temporary
    directory: simulation, ground truth and the Parquet/JSONL files, timed end to end. The
    baseline, measured in the same run, is pyarrow alone writing the same readings table to
    Parquet: `batch_vs_parquet_write` says how close the whole batch comes to just writing its
    output. The issue's target is 30 days in well under a minute; here, under 20 s.
    `peak_rss_mb` is this process's VmHWM right after the batch run.

Live
    `bench.sim_live.measure_live_devices_sustained()` (the live engineer's bench, in its own
    child process with a real mosquitto); its keys are merged as they are. It discards a
    warm-up after the fleet starts and judges each speed on several windows (its docstring
    says how); the warm-up, every window and each speed's verdict are printed to stderr, so
    the spread behind `live_devices_sustained` is in view. Without that module
    `live_devices_sustained` is null and `live_note` says why.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from firmware_sim.batch import run_batch
from firmware_sim.scenario import Scenario, load_scenario

__all__ = ["main", "measure_batch"]

SCENARIO = Path(__file__).resolve().parent.parent / "examples" / "scenarios" / "healthy-week.yaml"
TARGET_WALL_S = 20.0


def measure_batch(days: float = 30.0) -> dict[str, Any]:
    """Run the demo school for `days` in batch mode and time it against a bare Parquet write."""
    scenario = _stretched(load_scenario(SCENARIO), days)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        result = run_batch(scenario, Path(tmp) / "out")
        peak = _peak_rss_mb()
        table = pq.read_table(result.out / "readings.parquet")
        began = time.perf_counter()
        pq.write_table(table, Path(tmp) / "baseline.parquet", compression="zstd")
        write_s = time.perf_counter() - began
        size_mb = (result.out / "readings.parquet").stat().st_size / 1e6
    return {
        "batch_readings_per_s": round(result.readings_per_s),
        "batch_wall_s": round(result.wall_s, 2),
        "batch_readings": result.readings,
        "batch_devices": result.devices,
        "batch_days": result.simulated_days,
        "batch_parquet_mb": round(size_mb, 1),
        "parquet_write_rows_per_s": round(table.num_rows / write_s),
        "batch_vs_parquet_write": round(result.wall_s and write_s / result.wall_s, 3),
        "batch_meets_target": result.wall_s < TARGET_WALL_S,
        "peak_rss_mb": round(peak, 1),
    }


def measure_live() -> dict[str, Any]:
    try:
        live = importlib.import_module("bench.sim_live")
    except ModuleNotFoundError:
        return {"live_devices_sustained": None, "live_note": "bench.sim_live is not there yet"}
    try:
        result: dict[str, Any] = live.measure_live_devices_sustained()
    except Exception as exc:  # a broken live bench must not hide the batch figures
        return {"live_devices_sustained": None, "live_note": f"bench.sim_live failed: {exc!r}"}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sim", description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=float, default=30.0, help="simulated days (default 30)")
    parser.add_argument("--skip-live", action="store_true", help="batch mode only")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        if not args.json_only:
            print(message, file=sys.stderr)

    say(f"batch: {args.days:g} days of the demo school ...")
    figures = measure_batch(args.days)
    say(f"batch: {figures['batch_readings']:,} readings in {figures['batch_wall_s']} s")
    if args.skip_live:
        figures |= {"live_devices_sustained": None, "live_note": "skipped (--skip-live)"}
    else:
        say("live: bench.sim_live (about two minutes) ...")
        figures |= measure_live()
        for line in _window_lines(figures):
            say(f"live: {line}")
    print(json.dumps(figures))
    return 0


def _window_lines(figures: dict[str, Any]) -> list[str]:
    if figures.get("live_windows") is None:
        return []
    lines: list[str] = importlib.import_module("bench.sim_live").window_lines(figures)
    return lines


def _stretched(scenario: Scenario, days: float) -> Scenario:
    return dataclasses.replace(scenario, end_s=scenario.start_s + days * 86_400.0)


def _peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # the high-water mark of this address space, in kB
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


if __name__ == "__main__":
    sys.exit(main())
