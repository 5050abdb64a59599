"""bench.detection_serve: the detection bench's cohort published over a real Mosquitto into
`canteen serve`, its alerts compared with the bench's own replay."""

from __future__ import annotations

import json
from datetime import date

import numpy as np

from bench.detection_cold import ColdPlan
from bench.detection_replay import Deliveries
from bench.detection_serve import messages, moved_start, run


def test_the_start_moves_by_whole_weeks_to_end_before_today() -> None:
    usual = date(2024, 11, 4)  # a Monday
    start = moved_start(usual, 12, date(2026, 12, 7))
    assert start.weekday() == usual.weekday() and (start - usual).days % 7 == 0
    assert start == date(2026, 11, 23)  # its 12 days end on 5 December; a week later, after
    assert moved_start(usual, 3, date(2026, 12, 7)) == date(2026, 11, 30)
    assert moved_start(usual, 12, date(2024, 11, 10)) == usual  # never before the usual start


def test_one_message_per_device_and_instant_in_the_order_they_arrive() -> None:
    out = Deliveries()
    at = np.array([1_000, 61_000], dtype=np.int64)
    out.add("fridge-b", "temp_c", at, np.array([3.5, 3.6]))
    out.add("fridge-b", "power_w", at, np.array([80.0, 0.0]))
    out.add("fridge-a", "door_open", np.array([30_000]), np.array([1.0]))
    out.add("fridge-a", "temp_c", np.array([0]), np.array([4.0]), np.array([120_000]))  # late
    out.add("fridge-a", "door_open", np.array([30_000]), np.array([0.0]))  # its heartbeat
    made, readings = messages(out)
    sent = [(device, json.loads(payload)) for device, payload in made]
    assert sent == [
        ("fridge-b", {"ts": 1_000, "seq": 1, "m": {"temp_c": 3.5, "power_w": 80.0}}),
        ("fridge-a", {"ts": 30_000, "seq": 1, "m": {"door_open": False}}),
        ("fridge-b", {"ts": 61_000, "seq": 2, "m": {"temp_c": 3.6, "power_w": 0.0}}),
        ("fridge-a", {"ts": 0, "seq": 2, "m": {"temp_c": 4.0}}),
    ]
    assert readings == 6  # the door's two copies at one instant are one reading, the last


def test_a_small_cohort_served_raises_what_the_replay_raises() -> None:
    # A healthy walk-in and one whose compressor fails on the third day, three days from the
    # latest Monday that ends before today: the service and the replay raise the same alert
    # changes at the same instants, the failure's alarm among them.
    plan = ColdPlan(days=3, healthy=1, leaky_per_severity=0, failures=1)
    start = moved_start(date(2024, 11, 4), plan.days, date.today())
    for variant in ("temp", "temp+power+door"):
        served = run("walk-in cold room", 1, variant, plan, start)
        assert served.readings > served.messages / 2 > 1_000
        assert sorted(served.served) == sorted(served.replayed)
        fired = [c for c in served.served if c[2] == "fired"]
        assert [(device, rule) for device, rule, _, _ in fired] == [
            ("walk-in-cold-room-01", "over_temperature")
        ]
