"""Finding the message a store refuses, so that one message can never wedge ingest.

A batch carries many messages. When the store refuses a batch for a reason that is not its own
availability (`core.errors.StorageUnavailable`), something in the data is at fault: the batch is
split in halves, each half stored on its own, until the messages that cause the failure stand
alone. Those become dead letters; everything else is stored. A store that is unavailable is not
split: the error goes up, the caller retries the whole part later. Splitting costs about
2·log2(n) extra writes per bad message, paid only when a write fails.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from core.errors import StorageUnavailable
from core.readings import ReadingBatch
from gateway.link import Inbound

__all__ = ["Owned", "ReadingSpan", "isolate", "readings_of"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Owned(Generic[T]):
    """A piece of a batch (an event, a presence change) and the message it came from."""

    item: T
    message: Inbound


@dataclass(frozen=True, slots=True)
class ReadingSpan:
    """The rows [start, end) of a reading batch that one message gave."""

    start: int
    end: int
    message: Inbound


async def isolate(
    pieces: Sequence[T], store: Callable[[Sequence[T]], Awaitable[None]]
) -> list[tuple[T, Exception]]:
    """Store `pieces`; return those the store refused on their own, with its error. Raises
    `StorageUnavailable` as it comes: the caller retries."""
    if not pieces:
        return []
    try:
        await store(pieces)
        return []
    except StorageUnavailable:
        raise
    except Exception as exc:
        if len(pieces) == 1:
            return [(pieces[0], exc)]
        half = len(pieces) // 2
        return await isolate(pieces[:half], store) + await isolate(pieces[half:], store)


def readings_of(batch: ReadingBatch, spans: Sequence[ReadingSpan]) -> ReadingBatch:
    """The rows of `batch` that `spans` cover, in order."""
    if len(spans) == 1 or _contiguous(spans):
        start, end = spans[0].start, spans[-1].end
        return ReadingBatch(
            batch.site[start:end],
            batch.device[start:end],
            batch.metric[start:end],
            batch.ts_ms[start:end],
            batch.value[start:end],
        )
    rows = np.concatenate([np.arange(s.start, s.end) for s in spans])
    return ReadingBatch(
        [batch.site[i] for i in rows],
        [batch.device[i] for i in rows],
        [batch.metric[i] for i in rows],
        batch.ts_ms[rows],
        batch.value[rows],
    )


def _contiguous(spans: Sequence[ReadingSpan]) -> bool:
    return all(a.end == b.start for a, b in itertools.pairwise(spans))
