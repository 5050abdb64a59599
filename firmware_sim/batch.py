"""Batch mode: a scenario simulated straight to files, without a broker::

    OUT/readings.parquet     site, device, metric, ts (timestamp[ms, UTC]), value (float64)
    OUT/events.jsonl         {"site", "device", "ts", "type", ...the event's data}
    OUT/ground_truth.jsonl   one record per injected fault (truth.py)
    OUT/manifest.json        what was run and how much came out

Readings have the shape of the store's `readings` table; flags are 0.0 / 1.0. Rows are grouped by
device (in the site config's order), then by time, then metric. A device that could not report
(offline, flat battery, meter being replaced) has no rows for those instants; a buffered outage
keeps them.

Each device is read once over the whole run in blocks of a day (`BATCH_BLOCK_STEPS`); its values
are exactly those a live device would publish at the same instants. The same scenario and seed
give byte-identical files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from core.model import Device
from firmware_sim.consequences import CONSEQUENCES
from firmware_sim.models import Reading, SimEvent
from firmware_sim.scenario import Scenario
from firmware_sim.truth import TWIN_FAULTS, DeviceRun, fault_truth, iso

__all__ = ["BATCH_BLOCK_STEPS", "BatchResult", "run_batch", "sample_times"]

BATCH_BLOCK_STEPS = 8640  # one day of 10 s steps
READINGS_SCHEMA = pa.schema(
    [
        ("site", pa.string()),
        ("device", pa.string()),
        ("metric", pa.string()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
    ]
)


@dataclass(frozen=True, slots=True)
class BatchResult:
    out: Path
    devices: int
    readings: int
    events: int
    faults: int
    simulated_days: float
    wall_s: float

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.wall_s if self.wall_s else float("inf")


class _ReadingsFile:
    """The readings Parquet file, written one device (one row group) at a time so memory holds
    a single device's readings, never the whole run."""

    def __init__(self, path: Path, site: str) -> None:
        self._writer = pq.ParquetWriter(path, READINGS_SCHEMA, compression="zstd")
        self._site = site
        self.rows = 0

    def add(self, device: str, reading: Reading) -> None:
        present, names = reading.present, list(reading.values)
        matrix = np.column_stack([reading.values[m][present].astype(np.float64) for m in names])
        ts = np.round(reading.times[present] * 1000.0).astype(np.int64)
        rows = len(ts) * len(names)
        metric_codes = np.tile(np.arange(len(names), dtype=np.int32), len(ts))
        table = pa.Table.from_arrays(
            [
                _strings(np.zeros(rows, np.int32), [self._site]),
                _strings(np.zeros(rows, np.int32), [device]),
                _strings(metric_codes, names),
                pa.array(np.repeat(ts, len(names))).cast(READINGS_SCHEMA.field("ts").type),
                pa.array(matrix.ravel()),  # row-major: each instant's metrics together
            ],
            schema=READINGS_SCHEMA,
        )
        self._writer.write_table(table, row_group_size=max(rows, 1))
        self.rows += rows

    def close(self) -> None:
        self._writer.close()


def run_batch(scenario: Scenario, out: Path) -> BatchResult:
    """Simulate the scenario and write readings, events, ground truth and a manifest to `out`."""
    began = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    site = scenario.config.site.id
    readings = _ReadingsFile(out / "readings.parquet", site)
    events: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    try:
        for device in scenario.devices:
            run, device_events = simulate_device(scenario, device)
            readings.add(device.id, run.reading)
            events.extend(_event_line(site, device.id, e) for e in device_events)
            truth.extend(_truth_lines(scenario, run))
    finally:
        readings.close()
    _write_lines(out / "events.jsonl", events)
    _write_lines(out / "ground_truth.jsonl", truth)
    days = (scenario.end_s - scenario.start_s) / 86_400.0
    manifest = _manifest(scenario, readings.rows, len(events), len(truth))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    wall = time.perf_counter() - began
    return BatchResult(
        out, len(scenario.devices), readings.rows, len(events), len(truth), days, wall
    )


def sample_times(scenario: Scenario, device: Device) -> npt.NDArray[np.float64]:
    """The instants the device reads: from the start, every `interval_s`, before the end."""
    count = int(np.ceil((scenario.end_s - scenario.start_s) / device.interval_s))
    return scenario.start_s + np.arange(count, dtype=np.float64) * device.interval_s


def simulate_device(scenario: Scenario, device: Device) -> tuple[DeviceRun, list[SimEvent]]:
    """One device over the whole scenario, with its healthy twin where the truth needs one."""
    times = sample_times(scenario, device)
    model = scenario.build_model(device, block_steps=BATCH_BLOCK_STEPS, keep_cycles=None)
    faults = scenario.faults_of(device.id)
    reading = model.read(times, truth=bool(faults))
    limits = scenario.config.limits_for(device)
    if not any(f.type in TWIN_FAULTS for f in faults):
        return DeviceRun(device, limits, model, reading), model.take_events()
    twin = scenario.build_model(
        device, faults=False, block_steps=BATCH_BLOCK_STEPS, keep_cycles=None
    )
    twin_reading = twin.read(times, truth=True)
    return DeviceRun(device, limits, model, reading, twin, twin_reading), model.take_events()


def _truth_lines(scenario: Scenario, run: DeviceRun) -> Iterator[dict[str, Any]]:
    zone = scenario.config.site.zone
    for fault in scenario.faults_of(run.device.id):
        yield fault_truth(run, fault, scenario.end_s, zone, CONSEQUENCES[fault.type])


def _event_line(site: str, device: str, event: SimEvent) -> dict[str, Any]:
    return {
        "site": site,
        "device": device,
        "ts": iso(event.ts.timestamp()),
        "type": event.type,
        **event.data,
    }


def _manifest(scenario: Scenario, readings: int, events: int, faults: int) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "site": scenario.config.site.id,
        "seed": scenario.seed,
        "start": iso(scenario.start_s),
        "end": iso(scenario.end_s),
        "devices": [d.id for d in scenario.devices],
        "holidays": sorted(d.isoformat() for d in scenario.holidays),
        "readings": readings,
        "events": events,
        "faults": faults,
        "files": ["readings.parquet", "events.jsonl", "ground_truth.jsonl"],
    }


def _write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as file:
        for line in lines:
            file.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


def _strings(codes: npt.NDArray[np.int32], names: list[str]) -> pa.Array:
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32()), pa.array(names, pa.string())
    )
    return dictionary.cast(pa.string())
