"""The latency histograms of the readings path: quantiles read from the buckets."""

from __future__ import annotations

import pytest

from core.stages import STAGES, StageTimes


def test_quantiles_are_the_upper_bounds_of_their_buckets_capped_at_the_largest_seen() -> None:
    stages = StageTimes()
    for _ in range(98):
        stages.observe("write", 0.003)  # 3 ms: the bucket up to 5 ms
    for _ in range(2):
        stages.observe("write", 0.150)  # 150 ms: the bucket up to 200 ms
    write = stages.snapshot()["write"]
    assert write["count"] == 100
    assert write["mean"] == pytest.approx((98 * 3 + 2 * 150) / 100)
    assert write["p50"] == 5 and write["p90"] == 5
    assert write["p99"] == 150  # the bucket's bound is 200; nothing above 150 was seen
    assert write["max"] == 150


def test_only_stages_seen_are_reported_and_reset_forgets_them() -> None:
    stages = StageTimes()
    stages.observe("decode", 0.0004)
    stages.observe("ack", -0.001)  # a clock step can never make a negative duration
    snapshot = stages.snapshot()
    assert list(snapshot) == ["decode", "ack"]  # in the order a batch passes them
    assert snapshot["ack"]["max"] == 0.0
    assert snapshot["decode"]["p50"] == 0.4
    stages.reset()
    assert stages.snapshot() == {}


def test_an_unknown_stage_is_a_bug() -> None:
    with pytest.raises(KeyError):
        StageTimes().observe("nowhere", 0.001)
    assert "received_to_handed" in STAGES
