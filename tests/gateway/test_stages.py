"""The readings path stamps each batch on its way through a real broker and store: every step
is counted once per batch, and the end-to-end steps hold the steps inside them."""

from __future__ import annotations

import asyncio

from core.stages import STAGES
from tests.conftest import Publisher, wait_for
from tests.gateway.test_gateway_broker import SITE, RunningGateway, now_ms, running

__all__ = ["running"]  # the fixture, shared with the broker tests


async def test_every_batch_is_stamped_from_arrival_to_hand_over_and_ack(
    running: RunningGateway, publisher: Publisher, topic_prefix: str
) -> None:
    base = now_ms() - 60_000
    for i in range(300):
        device = f"fridge-{i % 3 + 1}"
        publisher.publish(
            f"{topic_prefix}/{SITE}/{device}/telemetry", {"ts": base + i, "m": {"temp_c": 4.0}}
        )
    await asyncio.to_thread(publisher.flush)
    await wait_for(lambda: running.gateway.stats.acked >= 300, "300 messages acknowledged")

    figures = running.gateway.stages.snapshot()
    assert running.gateway.stages is running.writer.stages
    batches = running.writer.stats.batches
    assert batches >= 1
    for stage in ("write_hop", "write", "handover", "listeners"):
        assert figures[stage]["count"] == batches, stage
    for stage in ("received_to_stored", "received_to_handed", "queued", "ack"):
        assert figures[stage]["count"] == batches, stage
    # Decoded batches that waited together are stored as one: at least as many decoded.
    assert figures["inbox"]["count"] == figures["decode"]["count"] >= batches
    assert set(figures) <= set(STAGES)
    # Each batch's arrival-to-hand-over holds its write, so the same holds of the extremes.
    assert figures["received_to_handed"]["max"] >= figures["write"]["max"]
    assert figures["received_to_handed"]["mean"] >= figures["received_to_stored"]["mean"]
    assert figures["received_to_stored"]["mean"] >= figures["write"]["mean"]
