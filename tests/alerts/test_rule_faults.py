"""A rule that fails on a reading fails alone (`alerts.rule_faults`): the device's other rules
and the other devices judge on, the failure is counted for `/api/health` and logged without
flooding the log.

The failure is put into the seal rule of one fridge (its `observe` raises on warm readings, as
the seal rule's reading of a coarse probe's norms once raised `KeyError` on a held-out cohort):
no defect of the shipped rules is known to raise, so one is made for the test."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from alerts.model import AlertState, RuleId
from alerts.rule_faults import RuleFaults
from alerts.rules.seal_cold import ColdSealRule
from alerts.samples import Sample
from tests.alerts.conftest import MIDNIGHT, Harness, minutes, series

T0 = MIDNIGHT + timedelta(hours=2)


def _break_the_seal_rule(harness: Harness, device: str) -> ColdSealRule:
    rules = harness.service.engine.devices[device]
    seal = next(r for r in rules.rules if isinstance(r, ColdSealRule))
    observe = seal.observe

    def failing(sample: Sample, out: list) -> None:  # type: ignore[type-arg]
        temp = sample.get("temp_c")
        if temp is not None and temp > 6.0:
            raise KeyError("pull_down")
        observe(sample, out)

    seal.observe = failing  # type: ignore[method-assign]
    return seal


def test_a_failing_rule_leaves_the_devices_other_rules_and_the_other_devices_judging(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _break_the_seal_rule(harness, "fridge-1")
    caplog.set_level(logging.ERROR, logger="alerts.rule_faults")
    # fridge-1 at 9 °C for 50 min, freezer-1 at -5 °C beside it: both over their limits
    warm = series("fridge-1", T0, 60, [9.0] * 50)
    thawing = series("freezer-1", T0, 60, [-5.0] * 50)
    harness.feed(warm + thawing)
    over = {a.device: a for a in harness.alerts(RuleId.OVER_TEMPERATURE)}
    assert over["fridge-1"].state is AlertState.FIRING  # the same fridge's next rule judged
    assert over["freezer-1"].state is AlertState.FIRING
    faults = harness.service.engine.fault_figures()
    assert set(faults) == {"fridge-1"}
    [(rule, fault)] = faults["fridge-1"].items()
    assert rule == RuleId.SEAL_DEGRADATION.value
    assert fault["count"] == 50
    assert fault["error"] == "KeyError: 'pull_down'"
    assert fault["last_reading"] == (T0 + minutes(49)).isoformat(timespec="seconds")
    [line] = harness.service.fault_lines()
    assert "seal_degradation of device fridge-1 failed 50 times" in line
    # logged with its traceback at the 1st and 10th failure, not at each of the 50
    logged = [r for r in caplog.records if r.name == "alerts.rule_faults"]
    assert len(logged) == 2
    assert logged[0].exc_info is not None
    # the rule still gets the readings it can take, and the service goes on
    harness.feed(series("fridge-1", T0 + minutes(50), 60, [4.0] * 10))
    assert harness.service.engine.fault_figures()["fridge-1"][rule]["count"] == 50


def test_the_log_is_written_at_the_1st_10th_and_100th_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = RuleFaults("fridge-9")
    caplog.set_level(logging.ERROR, logger="alerts.rule_faults")
    for i in range(250):
        faults.note("over_temperature", i * 60_000, ValueError("bad\nsecond line"))
    assert [r.args[3] for r in caplog.records] == [1, 10, 100]  # type: ignore[index]
    figures = faults.figures()["over_temperature"]
    assert figures["count"] == 250 and figures["error"] == "ValueError: bad"
