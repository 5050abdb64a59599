"""A bare-probe cabinet hears what the other bare-probe cabinets of its building say of the
kitchen (`alerts.rules.seal_peers`): a hot day that lifts them all is the kitchen, not one
seal; a leak still lifts its own cabinet past them.

The plants are the simulator's cabinets of a tuning family (`firmware_sim.families`, the
small reach-ins) in the hot kitchen of `test_seal_ambient` (4 K warmer for 30 h after the
learning days), each read by its own probe alone, fed to one rule engine as the live service
feeds it (batches of a few minutes' readings, every device's in time order)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from alerts.engine import RuleEngine
from alerts.model import Finding, SealHealthPoint
from alerts.rules.seal_peers import KitchenPeers, implied_k, peer_share
from core.clock import StepClock
from firmware_sim.families import draw_units
from firmware_sim.faults import Fault, FaultType
from tests.alerts.cold_plant import Row
from tests.alerts.conftest import MIDNIGHT, batch, school
from tests.alerts.test_seal_ambient import hot_day
from tests.alerts.test_seal_power import FAMILY, judged, seal_firing
from tests.alerts.test_seal_power_kitchen import HOT_FROM

HOUR_MS = 3_600_000
UNITS = (2, 3, 4, 5)  # small reach-ins of seed 1; unit 2 alone takes the hot day for a leak
SEAL = "seal_degradation"


def _engine(buildings: dict[str, str]) -> RuleEngine:
    """The rules for fridges `f<unit>`, each in the building `buildings` gives it, each read
    at its unit's own interval."""
    devices = [
        {
            "id": device,
            "kind": "fridge",
            "building": building,
            "interval_s": draw_units(FAMILY, 1, seed=1, first=int(device[1:]))[0].interval_s,
        }
        for device, building in buildings.items()
    ]
    names = sorted(set(buildings.values()))
    site = school(
        devices=devices,
        buildings=[{"id": b, "name": b, "kind": "canteen"} for b in names],
    )
    return RuleEngine(site, StepClock(MIDNIGHT))


def _run(
    buildings: dict[str, str], leaks: dict[str, Fault] | None = None
) -> tuple[list[Finding], list[SealHealthPoint]]:
    """Each unit's nine days through the hot day, as its probe alone reports them, fed in
    time order in batches of 10 min (the live service's are shorter still)."""
    rows: list[Row] = []
    for device in buildings:
        leak = (leaks or {}).get(device)
        unit_rows, _ = hot_day(int(device[1:]), ("temp_c",), leak=leak)
        rows += [(device, at, values) for _, at, values in unit_rows]
    rows.sort(key=lambda row: row[1])
    engine = _engine(buildings)
    findings: list[Finding] = []
    points: list[SealHealthPoint] = []
    chunk: list[Row] = []
    for row in rows:
        if chunk and (row[1] - chunk[0][1]).total_seconds() >= 600:
            findings, points = _feed(engine, chunk, findings, points)
            chunk = []
        chunk.append(row)
    findings, points = _feed(engine, chunk, findings, points)
    return findings, points


def _feed(
    engine: RuleEngine,
    chunk: Sequence[Row],
    findings: list[Finding],
    points: list[SealHealthPoint],
) -> tuple[list[Finding], list[SealHealthPoint]]:
    engine.clock.instant = chunk[-1][1]  # type: ignore[attr-defined]
    out = engine.process(batch(*chunk))
    findings += [f for f in out.findings if f.rule.value == SEAL]
    points += [r for r in out.records if isinstance(r, SealHealthPoint)]
    return findings, points


def _fired(findings: list[Finding]) -> dict[str, float]:
    """Each device's first seal alert, in hours after the hot day began."""
    first: dict[str, float] = {}
    for finding in seal_firing(findings):
        first.setdefault(finding.device, (finding.at_ms - HOT_FROM.timestamp() * 1000) / HOUR_MS)
    return first


@pytest.fixture(scope="module")
def apart() -> tuple[list[Finding], list[SealHealthPoint]]:
    return _run({f"f{u}": f"room-{u}" for u in UNITS})


@pytest.fixture(scope="module")
def together() -> tuple[list[Finding], list[SealHealthPoint]]:
    return _run({f"f{u}": "canteen" for u in UNITS})


def test_a_hot_day_one_cabinet_alone_takes_for_a_leak(
    apart: tuple[list[Finding], list[SealHealthPoint]],
) -> None:
    """Each in a building of its own, no cabinet hears another: unit 2's cycles moved past
    what a kitchen 3.5 K warmer moves them, and it alerted 27 h into the hot day, as it does
    alone (`test_seal_ambient`)."""
    findings, points = apart
    assert _fired(findings) == {"f2": 27.0, "f4": 14.0}
    assert all("peers_kitchen_k" not in p.evidence for p in points)


def test_the_same_hot_day_beside_its_kitchens_other_cabinets_alerts_none(
    together: tuple[list[Finding], list[SealHealthPoint]],
) -> None:
    """In one building, each cabinet hears the kitchen its three neighbours' cycles read:
    some 3-4 K warmer through the hot day, about as warm as usual outside it. The share
    of that warmth at its own air is added to the least move it must show, and the hot day
    raises no seal alert."""
    findings, points = together
    assert _fired(findings) == {}
    hot_ms = HOT_FROM.timestamp() * 1000
    heard = {p.device: [] for p in judged(points)}  # the kitchen each heard, in and after the heat
    for p in judged(points):
        k = p.evidence.get("peers_kitchen_k")
        if isinstance(k, float | int) and hot_ms + 12 * HOUR_MS <= p.ts.timestamp() * 1000:
            heard[p.device].append(float(k))
    assert set(heard) == {f"f{u}" for u in UNITS}
    for device, kelvins in heard.items():
        assert kelvins, f"{device} heard its neighbours"
        assert max(kelvins) >= 2.0, f"{device} heard the hot kitchen"


def test_a_leak_beside_them_through_the_hot_day_is_still_confirmed() -> None:
    """Unit 3's seal starts leaking (0.6, over 12 h) as the hot day begins: its cycles move
    by the kitchen's share and the leak's, its neighbours' by the kitchen's alone, and it is
    confirmed while they stay silent."""
    # the plant names its cabinet "f" (`test_seal_ambient.hot_day`)
    leak = Fault(FaultType.SEAL_LEAK, "f", HOT_FROM.timestamp(), severity=0.6, ramp_s=12 * 3600.0)
    findings, _ = _run({f"f{u}": "canteen" for u in UNITS}, {"f3": leak})
    fired = _fired(findings)
    assert list(fired) == ["f3"]
    assert fired["f3"] <= 24.0


# -- the board ------------------------------------------------------------------------------


def test_the_kitchen_is_read_from_two_others_at_least_told_lately() -> None:
    peers = KitchenPeers()
    peers.tell("a", 0, {"rise": 3.0})
    assert peers.shared_k("b", HOUR_MS, "rise") is None, "one other is not a kitchen"
    peers.tell("b", 0, {"rise": 2.0, "cycles": 1.0})
    assert peers.shared_k("b", HOUR_MS, "rise") is None, "its own word is not heard"
    assert peers.shared_k("c", HOUR_MS, "rise") == 2.0, "the smaller of two"
    assert peers.shared_k("c", 0, "rise") is None, "only hours before the asking one"
    assert peers.shared_k("c", HOUR_MS, "cycles") is None, "one other told its cycles"
    assert peers.shared_k("c", 3 * HOUR_MS, "rise") is None, "told three hours before"
    peers.tell("a", -HOUR_MS, {"rise": 9.0})
    assert peers.shared_k("c", HOUR_MS, "rise") == 2.0, "an hour older than the one it told"
    peers.tell("a", HOUR_MS, {"rise": 9.0})
    assert peers.shared_k("c", HOUR_MS, "rise") == 2.0, "a's hour 0 (3 K), not the asking one"
    assert peers.shared_k("c", 2 * HOUR_MS, "rise") == 2.0, "b's hour 0 is still lately"
    peers.tell("b", 2 * HOUR_MS, {"rise": 4.0})
    assert peers.shared_k("c", 3 * HOUR_MS, "rise") == 4.0, "a's 9 K and b's 4 K"
    peers.tell("a", 2 * HOUR_MS, None)
    assert peers.shared_k("c", 3 * HOUR_MS, "rise") is None, "a reads nothing now"
    peers.tell("a", 2 * HOUR_MS, {"rise": math.nan})
    assert peers.shared_k("c", 3 * HOUR_MS, "rise") is None


def test_what_a_cabinet_hears_does_not_hang_on_the_order_they_are_judged_in() -> None:
    # Three cabinets judged at hour 2 after telling hour 1: whichever goes first, each hears
    # the others' hour 1, never another's hour 2 told a moment before it asked.
    heard = []
    for order in (["a", "b", "c"], ["c", "b", "a"]):
        peers = KitchenPeers()
        for name, kelvin in zip("abc", (1.0, 2.0, 3.0), strict=True):
            peers.tell(name, HOUR_MS, {"rise": kelvin})
        at_two = {}
        for name in order:
            at_two[name] = peers.shared_k(name, 2 * HOUR_MS, "rise")
            peers.tell(name, 2 * HOUR_MS, {"rise": 10.0})
        heard.append(at_two)
    assert heard[0] == heard[1] == {"a": 2.0, "b": 1.0, "c": 1.0}


def test_the_lower_third_of_the_others_leaves_two_in_three_leaking_aside() -> None:
    peers = KitchenPeers()
    for i, kelvin in enumerate([0.1, 0.3, 6.0, 7.0, 5.0, 0.2, 8.0]):
        peers.tell(f"u{i}", 0, {"rise": kelvin})
    # six others, sorted 0.1 0.2 0.3 5 6 7 (u6 asks): the second lowest
    assert peers.shared_k("u6", HOUR_MS, "rise") == 0.2
    leaking = KitchenPeers()
    for i, kelvin in enumerate([0.2, 6.0, 7.0]):
        leaking.tell(f"u{i}", 0, {"rise": kelvin})
    assert leaking.shared_k("me", HOUR_MS, "rise") == 0.2, "two of three leaking"


@pytest.mark.parametrize(("cabinet_c", "move"), [(4.0, 0.2), (-20.0, 0.05)])
def test_a_move_and_the_kitchen_it_implies_turn_into_each_other(
    cabinet_c: float, move: float
) -> None:
    """A fridge at 4 °C moves by 0.2 for a kitchen 3.2 K warmer (its gap to a 20 °C kitchen
    is 16 K); a freezer at -20 °C by 0.05 for one 2 K warmer; a cooler kitchen gives nothing."""
    kelvin = implied_k(move, cabinet_c)
    assert kelvin == pytest.approx(move * (20.0 - cabinet_c))
    assert peer_share(kelvin, cabinet_c) == pytest.approx(move, rel=0.15)
    assert peer_share(-kelvin, cabinet_c) == 0.0
    assert peer_share(None, cabinet_c) == 0.0
