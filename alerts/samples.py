"""From a columnar reading batch to what rules read: per device, one `Sample` per timestamp
with every metric reported at that instant, oldest first.

A batch may hold a device's readings out of order or twice (a device replaying its buffer);
sorting here and the engine's per-device watermark make rules see each instant once, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.readings import ReadingBatch

__all__ = ["Sample", "samples_by_device"]


@dataclass(slots=True)
class Sample:
    ts_ms: int
    values: dict[str, float]

    def get(self, metric: str) -> float | None:
        return self.values.get(metric)

    def flag(self, metric: str) -> bool | None:
        value = self.values.get(metric)
        return None if value is None else value >= 0.5


def samples_by_device(batch: ReadingBatch, site: str) -> dict[str, list[Sample]]:
    """Readings of `site` grouped per device and timestamp, each device's list sorted by time.
    A metric repeated at one timestamp keeps its last copy, as the store does."""
    if len(batch) == 0:
        return {}
    names, codes = np.unique(np.asarray(batch.device, dtype=object), return_inverse=True)
    order = np.lexsort((np.arange(len(batch)), batch.ts_ms, codes))
    out: dict[str, list[Sample]] = {}
    current: list[Sample] = []
    last_code = -1
    ts_list = batch.ts_ms.tolist()
    values = batch.value.tolist()
    code_list = codes.tolist()
    for index in order.tolist():
        if batch.site[index] != site:
            continue
        code = code_list[index]
        if code != last_code:
            current = out.setdefault(str(names[code]), [])
            last_code = code
        ts = ts_list[index]
        if not current or current[-1].ts_ms != ts:
            current.append(Sample(ts, {}))
        current[-1].values[batch.metric[index]] = values[index]
    return out
