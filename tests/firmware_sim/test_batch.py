"""Batch mode: a scenario straight to Parquet, events and ground truth, in the store's shape,
with every injected fault accounted for at its true times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from canteen.cli import main
from firmware_sim.batch import run_batch, sample_times
from firmware_sim.faults import FaultType
from firmware_sim.scenario import Scenario
from firmware_sim.truth import iso


@pytest.fixture(scope="module")
def out(small_scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("batch")
    run_batch(small_scenario, directory)
    return directory


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_readings_have_the_store_shape(out: Path) -> None:
    table = pq.read_table(out / "readings.parquet")
    assert table.schema.names == ["site", "device", "metric", "ts", "value"]
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("value").type == pa.float64()
    flags = pq.read_table(out / "readings.parquet", filters=[("metric", "=", "door_open")])
    assert set(flags.column("value").to_pylist()) == {0.0, 1.0}
    manifest = json.loads((out / "manifest.json").read_text())
    assert table.num_rows == manifest["readings"]
    assert set(table.column("device").to_pylist()) == set(manifest["devices"])


def test_duckdb_reads_it_as_the_readings_table(out: Path) -> None:
    rows = duckdb.sql(
        "SELECT device, count(*) AS n, min(ts) AS first FROM read_parquet(?) "
        "GROUP BY device ORDER BY device",
        params=[str(out / "readings.parquet")],
    ).fetchall()
    by_device = {device: (n, first) for device, n, first in rows}
    assert by_device["fridge-1"][0] == 2 * 2880 * 6  # two days at 30 s, six metrics
    assert by_device["fridge-1"][1] == datetime(2024, 11, 24, 16, tzinfo=UTC)  # 00:00 local


def test_every_fault_is_in_the_ground_truth_at_its_times(
    small_scenario: Scenario, out: Path
) -> None:
    assert {f.type for f in small_scenario.faults} == set(FaultType)  # each kind's measures run
    truth = lines(out / "ground_truth.jsonl")
    assert sorted(t["id"] for t in truth) == [f.index for f in small_scenario.faults]
    by_id = {t["id"]: t for t in truth}
    for fault in small_scenario.faults:
        record = by_id[fault.index]
        assert (record["fault"], record["device"]) == (fault.type.value, fault.device)
        assert record["onset"] == iso(fault.onset_s)
        assert record["end"] == (None if fault.end_s is None else iso(fault.end_s))
        assert record["severity"] == fault.severity
        assert record["expected"].startswith(f"{fault.device}: ") and record["measured"]


def test_the_truth_matches_the_data(small_scenario: Scenario, out: Path) -> None:
    """Spot checks that what the truth says happened is in the readings and events."""
    truth = {t["fault"] + ":" + t["device"]: t for t in lines(out / "ground_truth.jsonl")}
    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{out / 'readings.parquet'}')")
    offline = truth["device_offline:water-dormitory"]
    silent = con.execute(
        "SELECT count(*) FROM r WHERE device = 'water-dormitory' AND ts >= ?::TIMESTAMPTZ "
        "AND ts < ?::TIMESTAMPTZ",
        [offline["onset"], offline["end"]],
    ).fetchone()
    assert silent == (0,) and offline["measured"]["missing_readings"] == 90
    leak = truth["seal_leak:fridge-1"]["measured"]
    assert leak["energy_kwh_per_day"][1] > 1.3 * leak["energy_kwh_per_day"][0]
    door = truth["door_left_open:fridge-2"]["measured"]
    assert door["above_limit_at"] is not None and door["minutes_to_limit"] < 60
    missed = truth["disinfection_missed:disinfect-1"]["measured"]["cycles"]
    assert [c["result"] for c in missed] == ["missed"]
    events = lines(out / "events.jsonl")
    lunch = [e for e in events if e["device"] == "disinfect-1" and e["meal"] == "lunch"]
    assert all(not e["ts"].startswith("2024-11-25T0") for e in lunch)  # none on Monday's lunch


def test_batch_readings_are_the_live_readings(small_scenario: Scenario, out: Path) -> None:
    device = next(d for d in small_scenario.devices if d.id == "fridge-2")
    model = small_scenario.build_model(device)  # live block length
    times = sample_times(small_scenario, device)[:600]
    live = [model.step_to(datetime.fromtimestamp(t, UTC)) for t in times]
    stored = duckdb.sql(
        "SELECT value FROM read_parquet(?) WHERE device = 'fridge-2' AND metric = 'temp_c' "
        "ORDER BY ts LIMIT 600",
        params=[str(out / "readings.parquet")],
    ).fetchall()
    assert [v for (v,) in stored] == [r["temp_c"] for r in live]


def test_the_cli_runs_a_scenario(
    small_scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "--scenario", str(small_scenario.path), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "scenario small, 11 devices, 2 days" in printed and "readings/s" in printed
    assert (tmp_path / "ground_truth.jsonl").exists()


def test_the_cli_says_live_scenarios_are_not_there_yet(small_scenario: Scenario) -> None:
    with pytest.raises(SystemExit, match="add --out DIR"):
        main(["sim", "--scenario", str(small_scenario.path)])


def test_devices_read_on_their_own_interval(small_scenario: Scenario) -> None:
    for device in small_scenario.devices:
        times = sample_times(small_scenario, device)
        assert times[0] == small_scenario.start_s and times[-1] < small_scenario.end_s
        assert np.all(np.diff(times) == device.interval_s)
