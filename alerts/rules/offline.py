"""Offline devices, and a whole site gone silent, judged when the clock passes a deadline.

A device is silent once the clock is past its last reading by its silence threshold
(k × its reporting interval, never less than the floor; settings), or at once when its Last
Will (`offline` presence) arrives after its last reading. A silent device's alert is pending
for `offline_settle_s` before it fires: when every device of the site falls silent together
(the gateway, the network or the broker is down) the settle time lets the site alert replace
the storm of device alerts. The condition clears when the device is current again: its
newest reading is within the threshold of the clock (a device replaying a buffer after an
outage stays offline until the replay catches up, then resolves once).

Devices that never reported count from when the watch started. Silence is judged by the
real clock only while the watch is listening (DESIGN.md, time): after a (re)start every device
has its silence threshold to deliver what the broker kept for it before a deadline it missed
while the service was down counts, so a restart alone raises no offline alert; an alert open
from before the restart stays open meanwhile, neither cleared nor raised again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alerts import text
from alerts.model import Finding, Message, Phase, RuleId, Severity
from alerts.rules.base import MINUTE_MS, DeviceSetup, dump_state, load_state

__all__ = ["OfflineWatch"]

_MIN_DEVICES_FOR_SITE = 2


@dataclass(slots=True)
class DeviceSeen:
    last_ms: int | None = None
    # When its latest reading arrived, when that was later than the reading's own time (a
    # device replaying its buffer is talking now, however old what it says).
    arrived_ms: int | None = None
    will_ms: int | None = None  # Last Will received after the last reading
    phase: str = "ok"  # ok | pending | firing | covered (by the site alert)


@dataclass(slots=True)
class OfflineState:
    started_ms: int | None = None
    listening_ms: int | None = None  # when this run of the service began to listen; not kept
    devices: dict[str, DeviceSeen] = field(default_factory=dict)
    site_firing: bool = False


class OfflineWatch:
    def __init__(self, site: str, site_name: str, setups: list[DeviceSetup]) -> None:
        self._site = site
        self._site_name = site_name
        self._setups = {s.id: s for s in setups}
        self.state = OfflineState(devices={s.id: DeviceSeen() for s in setups})

    def snapshot(self) -> Any:
        return dump_state(self.state)

    def restore(self, data: Any) -> None:
        restored = load_state(OfflineState, data)
        for device in self._setups:
            restored.devices.setdefault(device, DeviceSeen())
        restored.listening_ms = None  # a restart listens afresh
        self.state = restored

    def seen(self, device: str, ts: int, arrived_ms: int | None = None) -> None:
        seen = self.state.devices.get(device)
        if seen is None:
            return
        if seen.last_ms is None or ts > seen.last_ms:
            seen.last_ms = ts
        if arrived_ms is not None and arrived_ms > seen.last_ms:
            seen.arrived_ms = max(arrived_ms, seen.arrived_ms or arrived_ms)
        if seen.will_ms is not None and ts >= seen.will_ms:
            seen.will_ms = None

    def presence(self, device: str, online: bool, at_ms: int) -> None:
        seen = self.state.devices.get(device)
        if seen is None:
            return
        if online:
            self.seen(device, at_ms)
        elif seen.last_ms is None or at_ms > seen.last_ms:
            seen.will_ms = at_ms

    def at(self, now_ms: int, out: list[Finding]) -> None:
        st = self.state
        if st.started_ms is None:
            st.started_ms = now_ms
        if st.listening_ms is None:
            st.listening_ms = now_ms
        silent = {d: since for d in st.devices if (since := self._silent_since(d, now_ms))}
        undecided = {d for d in silent if self._undecided(d, now_ms)}
        everyone = len(st.devices) >= _MIN_DEVICES_FOR_SITE and len(silent) == len(st.devices)
        if everyone and not undecided:
            self._site_silent(now_ms, silent, out)
            return
        if everyone and st.site_firing:
            return  # silent since before a restart, and perhaps about to deliver its backlog
        if st.site_firing:
            st.site_firing = False
            out.append(self._site_finding(Phase.CLEARED, now_ms, now_ms, 0))
        for device, seen in st.devices.items():
            if device not in undecided:
                self._judge_device(device, seen, silent.get(device), now_ms, out)

    def _undecided(self, device: str, now_ms: int) -> bool:
        """Past its deadline, but the watch has listened for less than the silence threshold:
        the device may still be delivering what it said while nobody listened."""
        st, seen = self.state, self.state.devices[device]
        assert st.listening_ms is not None
        listening_for = now_ms - st.listening_ms
        return seen.will_ms is None and listening_for <= self._setups[device].silence_ms

    def _silent_since(self, device: str, now_ms: int) -> int | None:
        seen = self.state.devices[device]
        if seen.will_ms is not None:
            return seen.will_ms
        heard = [t for t in (seen.last_ms, seen.arrived_ms) if t is not None]
        reference = max(heard) if heard else self.state.started_ms
        assert reference is not None
        deadline = reference + self._setups[device].silence_ms
        return deadline if now_ms > deadline else None

    def _site_silent(self, now_ms: int, silent: dict[str, int], out: list[Finding]) -> None:
        st = self.state
        for device, seen in st.devices.items():
            if seen.phase == "pending":
                out.append(self._device_finding(Phase.CLEARED, device, now_ms, now_ms))
            if seen.phase != "firing":
                seen.phase = "covered"
        if not st.site_firing:
            st.site_firing = True
            since = max(silent.values())
            out.append(self._site_finding(Phase.FIRING, now_ms, since, len(silent)))

    def _judge_device(
        self, device: str, seen: DeviceSeen, since: int | None, now_ms: int, out: list[Finding]
    ) -> None:
        if since is None:
            if seen.phase in ("pending", "firing"):
                out.append(self._device_finding(Phase.CLEARED, device, now_ms, now_ms))
            seen.phase = "ok"
            return
        if seen.phase in ("ok", "covered"):
            seen.phase = "pending"
            out.append(self._device_finding(Phase.PENDING, device, now_ms, since))
        settle_ms = self._setups[device].settings.offline_settle_s * 1000
        if seen.phase == "pending" and now_ms - since >= settle_ms:
            seen.phase = "firing"
            out.append(self._device_finding(Phase.FIRING, device, now_ms, since))

    def _device_finding(self, phase: Phase, device: str, now_ms: int, since: int) -> Finding:
        setup = self._setups[device]
        seen = self.state.devices[device]
        last = seen.last_ms if seen.last_ms is not None else self.state.started_ms or now_ms
        minutes = (now_ms - last) / MINUTE_MS
        message = text.offline(setup.label, minutes, seen.will_ms is not None)
        evidence = {"last_reading_ms": seen.last_ms, "last_will": int(seen.will_ms is not None)}
        return Finding(
            device, RuleId.OFFLINE, phase, now_ms, since, Severity.WARNING, message, evidence
        )

    def _site_finding(self, phase: Phase, now_ms: int, since: int, devices: int) -> Finding:
        lasts = [s.last_ms for s in self.state.devices.values() if s.last_ms is not None]
        minutes = (now_ms - max(lasts)) / MINUTE_MS if lasts else 0.0
        message: Message = text.site_offline(self._site_name, devices, minutes)
        evidence = {"devices": devices, "minutes": round(minutes, 1)}
        return Finding(
            self._site,
            RuleId.SITE_OFFLINE,
            phase,
            now_ms,
            since,
            Severity.CRITICAL,
            message,
            evidence,
        )
