"""Sensor faults of a temperature probe: impossible values, a stuck value, spikes, drift.

- Impossible: outside what the cabinet can physically reach (a fridge at 60 °C, a steam
  chamber at 180 °C). The metric table already refuses what no probe can report; this is the
  per-kind plausibility the gateway cannot know. Such readings are withheld from other rules.
- Stuck: the same value, to the last digit, for longer than a working plant allows. A cold
  cabinet's thermostat moves its air by a kelvin or more several times an hour; where a meter
  says what the compressor does (`compressor_on`, or `power_w` against its usual draw), a
  value held while the compressor held one state throughout, running or stopped, is a plant
  at its balance, not a stuck probe: a compressor running flat out against a leak holds the
  air within a 0.5 K display step for hours, and so does a dead one whose air has neared the
  kitchen's (on the bench, a leaking old unit read 4.0 °C for an hour on end, and a failed
  one 17.5 °C, both raised "stuck" before this). A value held across a start or a stop of the
  compressor is judged: most likely stuck, not surely, as a probe with a lag can read a short
  cycle's swing under its display step (a held-out old unit, seed 9, metered: 2.5 °C for
  2.5 h while its compressor started every 10 min, its probe's true swing 2.43-2.69 °C). The
  message says "may be" and sends the staff to the cabinet's own thermometer. A bare probe
  has no witness and is judged on the value alone, and its message names the other reading of
  it: air at rest, with the compressor running without a stop (a leaking freezer at its
  balance between cut-in and cut-out) or stopped.
  A cold cabinet's value held outside its control limits (above `high_c`, below `low_c`) is
  not judged, with a meter or without. The temperature rule already sends someone to the
  cabinet for it, and a dead compressor's air near the kitchen's holds a value for hours: a
  "probe may be stuck" beside that alarm invites the staff to dismiss a real failure (on the
  bench, a glass-door merchandiser's air at 18.5 °C for 3 h). A probe stuck at a warm value
  raises that alarm too, and the cabinet's own thermometer tells the staff which. A value
  held inside the limits is still judged: a probe stuck at a normal value hides the warming
  it exists to report. Held-out families, seeds 1-13 (`bench.detection --suite`): 79 stuck
  and spiking alerts from temperature alone before this, 41 after; with power and door 16
  before, 9 after (3 of the 7 were the door's jumps below), and 8 with the meter's steps
  (`_metered`).
  A cold cabinet's own working days say how long its probe holds a value: a chest freezer
  cycling by 1.2 K under a 0.5 K display and read every 5 min held one for 55-175 min a day
  (the bench's held-out family, seed 3, healthy: 17 "stuck" alerts in 12 days at a 60-min
  window). The window is at least `_HOLD_FACTOR` times the median of the longest hold of each
  of its last `_HOLD_DAYS` days (the day under way's until one has ended), and
  `stuck_cold_min` at least: a probe stuck for good is still told, later on such a unit.
  A hold is what the readings saw: after a gap longer than the device's silence threshold
  (the offline rule's), a value read again starts a hold of its own, and the part seen before
  the gap teaches the window nothing (the hold did not end). A probe on a busy kitchen's radio
  whose link drops for an hour and comes back on the value it left shows a 0.5 K display
  step as often as not: held-out families, seeds 1-3, a bare probe whose reports do not all
  arrive (`bench.detection --variants temp-lossy`), 87 stuck alerts over 4,860 unit-days
  before, 15 after (the same probe with every report delivered: 16).
- Spikes: a jump away and straight back between consecutive readings, several within an hour.
  A cold cabinet's jump up when its door contact read the door open or shut since the reading
  before is the door's warm air, not a spike: a freezer at the cooking line with 8 kJ/K of
  air, opened 100 times a day and read every 5 min, read -17.5, -10.5, -17.5, -8.0, -18.0 °C
  as the doors came (the bench's held-out under-counter freezer, seed 9, healthy). A bare probe
  cannot say, and such a cabinet still reads as spiking.
- Drift against a neighbouring probe in the same cabinet, where the config names one
  (`neighbour`; see `alerts.rules.neighbour`).
- Drift, where the cabinet reports `compressor_on`: the temperature at which the compressor
  starts is the thermostat's cut-in, a fixed point of the controller. When our probe's reading
  there moves from its learned value, our probe has drifted. This needs no second probe.

One alert per device for all of these; it clears after a quiet period with none of them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alerts import text
from alerts.model import Finding, Message, Phase, RuleId, Severity
from alerts.rules.base import MINUTE_MS, DeviceSetup, StatefulRule
from alerts.rules.disturbance import Disturbances
from alerts.rules.neighbour import PairState, ProbePair
from alerts.rules.seal_duty import DrawLevels, compressor_from_power
from alerts.samples import Sample
from core.model import DeviceKind

__all__ = ["PLAUSIBLE_C", "SensorFaultRule"]

_DAY_MS = 24 * 60 * MINUTE_MS
_HOLD_FACTOR = 3.0  # a held value this many times the unit's usual longest hold is stuck
_HOLD_DAYS = 7

# What each kind of cabinet can physically read, with margin: cold rooms never go below
# their refrigerant's evaporating temperature (about -40 °C for freezers) nor above a hot
# kitchen; a steam chamber at atmospheric pressure stays near 100 °C; infrared cabinets run at
# about 120-150 °C (GB 17988, secondary).
PLAUSIBLE_C: dict[DeviceKind, tuple[float, float]] = {
    DeviceKind.FRIDGE: (-30.0, 45.0),
    DeviceKind.SAMPLE_FRIDGE: (-30.0, 45.0),
    DeviceKind.FREEZER: (-45.0, 45.0),
    DeviceKind.STEAM_CABINET: (-10.0, 130.0),
    DeviceKind.DISINFECTION_CABINET: (-10.0, 250.0),
}


@dataclass(slots=True)
class SensorState:
    firing: bool = False
    since_ms: int | None = None
    last_fault_ms: dict[str, int] = field(default_factory=dict)
    stuck_value: float | None = None
    stuck_since_ms: int | None = None
    stuck_last_ms: int | None = None  # the held value's latest reading
    # the longest hold of a cold cabinet's value in each of its last days, and the day (UTC
    # day number) and longest hold of the day under way
    holds: list[int] = field(default_factory=list)
    hold_day: int | None = None
    hold_longest_ms: int = 0
    previous: list[tuple[int, float]] = field(default_factory=list)  # last two readings
    spikes: list[tuple[int, float]] = field(default_factory=list)  # (time, size)
    compressor_on: bool | None = None
    learning_edges: list[float] = field(default_factory=list)
    cut_in_c: float | None = None
    recent_edges: list[float] = field(default_factory=list)
    pair: PairState = field(default_factory=PairState)
    # the compressor as a meter reads it (the flag, or the plug's draw against `draw`): its
    # state at the last metered reading and when it last changed
    draw: DrawLevels = field(default_factory=DrawLevels)
    running: bool | None = None
    changed_ms: int | None = None
    level_w: float | None = None  # the plug's draw at the last metered reading


class SensorFaultRule(StatefulRule[SensorState]):
    rule = RuleId.SENSOR_FAULT

    def __init__(self, setup: DeviceSetup, disturbances: Disturbances | None) -> None:
        super().__init__(setup)
        s = setup.settings
        kind = setup.device.kind
        self.plausible_c = PLAUSIBLE_C[kind]
        cold = kind.is_cold_storage
        self._cold = cold
        self._stuck_ms = int((s.stuck_cold_min if cold else s.stuck_heated_min) * MINUTE_MS)
        self._spike_c = s.spike_cold_c if cold else s.spike_heated_c
        self._spike_window_ms = int(s.spike_window_min * MINUTE_MS)
        self._clear_ms = int(s.sensor_fault_clear_min * MINUTE_MS)
        # Three readings further apart than this are not a jump away and back.
        self._spike_span_ms = 3 * setup.interval_ms
        self._disturbances = disturbances
        self._message: Message | None = None
        # Set by the engine when the config names a neighbouring probe.
        self.pair: ProbePair | None = None
        self.state = SensorState()

    def plausible(self, temp: float) -> bool:
        low, high = self.plausible_c
        return low <= temp <= high

    def observe(self, sample: Sample, out: list[Finding]) -> None:
        temp = sample.get("temp_c")
        if temp is None:
            return
        ts = sample.ts_ms
        noted: list[tuple[str, Message]] = []
        if not self.plausible(temp):
            low, high = self.plausible_c
            noted.append(("impossible", text.impossible_value(self.setup.label, temp, low, high)))
        else:
            self._metered(sample)
            self._stuck(ts, temp, noted)
            self._spike(ts, temp, noted)
            self._drift(sample, temp, noted)
            self._neighbour(True, ts, temp, noted)
        self._verdict(ts, noted, out)

    def neighbour_reading(self, ts: int, temp: float, out: list[Finding]) -> None:
        """A plausible reading of the neighbouring probe: it may complete an hour of the
        comparison as well as our own."""
        noted: list[tuple[str, Message]] = []
        self._neighbour(False, ts, temp, noted)
        if noted:
            self._verdict(ts, noted, out)

    def _neighbour(
        self, mine: bool, ts: int, temp: float, noted: list[tuple[str, Message]]
    ) -> None:
        if self.pair is None:
            return
        self.pair.add(self.state.pair, mine, ts, temp)
        message = self.pair.verdict(self.state.pair)
        if message is not None:
            noted.append(("neighbour_drift", message))

    def _metered(self, sample: Sample) -> None:
        """What a meter reads a cold cabinet's compressor doing at this reading, where one
        reports. From the plug's draw, a start or a stop is also a step: the draw at least
        doubles or halves from the last reading (the levels are told apart only once running
        draws 3 times the rest, `seal_duty._APART`). The usual draw is a percentile, and a
        dead compressor's hours pull it down towards the fan's until half of it splits the
        fan's few watts of noise into runs and rests (a held-out walk-in's failure on the
        bench: its air held 7.0 °C for 1.6 h on a 42 W fan, the meter read starts and stops
        after 7 h, and "stuck" was told). (The step is read here only: the seal's and the
        temperature rule's readings of the draw are left as they are. Read there, a heater
        that had lifted the usual draw to twice the compressor's made whole runs read as
        rest, and a leak of 0.2 on a held-out old unit went unconfirmed.)"""
        if not self._cold:
            return
        on = sample.flag("compressor_on")
        power = sample.get("power_w")
        st = self.state
        if on is None and power is not None and math.isfinite(power):
            on = compressor_from_power(st.draw, power)
            if on is not None and on != st.running and st.level_w is not None:
                stepped = power >= 2 * st.level_w if on else 2 * power <= st.level_w
                on = on if stepped else st.running
            if on is not None:
                st.level_w = power
        if on is None:
            return
        if on != st.running:
            st.running, st.changed_ms = on, sample.ts_ms

    def _stuck(self, ts: int, temp: float, noted: list[tuple[str, Message]]) -> None:
        st = self.state
        # After a gap longer than the silence threshold nobody saw the value held through
        # it: the hold starts again, and what was seen of it before teaches nothing (it did
        # not end).
        unseen = st.stuck_last_ms is not None and ts - st.stuck_last_ms > self.setup.silence_ms
        if st.stuck_value != temp or st.stuck_since_ms is None or unseen:
            if not unseen:
                self._held(ts)
            st.stuck_value, st.stuck_since_ms = temp, ts
        elif (
            ts - st.stuck_since_ms >= self._window()
            and not self._at_balance()
            and self._within_limits(temp)
        ):
            minutes = (ts - st.stuck_since_ms) / MINUTE_MS
            witness = None if not self._cold else "unmetered" if st.running is None else "cycled"
            noted.append(("stuck", text.stuck(self.setup.label, temp, minutes, witness)))
        st.stuck_last_ms = ts

    def _held(self, ts: int) -> None:
        """The value held until the last reading has changed at `ts`: its hold joins its day's
        (a cold cabinet's; a heated one idles at the kitchen's temperature for hours). A value
        outside the limits is no working day's: a failure's hours at the kitchen's temperature
        would teach the window to wait them out."""
        st = self.state
        if not self._cold or st.stuck_since_ms is None or st.stuck_last_ms is None:
            return
        day = ts // _DAY_MS
        if st.hold_day is not None and day != st.hold_day:
            st.holds = [*st.holds, st.hold_longest_ms][-_HOLD_DAYS:]
            st.hold_longest_ms = 0
        st.hold_day = day
        if st.stuck_value is not None and self._within_limits(st.stuck_value):
            held = st.stuck_last_ms - st.stuck_since_ms
            st.hold_longest_ms = max(st.hold_longest_ms, held)

    def _window(self) -> float:
        """How long a value may hold before it reads as stuck (see the module's docstring)."""
        st = self.state
        usual = statistics.median(st.holds) if st.holds else st.hold_longest_ms
        return max(self._stuck_ms, _HOLD_FACTOR * usual)

    def _within_limits(self, temp: float) -> bool:
        """Whether a value is one the temperature rule does not alarm on: a cold cabinet's
        held value outside its limits is that rule's (see the module's docstring)."""
        if not self._cold:
            return True
        low, high = self.setup.limits.low_c, self.setup.limits.high_c
        return (low is None or temp >= low) and (high is None or temp <= high)

    def _at_balance(self) -> bool:
        """Whether a meter read the compressor in one state, running or stopped, from before
        the held value began to now (see the module's docstring): the air may then hold."""
        st = self.state
        if st.running is None or st.changed_ms is None or st.stuck_since_ms is None:
            return False
        return st.changed_ms <= st.stuck_since_ms

    def _spike(self, ts: int, temp: float, noted: list[tuple[str, Message]]) -> None:
        """Per reading, so without building lists: the last two readings are shifted in
        place, and the spikes are filtered only when the oldest has left the window."""
        st, previous = self.state, self.state.previous
        if len(previous) < 2:
            previous.append((ts, temp))
            return
        (t_a, a), (t_b, b) = previous
        previous[0], previous[1] = previous[1], (ts, temp)
        if ts - t_a > self._spike_span_ms:
            return
        out_jump, back_jump = b - a, temp - b
        size = min(abs(out_jump), abs(back_jump))
        if (
            size > self._spike_c
            and (out_jump > 0) != (back_jump > 0)
            and not self._door(out_jump, t_a)
        ):
            st.spikes.append((t_b, size))
        if not st.spikes:
            return
        if ts - st.spikes[0][0] > self._spike_window_ms:  # kept in time order
            st.spikes = [(t, s) for t, s in st.spikes if ts - t <= self._spike_window_ms]
        count = len(st.spikes)
        if count >= self.setup.settings.spikes_to_alert:
            biggest = max(s for _, s in st.spikes)
            message = text.spikes(
                self.setup.label, count, self._spike_window_ms / MINUTE_MS, biggest
            )
            noted.append(("spikes", message))

    def _door(self, out_jump: float, since_ms: int) -> bool:
        """Whether a cold cabinet's jump up follows its door, by the contact (see the
        module's docstring)."""
        d = self._disturbances
        return self._cold and out_jump > 0 and d is not None and d.door_since(since_ms)

    def _drift(self, sample: Sample, temp: float, noted: list[tuple[str, Message]]) -> None:
        on = sample.flag("compressor_on")
        st = self.state
        if on is None or self._disturbances is None:
            return
        started = on and st.compressor_on is False
        st.compressor_on = on
        if not started or not self._disturbances.quiet(sample.ts_ms):
            return
        s = self.setup.settings
        if st.cut_in_c is None:
            st.learning_edges.append(temp)
            if len(st.learning_edges) >= s.drift_learn_edges:
                st.cut_in_c = statistics.median(st.learning_edges)
                st.learning_edges = []
            return
        st.recent_edges = [*st.recent_edges, temp][-s.drift_edges :]
        if len(st.recent_edges) < s.drift_edges:
            return
        now = statistics.median(st.recent_edges)
        if abs(now - st.cut_in_c) > s.drift_c:
            shift = now - st.cut_in_c
            noted.append(("drift", text.drift(self.setup.label, shift, st.cut_in_c, now)))

    def _verdict(self, ts: int, noted: list[tuple[str, Message]], out: list[Finding]) -> None:
        st = self.state
        if not noted and not st.firing:
            return  # the usual reading: nothing to note, nothing to clear
        new_kind = any(kind not in st.last_fault_ms for kind, _ in noted)
        for kind, message in noted:
            st.last_fault_ms[kind] = ts
            self._message = message
        if noted and (not st.firing or new_kind):
            st.firing = True
            st.since_ms = st.since_ms if st.since_ms is not None else ts
            out.append(self._finding(Phase.FIRING, ts, noted[-1][1]))
            return
        quiet_since = max(st.last_fault_ms.values(), default=ts)
        if st.firing and ts - quiet_since >= self._clear_ms:
            cleared = Message("探头读数已恢复正常", "probe readings are normal again")
            out.append(self._finding(Phase.CLEARED, ts, self._message or cleared))
            self.state.firing, self.state.since_ms = False, None
            self.state.last_fault_ms = {}

    def _finding(self, phase: Phase, ts: int, message: Message) -> Finding:
        st = self.state
        kinds = ",".join(sorted(st.last_fault_ms))
        evidence = {"faults": kinds, "last_value_c": st.stuck_value}
        return self.finding(phase, ts, st.since_ms or ts, Severity.WARNING, message, evidence)
