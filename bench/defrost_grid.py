"""How well a bare probe's learned defrost timer (`alerts.rules.disturbance`) matches the plant's
own defrosts.

Run ``python -m bench.defrost_grid [--families held-out|tuning|all|NAME,...] [--seed 1[,2...]]
[--start YYYY-MM-DD]``. Each unit of the detection bench's cohorts (`bench.detection_cold`,
the independent plant) is read by its probe alone, every reading fed to the unit's own
`Disturbances` as the service would; every 5 min the timer's window is looked at while the
timer is believed (`seal_quiet.timer_confirmed`: the windows that pause the seal's evidence and
excuse a defrost's warmth). Per family it prints:

- window h: hours under a believed window;
- false h: of them, hours whose window held none of the plant's defrosts (the seal rule's clean
  hours held out, a warm spell excused, for nothing);
- missed: the plant's defrosts, after a timer was first believed, that no window held (left
  to the defrost's signature, `defrost_signature`).

No timer and no window is no failure here: a unit whose spells show no period is told by its
signature alone.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from alerts.engine import RuleEngine
from alerts.rules.disturbance import Disturbances
from alerts.rules.seal_quiet import timer_confirmed
from alerts.samples import Sample
from bench.detection_cold import Cohort, ColdPlan, build_cohort, config_of, deliveries
from core.clock import StepClock, utc_from_ms
from core.rule_settings import RuleSettings
from firmware_sim.families import families_named

ZONE_NAME = "Asia/Shanghai"
STEP_MS = 300_000


@dataclass(slots=True)
class GridScore:
    """Hours under a believed window, those that held no defrost, and the defrosts due after
    the timer was first believed, with those no window held."""

    window_h: float = 0.0
    false_h: float = 0.0
    missed: int = 0
    defrosts: int = 0

    def add(self, other: GridScore) -> None:
        self.window_h += other.window_h
        self.false_h += other.false_h
        self.missed += other.missed
        self.defrosts += other.defrosts


def plant_defrosts(cohort: Cohort, j: int) -> list[tuple[float, float]]:
    """Unit `j`'s defrosts as the plant ran them: (start, end) in ms."""
    on = cohort.run.defrost[:, j].astype(np.int8)
    edges = np.flatnonzero(np.diff(on)) + 1
    times = cohort.run.times * 1000.0
    starts = [times[k] for k in edges if on[k]]
    ends = [times[k] for k in edges if not on[k]]
    return [(a, next((b for b in ends if b > a), a)) for a in starts]


def score_unit(
    disturbances: Disturbances, readings: list[tuple[int, float]], spans: list[tuple[float, float]]
) -> GridScore:
    """Feed `readings` (ms, °C) to `disturbances` and score its windows against `spans`."""
    score, held = GridScore(), set()
    first_believed: int | None = None
    due = readings[0][0] - readings[0][0] % STEP_MS + STEP_MS
    for ts, temp in readings:
        disturbances.observe(Sample(ts, {"temp_c": temp}))
        while ts >= due:
            window = disturbances.timer_window(due)
            if window is not None and timer_confirmed(disturbances, due):
                first_believed = first_believed or due
                score.window_h += STEP_MS / 3.6e6
                inside = [k for k, (a, b) in enumerate(spans) if a <= window[1] and b >= window[0]]
                score.false_h += 0.0 if inside else STEP_MS / 3.6e6
                held.update(inside)
            due += STEP_MS
    after = [k for k, (a, _) in enumerate(spans) if first_believed and a > first_believed]
    score.defrosts = len(after)
    score.missed = sum(1 for k in after if k not in held)
    return score


def score_cohort(cohort: Cohort, seed: int) -> GridScore:
    """Every unit of `cohort`, read by its probe alone (the `temp` variant of `seed`)."""
    readings: dict[str, list[tuple[int, float]]] = {}
    found = deliveries(cohort, "temp", seed)
    for devices, metric, ts, values in zip(
        found.device, found.metric, found.ts_ms, found.value, strict=True
    ):
        if len(ts) and metric[0] == "temp_c":
            readings.setdefault(str(devices[0]), []).extend(
                zip(ts.tolist(), values.tolist(), strict=True)
            )
    config = config_of(cohort)
    total = GridScore()
    for j, device in enumerate(cohort.ids):
        rows = sorted(readings.get(device, []))
        if not rows:
            continue
        engine = RuleEngine(config, StepClock(utc_from_ms(rows[0][0])))
        disturbances = engine.devices[device].disturbances
        if disturbances is not None:
            total.add(score_unit(disturbances, rows, plant_defrosts(cohort, j)))
    return total


def row(name: str, score: GridScore) -> str:
    missed = f"{score.missed} / {score.defrosts}"
    return f"{name:28s} {score.window_h:9.0f} {score.false_h:8.0f} {missed:>12s}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="held-out", help="held-out, tuning, all or names")
    parser.add_argument("--seed", default="1", help="comma-separated seeds")
    parser.add_argument("--start", default="2024-11-04", help="the cohorts' first local day")
    parser.add_argument("--days", type=float, default=12.0)
    args = parser.parse_args(argv)
    start = datetime.combine(
        date.fromisoformat(args.start), datetime.min.time(), ZoneInfo(ZONE_NAME)
    )
    plan = ColdPlan(days=args.days)
    baseline = RuleSettings().seal_baseline_days
    print(f"{'family':28s} {'window h':>9s} {'false h':>8s} {'missed':>12s}")
    overall = GridScore()
    for family in families_named(args.families):
        score = GridScore()
        for seed in (int(s) for s in args.seed.split(",")):
            score.add(
                score_cohort(build_cohort(family, plan, seed, start.timestamp(), baseline), seed)
            )
        overall.add(score)
        print(row(family.name, score))
    print(row("all", overall))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
