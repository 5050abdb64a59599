"""The bridge roster: a bridge's death takes its devices offline, whatever order the retained
messages arrive in after a gateway restart, and a device belongs to one bridge at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core import PresenceChange
from gateway import BridgeRoster, PayloadError

AT = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
DEVICES = [f"fridge-{i}" for i in range(1, 6)]


def offline(changes: list[PresenceChange]) -> list[str]:
    return [c.device for c in changes if not c.online]


def members(*ids: str) -> bytes:
    return json.dumps(list(ids)).encode()


def test_the_will_of_a_bridge_takes_its_members_offline_and_blocks_stale_online() -> None:
    roster = BridgeRoster("s", DEVICES)
    assert roster.members("kitchen-1", members("fridge-1", "fridge-2"), AT) == []
    assert roster.status("kitchen-1", True, AT) == []
    assert not roster.blocks("fridge-1")
    assert offline(roster.status("kitchen-1", False, AT)) == ["fridge-1", "fridge-2"]
    assert roster.blocks("fridge-1") and not roster.blocks("fridge-3")
    roster.status("kitchen-1", True, AT)
    assert not roster.blocks("fridge-2")


def test_a_member_list_arriving_after_the_will_still_takes_them_offline() -> None:
    roster = BridgeRoster("s", DEVICES)
    assert roster.status("kitchen-1", False, AT) == []  # nothing known about it yet
    assert offline(roster.members("kitchen-1", members("fridge-3"), AT)) == ["fridge-3"]


def test_a_device_moved_to_another_bridge_follows_that_bridge() -> None:
    roster = BridgeRoster("s", DEVICES)
    roster.members("kitchen-1", members("fridge-1", "fridge-2"), AT)
    roster.members("kitchen-2", members("fridge-2"), AT)
    assert offline(roster.status("kitchen-1", False, AT)) == ["fridge-1"]
    assert not roster.blocks("fridge-2")
    roster.members("kitchen-1", members("fridge-4"), AT)  # a smaller list releases fridge-1
    assert not roster.blocks("fridge-1") and roster.blocks("fridge-4")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"devices": []}', "must be a JSON list of device ids"),
        (b'["fridge-1", 7]', "must be a JSON list of device ids"),
        (
            b'["fridge-1", "oven-9", "oven-8"]',
            "lists 2 device(s) not in the config of site 's': 'oven-8', 'oven-9'",
        ),
        (b"[", "not valid JSON"),
    ],
)
def test_a_bad_member_list_is_refused_whole(payload: bytes, reason: str) -> None:
    roster = BridgeRoster("s", DEVICES)
    with pytest.raises(PayloadError) as caught:
        roster.members("kitchen-1", payload, AT)
    assert reason in caught.value.reason
    roster.status("kitchen-1", False, AT)
    assert not roster.blocks("fridge-1")
