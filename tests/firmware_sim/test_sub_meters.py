"""Sub-meters in the simulator measure an end use below their parent: a share of the parent's
load, never a second whole building (which once showed a sub-meter at 198 % of its main meter
in the demo's energy report)."""

from __future__ import annotations

import pytest

from core.config import SiteConfig
from firmware_sim.models.meters import MIN_UNACCOUNTED, sub_meter_share
from tests.firmware_sim.conftest import drive


def day_use(config: SiteConfig, device: str) -> float:
    trace = drive(config, device, hours=24.0)
    register = trace.series("energy_kwh")
    return register[-1] - register[0]


@pytest.mark.parametrize(
    ("main", "subs"),
    [
        ("elec-teaching", ("elec-teaching-lighting", "elec-teaching-hvac")),
        ("elec-canteen", ("elec-canteen-kitchen",)),
    ],
)
def test_sub_meters_use_a_share_of_their_main_meter(
    demo: SiteConfig, main: str, subs: tuple[str, ...]
) -> None:
    whole = day_use(demo, main)
    parts = [day_use(demo, sub) for sub in subs]
    assert whole > 0 and all(0 < part < whole for part in parts)
    # The end uses leave some of the building unmetered, as real circuits do.
    assert sum(parts) < whole * (1 - MIN_UNACCOUNTED / 2)


def test_sibling_shares_are_scaled_to_leave_an_unaccounted_rest(demo: SiteConfig) -> None:
    devices = [d.model_dump(mode="json", exclude_defaults=True) for d in demo.devices]
    extra = [
        {**devices[0], "id": f"sub-{i}", "kind": "electricity_meter", "building": "teaching",
         "parent": "elec-teaching", "category": "special"}
        for i in range(4)
    ]  # fmt: skip
    data = demo.model_dump(mode="json", exclude_defaults=True)
    data["devices"] = devices + extra
    config = SiteConfig.model_validate(data)
    shares = [sub_meter_share(config, d) for d in config.devices if d.parent == "elec-teaching"]
    assert sum(shares) == pytest.approx(1 - MIN_UNACCOUNTED)
    main = config.device("elec-teaching")
    assert main is not None and sub_meter_share(config, main) == 1.0
