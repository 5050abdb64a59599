"""The hand-over between the gateway's decode and store stages: bounded by messages, not by
batches, so a slow store holds the decoder back (and the broker behind it) whatever the size
of the decoded batches."""

from __future__ import annotations

import asyncio

from core.readings import ReadingBatch
from gateway.batching import DecodedBatch, Handover
from gateway.link import Inbound


def batch(size: int) -> DecodedBatch:
    messages = [Inbound(f"t/{i}", b"{}", 1, i, 0.0) for i in range(size)]
    return DecodedBatch(messages, ReadingBatch.empty(), [], [], [], [], [])


async def test_the_decoder_waits_past_the_bound_until_the_store_takes() -> None:
    handover = Handover(bound=250)
    await handover.put(batch(100))
    await handover.put(batch(100))
    third = asyncio.create_task(handover.put(batch(100)))
    await asyncio.sleep(0.05)
    assert not third.done()  # 300 messages would be past the bound
    assert handover.messages == 200
    taken = handover.take_all()
    assert [len(b.messages) for b in taken] == [100, 100]
    await asyncio.wait_for(third, 1)
    assert handover.messages == 100


async def test_a_batch_larger_than_the_bound_goes_in_alone() -> None:
    handover = Handover(bound=250)
    await asyncio.wait_for(handover.put(batch(1000)), 1)  # never waits for room it cannot have
    waiting = asyncio.create_task(handover.put(batch(1)))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert (await handover.first()) is handover.take_all()[0]
    await asyncio.wait_for(waiting, 1)


async def test_the_store_waits_for_a_first_batch() -> None:
    handover = Handover(bound=10)
    first = asyncio.create_task(handover.first())
    await asyncio.sleep(0.05)
    assert not first.done()
    one = batch(3)
    await handover.put(one)
    assert await asyncio.wait_for(first, 1) is one
    assert handover.messages == 3  # `first` leaves it for `take_all`
