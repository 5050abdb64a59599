"""Energy report speed: the monthly report for all buildings from the store, against the same
figures computed with pandas on the raw rows, in the same run.

Run ``python -m bench.energy [--month 2026-03] [--runs 3] [--db FILE] [--json-only]``. One
JSON object goes to stdout; progress goes to stderr.

Method
    1. A child process writes one school year (2025-09-01 to 2026-08-31) of 1-minute readings
       of 20 buildings × 3 meters (about 31.5 M readings) into a DuckDB file with the store's
       schema (`bench.energy_data`). Not measured; `generate_s` says how long it took. With
       `--db FILE` an existing file is reused (its replacement note sits beside it).
    2. The bench opens the file with `DuckDBStore` and builds the report of the month for all
       buildings (`energy.build_report`: this month, the previous one and the baseline days in
       one store query, the same month a year before in another, anomalies): `--runs` times;
       `report_s` is the median, `report_first_s` the first run (colder caches).
    3. It closes the store, fetches the raw rows of the month and the month before into pandas
       and computes the same figures per meter (`bench.energy_pandas`); `pandas_s` includes
       fetching the rows, which is what "pulling raw rows into Python" costs.
    4. Consumption, cost and completeness of every meter this month, and its consumption last
       month, must agree to 1e-6 (relative) or the bench fails with exit code 1.
    `ratio` is pandas_s / report_s. `peak_rss_mb` is the bench process's VmHWM (report and
    pandas; generation runs in its own process).

The target (issue): the monthly report for all buildings in at most 1 s (`meets_target`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.energy_data import bench_config, generate
from bench.energy_pandas import PandasFigures, pandas_figures
from energy.periods import PeriodKind, ReportPeriod
from energy.report import EnergyReport, LineRole, build_report
from ingest.duckdb_store import DuckDBStore

__all__ = ["main", "run_bench"]

TARGET_S = 1.0
TOLERANCE = 1e-6


class BenchError(Exception):
    """The figures disagree, or the data is not what the bench needs."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.energy", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--month", default="2026-03", help="report month, YYYY-MM (default 2026-03)"
    )
    parser.add_argument("--runs", type=int, default=3, help="report runs; the median is reported")
    parser.add_argument("--db", type=Path, help="reuse or keep the generated DuckDB file here")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    try:
        result = run_bench(
            ReportPeriod.parse(PeriodKind.MONTH, args.month),
            args.runs,
            args.db,
            quiet=args.json_only,
        )
    except BenchError as exc:
        print(f"bench.energy: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def run_bench(
    period: ReportPeriod, runs: int, db: Path | None, quiet: bool = False
) -> dict[str, Any]:
    def say(message: str) -> None:
        if not quiet:
            print(f"bench.energy: {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-energy-") as scratch:
        path = db or Path(scratch) / "year.duckdb"
        say(f"writing a school year of minute readings to {path} (not measured) ...")
        rows, final, generate_s = _data(path)
        config = bench_config(path, replaced_final=final)
        say(f"{rows:,} readings; building the {period.label} report {runs} times ...")
        store = DuckDBStore(path)
        try:
            times, report = _time_reports(config, store, period, runs)
        finally:
            store.close()
        say("the same figures with pandas on the raw rows ...")
        con = duckdb.connect(str(path), read_only=True)
        try:
            started = time.perf_counter()
            now = pandas_figures(config, con, *period.bounds(config.site.zone))
            before = pandas_figures(config, con, *period.previous().bounds(config.site.zone))
            pandas_s = time.perf_counter() - started
        finally:
            con.close()
        worst = _compare(report, now, before)
        report_s = statistics.median(times)
        return {
            "rows": rows,
            "month": period.label,
            "report_s": round(report_s, 3),
            "report_first_s": round(times[0], 3),
            "pandas_s": round(pandas_s, 3),
            "ratio": round(pandas_s / report_s, 1),
            "meets_target": report_s <= TARGET_S,
            "agree": True,
            "max_rel_diff": worst,
            "steps_for_review": sum(1 for s in report.steps if s.step.kind.for_review),
            "gaps": sum(1 for s in report.steps if s.step.gap),
            "anomalies": len(report.anomalies),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "generate_s": round(generate_s, 1),
            "file_mb": round(path.stat().st_size / 2**20),
        }


def _data(path: Path) -> tuple[int, float, float]:
    """Generate the year in a child process (its memory is not the report's), or reuse it."""
    note = path.with_suffix(".json")
    if path.exists() and note.exists():
        saved = json.loads(note.read_text())
        return int(saved["rows"]), float(saved["final"]), 0.0
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        rows, final = pool.apply(generate, (path,))
    note.write_text(json.dumps({"rows": rows, "final": final}))
    return rows, final, time.perf_counter() - started


def _time_reports(
    config: Any, store: DuckDBStore, period: ReportPeriod, runs: int
) -> tuple[list[float], EnergyReport]:
    times = []
    report = None
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        report = build_report(config, store, period)
        times.append(time.perf_counter() - started)
    assert report is not None
    return times, report


def _compare(
    report: EnergyReport, now: dict[str, PandasFigures], before: dict[str, PandasFigures]
) -> float:
    """Largest relative difference over every meter's figures; BenchError beyond tolerance."""
    worst = 0.0
    for line in report.lines:
        if line.building is None or line.role is not LineRole.TOTAL:
            continue
        [meter] = line.meters
        pairs = [
            ("consumption", line.current.consumption, now[meter].consumption),
            # Use across gaps is priced by the meter's own profile (an estimate the yardstick
            # does not redo): the cost of measured use is compared, the gap's use above.
            (
                "cost of measured use",
                (line.current.cost or 0.0) - line.current.cost_estimated,
                now[meter].measured_cost,
            ),
            ("completeness", line.current.completeness, now[meter].completeness),
            (
                "previous",
                line.previous.consumption if line.previous else 0.0,
                before[meter].consumption,
            ),
        ]
        for name, ours, theirs in pairs:
            difference = abs(ours - theirs) / max(abs(theirs), 1e-9)
            if difference > TOLERANCE:
                raise BenchError(f"{meter} {name}: report {ours!r}, pandas {theirs!r}")
            worst = max(worst, difference)
    return worst


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # this process's high-water mark, in kB
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
