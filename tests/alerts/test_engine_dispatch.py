"""How the rule engine hands batches and ticks to the rules (alerts/engine.py): the site-wide
offline watch is not run on every batch, yet a silent device is still judged within a second of
clock time while others keep talking, and one heard again is resolved by that very batch."""

from __future__ import annotations

from datetime import timedelta

from alerts.model import AlertState, RuleId
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, series

T0 = MIDNIGHT + timedelta(hours=2)
DEVICES = ["fridge-1", "freezer-1", "sample-1", "ir-1", "steam-1", "rice-1"]
OTHERS = [d for d in DEVICES if d != "fridge-1"]


def test_a_silent_device_is_judged_between_batches_of_others(harness: Harness) -> None:
    for device in DEVICES:
        harness.feed(series(device, T0, 30, [4.0] * 20))
    last = T0 + timedelta(seconds=19 * 30)
    # fridge-1 falls silent; the others report in batches 0.4 s apart of clock time, and no
    # tick comes. Its deadline (5 min, test_offline) passes at last + 5 min.
    deadline = last + minutes(5)
    at = deadline - timedelta(seconds=2)
    pending_at = None
    while at < deadline + timedelta(seconds=3):
        harness.feed([(device, at, {"temp_c": 4.0}) for device in OTHERS])
        if pending_at is None and harness.alerts(RuleId.OFFLINE):
            pending_at = at
        at += timedelta(milliseconds=400)
    assert pending_at is not None, "the silent fridge was never judged between batches"
    assert deadline < pending_at <= deadline + timedelta(seconds=1, milliseconds=400)
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.PENDING and alert.device == "fridge-1"

    # Heard again on the same clock instant as the last batch: resolved by its own batch.
    harness.tick(deadline + minutes(3))
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.FIRING
    harness.feed([("fridge-1", deadline + minutes(3), {"temp_c": 4.0})])
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.RESOLVED
