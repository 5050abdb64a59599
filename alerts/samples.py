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
    size = len(batch)
    if size == 0:
        return {}
    names, codes = np.unique(np.asarray(batch.device, dtype=object), return_inverse=True)
    order = np.lexsort((np.arange(size), batch.ts_ms, codes))
    if batch.site.count(site) != size:  # a replay or a bridge may mix sites; live batches do not
        ours = np.fromiter((s == site for s in batch.site), dtype=bool, count=size)
        order = order[ours[order]]
    # Where, in time order per device, a new device and a new instant begin: computed on the
    # arrays at once, so the loop below only builds the samples.
    sorted_codes, sorted_ts = codes[order], batch.ts_ms[order]
    new_device = np.ones(len(order), dtype=bool)
    new_device[1:] = sorted_codes[1:] != sorted_codes[:-1]
    new_sample = new_device.copy()
    new_sample[1:] |= sorted_ts[1:] != sorted_ts[:-1]
    out: dict[str, list[Sample]] = {}
    current: list[Sample] = []
    values: dict[str, float] = {}
    metric, value = batch.metric, batch.value
    rows = zip(
        order.tolist(),
        sorted_codes.tolist(),
        sorted_ts.tolist(),
        new_device.tolist(),
        new_sample.tolist(),
        value[order].tolist(),
        strict=True,
    )
    for index, code, ts, device_starts, sample_starts, reading in rows:
        if device_starts:
            current = out[str(names[code])] = []
        if sample_starts:
            values = {}
            current.append(Sample(ts, values))
        values[metric[index]] = reading
    return out
