"""The alerts service's own worker threads: one for the saves of findings and rule state, one
for the start-up replay (`alerts.catch_up`), each running its steps one at a time, in the
order asked.

In the event loop's shared pool an alert's write queued behind the readings writes, the
rollup settles and the charts drawn there; a thread of its own keeps that wait out of an
alert's way. A thread cannot be stopped: a caller that is cancelled waits for its step to
finish before it gives up (so a save under way keeps its turn and a later one cannot land
before it), then re-raises.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["RulesWorker"]

T = TypeVar("T")


class RulesWorker:
    def __init__(self, name: str = "alerts") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(
        self,
        work: Callable[..., T],
        *args: object,
        on_cancel: Callable[[], None] | None = None,
    ) -> T:
        """`work(*args)` on the thread; `on_cancel` is called when the caller is cancelled,
        before it waits for the step to end (to ask a long step to stop early)."""
        loop = asyncio.get_running_loop()
        step = asyncio.ensure_future(
            loop.run_in_executor(self._pool, functools.partial(work, *args))
        )
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            if on_cancel is not None:
                on_cancel()
            await asyncio.wait({step})
            raise
