"""The live side of the alerts service's start-up: which devices have not caught up yet, what is
held for them, and each group's hand-over to the live engine (`alerts.catch_up` replays them).

Before the saved state is read, every device is behind and presence changes wait too. Once it
is in the live engine, presence is judged as it comes (it moves only the site-wide offline
watch, which lives there), and every reading of a device still behind is heard by the offline
watch at once (the device is talking) though judged only after its replay. A group's release
happens in one step of the event loop: its replayed state into the live engine, then what was
held for it, in order; only then do its new readings go straight to the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from alerts.catch_up import CatchUp, DeviceGroup, Replayed
from alerts.engine import EngineOutput, RuleEngine
from alerts.held import HeldArrivals, part_of
from core.clock import Clock, to_epoch_ms
from core.config import SiteConfig
from core.readings import PresenceChange, ReadingBatch

__all__ = ["StartUp", "joined"]


class StartUp:
    def __init__(
        self,
        config: SiteConfig,
        clock: Clock,
        engine: RuleEngine,
        *,
        hold_readings: int,
        group_size: int,
    ) -> None:
        self._clock = clock
        self._engine = engine
        self.catch_up = CatchUp(config, clock, group_size=group_size)
        self.behind: set[str] = {d.id for d in config.devices}
        self.held = HeldArrivals(hold_readings)
        self._early_presence: list[tuple[PresenceChange, ...]] = []
        self.loaded = False  # the saved state is in the live engine
        # Cold stores reporting out of their band while they wait replay next (`CatchUp`).
        self.urgent: set[str] = set()
        self._bands = {
            d.id: (limits.low_c, limits.high_c)
            for d in config.devices
            if d.kind.is_cold_storage and (limits := config.limits_for(d))
        }

    def figures(self) -> dict[str, Any]:
        """How far it is (`/api/health`): devices waiting and live, the group replaying and
        up to when, readings held for the waiting ones."""
        return {
            **self.catch_up.progress.figures(),
            "held_readings": self.held.readings,
            "read_back_from_store": self.held.overflow is not None,
        }

    def hold_behind(self, batch: ReadingBatch) -> ReadingBatch:
        """Hold the readings of devices still catching up; return the others."""
        held = part_of(batch, self.behind, inside=True)
        if not len(held):
            return batch
        self.held.batch(held)
        self._note_urgent(held)
        if self.loaded:
            self._heard(held)
        return part_of(batch, self.behind, inside=False)

    def presence_waits(self, changes: Sequence[PresenceChange]) -> bool:
        """Keep presence that comes before the saved state is read; False: judge it now."""
        if not self.loaded:
            self._early_presence.append(tuple(changes))
        return not self.loaded

    def load(self, states: dict[str, str], now: datetime, found: EngineOutput) -> int:
        """The saved state into the live engine; presence that came meanwhile is judged (into
        `found`), the readings held so far are heard by the offline watch; the devices lined up
        for their replay (how many)."""
        self._engine.restore(states)
        self.loaded = True
        for changes in self._early_presence:
            found.extend(self._engine.presence(changes))
        self._early_presence.clear()
        for held in self.held.batches():
            self._heard(held)
        marks = {name: rules.watermark_ms for name, rules in self._engine.devices.items()}
        return self.catch_up.plan(states, marks, now)

    def read_back_until(self, replayed: Replayed) -> int | None:
        """Past the hold's bound, readings of the group were dropped: the newest instant to
        read back to, if later than its replay went."""
        span = self.held.overflow
        if span is not None and span[1] > to_epoch_ms(replayed.end):
            return span[1]
        return None

    def release(
        self,
        group: DeviceGroup,
        replayed: Replayed,
        judge: Callable[[ReadingBatch], EngineOutput],
        *,
        last: bool,
    ) -> EngineOutput:
        """The group's replayed state into the live engine, then what was held for it judged
        (`judge`, in order), in this one step: no batch of the group can slip in between."""
        self._engine.restore(replayed.states)
        for device, mark in replayed.watermarks.items():
            self._engine.offline.seen(device, mark)
        found = EngineOutput()
        for held in self.held.release(group.devices, last=last):
            found.extend(judge(held))
        self.behind.difference_update(group.devices)
        self.urgent.difference_update(group.devices)
        self.catch_up.released(group, last=last)
        if last:
            self.behind.clear()
        return found

    def _note_urgent(self, batch: ReadingBatch) -> None:
        values = batch.value.tolist()
        for device, metric, value in zip(batch.device, batch.metric, values, strict=True):
            band = self._bands.get(device)
            if band is None or metric != "temp_c" or device in self.urgent:
                continue
            low, high = band
            if (high is not None and value > high) or (low is not None and value < low):
                self.urgent.add(device)

    def _heard(self, batch: ReadingBatch) -> None:
        """A device still catching up is talking now: the offline watch hears it at once."""
        now_ms = to_epoch_ms(self._clock.now())
        newest: dict[str, int] = {}
        for device, ts in zip(batch.device, batch.ts_ms.tolist(), strict=True):
            newest[device] = max(ts, newest.get(device, ts))
        for device, ts in newest.items():
            self._engine.offline.seen(device, ts, now_ms)


def joined(before: Replayed | None, after: Replayed) -> Replayed:
    """Two passes of one group's replay (the second reading back an overflow) as one."""
    if before is None:
        return after
    marks = {**before.watermarks, **after.watermarks}
    return Replayed(after.states, marks, after.end, before.readings + after.readings)
