"""Sensor faults of a temperature probe: impossible, stuck, spiking and drifting probes."""

from __future__ import annotations

from datetime import timedelta

from alerts.model import AlertState, RuleId
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, series

SENSOR = RuleId.SENSOR_FAULT
T0 = MIDNIGHT + timedelta(hours=2)


def sawtooth(count: int) -> list[float]:
    """A thermostat cycling 2-5 °C: what a working fridge probe reads every minute."""
    return [2.0 + (i % 20) * 0.15 for i in range(count)]


def test_an_impossible_value_alerts_and_judges_nothing_else(harness: Harness) -> None:
    harness.feed(series("fridge-1", T0, 60, [4.0, 85.0] + [85.0] * 40))
    [fault] = harness.alerts(SENSOR)
    assert fault.state is AlertState.FIRING and fault.severity.value == "warning"
    assert "probe reads 85.0 °C, which is impossible here" in fault.message.en
    assert harness.alerts(RuleId.OVER_TEMPERATURE) == []  # 85 °C in a fridge is not food news


def test_the_same_value_for_an_hour_is_a_stuck_probe(harness: Harness) -> None:
    harness.feed(series("fridge-1", T0, 60, sawtooth(30) + [3.4] * 60))
    assert harness.alerts(SENSOR) == []
    harness.feed(series("fridge-1", T0 + minutes(90), 60, [3.4]))
    [fault] = harness.alerts(SENSOR)
    assert "has read exactly 3.4 °C for 60 min" in fault.message.en
    # It clears after two quiet hours of normal readings.
    harness.feed(series("fridge-1", T0 + minutes(91), 60, sawtooth(121)))
    [fault] = harness.alerts(SENSOR)
    assert fault.state is AlertState.RESOLVED


def test_three_spikes_in_an_hour_alert_two_do_not(harness: Harness) -> None:
    values = sawtooth(120)  # every 30 s, the fridge's interval
    for index in (20, 60):
        values[index] += 20.0
    harness.feed(series("fridge-1", T0, 30, values))
    assert harness.alerts(SENSOR) == []
    values = sawtooth(20)
    values[5] -= 15.0
    harness.feed(series("fridge-1", T0 + minutes(60), 30, values))
    [fault] = harness.alerts(SENSOR)
    assert "jumped and came straight back 3 times in 60 min" in fault.message.en


def test_a_door_rise_is_not_a_spike(harness: Harness) -> None:
    # The air jumps 8 K when the door opens and takes minutes to come back: not a spike.
    values = sawtooth(60)
    for start in (10, 25, 40):
        values[start : start + 4] = [11.0, 9.0, 7.0, 5.0]
    harness.feed(series("fridge-1", T0, 60, values))
    assert harness.alerts(SENSOR) == []


def test_a_probe_drifting_against_the_thermostat_cut_in(harness: Harness) -> None:
    # The compressor starts each time the air reaches 5 °C; after 40 starts (the learning) the
    # probe reads 2 K high, so at the next starts it shows 7 °C instead of 5 °C.
    rows = []
    for cycle in range(55):
        offset = 2.0 if cycle >= 45 else 0.0
        for step in range(20):
            on = 1.0 if step >= 10 else 0.0
            temp = (2.0 + step * 0.3 if step < 10 else 5.0 - (step - 10) * 0.3) + offset
            at = T0 + minutes(cycle * 20 + step)
            rows.append(("fridge-1", at, {"temp_c": temp, "compressor_on": on, "door_open": 0.0}))
    harness.feed(rows)
    [fault] = harness.alerts(SENSOR)
    assert "drifted +2.0 K: it read 5.0 °C when the compressor started, now 7.0 °C" in (
        fault.message.en
    )
