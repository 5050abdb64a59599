"""A healthy day of the demo school's fridges, freezers and sample fridge, read straight from the
models: what a canteen manager would see on the temperature log."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta

import pytest

from core.config import SiteConfig
from tests.firmware_sim.conftest import MONDAY, Trace, drive

FRIDGES = ["fridge-1", "fridge-2", "fridge-3", "fridge-4", "sample-fridge-1"]
FREEZERS = ["freezer-1", "freezer-2"]
# After a defrost or a long door opening the cabinet takes a few minutes to pull down again; the
# default door grace period is 15 min (core.defaults).
GRACE_MIN = 15


def longest_run(flags: Sequence[bool]) -> int:
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def rising_edges(flags: Sequence[bool]) -> int:
    return sum(1 for a, b in itertools.pairwise(flags) if b and not a)


def disturbed(trace: Trace, minutes: float) -> list[bool]:
    """True for readings during a defrost or an open door, or within `minutes` after one: the
    rises the alert rules excuse (DESIGN.md: defrost, door grace period)."""
    marks, last = [], None
    for t, reading in zip(trace.times, trace.readings, strict=True):
        if reading["defrost_on"] or reading["door_open"]:
            last = t
        marks.append(last is not None and t - last <= timedelta(minutes=minutes))
    return marks


@pytest.mark.parametrize("device_id", FRIDGES)
def test_a_healthy_fridge_stays_within_its_limits_outside_defrost(
    demo: SiteConfig, device_id: str
) -> None:
    device = demo.device(device_id)
    assert device is not None
    limits = demo.limits_for(device)
    assert limits.low_c is not None and limits.high_c is not None
    trace = drive(demo, device_id)
    temps = trace.series("temp_c")
    excused = disturbed(trace, GRACE_MIN)

    outside = [not limits.low_c <= t <= limits.high_c for t in temps]
    unexcused = [o for o, e in zip(outside, excused, strict=True) if not e]
    assert sum(unexcused) / len(unexcused) < 0.01
    assert min(temps) >= limits.low_c  # a fridge never freezes its food
    # Never out of range long enough for the over-temperature alert to fire.
    assert limits.alert_after_min is not None
    assert longest_run(outside) * device.interval_s < limits.alert_after_min * 60


@pytest.mark.parametrize("device_id", FRIDGES + FREEZERS)
def test_compressor_duty_cycle_is_plausible(demo: SiteConfig, device_id: str) -> None:
    trace = drive(demo, device_id)
    duty = sum(trace.series("compressor_on")) / len(trace.readings)
    assert 0.20 <= duty <= 0.60
    # It cycles, rather than running flat out or sitting idle for hours.
    assert rising_edges([bool(r["compressor_on"]) for r in trace.readings]) >= 24


@pytest.mark.parametrize("device_id", FREEZERS)
def test_a_freezer_holds_near_minus_18(demo: SiteConfig, device_id: str) -> None:
    trace = drive(demo, device_id)
    temps = sorted(trace.series("temp_c"))
    assert -19.5 <= temps[len(temps) // 2] <= -16.5
    warm = [t > -12.0 for t in trace.series("temp_c")]
    excused = disturbed(trace, GRACE_MIN)
    assert not any(w for w, e in zip(warm, excused, strict=True) if not e)
    assert longest_run(warm) * 30 < 30 * 60  # a defrost warms it, but not for 30 min


@pytest.mark.parametrize("device_id", FRIDGES + FREEZERS)
def test_four_to_six_defrosts_a_day(demo: SiteConfig, device_id: str) -> None:
    trace = drive(demo, device_id, hours=48)
    defrosts = rising_edges([bool(r["defrost_on"]) for r in trace.readings])
    assert 8 <= defrosts <= 12
    # Each lasts about 20 minutes and stops the compressor.
    during = [r for r in trace.readings if r["defrost_on"]]
    assert 15 * 60 <= len(during) * 30 / defrosts <= 25 * 60
    assert not any(r["compressor_on"] for r in during)


def test_doors_open_with_the_kitchen_day(demo: SiteConfig) -> None:
    trace = drive(demo, "fridge-1", step_s=5)
    night = trace.between(MONDAY, MONDAY + timedelta(hours=4))  # 00:00-04:00 local
    cooking = trace.between(MONDAY + timedelta(hours=10), MONDAY + timedelta(hours=12.5))
    opened_at_night = rising_edges([bool(r["door_open"]) for r in night])
    opened_cooking = rising_edges([bool(r["door_open"]) for r in cooking])
    assert opened_at_night <= 2
    assert opened_cooking >= 8
    total = rising_edges([bool(r["door_open"]) for r in trace.readings])
    assert 30 <= total <= 120


def test_a_door_opening_warms_the_cabinet(demo: SiteConfig) -> None:
    trace = drive(demo, "fridge-1", step_s=5)
    rises = []
    for i in range(1, len(trace.readings) - 6):
        if trace.readings[i]["door_open"] and not trace.readings[i - 1]["door_open"]:
            rises.append(trace.readings[i + 6]["temp_c"] - trace.readings[i - 1]["temp_c"])
    assert rises and sum(rises) / len(rises) > 0.3


def test_power_follows_the_compressor(demo: SiteConfig) -> None:
    trace = drive(demo, "fridge-1")
    for reading in trace.readings:
        if reading["compressor_on"]:
            assert 200 <= reading["power_w"] <= 300
        elif not reading["defrost_on"]:
            assert reading["power_w"] < 50


def test_temperatures_have_probe_resolution(demo: SiteConfig) -> None:
    trace = drive(demo, "freezer-1", hours=2)
    for value in trace.series("temp_c"):
        assert round(value, 1) == value
