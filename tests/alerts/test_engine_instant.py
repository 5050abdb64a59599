"""One instant of a device, told in more than one message (alerts/engine.py): a reading at the
watermark's own instant of a metric that instant did not have yet is the rest of it and is
judged; a metric it already had is a duplicate and is not. A two-channel sensor that sends
each channel in a message of its own, stamped alike, is judged the same whether the gateway
stored the two messages in one batch or in two."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.model import AlertState, RuleId
from alerts.rules.threshold import ExcursionRule
from core.clock import StepClock, to_epoch_ms
from tests.alerts.conftest import MIDNIGHT, SITE, Harness, minutes, school, series

OVER = RuleId.OVER_TEMPERATURE
T0 = MIDNIGHT + timedelta(hours=2)
Row = tuple[str, datetime, dict[str, float]]


def split_sensor(count: int, food_first: bool, start_min: int = 0) -> list[Row]:
    """The air at 4 °C and the food at 9 °C, read every minute at the same instant, each
    channel in a message of its own (the food's first when `food_first`)."""
    rows: list[Row] = []
    for _, at, metrics in series("fridge-1", T0 + minutes(start_min), 60, [4.0] * count):
        air, food = ("fridge-1", at, metrics), ("fridge-1", at, {"food_temp_c": 9.0})
        rows += [food, air] if food_first else [air, food]
    return rows


def feed_apart(harness: Harness, rows: list[Row]) -> None:
    """Each message stored and judged in a batch of its own."""
    for row in rows:
        harness.feed([row])


@pytest.mark.parametrize("food_first", [False, True])
def test_channels_of_one_instant_in_separate_batches_are_all_judged(
    harness: Harness, food_first: bool
) -> None:
    # Before, the second message of each instant was taken for a late reading: the food's
    # 9 °C was never judged when it came second, and no alert came. The food's reading
    # stands for the food from its instant on: judged with the air of the same instant when
    # it came first, with the air's next report when it came second (as for a probe
    # reporting apart, `threshold`); the air's 4 °C beside it in the alert either way.
    feed_apart(harness, split_sensor(40, food_first))
    [alert] = harness.alerts(OVER)
    pending = T0 if food_first else T0 + minutes(1)
    assert alert.state is AlertState.FIRING
    assert alert.pending_since == pending
    assert alert.fired_at == pending + minutes(30)
    assert alert.evidence["food_probe_c"] == 9.0 and alert.evidence["temp_c"] == 4.0


def test_a_metric_repeated_at_the_watermark_is_a_duplicate(harness: Harness) -> None:
    # Each instant's air first, then a message that repeats the air's metric (a reading
    # redelivered, here with another value) with the food beside it: the air is judged once
    # at each instant, on its first value; the food is new and is judged.
    rules = harness.service.engine.devices["fridge-1"]
    for _, at, _ in series("fridge-1", T0, 60, [4.0] * 40):
        harness.feed([("fridge-1", at, {"temp_c": 4.0})])
        assert rules.mark_metrics == {"temp_c"}
        harness.feed([("fridge-1", at, {"temp_c": 12.0, "food_temp_c": 9.0})])
        assert rules.mark_metrics == {"temp_c", "food_temp_c"}
    [alert] = harness.alerts(OVER)
    assert alert.pending_since == T0 + minutes(1)
    assert alert.fired_at == T0 + minutes(31)
    assert alert.evidence["temp_c"] == 4.0 and alert.evidence["food_probe_c"] == 9.0


def test_what_the_watermark_instant_held_is_kept_across_a_restart(tmp_path: Path) -> None:
    # The service restarts between the air's message of an instant and the food's: the food's
    # is judged after the restart, and the air's next report is judged on it.
    path = tmp_path / "canteen.duckdb"
    first = Harness(path, school(), StepClock(T0))
    first.feed(series("fridge-1", T0, 60, [4.0] * 13))
    first.service.save_state()
    saved = json.loads(first.store.load_rule_state(SITE)["fridge-1"])
    assert saved["mark_metrics"] == ["temp_c"]
    first.close()
    second = Harness(path, school(), StepClock(T0 + minutes(13)))
    second.service.recover()
    second.feed([("fridge-1", T0 + minutes(12), {"food_temp_c": 9.0})])
    feed_apart(second, split_sensor(40, food_first=False, start_min=13))
    [alert] = second.alerts(OVER)
    assert alert.pending_since == T0 + minutes(13)
    assert alert.fired_at == T0 + minutes(43)
    second.close()


def test_a_state_saved_before_the_instants_metrics_were_kept_judges_none_there(
    harness: Harness,
) -> None:
    # What that instant held is not known: nothing more at it is judged, as before.
    harness.feed(series("fridge-1", T0, 60, [4.0] * 5))
    rules = harness.service.engine.devices["fridge-1"]
    document = json.loads(rules.snapshot())
    del document["mark_metrics"]
    rules.restore(json.dumps(document))
    assert rules.mark_metrics is None
    harness.feed([("fridge-1", T0 + minutes(4), {"food_temp_c": 9.0})])
    [over] = [r for r in rules.rules if isinstance(r, ExcursionRule) and r.above]
    assert over.snapshot()["food"] is None
    harness.feed([("fridge-1", T0 + minutes(5), {"food_temp_c": 9.0})])
    assert over.snapshot()["food"] == (to_epoch_ms(T0 + minutes(5)), 9.0)
    assert rules.mark_metrics == {"food_temp_c"}
