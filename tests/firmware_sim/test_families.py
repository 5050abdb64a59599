"""Plant families: every draw lies inside its family's ranges, and a seed gives the same units
again (the bench's held-out figures must be repeatable)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.config import SiteConfig
from firmware_sim.families import (
    FAMILIES,
    HELD_OUT,
    TUNING,
    Family,
    PlantUnit,
    Span,
    cold_params,
    draw_units,
    families_named,
)
from firmware_sim.models import ColdStorageModel, SiteDay
from tests.firmware_sim.conftest import MONDAY

UNITS = 40


def spans(family: Family) -> dict[str, Span]:
    return {
        f.name: getattr(family, f.name)
        for f in dataclasses.fields(family)
        if isinstance(getattr(family, f.name), Span)
    }


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_drawn_parameter_lies_in_its_family_range(name: str) -> None:
    family = FAMILIES[name]
    for unit in draw_units(family, UNITS, seed=3):
        assert unit.family == name and unit.kind is family.kind
        for field, span in spans(family).items():
            if hasattr(unit, field) and field != "defrost_drift_min_per_day":  # signed, or 0
                assert span.holds(getattr(unit, field)), (name, unit.index, field)
        # Derived values: the cooling was sized as margin x steady load, so the design duty is
        # 1 / margin; the leak is the ratio times the wall.
        margin = family.capacity_margin
        assert 1 / margin.high - 1e-9 <= unit.design_duty <= 1 / margin.low + 1e-9
        assert family.leak_ua_ratio.holds(unit.leak_ua_w_per_k / unit.wall_ua_w_per_k)
        low, high = family.defrosts_per_day
        assert low <= unit.defrosts_per_day <= high
        assert unit.probe_resolution_c in family.probe_resolutions_c
        assert unit.interval_s in family.intervals_s
        drift = abs(unit.defrost_drift_min_per_day)
        assert drift == 0 or family.defrost_drift_min_per_day.holds(drift)


def test_the_issue_ranges_hold_across_all_families() -> None:
    """Thermostat differential 1-4 K, 2-6 defrosts a day, probe step 0.1-0.5 K, a report every
    30 s to 5 min (issue 11)."""
    for family in FAMILIES.values():
        for unit in draw_units(family, UNITS, seed=11):
            assert 1.0 <= unit.differential_k <= 4.0
            assert 2 <= unit.defrosts_per_day <= 6
            assert 0.1 <= unit.probe_resolution_c <= 0.5
            assert 30.0 <= unit.interval_s <= 300.0


def test_draws_are_reproducible_by_seed_and_stable_by_index() -> None:
    family = FAMILIES["walk-in cold room"]
    first = draw_units(family, 10, seed=7)
    assert draw_units(family, 10, seed=7) == first
    assert draw_units(family, 3, seed=7) == first[:3]  # unit 2 does not depend on the count
    assert draw_units(family, 4, seed=7, first=6) == first[6:]
    assert draw_units(family, 10, seed=8) != first


def test_families_do_not_share_draws() -> None:
    """The same seed and index give different cabinets in different families."""
    a = draw_units(FAMILIES["small reach-in"], 1, seed=1)[0]
    b = draw_units(FAMILIES["old unit with long defrost"], 1, seed=1)[0]
    assert a.wall_ua_w_per_k != b.wall_ua_w_per_k


def test_the_split_is_fixed_disjoint_and_complete() -> None:
    assert not set(TUNING) & set(HELD_OUT)
    assert set(TUNING) | set(HELD_OUT) == set(FAMILIES)
    assert [f.name for f in families_named("held-out")] == list(HELD_OUT)
    assert len(families_named("all")) == len(FAMILIES)
    assert [f.name for f in families_named("chest freezer")] == ["chest freezer"]
    with pytest.raises(ValueError, match="unknown families"):
        families_named("ice cream van")


def test_a_unit_maps_onto_the_simulator_parameters() -> None:
    unit: PlantUnit = draw_units(FAMILIES["upright freezer"], 1, seed=2)[0]
    params = cold_params(unit)
    assert params.thermostat.low == unit.cut_out_c
    assert params.thermostat.high == pytest.approx(unit.cut_out_c + unit.differential_k)
    assert params.defrosts_per_day == (unit.defrosts_per_day, unit.defrosts_per_day)
    assert params.defrost_s == pytest.approx(unit.defrost_min * 60)
    assert params.probe_resolution_c == unit.probe_resolution_c
    assert params.seal_leak_ua_w_per_k == unit.leak_ua_w_per_k


@pytest.mark.parametrize("name", ["small reach-in", "upright freezer"])
def test_a_drawn_unit_runs_in_the_simulator_and_holds_its_band(demo: SiteConfig, name: str) -> None:
    """A day of the simulator's own model with a family's cabinet: the probe reads in the
    unit's display step, and outside defrosts and door openings (and the 20 min after them)
    the air stays within the thermostat band give or take the overshoot of a compressor
    cycle (1.5 K: a minimum-off time of warming, a probe step, its noise)."""
    unit = draw_units(FAMILIES[name], 1, seed=5)[0]
    device = next(d for d in demo.devices if d.kind is unit.kind)
    model = ColdStorageModel(device, cold_params(unit), SiteDay.of(demo, ()), seed=5)
    times = MONDAY.timestamp() + np.arange(0, 86_400, 30.0)
    values = model.read(times).values
    temps = values["temp_c"]
    steps = temps / unit.probe_resolution_c
    assert np.allclose(steps, np.round(steps), atol=1e-6)
    disturbed = (values["defrost_on"] > 0) | (values["door_open"] > 0)
    quiet = ~np.convolve(disturbed, np.ones(40), mode="full")[: len(temps)].astype(bool)
    assert quiet.sum() > len(temps) / 3
    assert temps[quiet].min() >= unit.cut_out_c - 1.5
    assert temps[quiet].max() <= unit.cut_in_c + 1.5
