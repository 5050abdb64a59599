"""The rules' start-up, device group by device group (DESIGN.md, time: a restart loses no
reading for the rules, and no device is judged on history that has not been replayed).

Each device resumes from its saved state and replays the readings stored since its watermark;
with no saved state, the last `seal_baseline_days` plus one day (the look-back of the longest
learner, the door-seal baseline, on school days: where a weekend or a holiday fell in it, the
seal goes on learning live until its days with meals are complete; the over-temperature,
sensor, offline and disinfection rules need hours of it). On 200 fridges that is 1.8 M
readings and took minutes; replayed for the whole site before any live reading was judged, a
fridge at 12 °C raised nothing meanwhile.

So the devices are replayed in small groups (a device and the neighbour whose probe it compares
with always together), shortest replay first, except that a device reporting out of its band
while it waits goes next (`next_group`: its alert is the one a person waits for). Each group
replays in a scratch engine of its own (`CatchUp.replay`, in a thread), while the live engine
already judges the devices released before it. When a group's replay is done, its state moves
into the live engine and what arrived for it meanwhile is judged, in order (`alerts.start_up`).
A device's live readings thus wait only for its own replay and one group's, never the site's.

The scratch engine's offline verdicts are not kept: it hears only the group it replays, and
the live engine's offline watch hears every device as it arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.engine import EngineOutput, RuleEngine
from alerts.model import RuleId
from core.clock import Clock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig
from core.readings import ReadingBatch

__all__ = ["CatchUp", "DeviceGroup", "Progress", "Replayed"]

# A read of the store holds at most about as many readings as 6 hours of the whole site: a
# group of 8 of 200 devices reads 150 hours at once (25 reads for a site of 200 instead of 500,
# each a scan of the readings' time range).
SITE_CHUNK = timedelta(hours=6)
# Devices replayed together. Smaller groups release the first devices sooner; each group's
# history is read once per chunk, so larger ones read the store fewer times.
GROUP_SIZE = 8
_SITE_WIDE = {RuleId.OFFLINE, RuleId.SITE_OFFLINE}


@dataclass(frozen=True, slots=True)
class DeviceGroup:
    devices: tuple[str, ...]
    start: datetime  # replay the stored readings after this (the oldest device's watermark)


@dataclass(frozen=True, slots=True)
class Replayed:
    """A group's replay: its devices' states to move into the live engine, and what the
    rules found in it (already applied to the alert book and registers by `flush`)."""

    states: dict[str, str]
    watermarks: dict[str, int]  # the newest reading replayed per device
    end: datetime
    readings: int


@dataclass(slots=True)
class Progress:
    """What `/api/health` says while the rules catch up (read from the event loop)."""

    devices: int = 0
    released: int = 0
    groups_done: int = 0
    readings_replayed: int = 0
    replaying: tuple[str, ...] = ()
    replay_from_ms: int | None = None
    replayed_to_ms: int | None = None
    replay_end_ms: int | None = None
    started_ms: int | None = None
    done_ms: int | None = None

    def figures(self) -> dict[str, object]:
        def iso(ms: int | None) -> str | None:
            return None if ms is None else utc_from_ms(ms).isoformat()

        return {
            "devices_waiting": self.devices - self.released,
            "devices_live": self.released,
            "groups_done": self.groups_done,
            "readings_replayed": self.readings_replayed,
            "replaying": list(self.replaying),
            "replay_from": iso(self.replay_from_ms),
            "replayed_to": iso(self.replayed_to_ms),
            "replay_until": iso(self.replay_end_ms),
            "started_at": iso(self.started_ms),
            "done_at": iso(self.done_ms),
        }


class CatchUp:
    def __init__(self, config: SiteConfig, clock: Clock, *, group_size: int = GROUP_SIZE) -> None:
        self._config = config
        self._clock = clock
        self._group_size = max(1, group_size)
        # With no saved state, enough history for the longest learner (the seal baseline).
        self.history = timedelta(
            days=max((config.rules_for(d).seal_baseline_days for d in config.devices), default=0)
            + 1
        )
        self._scratch: RuleEngine | None = None
        self._queue: list[tuple[list[str], datetime]] = []
        self.progress = Progress(devices=len(config.devices))

    def plan(
        self, states: Mapping[str, str], marks: Mapping[str, int | None], now: datetime
    ) -> int:
        """Line the devices up, shortest replay first; returns how many. `marks`: each
        device's watermark in the saved state (None: no state, so the whole `history`)."""
        floor = now - self.history
        starts = {
            d.id: utc_from_ms(mark) if (mark := marks.get(d.id)) is not None else floor
            for d in self._config.devices
        }
        units = [(unit, min(starts[d] for d in unit)) for unit in _pairs(self._config)]
        units.sort(key=lambda unit: -to_epoch_ms(unit[1]))
        self._queue = units
        self._scratch = RuleEngine(self._config, self._clock)
        self._scratch.restore({k: v for k, v in states.items() if k in starts})
        progress = self.progress
        progress.replay_end_ms = to_epoch_ms(now)
        progress.started_ms = to_epoch_ms(self._clock.now())
        progress.replay_from_ms = min((to_epoch_ms(s) for _, s in units), default=None)
        return len(starts)

    def next_group(self, urgent: Collection[str]) -> DeviceGroup | None:
        """The next devices to replay: those `urgent` first (reporting out of their band
        now: someone needs their verdict), then in line; None when none is left."""
        pressing = [u for u in self._queue if any(d in urgent for d in u[0])]
        chosen: list[tuple[list[str], datetime]] = []
        for unit in [*pressing, *(u for u in self._queue if u not in pressing)]:
            if chosen and sum(len(c[0]) for c in chosen) + len(unit[0]) > self._group_size:
                break
            chosen.append(unit)
        if not chosen:
            return None
        self._queue = [u for u in self._queue if u not in chosen]
        devices = tuple(d for unit, _ in chosen for d in unit)
        return DeviceGroup(devices, min(start for _, start in chosen))

    @property
    def waiting(self) -> bool:
        """Devices are still in line."""
        return bool(self._queue)

    def replay(
        self,
        group: DeviceGroup,
        read: Callable[[datetime, datetime, tuple[str, ...]], ReadingBatch],
        flush: Callable[[EngineOutput], object],
        end: datetime,
        stopping: threading.Event,
        *,
        since: datetime | None = None,
    ) -> Replayed:
        """Run the group's stored readings in (start, end] (from `since` when given: a second
        pass over what was read back after an overflow) through the scratch engine, a chunk at
        a time, each chunk's findings handed to `flush`. Stops early when `stopping` is set."""
        scratch = self._scratch
        assert scratch is not None, "plan() first"
        start = since or group.start
        progress = self.progress
        progress.replaying = group.devices
        chunk = SITE_CHUNK * max(1, len(self._config.devices) // len(group.devices))
        replayed = 0
        while start < end and not stopping.is_set():
            stop = min(start + chunk, end)
            batch = read(start, stop, group.devices)
            replayed += len(batch)
            flush(_own(scratch.process(batch, live=False)))
            progress.readings_replayed += len(batch)
            progress.replayed_to_ms = to_epoch_ms(stop)
            start = stop
        rules = [scratch.devices[d] for d in group.devices if d in scratch.devices]
        return Replayed(
            {r.setup.id: r.snapshot() for r in rules},
            {r.setup.id: r.watermark_ms for r in rules if r.watermark_ms is not None},
            end,
            replayed,
        )

    def released(self, group: DeviceGroup, *, last: bool) -> None:
        self.progress.released += len(group.devices)
        self.progress.groups_done += 1
        self.progress.replaying = ()
        if last:
            self.progress.done_ms = to_epoch_ms(self._clock.now())
            self._scratch = None  # its memory back: every state now lives in the live engine


def _own(output: EngineOutput) -> EngineOutput:
    """The group's own findings: the scratch engine's offline verdicts judge the devices it
    does not replay as silent."""
    output.findings = [f for f in output.findings if f.rule not in _SITE_WIDE]
    return output


def _pairs(config: SiteConfig) -> list[list[str]]:
    """The devices in units replayed together: each device with the neighbours whose probes
    are compared with its own (either way, chains joined), the others alone; in config order."""
    known = [d.id for d in config.devices]
    root = {d: d for d in known}

    def find(name: str) -> str:
        while root[name] != name:
            root[name] = root[root[name]]
            name = root[name]
        return name

    for device in config.devices:
        if device.neighbour in root:
            root[find(device.id)] = find(device.neighbour)
    units: dict[str, list[str]] = {}
    for name in known:
        units.setdefault(find(name), []).append(name)
    return list(units.values())
