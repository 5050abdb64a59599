"""Sensor faults of a temperature probe: impossible, stuck, spiking and drifting probes."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.model import AlertState, RuleId
from alerts.service import AlertService
from core.clock import StepClock
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, school, series

Row = tuple[str, datetime, dict[str, float]]

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
    assert "has read exactly 3.4 °C for 60 min: it may be stuck" in fault.message.en
    # A bare probe cannot tell a stuck probe from air at rest: the message names both.
    assert "or the air is at rest with the compressor running without a stop" in fault.message.en
    assert "请用柜上温度计核对" in fault.message.zh
    # It clears after two quiet hours of normal readings.
    harness.feed(series("fridge-1", T0 + minutes(91), 60, sawtooth(121)))
    [fault] = harness.alerts(SENSOR)
    assert fault.state is AlertState.RESOLVED


def test_a_value_read_again_after_a_dropout_is_no_stuck_probe(harness: Harness) -> None:
    """A probe on a busy kitchen's radio loses its link for an hour and a half, and its first
    reading back shows the value of its last before: nobody saw the probe hold it through the
    gap (the fridge's silence threshold is 5 min). 20 min of 3.4 °C before and 20 after is
    no 130-min hold."""
    harness.feed(series("fridge-1", T0, 60, sawtooth(30) + [3.4] * 20))
    back = T0 + minutes(50 + 90)
    harness.feed(series("fridge-1", back, 60, [3.4] * 20 + sawtooth(60)))
    assert harness.alerts(SENSOR) == []


def test_a_stuck_probe_whose_reports_do_not_all_arrive_is_still_told(harness: Harness) -> None:
    """Single lost reports (2 min apart instead of 1) leave the hold whole; a dropout longer
    than the silence threshold starts it again, and an hour held after it is stuck."""
    lossy = [row for i, row in enumerate(series("fridge-1", T0, 60, [3.4] * 40)) if i % 7 != 3]
    harness.feed(series("fridge-1", T0 - minutes(30), 60, sawtooth(30)) + lossy)
    assert harness.alerts(SENSOR) == []
    back = T0 + minutes(40 + 30)
    rows = [row for i, row in enumerate(series("fridge-1", back, 60, [3.4] * 61)) if i % 7 != 3]
    harness.feed(rows)
    [fault] = harness.alerts(SENSOR)
    assert "has read exactly 3.4 °C for 60 min: it may be stuck" in fault.message.en


def test_a_heated_cabinet_s_probe_is_stuck_after_four_hours(harness: Harness) -> None:
    """A steam cabinet idles at the kitchen's temperature for hours between meals: its window
    is `stuck_heated_min`, and no compressor is named."""
    idle = [24.0 + 0.1 * (i % 7) for i in range(60)]
    harness.feed(series("rice-1", T0, 60, idle + [24.3] * 239))
    assert harness.alerts(SENSOR) == []
    harness.feed(series("rice-1", T0 + minutes(299), 60, [24.3] * 2))
    [fault] = harness.alerts(SENSOR)
    assert fault.message.en.endswith("has read exactly 24.3 °C for 240 min: it may be stuck")


def _metered(values: list[float], draws: list[float]) -> list[Row]:
    """A fridge that cycled on its thermostat for half an hour (the plug drawing 250 W while
    its compressor runs, 20 W at rest), then `values` with the plug drawing `draws`."""
    cycling = sawtooth(30)
    plug = [250.0 if i % 20 >= 10 else 20.0 for i in range(30)]
    return series("fridge-1", T0, 60, cycling + values, power_w=plug + draws)


@pytest.mark.parametrize(("draw", "held_c"), [(250.0, 4.0), (20.0, 17.5)])
def test_a_value_held_while_the_compressor_holds_one_state_is_a_balance(
    harness: Harness, draw: float, held_c: float
) -> None:
    """A compressor running flat out against a leak holds the air within a 0.5 K display step
    for hours; a dead one's air near the kitchen's moves as slowly. Two hours of one value
    with the meter reading one state throughout, running or stopped, is no stuck probe."""
    harness.feed(_metered([held_c] * 120, [draw] * 120))
    assert harness.alerts(SENSOR) == []


def test_a_dead_compressor_s_hours_on_the_fan_s_draw_stay_one_state(harness: Harness) -> None:
    """A dead compressor leaves the plug reading the fan, a few watts of noise, for hours:
    the usual draw it learned drifts down towards it, and half of it came to split the fan's
    readings into runs and rests (on the bench, a walk-in's failure: its air held 7.0 °C
    for 1.6 h on a 42 W fan, and a stuck probe was told). A start at least doubles the draw."""
    rng = random.Random(3)
    fan = [20.0 * (1 + 0.01 * rng.gauss(0, 1)) for _ in range(600)]
    harness.feed(_metered([7.0] * 600, fan))
    assert harness.alerts(SENSOR) == []


def test_a_value_held_across_the_compressor_s_starts_and_stops_is_stuck(
    harness: Harness,
) -> None:
    """The thermostat starts and stops the compressor on its own sensor: the air it moves
    did not move the probe."""
    plug = [250.0 if i % 20 >= 10 else 20.0 for i in range(120)]
    harness.feed(_metered([3.4] * 120, plug))
    [fault] = harness.alerts(SENSOR)
    assert fault.message.en.endswith(
        "has read exactly 3.4 °C for 60 min while its compressor started and stopped: "
        "it may be stuck; compare with the cabinet's own thermometer"
    )


def test_a_bare_probe_s_value_held_beyond_the_limit_is_the_temperature_rule_s(
    harness: Harness,
) -> None:
    """A dead compressor's air nears the kitchen's and holds a value for hours: the
    over-temperature alarm tells it, and no "probe may be stuck" beside it. A value held
    inside the limits, where no other alarm comes, is still stuck."""
    harness.feed(series("fridge-1", T0, 60, sawtooth(30) + [17.5] * 120))
    assert harness.alerts(SENSOR) == []
    [alarm] = harness.alerts(RuleId.OVER_TEMPERATURE)
    assert alarm.state is AlertState.FIRING
    harness.feed(series("fridge-1", T0 + minutes(150), 60, sawtooth(60) + [7.5] * 61))
    [fault] = harness.alerts(SENSOR)
    assert "has read exactly 7.5 °C for 60 min" in fault.message.en


def test_a_reported_compressor_flag_is_read_as_the_meter_is(harness: Harness) -> None:
    """`compressor_on` says what the plug's draw says: running throughout, no stuck probe;
    starting and stopping, stuck."""
    cycling = [1.0 if i % 20 >= 10 else 0.0 for i in range(30)]
    rows = series(
        "fridge-1", T0, 60, sawtooth(30) + [4.0] * 120, compressor_on=cycling + [1.0] * 120
    )
    harness.feed(rows)
    assert harness.alerts(SENSOR) == []
    flags = [1.0 if i % 20 >= 10 else 0.0 for i in range(90)]
    harness.feed(series("fridge-1", T0 + minutes(150), 60, [4.0] * 90, compressor_on=flags))
    [fault] = harness.alerts(SENSOR)
    assert "has read exactly 4.0 °C" in fault.message.en


def test_a_unit_whose_working_days_hold_a_value_long_is_judged_on_its_own_holds(
    harness: Harness,
) -> None:
    """A chest freezer cycling by 1 K under a 0.5 K display, read every 5 min, holds each
    value for 80 min (the first, read from half-way, 40): three days of it raise nothing
    (each hold past the 60-min default did before). A value then held for three times its
    longest hold is stuck. (Its first hold read whole would have been judged on the default:
    nothing is known of the unit before a hold has ended.)"""
    holds = 3 * 24 * 60 // 80
    values = [-18.5] * 8 + [v for i in range(holds) for v in [-18.5 if i % 2 else -18.0] * 16]
    harness.feed(series("freezer-1", T0, 300, values))
    assert harness.alerts(SENSOR) == []
    after = T0 + timedelta(seconds=300 * len(values))
    harness.feed(series("freezer-1", after, 300, [-17.5] * 48))  # 4 h
    [fault] = harness.alerts(SENSOR)  # its holds span 75 min from first to last reading
    assert "has read exactly -17.5 °C for 225 min" in fault.message.en


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


def _freezer_doors() -> tuple[list[float], list[float]]:
    """Forty minutes of a freezer at the cooking line, read every 30 s: its little air jumps
    8 K up at three door openings and is pulled back by the next reading."""
    values = [-18.0 - 0.1 * (i % 10) for i in range(80)]
    doors = [0.0] * 80
    for index in (15, 40, 65):
        values[index] += 8.0
        doors[index] = 1.0
    return values, doors


def test_a_jump_up_with_the_door_contact_open_is_the_door_not_a_spike(
    harness: Harness,
) -> None:
    values, doors = _freezer_doors()
    harness.feed(series("freezer-1", T0, 30, values, door_open=doors))
    assert harness.alerts(SENSOR) == []
    # The same jumps read by a bare probe cannot be told from a spiking probe.
    harness.feed(series("freezer-1", T0 + minutes(60), 30, values))
    [fault] = harness.alerts(SENSOR)
    assert "jumped and came straight back 3 times" in fault.message.en


def test_a_jump_down_with_the_door_open_is_still_a_spike(harness: Harness) -> None:
    """A door lets warm air in: it explains no jump down."""
    values, doors = _freezer_doors()
    values = [v - 16.0 if d else v for v, d in zip(values, doors, strict=True)]
    harness.feed(series("freezer-1", T0, 30, values, door_open=doors))
    [fault] = harness.alerts(SENSOR)
    assert "jumped and came straight back 3 times" in fault.message.en


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


def paired(tmp_path: Path) -> Harness:
    """fridge-1 with an independent logger (`logger-1`) in the same cabinet."""
    config = school()
    devices = [d.model_dump() for d in config.devices]
    devices[0]["neighbour"] = "logger-1"
    devices.append({"id": "logger-1", "kind": "fridge", "building": "canteen", "interval_s": 30})
    return Harness(tmp_path / "pair.duckdb", school(devices=devices), StepClock(MIDNIGHT))


def cabinet(hours: int, shift_from_h: float | None = None, shift_c: float = 0.0) -> list[Row]:
    """Both probes following the same cabinet air (a slow cycle between 3 and 5 °C), the
    logger 0.4 K warmer; from `shift_from_h` fridge-1's probe reads `shift_c` off."""
    rows: list[Row] = []
    for i in range(hours * 120):
        at = MIDNIGHT + timedelta(seconds=30 * i)
        air = 4.0 + math.sin(i / 40) + 0.1 * ((i * 7) % 5 - 2)
        off = shift_c if shift_from_h is not None and i >= shift_from_h * 120 else 0.0
        rows.append(("fridge-1", at, {"temp_c": round(air + off, 1)}))
        rows.append(("logger-1", at + timedelta(seconds=11), {"temp_c": round(air + 0.4, 1)}))
    return rows


def test_a_probe_drifting_away_from_its_neighbour(tmp_path: Path) -> None:
    harness = paired(tmp_path)
    try:
        rows = cabinet(36, shift_from_h=28, shift_c=-2.0)
        # Fed an hour at a time, logger first: arrival order does not matter.
        for hour in range(36):
            part = [
                r
                for r in rows
                if hour * 3600 <= (r[1] - MIDNIGHT).total_seconds() < (hour + 1) * 3600
            ]
            harness.feed(sorted(part, key=lambda r: r[0] != "logger-1"))
        [alert] = harness.alerts(RuleId.SENSOR_FAULT)
        assert alert.device == "fridge-1" and alert.state is AlertState.FIRING
        assert "usually differ by -0.4 K, now by -2.4 K (-2.0 K)" in alert.message.en
        assert alert.fired_at is not None
        assert MIDNIGHT + timedelta(hours=30) < alert.fired_at <= MIDNIGHT + timedelta(hours=33)
    finally:
        harness.close()


def test_probes_moving_together_are_not_a_drift(tmp_path: Path) -> None:
    harness = paired(tmp_path)
    try:
        rows = cabinet(36)
        # A warm afternoon: the cabinet air, hence both probes, 3 K higher for 8 hours.
        warm = [
            (
                d,
                at,
                {
                    "temp_c": v["temp_c"]
                    + (3.0 if 26 <= (at - MIDNIGHT).total_seconds() / 3600 < 34 else 0.0)
                },
            )
            for d, at, v in rows
        ]
        harness.feed(warm)
        assert harness.alerts(RuleId.SENSOR_FAULT) == []
    finally:
        harness.close()


def test_a_neighbour_must_be_another_temperature_device() -> None:
    config = school()
    devices = [d.model_dump() for d in config.devices]
    devices[0]["neighbour"] = "fridge-1"
    with pytest.raises(ValueError, match=r"devices\[0\]\.neighbour: 'fridge-1' is not another"):
        school(devices=devices)


def test_the_learned_difference_survives_a_restart(tmp_path: Path) -> None:
    harness = paired(tmp_path)
    try:
        rows = cabinet(36, shift_from_h=28, shift_c=2.5)
        cut = MIDNIGHT + timedelta(hours=20)
        harness.feed([r for r in rows if r[1] < cut])
        harness.service.save_state()
        harness.service = AlertService(harness.config, harness.store, harness.clock)
        harness.service.recover(harness.clock.instant)
        harness.feed([r for r in rows if r[1] >= cut])
        [alert] = harness.alerts(RuleId.SENSOR_FAULT)
        assert "(+2.5 K)" in alert.message.en
    finally:
        harness.close()
