"""A probe that reports on change: each report is the instant the air crossed a step from the
last one, so two reports the same way time the air's pace over one step, wherever the
lattice of steps lies against the sawtooth, and the compressor's duty is read from those
paces (`seal_probe_duty.hour_reported_falls`); the teeth read through the step are not."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from alerts.engine import RuleEngine
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cold_state import ColdSealState, probe_move
from alerts.rules.seal_probe_duty import (
    hour_falls,
    hour_paced_falls,
    hour_reported_falls,
    probe_reading,
)
from alerts.seal_basis import seal_basis
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT, StepClock, school
from tests.alerts.test_seal_inference import engine, run
from tests.alerts.test_seal_probe_held import sawtooth

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def _reported_hours(duty: float, offset_c: float, step_c: float, seed: int) -> list[HourFeatures]:
    """Six hours of a probe that samples the sawtooth (lifted by `offset_c`, which moves the
    lattice of steps against it) every 10 s, shows it to 0.1 K and reports when the shown value
    moved by `step_c` since the last report."""
    rng = random.Random(seed)
    st = ColdSealState()
    hours = [HourFeatures(h * HOUR_MS, h) for h in range(7)]
    last: float | None = None
    at = rng.uniform(0, 1)
    while at < 6 * 60:
        shown = round((sawtooth(at, duty) + offset_c + rng.gauss(0, 0.01)) / 0.1) * 0.1
        if last is None or abs(shown - last) >= step_c - 1e-9:
            st.history, st.hour = hours[: int(at // 60)], hours[int(at // 60)]
            ts = round(at * MINUTE_MS)
            probe_move(st, ts, shown, 3 * HOUR_MS)
            st.cycles.last_ms, st.cycles.last_c = ts, shown
            last = shown
        at += 1 / 6
    st.moves.release(10 * HOUR_MS, hours)
    return [h for h in hours if h.readings]


def _share(hours: list[HourFeatures]) -> float:
    values = [v for h in hours if (v := hour_reported_falls(h)) is not None]
    assert values
    return sum(values) / len(values)


@pytest.mark.parametrize("offset_c", [0.0, 0.1, 0.2])
@pytest.mark.parametrize("duty", [0.3, 0.45])
def test_the_reported_paces_read_the_duty_wherever_the_lattice_lies(
    duty: float, offset_c: float
) -> None:
    # a 1.7 K sawtooth reported in 0.3 K steps: five or six steps a half. Timed from the
    # report before it, the first step after each turn spanned the turn, by as much as the
    # lattice left between the last report and the crest; timed by its own report, no pace
    # holds a turn
    hours = _reported_hours(duty, offset_c, 0.3, seed=int(10 * offset_c) + 1)
    assert probe_reading(hours, on_change=True) is hour_reported_falls
    assert _share(hours) == pytest.approx(duty, abs=0.03)


def test_halves_of_two_steps_are_not_read_on_change() -> None:
    # the same sawtooth reported in 0.6 K steps: two a half, one pace each at most, which the
    # lattice places; the hours give no reported share, and the probe keeps another reading
    hours = _reported_hours(0.3, 0.0, 0.6, seed=4)
    assert all(hour_reported_falls(h) is None for h in hours)
    assert probe_reading(hours, on_change=True) is not hour_reported_falls


def test_the_paces_cover_most_steps_for_a_share() -> None:
    hour = HourFeatures(0, 0, moves=12, fall_paces=4, rise_paces=3)
    hour.fall_pace_ms, hour.rise_pace_ms = 4 * 60_000, 3 * 140_000
    assert hour_reported_falls(hour) is None  # 7 paces of 12 steps
    hour.rise_paces, hour.rise_pace_ms = 4, 4 * 140_000
    assert hour_reported_falls(hour) == pytest.approx(hour_paced_falls(hour))
    assert hour_reported_falls(hour) == pytest.approx(60 / 200)


def test_a_probe_at_a_pace_is_not_read_as_reported() -> None:
    hours = _reported_hours(0.3, 0.0, 0.3, seed=5)
    assert probe_reading(hours) is not hour_reported_falls
    assert probe_reading(hours, on_change=False) in (hour_falls, hour_paced_falls)


def _on_change(rows: list[cold_plant.Row], step_c: float) -> list[cold_plant.Row]:
    kept: list[cold_plant.Row] = []
    for row in rows:
        temp = row[2]["temp_c"]
        if (
            not kept
            or abs(temp - kept[-1][2]["temp_c"]) >= step_c - 1e-9
            or row[1] - kept[-1][1] >= timedelta(hours=1)
        ):
            kept.append(row)
    return kept


@pytest.mark.parametrize("leak_ua", [0.0, 5.0])
def test_a_fridge_whose_probe_reports_on_change_is_judged_on_its_reported_paces(
    leak_ua: float,
) -> None:
    # the plant read every 10 s, passed on only when the shown value moved 0.3 K or an hour
    # went by: its teeth are not judged, its reported paces are, and they confirm the leak
    # and leave the healthy fridge alone
    plant = ColdPlant(differential_k=2.0, interval_s=10.0, noise_c=0.03)
    leak_from = MIDNIGHT + timedelta(days=7)
    rows = cold_plant.fridge("f", MIDNIGHT, 10, plant, seed=4, leak_ua=leak_ua, leak_from=leak_from)
    config = school(
        devices=[{"id": "f", "kind": "fridge", "building": "canteen", "interval_s": 3600.0}],
        rules={"seal_on_change_paces": True},
    )
    findings, points = run(RuleEngine(config, StepClock(MIDNIGHT)), _on_change(rows, 0.3))
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and all(p.evidence.get("probe_on_change") == 1 for p in judged)
    assert all(p.evidence.get("probe_reported") == 1 for p in judged)
    if leak_ua:
        assert findings and all(f.at_ms >= leak_from.timestamp() * 1000 for f in findings)
        assert {f.evidence.get("evidence_streams") for f in findings} == {"probe"}
    else:
        assert findings == []
    basis = seal_basis(judged[-1])
    assert basis is not None and basis.on_change and basis.reported
    words = basis.text(3600.0)["en"]
    assert "reports on change" in words
    assert "judged on the compressor's duty read from the probe's step times alone" in words


def test_a_probe_on_change_is_not_judged_unless_asked() -> None:
    # the same leaking fridge on change, the setting left off: nothing is judged from the
    # probe, and the basis says so and how to set the sensor
    plant = ColdPlant(differential_k=2.0, interval_s=10.0, noise_c=0.03)
    leak_from = MIDNIGHT + timedelta(days=7)
    rows = cold_plant.fridge("f", MIDNIGHT, 10, plant, seed=4, leak_ua=5.0, leak_from=leak_from)
    findings, points = run(engine(3600.0), _on_change(rows, 0.3))
    assert findings == []
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and all(p.evidence.get("probe_on_change") == 1 for p in judged)
    assert not any("probe_reported" in p.evidence for p in judged)
    basis = seal_basis(judged[-1])
    assert basis is not None and basis.on_change and not basis.reported
    assert "so the seal is not judged" in basis.text(3600.0)["en"]
