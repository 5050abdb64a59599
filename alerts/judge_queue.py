"""Readings stored and not judged yet: what the live rules work through, device by device, the
devices whose readings cross a line first.

The store writer hands every stored batch to the alerts service on the event loop. Judging a
merged batch of thousands of readings there at once (~27 us a reading) held the loop, and
ingest with it, for 100-250 ms at 10 k msg/s; a reading that crossed a line waited behind all
of them before its alert could go out. The queue takes a batch in (grouping it per device,
cheap), and the service's judging task takes it out in slices, yielding to the event loop
between its turns (`alerts.live_judge`).

Order: each device's readings are judged in the order they were stored (its list only grows at
the end, and a device is taken whole), so per-device order, the engine's watermark and its
late-reading rule hold as before. Devices are independent of each other (the seal's kitchen
board, `seal_peers`, reads only what the others told of hours before the asking one), so the
order between them is free: a device with a reading beyond its limits (`low_c` / `high_c`), or
whose last queued reading was, goes before the others (the reading that fires an alert, and
the one that clears it). The others go oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerts.samples import Sample, samples_by_device
from core.model import Limits
from core.readings import ReadingBatch

__all__ = ["JudgeQueue"]

_Band = tuple[float, float]


class JudgeQueue:
    """Per device, the samples waiting to be judged, oldest device first."""

    def __init__(self, site: str, limits: Mapping[str, Limits]) -> None:
        self._site = site
        # The band a temperature may move in without crossing a line, per device with limits.
        self._bands = _bands(limits)
        self._known = frozenset(limits)
        self._waiting: dict[str, list[Sample]] = {}  # insertion order: oldest first
        self._urgent: dict[str, None] = {}  # ordered set: waiting devices to judge first
        self._beyond: set[str] = set()  # devices whose last queued reading was out of band
        self.readings = 0  # samples waiting

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def add(self, batch: ReadingBatch) -> None:
        """The batch's readings of this site's known devices, behind those already waiting."""
        for device, samples in samples_by_device(batch, self._site).items():
            if device not in self._known:
                continue  # the gateway refuses unknown devices; the engine skips them too
            waiting = self._waiting.get(device)
            if waiting is None:
                self._waiting[device] = samples
            else:
                waiting.extend(samples)
            self.readings += len(samples)
            if self._crosses(device, samples):
                self._urgent[device] = None

    def take(self, limit: int) -> list[tuple[str, list[Sample]]]:
        """Whole devices, urgent ones first, then the oldest, until `limit` samples are taken
        (at least one device when any waits)."""
        taken: list[tuple[str, list[Sample]]] = []
        count = 0
        while self._waiting and (count < limit or not taken):
            device = next(iter(self._urgent), None) or next(iter(self._waiting))
            samples = self._waiting.pop(device)
            self._urgent.pop(device, None)
            taken.append((device, samples))
            count += len(samples)
        self.readings -= count
        return taken

    def take_all(self) -> list[tuple[str, list[Sample]]]:
        return self.take(self.readings)

    def take_device(self, device: str) -> list[tuple[str, list[Sample]]]:
        """The device's waiting samples (none: an empty list)."""
        samples = self._waiting.pop(device, None)
        self._urgent.pop(device, None)
        if samples is None:
            return []
        self.readings -= len(samples)
        return [(device, samples)]

    def limits_changed(self, device: str, limits: Limits) -> None:
        """The device is judged by new limits from now on (an admin's override)."""
        self._bands.pop(device, None)
        self._bands.update(_bands({device: limits}))

    def _crosses(self, device: str, samples: list[Sample]) -> bool:
        """Whether a sample is beyond the device's band, or the device comes back into it
        (its last queued reading was beyond). Remembers where its last sample stood."""
        band = self._bands.get(device)
        if band is None:
            return False
        low, high = band
        was_beyond = device in self._beyond
        crossed = False
        for sample in samples:
            temp = sample.values.get("temp_c")
            if temp is not None:
                beyond = not low <= temp <= high
                crossed = crossed or beyond or was_beyond != beyond
                was_beyond = beyond
        if was_beyond:
            self._beyond.add(device)
        else:
            self._beyond.discard(device)
        return crossed


def _bands(limits: Mapping[str, Limits]) -> dict[str, _Band]:
    """Per device with a temperature limit, the band it may move in without crossing one."""
    return {
        device: (
            limit.low_c if limit.low_c is not None else float("-inf"),
            limit.high_c if limit.high_c is not None else float("inf"),
        )
        for device, limit in limits.items()
        if limit.low_c is not None or limit.high_c is not None
    }
