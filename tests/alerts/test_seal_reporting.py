"""A probe that reports on change (a reading when its value moved by a set step) is told from
one read at a pace, and the seal rule judges nothing from its teeth: on the bench's held-out
families such probes raised false seal alerts on healthy units (issue 11). What it judges
instead: `test_seal_reported_paces`."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from alerts.rules.seal_reporting import ReportPace, note_reading, reports_on_change
from alerts.seal_basis import seal_basis
from tests.alerts import cold_plant
from tests.alerts.cold_plant import ColdPlant
from tests.alerts.conftest import MIDNIGHT
from tests.alerts.test_seal_inference import engine, run

SILENCE_MS = 3 * 3_600_000


def pace_of(readings: list[tuple[float, float]]) -> ReportPace:
    pace = ReportPace()
    for t, temp in readings:
        note_reading(pace, round(t * 1000), temp, SILENCE_MS)
    return pace


def sawtooth(
    every_s: float, warm: float, pull: float, noise: float, seed: int
) -> list[tuple[float, float]]:
    """(s, °C) every `every_s` of a 3-5 °C sawtooth warming `warm` K/h and pulling down
    `pull` K/h, with noise, shown to 0.1 K."""
    rng = np.random.default_rng(seed)
    out, temp, rising = [], 3.0, True
    for t in np.arange(0, 8 * 3600, every_s):
        temp += (warm if rising else -pull) * every_s / 3600
        rising = temp < 5.0 if rising else temp <= 3.0
        out.append((float(t), round(temp + rng.normal(0, noise), 1)))
    return out


def on_change(readings: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    out = readings[:1]
    for t, temp in readings[1:]:
        if abs(temp - out[-1][1]) >= step - 1e-9 or t - out[-1][0] >= 3600:
            out.append((t, temp))
    return out


def test_readings_at_a_pace_are_told_from_readings_on_change() -> None:
    rng = np.random.default_rng(5)
    for every_s, noise in ((30.0, 0.0), (60.0, 0.05), (300.0, 0.05)):
        steady = sawtooth(every_s, 4.0, 12.0, noise, 1)
        jittered = [(t + rng.uniform(-2, 2), c) for t, c in steady]
        assert not reports_on_change(pace_of(jittered))
        dropped = [r for r in jittered if rng.random() > 0.1]  # one reading in ten lost
        assert not reports_on_change(pace_of(dropped))
    # the same sawtooth sampled every 10 s and passed on when it moved by a step: told by its
    # smallest move where the step is coarser than the display, by its gaps where noise and
    # turns vary them, either way where both hold
    for step, warm, noise in ((0.3, 6.0, 0.0), (0.1, 4.0, 0.05), (0.2, 4.0, 0.03)):
        shown = on_change(sawtooth(10.0, warm, 12.0, noise, 2), step)
        assert reports_on_change(pace_of(shown)), (step, warm, noise)
        assert not reports_on_change(pace_of(shown[:50]))  # too few readings yet to tell


def test_an_outage_is_no_gap_of_the_pace() -> None:
    minute = sawtooth(60.0, 4.0, 12.0, 0.0, 3)[:150]
    after = [(t + minute[-1][0] + 5 * 3600, c) for t, c in minute]
    pace = pace_of(minute + after)
    assert pace.irregular == 0.0 and not reports_on_change(pace)


def test_a_probe_at_a_pace_is_judged_as_before() -> None:
    plant = ColdPlant(differential_k=2.0, interval_s=60.0, noise_c=0.03)
    leak_from = MIDNIGHT + timedelta(days=7)
    rows = cold_plant.fridge("f", MIDNIGHT, 10, plant, seed=4, leak_ua=5.0, leak_from=leak_from)
    findings, points = run(engine(60.0), rows)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and not any("probe_on_change" in p.evidence for p in judged)
    assert findings  # the leak is confirmed from the same plant read at a pace


def test_a_meter_beside_a_probe_on_change_is_judged_on_its_own() -> None:
    plant = ColdPlant(differential_k=2.0, interval_s=10.0, noise_c=0.03, metered=True)
    leak_from = MIDNIGHT + timedelta(days=7)
    rows = cold_plant.fridge("f", MIDNIGHT, 10, plant, seed=4, leak_ua=5.0, leak_from=leak_from)
    sent: list[cold_plant.Row] = []
    last: tuple[float, float] | None = None  # (s, °C) of the last temperature reported
    for device, at, values in rows:
        temp, t = values["temp_c"], at.timestamp()
        if last is None or abs(temp - last[1]) >= 0.3 - 1e-9 or t - last[0] >= 3600:
            sent.append((device, at, values))
            last = (t, temp)
        else:
            sent.append((device, at, {k: v for k, v in values.items() if k != "temp_c"}))
    findings, points = run(engine(3600.0), sent)
    judged = [p for p in points if "learning" not in p.evidence]
    assert judged and judged[-1].evidence.get("probe_on_change") == 1
    assert findings, "the meter confirms the leak"
    streams = {f.evidence.get("evidence_streams") for f in findings}
    assert streams <= {"duty", "power", "duty+power"}, streams
    basis = seal_basis(judged[-1])
    assert basis is not None and "judged on" in basis.text(3600.0)["en"]
