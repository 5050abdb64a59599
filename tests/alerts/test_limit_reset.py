"""An admin's new limit handed to the running rules (`RuleEngine.reset_limits`): the device's
rules are rebuilt on the new limits and keep what the old ones were in the middle of, so an
excursion under way is not started again, and readings already judged are not judged twice."""

from __future__ import annotations

from datetime import timedelta

from core.model import Limits
from core.records import RuleId
from tests.alerts.conftest import MIDNIGHT, Harness, series


def test_an_excursion_under_way_keeps_its_start_when_the_limit_is_lowered(
    harness: Harness,
) -> None:
    """9 °C from 01:00 on a fridge with the default 8 °C high limit and 30 min allowed out: the
    alert fires at 01:30 whether or not the limit changed to 6 °C at 01:20."""
    start = MIDNIGHT + timedelta(hours=1)
    harness.feed(series("fridge-1", start, 60, [9.0 + 0.1 * (m % 2) for m in range(20)]))
    [pending] = harness.alerts(RuleId.OVER_TEMPERATURE)
    assert pending.fired_at is None
    harness.config.set_limit_override("fridge-1", Limits(high_c=6.0))
    harness.service.engine.reset_limits("fridge-1")
    assert harness.service.engine.devices["fridge-1"].setup.limits.high_c == 6.0
    later = start + timedelta(minutes=20)
    harness.feed(series("fridge-1", later, 60, [9.0 + 0.1 * (m % 2) for m in range(15)]))
    [alert] = harness.alerts(RuleId.OVER_TEMPERATURE)
    assert alert.fired_at is not None
    assert start + timedelta(minutes=29) <= alert.fired_at <= start + timedelta(minutes=31)


def test_readings_between_the_limits_alert_only_after_the_limit_is_lowered(
    harness: Harness,
) -> None:
    """7 °C is inside 0-8 °C; with the high limit lowered to 5 °C it is an excursion, judged
    from the first reading after the change (the earlier ones stay judged as they were)."""
    start = MIDNIGHT + timedelta(hours=1)
    harness.feed(series("fridge-1", start, 60, [7.0 + 0.1 * (m % 2) for m in range(40)]))
    assert harness.alerts(RuleId.OVER_TEMPERATURE) == []
    harness.config.set_limit_override("fridge-1", Limits(high_c=5.0))
    harness.service.engine.reset_limits("fridge-1")
    later = start + timedelta(minutes=40)
    harness.feed(series("fridge-1", later, 60, [7.0 + 0.1 * (m % 2) for m in range(40)]))
    [alert] = harness.alerts(RuleId.OVER_TEMPERATURE)
    assert alert.fired_at is not None and alert.fired_at >= later + timedelta(minutes=29)
    # The watermark went on: the old readings fed again are late, not judged a second time.
    harness.feed(series("fridge-1", start, 60, [7.0] * 40))
    assert len(harness.alerts(RuleId.OVER_TEMPERATURE)) == 1
