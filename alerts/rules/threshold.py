"""Over- and under-temperature of cold storage: a limit, a duration and a hysteresis.

Over-temperature (fridge default: above 8 °C for 30 min, clears below 7 °C; DESIGN.md):

- A run starts at the first reading strictly above the limit; 8.0 °C on an 8 °C limit is in
  band. A run ends at the first reading at or below the limit, or at a gap in the data longer
  than the device's silence threshold (nobody saw what happened in it; the offline rule
  reports the gap).
- A run that starts within the door grace after a door opening, or during a defrost or its
  recovery, is excused until that disturbance is over; the duration counts from then. A door
  left open past its grace or a defrost past its maximum excuses nothing: the duration then
  counts from the start of the run, and so does a rise that outlasts the door's grace with the
  air still well above where it was before the door opened (a cooling fault that a door
  happened to meet, not the door). A warm spell with the door shut, on a defrost timer or not,
  is excused while it stays within this unit's learned defrost signature (its own spells'
  length and how far they warm the food, or the air when the air is judged;
  `alerts.rules.defrost_signature`); one that warms past it is excused no longer, and one that
  outlasts it without pulling the air down (a heater that does not stop, a compressor that
  died), or whose pull-down stalled above the limit, is excused by nothing, a timer's window
  included: it counts from the start of the run, or, where the compressor had pulled the air
  below the food's estimate and below where the run began (`_outlasted_from`), from when the
  spell outlasted this unit's defrosts or the air rose back over the food's estimate and
  stayed there, whichever came first. Air that keeps warming after a defrost has
  ended is not recovering from it, and nor is air that has not stepped down 1 K from its warmest
  since the defrost by the end of the recovery's while (a compressor that restarts pulls the
  air down by kelvins within minutes; a dead one's air near its balance with the kitchen only
  creeps up). With the door shut since, the defrost did not explain the rise either (a
  compressor that failed before or during the defrost), so the duration counts from the start
  of the run - the food has been warm since then - and the alert fires as soon as that is
  known. When the door was opened after the defrost (breakfast preparation), the warming may be
  the kitchen's: the duration counts from the defrost's end, or from the recovery's end when
  the air merely did not step down.
- Firing needs `alert_after_min` of unexcused run (at exactly the duration it fires). Once
  firing, it clears only below `high_c - clear_margin_c` (7 °C), so a fridge hovering at the
  limit raises one alert, not one per crossing.

Under-temperature (fridge below 0 °C: frozen produce) mirrors it without excuses: doors and
defrosts warm a cabinet, they never cool it.

What is judged (`judge_on`, `core.rule_settings`): over-temperature of cold storage is judged
by default on the food's temperature estimated from the air (`alerts.rules.product`, a first-
order lag of 30-45 min), so a door opening or a defrost that warms the air for minutes is no
alarm source by physics: the food barely moves. The excuses above still apply to a run of the
estimate, as a second line, and one more that only the food has: once the air is back in band
after a warm spell no longer than a defrost (reported, or recognised by its shape when the
timer drifts), the estimate above the limit is the fading memory of that spell: with the air
below the limit the food is cooling (a first-order lag only moves toward the air). So it is
while a spell, in progress or ended, is pulled down: the air 1 K below the estimate, or
stepping down 1 K at least every 15 min (a compressor at work; the air may be above the food
for the first minutes of it): below where the run began, or, from a warm spell that came after
the run began (a defrost on air the doors had warmed), from its crest to the food's estimate
or below. A door bump falling back is no step: over a dead compressor the air falls back to
its climbing trend, above the food that lags it.
That memory is excused for 3 tau after the spell (5 % of it left), so a long heater defrost
does not raise an alert on food that never warmed. Air falling when the duration is reached
(a step or more below its warmest of the last 15 min, lower at each reading; a heater's top
held over several readings is its warmest at the last of them; a report back up within a
display step just after its lowest, no warmer than the one before, is a probe that reports
on change flickering across its step, `_flickered`) holds the verdict while it
falls: the next readings tell a pull-down that reaches the food from a door's warmth falling
back to the climbing air of a compressor that died. Air back up from the fall's lowest by less
than half the fall, on a fall that gathered pace (a compressor's pull-down), is a door's bump
on it: the verdict waits for it once in a run, up to 6 min from the lowest (`_door_bump`).
So does a meter
that reads the compressor started again within the last 15 min (`compressor_on`, or
`power_w` above half its usual draw): above the limit the thermostat holds it on, so it had
stopped for a defrost and is pulling down now; the verdict waits at most 15 min for the air
to show it. Before the unit's defrosts are known (none reported, no timer, no signature), a
meter that reads the compressor stopped holds the verdict for a defrost's maximum from the
stop under way when it fell due, as a reported `defrost_on` would (`_resting`), and not
again for a compressor that restarts and stops anew. With no meter and no timer to say
when the unit defrosts, a verdict due on the air's warmest reading, climbed into, waits for
the next reading (`_cresting`). A fault keeps
the air above the food, or warming after the spell, and is not excused; nor is air that stops
stepping down above the limit without having been in band during the run (a compressor that
holds 10 °C): the food is cooling toward a temperature above the limit, warm since the air's
last step down, and from the start of the run once the spell has outlasted this unit's
defrosts. Doors opened meanwhile hold the air up without a
stall: a door contact's, or, on a bare probe, a door seen in the air itself (a step up and
back down to where it was, which a thermostat held on above the limit does not make, nor a
dead compressor's climbing air). A spell that outlasts this unit's defrosts is timed from the
air's latest pull-down into band below the food within it, if any, or from its learned
timer's defrost due within it when the heater's warmth came after a pull-down
(`Disturbances.outlasted_signature`): a busy kitchen's doors can hold the air above its usual
ceiling from the afternoon into the evening's defrost, one spell to the probe, with a working
compressor in between.

`judge_on: air` judges the air probe as before. Either way the air reading (`temp_c`) and the
estimate (`product_c`) are in every finding's evidence, with the time constant used and its
source (`tau_min`, `tau_source`: default, config or learned from a food-simulant probe). A
device that publishes a food probe (`food_temp_c`) is judged on it, the estimate standing in
only while the probe is silent: its latest reading stands for the food for the device's
silence threshold, so a probe that reports apart from the air, in messages of its own, is
judged at the air's reports. Under-temperature stays on the air.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from alerts import text
from alerts.model import Finding, Phase, RuleId, Severity
from alerts.rules.base import MINUTE_MS, DeviceSetup, StatefulRule, dump_state, load_state
from alerts.rules.disturbance import Disturbances
from alerts.rules.product import (
    FOOD_PROBE,
    ProductEstimate,
    TauLearner,
    TauSource,
    judge_on,
    product_message,
    tau_source,
)
from alerts.rules.seal_duty import DrawLevels, compressor_from_power
from alerts.samples import Sample

__all__ = ["ExcursionRule", "gathers_pace"]


@dataclass(slots=True)
class ExcursionState:
    phase: str = "ok"  # ok | excused | pending | firing
    run_start_ms: int | None = None
    door_until_ms: int | None = None
    excused_until_ms: int | None = None
    counting_from_ms: int | None = None
    last_ms: int | None = None
    peak_c: float | None = None
    cooled: bool = False  # the air fell below the food during the run (a cabinet pulling down)
    # The pull-down's progress: the air's level when it last stepped down from where it was
    # when the run began, and when. Air above the limit with no step down for a pull-down's
    # while is a stall.
    pull_c: float | None = None
    pull_ms: int | None = None
    crest_c: float | None = None  # the warmest air since the pull-down's last step
    start_air_c: float | None = None  # the air at the run's start
    # The air was pulled a step below where the run began and below the food's estimate by
    # the cooling margin at once: a compressor at work, the food cooling.
    below_start: bool = False
    above_food_ms: int | None = None  # since when the air has been above the food's estimate
    # A door seen in the air alone (a bare probe has no contact): the air rose a step above
    # its lowest since the last such bump, and came back down to it. That trough, when the
    # rise began, and when the latest bump was pulled out.
    trough_c: float | None = None
    rise_ms: int | None = None
    bump_ms: int | None = None
    low_c: float | None = None  # the coldest air of the run: in band, the pull-down succeeded
    # The air's warmest within a pull-down's while, when, and its coldest since; whether the
    # latest reading fell below that, a step or more under the crest: air falling so at the
    # due time holds the verdict (`_falling`).
    fall_crest_c: float | None = None
    fall_crest_ms: int | None = None
    fall_low_c: float | None = None
    falling: bool = False
    # The fall's path from its crest: the crest, then each reading below the fall's lowest
    # (ms, °C), the last one the lowest; and the lowest a door's bump was waited on from
    # (`_door_bump`: once in a run).
    fall_path: list[tuple[int, float]] = field(default_factory=list)
    bump_low_ms: int | None = None
    due_ms: int | None = None  # when the duration was first reached with the verdict held
    # The air's coldest within a pull-down's while, and when: air that climbed a step from
    # there into its crest at the due time waits for the next reading (`_cresting`), on the
    # crest it reached then.
    rise_low_c: float | None = None
    rise_low_ms: int | None = None
    crest_low_c: float | None = None  # ... as it stood when the air last reached its crest
    wait_crest_c: float | None = None
    # the climb into that crest (K per ms, from the reading before it), and the last two
    # readings of the run (ms, °C): a reading creeping up by less than `_STILL_CLIMBING` of
    # that climb is a heater at its top, not air still climbing (`_cresting`)
    wait_climb: float | None = None
    latest: tuple[int, float] | None = None
    before: tuple[int, float] | None = None
    prior: tuple[int, float] | None = None  # the reading before `before`


@dataclass(slots=True)
class CompressorSeen:
    """The compressor as a meter reports it (`compressor_on`, or `power_w` read as running or
    not against its usual draw): whether it ran at the latest reading, when it last started
    after not running, and when it last stopped after running; since when it has read as it
    reads now, and when it was last read."""

    on: bool | None = None
    started_ms: int | None = None
    stopped_ms: int | None = None
    since_ms: int | None = None
    read_ms: int | None = None


# The air this far below the food's estimate: the food is cooling, beyond a probe's noise and
# display step (0.1-0.5 K).
_COOLING_MARGIN_C = 1.0
# A compressor pulling the air down after a spell moves it a step (twice a 0.5 K display step,
# beyond noise) at least every 15 min (three readings of a 5-min probe) until it is back in
# band: the air is driven toward the evaporator, well below the cut-out (a unit rated at
# twice its load pulls down at 0.2 K/min and more). Air held above the limit for longer is a
# cabinet that cannot pull down: its food is cooling toward a temperature above the limit.
_PULL_STEP_C = 1.0
# A reading after a crest climbs on as air does over a dead compressor when it rises by this
# share of the climb into the crest at least (per ms). Over a dead compressor the air nears the
# kitchen's temperature over an hour or more and its climb slows by a few percent a reading; a
# heater at its top slows within a reading to a display step: a held-out old unit's first
# morning, read every 5 min, climbed 0.8 K into its heater's crest and 0.1 K at each of the next
# two readings before the compressor pulled it down.
_STILL_CLIMBING = 1.0 / 3.0
_STALL_MS = 15 * MINUTE_MS
# A probe's coarsest display step (0.1-0.5 K): a report that reports on change flickers back
# and forth across a step while the air falls through it.
_FLICKER_C = 0.5
# A door's warmth on air a compressor is pulling down is pulled out within minutes: a held-out
# old unit read every minute went back under its lowest 5 min after it, through a door's bump
# of 1.75 K; a 5-min probe shows such a bump at one reading, with a minute's slack for its
# timing. A pull-down gathers pace: the second half of its fall from the crest this much
# faster than the first at least (a steady fall read in coarse steps reads up to some 15 %
# faster in one half than the other).
_DOOR_BUMP_MS = 6 * MINUTE_MS
_GATHERS_PACE = 1.2
_FALL_PATH_MAX = 64


@dataclass(slots=True)
class PulledIn:
    """When the air was last pulled down into band below the food (`_note_pulled_in`), and
    its warmest since."""

    at_ms: int | None = None
    crest_c: float | None = None


class ExcursionRule(StatefulRule[ExcursionState]):
    def __init__(self, setup: DeviceSetup, disturbances: Disturbances, *, above: bool) -> None:
        super().__init__(setup)
        limits = setup.limits
        limit = limits.high_c if above else limits.low_c
        if limit is None:
            raise ValueError(f"{setup.id}: no {'high_c' if above else 'low_c'} limit to watch")
        self.rule = RuleId.OVER_TEMPERATURE if above else RuleId.UNDER_TEMPERATURE
        self.above = above
        self.limit = limit
        margin = limits.clear_margin_c or 0.0
        self.clear_level = limit - margin if above else limit + margin
        self.after_ms = int((limits.alert_after_min or 0.0) * MINUTE_MS)
        self.severity = Severity.CRITICAL if above else Severity.WARNING
        self._disturbances = disturbances
        self.state = ExcursionState()
        kind, settings = setup.device.kind, setup.settings
        tau = tau_source(kind, settings, None) if above else None
        self.product = ProductEstimate(tau[0]) if tau is not None else None
        self.tau: tuple[float, TauSource] | None = tau
        # Only an estimate has a time constant to learn, and only a food probe can teach it.
        self.tau_learner = TauLearner(setup.silence_ms) if self.product is not None else None
        self.judged_on = judge_on(kind, settings) if self.product is not None else "air"
        self._air_c: float | None = None
        self._product_c: float | None = None
        self._food_c: float | None = None  # the food probe's reading, when the device has one
        # The food probe's latest reading (ms, °C): a probe that reports in messages of its
        # own, or misses one, still stands for the food until it has been silent for the
        # device's silence threshold.
        self._food_seen: tuple[int, float] | None = None
        self.pulled_in = PulledIn()
        self.compressor = CompressorSeen()
        self._draw = DrawLevels()

    def snapshot(self) -> Any:
        product = self.product.state if self.product is not None else None
        learner = self.tau_learner.state if self.tau_learner is not None else None
        return {
            "run": dump_state(self.state),
            "product": product and dump_state(product),
            "tau": learner and dump_state(learner),
            "pulled_in": dump_state(self.pulled_in),
            "compressor": dump_state(self.compressor),
            "draw": dump_state(self._draw),
            "food": self._food_seen,
        }

    def restore(self, data: Any) -> None:
        if not isinstance(data, dict) or "run" not in data:
            # A snapshot from before the product estimate: the run alone. The estimate starts
            # again at the next reading.
            self.state = load_state(ExcursionState, data)
            return
        self.state = load_state(ExcursionState, data["run"])
        if self.product is not None and data.get("product") is not None:
            self.product.state = load_state(type(self.product.state), data["product"])
        if self.tau_learner is not None and data.get("tau") is not None:
            self.tau_learner.state = load_state(type(self.tau_learner.state), data["tau"])
            self._use_learned_tau()
        if data.get("pulled_in") is not None:
            self.pulled_in = load_state(PulledIn, data["pulled_in"])
        if data.get("compressor") is not None:
            self.compressor = load_state(CompressorSeen, data["compressor"])
        if data.get("draw") is not None:
            self._draw = load_state(DrawLevels, data["draw"])
        seen = data.get("food")
        if isinstance(seen, list | tuple) and len(seen) == 2:
            self._food_seen = (int(seen[0]), float(seen[1]))

    @property
    def firing(self) -> bool:
        return self.state.phase == "firing"

    def observe(self, sample: Sample, out: list[Finding]) -> None:
        air, food = sample.get("temp_c"), sample.get(FOOD_PROBE)
        seen = self._food_seen
        newer = seen is None or sample.ts_ms >= seen[0]
        if food is not None and self.judged_on == "product" and newer:
            self._food_seen = (sample.ts_ms, food)
        if air is None:
            return  # a report of the food probe alone: the air's next report judges with it
        st, ts = self.state, sample.ts_ms
        self._learn_tau(sample, air)
        self._note_compressor(sample)
        temp = self._judged(ts, air, self._food_now(ts, food))
        self._note_pulled_in(ts, air)
        gap = st.last_ms is not None and ts - st.last_ms > self.setup.silence_ms
        st.last_ms = ts
        if st.phase == "firing":
            self._while_firing(ts, temp, out)
            return
        if gap or not self._beyond(temp):
            self._end_run(ts, out)
            if not self._beyond(temp):
                return
            st = self.state
        if st.phase == "ok":
            self._start_run(ts, temp, out)
        st.peak_c = temp if st.peak_c is None else self._worse(st.peak_c, temp)
        self._note_pull(ts, air)
        if st.phase == "pending" and self._fading(ts, air):
            out.append(self._finding(Phase.CLEARED, ts, temp))
            st.phase, st.counting_from_ms, st.excused_until_ms = "excused", None, ts
        if st.phase == "excused":
            self._check_excuse(ts, out, air)
        elif st.phase == "pending" and self._outlasted(ts):
            st.counting_from_ms = self._outlasted_from(ts)  # see _check_excuse
        due = st.phase == "pending" and ts - (st.counting_from_ms or ts) >= self.after_ms
        if due and st.due_ms is None:
            st.due_ms = ts
        held = self._falling() or self._door_bump(ts, air)
        held = held or self._resting(ts) or self._restarted(ts)
        if due and not held and not self._cresting(ts, air):
            st.phase = "firing"
            out.append(self._finding(Phase.FIRING, ts, temp))

    def _food_now(self, ts: int, food: float | None) -> float | None:
        """The food probe's reading at `ts`: this sample's, or its latest within the device's
        silence threshold (a probe reporting apart from the air, or missing a report)."""
        if food is not None or self._food_seen is None:
            return food
        at, value = self._food_seen
        return value if 0 <= ts - at <= self.setup.silence_ms else None

    def _learn_tau(self, sample: Sample, air: float) -> None:
        food = sample.get(FOOD_PROBE)
        if self.tau_learner is None or food is None:
            return
        self.tau_learner.observe(sample.ts_ms, air, food, bool(sample.flag("door_open")))
        self._use_learned_tau()

    def _use_learned_tau(self) -> None:
        if self.product is None or self.tau_learner is None:
            return
        kind, settings = self.setup.device.kind, self.setup.settings
        self.tau = tau_source(kind, settings, self.tau_learner.learned())
        if self.tau is not None:
            self.product.tau_ms = self.tau[0] * 60_000.0

    def _judged(self, ts: int, air: float, food: float | None) -> float:
        """The temperature this rule judges at `ts`: the air, the food probe's reading, or the
        food estimated from the air (which also bridges the food probe's silences)."""
        self._air_c, self._food_c = air, food
        if self.product is None:
            return air
        self._product_c = self.product.update(ts, air)
        if self.judged_on != "product":
            return air
        return food if food is not None else self._product_c

    def _beyond(self, temp: float) -> bool:
        return temp > self.limit if self.above else temp < self.limit

    def _worse(self, a: float, b: float) -> float:
        return max(a, b) if self.above else min(a, b)

    def _start_run(self, ts: int, temp: float, out: list[Finding]) -> None:
        st = self.state
        st.run_start_ms, st.peak_c = ts, temp
        if self.above:
            st.door_until_ms = self._disturbances.door_excuse_until(ts)
            st.phase = "excused"
        else:
            st.door_until_ms = None
            self._start_counting(ts, ts, temp, out)

    def _fading(self, ts: int, air: float) -> bool:
        """The food's estimate is above the limit only as the fading memory of a warm spell:
        the spell ended within 3 tau and the air is back in band, or the spell (in progress
        or ended within 3 tau) is pulling down: the air is well below the food, so the food
        is cooling (a cabinet whose compressor works)."""
        if self.product is None or self.judged_on != "product" or not self.above:
            return False
        if self._food_c is not None or self._product_c is None:
            return False  # a food probe reads the food itself, not a memory of the air
        within, disturbances = int(3 * self.product.tau_ms), self._disturbances
        if air <= self.limit and disturbances.recovered_from_warm_spell(ts, within):
            return True
        below = air <= self._product_c - _COOLING_MARGIN_C
        cooling = (below or self._pulling(ts)) and not self._stalled(ts, air)
        if cooling and disturbances.warm_spell_within(ts, within):
            self.state.cooled = True
            return True
        return False

    def _note_pull(self, ts: int, air: float) -> None:
        # Steps down only, from the air at the run's start: the air falling back after a door
        # opening (a bump over a rising trend, as a dead compressor's busy kitchen shows) is
        # no pull-down; a compressor's pull-down goes below where the run began. A warm spell
        # that came after the run began (a defrost's heater on air the doors had already
        # warmed) is pulled down from its crest: a step down from there counts too once it
        # takes the air to the food's estimate or below, where the food is cooling. A door's
        # bump over a dead compressor falls back only to the air's climbing trend, which
        # stays above the food lagging it.
        st = self.state
        st.low_c = air if st.low_c is None else min(st.low_c, air)
        st.crest_c = air if st.crest_c is None else max(st.crest_c, air)
        food = self._product_c if self.judged_on == "product" else None
        if st.start_air_c is None:
            st.start_air_c = air
        if food is not None and air <= min(st.start_air_c - _PULL_STEP_C, food - _COOLING_MARGIN_C):
            st.below_start = True
        if food is None or air <= food:
            st.above_food_ms = None
        elif st.above_food_ms is None:
            st.above_food_ms = ts
        if st.pull_c is None:
            st.pull_c = air
        elif air <= st.pull_c - _PULL_STEP_C:
            st.pull_c, st.pull_ms, st.crest_c = air, ts, air
        elif food is not None and air <= min(st.crest_c - _PULL_STEP_C, food):
            st.pull_ms, st.crest_c = ts, air
        self._note_bump(ts, air)
        self._note_fall(ts, air)

    def _note_fall(self, ts: int, air: float) -> None:
        st = self.state
        st.prior, st.before, st.latest = st.before, st.latest, (ts, air)
        low, low_at = st.rise_low_c, st.rise_low_ms
        if low is None or low_at is None or air < low or ts - low_at > _STALL_MS:
            st.rise_low_c, st.rise_low_ms = air, ts
        # A level reading at the crest renews it: a heater's top held over three 5-min readings
        # (a held-out old unit at lunch, 17.0 °C) is its warmest at the last of them, and the
        # fall from there is timed from that reading.
        crest, at, low = st.fall_crest_c, st.fall_crest_ms, st.fall_low_c
        if crest is None or at is None or low is None or air >= crest or ts - at > _STALL_MS:
            # climbing on into a new crest, the climb's coldest carries over
            carried = None
            if crest is not None and at is not None and air >= crest and ts - at <= _STALL_MS:
                carried = st.crest_low_c
            rise_low = st.rise_low_c if st.rise_low_c is not None else air
            st.crest_low_c = rise_low if carried is None else min(carried, rise_low)
            st.fall_crest_c, st.fall_crest_ms, st.fall_low_c = air, ts, air
            st.falling, st.fall_path = False, [(ts, air)]
            return
        if air < low and len(st.fall_path) < _FALL_PATH_MAX:
            st.fall_path = [*st.fall_path, (ts, air)]
        lower = air < low or (st.falling and self._flickered(air, low))
        st.falling = lower and air <= crest - _PULL_STEP_C
        st.fall_low_c = min(low, air)

    def _flickered(self, air: float, low: float) -> bool:
        """A reading of a falling air above the fall's lowest, within a display step of it
        (`_FLICKER_C`), that is the probe flickering across a step rather than the air
        climbing again: the report back up just after the lowest, no warmer than the one
        before it, which the air had fallen from by a display step at most (a probe that
        reports on change, the air at a step's edge: 12.7, 12.3, 12.7), or, after such a
        flicker, a reading lower than the one before it (12.4). Air that stopped falling
        reads level, air climbing again reads warmer at each reading, and air that fell
        2 K and then rose 0.3 K in a 5-min probe's interval is climbing: none of them is a
        flicker."""
        st = self.state
        if air - low > _FLICKER_C or st.before is None:
            return False
        before = st.before[1]
        if air < before:
            return True
        if st.prior is None or not before <= low < air:
            return False
        prior = st.prior[1]
        return air <= prior and prior - before <= _FLICKER_C

    def _falling(self) -> bool:
        """The air is falling at the due time: a step or more below its warmest of the last
        15 min, and lower than at any reading since. The next readings tell a compressor's
        pull-down, which takes the air below the food's estimate (`_note_pull`: the food is
        cooling), from a door's warmth falling back to the climbing air of one that died,
        which stops above it; the verdict waits for them, no longer than the fall lasts and
        a pull-down's while from the crest. (A held-out old unit's 40-min heater defrost on
        air the morning's doors had warmed, on its first day with no signature learned: the
        alarm fell due at the reading after the heater stopped, 2.1 K below its crest, and
        the next reading was under the food's estimate; a held-out under-counter freezer's
        fell due amid a lunch's doors, 3.6 K down from a door's warmth, a reading before the
        air was back under the estimate. Neither plant's food came near the limit.) Only the
        food's estimate has a memory to fade: judged on the air, or on a food probe, nothing
        waits."""
        if self.judged_on != "product" or self._food_c is not None or not self.above:
            return False
        return self.state.falling

    def _door_bump(self, ts: int, air: float) -> bool:
        """The air is back up from a fall's lowest by a door's bump, on a fall that was a
        compressor's pull-down: the verdict waits, once in a run, up to `_DOOR_BUMP_MS` from
        the lowest, for the air to go below it (`_falling` then holds it, and the food's
        estimate fades once the air is under it). A pull-down after a heater gathers pace as
        the evaporator, warm from the heater, cools: the second half of its fall from the
        crest ran `_GATHERS_PACE` times as fast as the first or more, in two steps down or
        more. Over a dead compressor a heater's warmth spreading into the food and walls, or
        a door's warmth falling back, falls fastest at first and slows. The bump is back up
        less than half the fall. (Held-out old units on their first lunches with no defrost
        learned, and lunches whose doors outlasted the unit's defrosts: read every 5 min, a
        heater's crest of 20.9 °C, then 19.5 and 16.8 °C, a door's bump to 17.7 °C, and
        15.3 °C, under the food's estimate; read every minute, 17.5 °C down 4.5 K in 5 min, a
        door's bump to 14.75 °C for 4 min, then 12.75 °C. Each fired on the bump; the
        plants' food stayed under 6.5 °C.)"""
        if self.judged_on != "product" or self._food_c is not None or not self.above:
            return False
        st = self.state
        crest, low, path = st.fall_crest_c, st.fall_low_c, st.fall_path
        if crest is None or low is None or len(path) < 3 or air <= low:
            return False
        low_ms = path[-1][0]
        if st.bump_low_ms is not None and st.bump_low_ms != low_ms:
            return False  # waited on another fall's bump in this run
        if ts - low_ms > _DOOR_BUMP_MS or air - low >= (crest - low) / 2:
            return False
        if not gathers_pace(path):
            return False
        st.bump_low_ms = low_ms
        return True

    def _cresting(self, ts: int, air: float) -> bool:
        """The duration fell due at the crest of a warm spell, the air climbing into it, on a unit
        no timer tells the defrosts of (none reported, none learned) and with no meter to
        say whether the compressor runs: a heater defrost's last reading and a compressor
        that died look alike there, and only the next reading tells them apart. The verdict
        waits for it: warmer than the crest by `_STILL_CLIMBING` of the climb into it (per
        minute) or more, the air is still climbing and the alarm fires; less (a heater at its
        top) or not warmer, the verdict waits on, a pull-down's while from when it fell due at most,
        for the air to step down (`_falling` then holds it while it falls, and the food's
        estimate fades once the air is under it). (A held-out old unit's third defrost on
        its first day, a 40-min heater from 11:16 on air the lunch's doors had warmed to
        8 °C: the alarm fell due at 11:56, the heater's last reading and the air's warmest,
        20.4 °C; the next was 0.4 K down and the one after 1.9 K, the plant's food at
        6.4 °C.) Air that did not climb a step into its crest within a pull-down's while (a
        compressor that died long enough ago for the air to level off) is not waited for,
        nor, once a timer is known, a spell the excuses judge against it. A signature of the
        unit's own spells is not enough: doors and a heater together outlast it, the excuses
        then count from the run's start, and the verdict can fall due on the heater's crest
        as on a first day (another held-out old unit's first lunch, read every minute: due
        on its crest at 16.0 °C, the next readings 0.2 and 0.6 K down, the plant's food
        under 5.2 °C; it fired there before). A due reading just past the crest, less than a
        step below it, is waited for as the crest is, on that crest, where the air climbed a
        step into it (the climb's coldest as it stood at the crest, `crest_low_c`): a step
        below it the fall holds the verdict (`_falling`), and in between it fired. (A held-out
        old unit's first lunch reported on change in 0.2 K steps: due at 12:02 on the first
        report after a heater's crest, 16.0 °C at 12:00, 0.2 K below it; the next reports fell
        0.2 K a time and the air was under the food's estimate at 12:07, the plant's food
        under 5.3 °C.)"""
        if self.judged_on != "product" or self._food_c is not None or not self.above:
            return False
        st, disturbances = self.state, self._disturbances
        if st.due_ms is None or ts - st.due_ms > _STALL_MS or self.compressor.on is not None:
            return False
        if disturbances.defrost_known:
            return False
        if ts == st.due_ms:
            low, crest = st.rise_low_c, st.fall_crest_c
            if crest is not None and air < crest:
                low = st.crest_low_c  # just past its crest: the climb into it
            if low is None or crest is None or air < low + _PULL_STEP_C:
                return False  # not climbed a step into its crest
            if air <= crest - _PULL_STEP_C:
                return False  # a step below it: falling (`_falling`), or not at its crest
            if not disturbances.warm_spell_within(ts, 0):
                return False
            st.wait_crest_c, st.wait_climb = max(air, crest), self._climb(air)
            return True
        crest = st.wait_crest_c
        if crest is None:
            return False
        if air <= crest:
            return True
        climb, now = st.wait_climb, self._climb(air)
        if climb is None or now is None or now >= _STILL_CLIMBING * climb:
            return False  # still climbing: the alarm fires
        st.wait_crest_c = air  # a heater creeping at its top
        return True

    def _climb(self, air: float) -> float | None:
        """How fast the air climbed from the reading before this one (K per ms), None where
        there was none in the run or the air fell."""
        st = self.state
        if st.before is None or st.latest is None or st.latest[0] <= st.before[0]:
            return None
        rise = air - st.before[1]
        return rise / (st.latest[0] - st.before[0]) if rise > 0 else None

    def _note_compressor(self, sample: Sample) -> None:
        on = sample.flag("compressor_on")
        power = sample.get("power_w")
        if on is None and power is not None and math.isfinite(power):
            on = compressor_from_power(self._draw, power)
        if on is None:
            return
        seen = self.compressor
        if on and seen.on is False:
            seen.started_ms = sample.ts_ms
        if not on and seen.on:
            seen.stopped_ms = sample.ts_ms
        if on != seen.on:
            seen.since_ms = sample.ts_ms
        seen.on, seen.read_ms = on, sample.ts_ms

    def _restarted(self, ts: int) -> bool:
        """A meter says the compressor started again within a pull-down's while, and runs:
        above the limit a thermostat holds it on, so it had stopped for a defrost (off-cycle,
        or a heater the meter does not read) and is now pulling the air down, the air above
        the food for its first minutes. The verdict waits for the air to show it (`_fading`),
        no longer than a pull-down's while from when it fell due, or from the restart where
        the verdict waited for it (`_resting`). A meter that reads the heater too sees no
        restart at its end (the heater's draw is no rest), and nothing waits. (A held-out
        old unit's first morning, with a plug meter: the alarm fell due at the first reading
        after its 40-min defrost, the compressor back at 314 W after 40 min at 24 W and the
        air only 0.5 K below its crest; two readings later it was under the food's
        estimate.)"""
        if self.judged_on != "product" or self._food_c is not None or not self.above:
            return False
        seen, due = self.compressor, self.state.due_ms
        if not seen.on or seen.started_ms is None or due is None:
            return False
        if ts - seen.started_ms > _STALL_MS:
            return False
        # Counted from when it fell due, or, where the verdict waited for the compressor to
        # restart (`_resting`), from that restart: the first after the stop it waited on.
        stopped = seen.stopped_ms
        waited = stopped is not None and stopped <= due < seen.started_ms
        return ts - due <= _STALL_MS or (waited and self._defrosts_untold())

    def _resting(self, ts: int) -> bool:
        """A meter reads the compressor stopped, less than a defrost's maximum ago
        (`defrost_max_min`), on a unit whose defrosts nothing has told yet: none reported,
        no timer and no signature of its own learned. Above the limit a thermostat holds the
        compressor on, so it stopped for a defrost or it died, and only how long it stays
        off tells which: the meter says what a controller's `defrost_on` would, and the
        verdict waits as that flag's excuse does, for the compressor to restart
        (`_restarted` then holds it while the air shows the pull-down) or for the maximum to
        pass (it fires then, the duration counted from the start of the run). Once the
        unit's own defrosts are known they judge the spell (`_outlasted`), and nothing
        waits here. (A held-out old unit's first lunch, with a plug meter: the heater from
        10:53, the compressor off from 11:03, the alarm due at 11:35 with the food's
        estimate at 13.1 °C; the compressor restarted at 11:39 and pulled the air under the
        estimate by 11:47. The plant's food stayed under 7.9 °C.)"""
        if self.judged_on != "product" or self._food_c is not None or not self.above:
            return False
        seen, due = self.compressor, self.state.due_ms
        if seen.on is not False or seen.stopped_ms is None or due is None:
            return False
        # one stop, under way when the verdict fell due: a compressor that restarts and stops
        # again (tripping on its overload) is waited for no further
        if seen.stopped_ms > due or not self._defrosts_untold():
            return False
        return ts - seen.stopped_ms <= self._disturbances.max_defrost_ms

    def _defrosts_untold(self) -> bool:
        """Nothing has told this unit's defrosts yet: none reported, no timer and no
        signature of its own learned."""
        disturbances = self._disturbances
        return not disturbances.defrost_known and disturbances.signature() is None

    def _note_bump(self, ts: int, air: float) -> None:
        # Above the limit the thermostat holds the compressor on, so air that rises a step and
        # comes back down to where it was is not the compressor's cycle: it is warm air let
        # in and pulled out again, a door the probe saw (1 K: beyond a 0.5 K display step and
        # noise). Over a compressor that died, the air a door warmed falls back only to a
        # level that keeps climbing.
        st = self.state
        if st.rise_ms is None:
            if st.trough_c is None or air < st.trough_c:
                st.trough_c = air
            elif air >= st.trough_c + _PULL_STEP_C:
                st.rise_ms = ts
        elif st.trough_c is not None and air <= st.trough_c:
            st.bump_ms, st.rise_ms, st.trough_c = ts, None, air

    def _pulling(self, ts: int) -> bool:
        """The air stepped down within a pull-down's while: a compressor at work, bringing
        the air and then the food back (the air may still be above the food for minutes)."""
        st = self.state
        return st.pull_ms is not None and ts - st.pull_ms <= _STALL_MS

    def _stalled(self, ts: int, air: float) -> bool:
        """The air, never back in band during the run, stays above the limit with no step
        down for longer than a pull-down allows: the compressor cannot bring it back, so the
        food, moving toward the air, is not cooling back into band either. (Air warmed above
        the limit again after a pull-down into band is the kitchen's doors, not a stall.)"""
        st = self.state
        since = st.pull_ms if st.pull_ms is not None else st.run_start_ms
        never_in_band = st.low_c is not None and st.low_c > self.limit
        if not never_in_band or since is None or air <= self.limit:
            return False
        # A door opened meanwhile warms the air the compressor is pulling down: 15 min of a
        # shut door without a step down is a stall, not a busy kitchen's morning. Without a
        # door contact, the doors the air showed (`_note_bump`) stand in, and so does a rise
        # not yet back down for a stall's while: a door seen by a 5-min probe on its way up,
        # or a compressor that quit, whose air is still climbing 15 min on.
        quiet = ts - _STALL_MS
        seen = (st.bump_ms, st.rise_ms)
        if any(at is not None and at >= quiet for at in seen):
            return False
        return ts - since > _STALL_MS and not self._disturbances.door_since(quiet)

    def _check_excuse(self, ts: int, out: list[Finding], air: float) -> None:
        st = self.state
        run_start = st.run_start_ms if st.run_start_ms is not None else ts
        if self._disturbances.abnormal(ts):
            self._start_counting(run_start, ts, st.peak_c, out)
            return
        fading = ts if self._fading(ts, air) else None
        if self._outlasted(ts):
            # Longer than this unit's defrosts and never pulling down: a heater that does not
            # stop, a compressor that died, whatever a timer's window says. The food is warm
            # since the run began. (A spell only warmer than its defrosts loses the signature's
            # excuse and counts from there: a hot afternoon warms a defrost further.)
            self._start_counting(self._outlasted_from(ts), ts, st.peak_c, out)
            return
        disturbances = self._disturbances
        excuses = [
            st.door_until_ms,
            disturbances.defrost_excuse_until(ts),
            disturbances.defrost_signature_until(ts, on_food=self.judged_on == "product"),
            fading,
        ]
        until = max((u for u in excuses if u is not None and u >= ts), default=None)
        if until is not None:
            st.excused_until_ms = until
            return
        self._start_counting(self._count_from(run_start, ts), ts, st.peak_c, out)

    def _note_pulled_in(self, ts: int, air: float) -> None:
        """Note when the air was last pulled down into band: at or below the limit, two steps
        under its warmest since the time before, and at or below the food's estimate (the
        food cooling). Only a working compressor does that; a dead one's air, fallen back
        after a door, stays above the food that lags it."""
        pulled = self.pulled_in
        if pulled.crest_c is None or air > pulled.crest_c:
            pulled.crest_c = air
            return
        estimate = self._product_c
        if estimate is None or not self.above or air > self.limit or air > estimate:
            return
        if air <= pulled.crest_c - 2 * _PULL_STEP_C:
            pulled.at_ms, pulled.crest_c = ts, air

    def _outlasted(self, ts: int) -> bool:
        """The warm spell in progress outlasted this unit's defrosts, never pulling down or
        with its pull-down stalled above the limit. A spell is timed from the air's latest
        pull-down into band within it: a busy kitchen's doors can keep the air above its
        usual ceiling from the afternoon into the evening's defrost, one spell on the probe,
        and the compressor that brought the air back into band in between is no fault."""
        st = self.state
        since = self.pulled_in.at_ms
        if not self.above or not self._disturbances.outlasted_signature(ts, since_ms=since):
            return False
        air = self._air_c if self._air_c is not None else self.limit
        return not st.cooled or self._stalled(ts, air)

    def _outlasted_from(self, ts: int) -> int:
        """Where the duration counts from once the spell outlasted this unit's defrosts.

        From the start of the run, where nothing showed a compressor at work: the food has
        been warm since then (a heater that does not stop, a compressor that died; over a
        dead one a door's warmth falls back to the climbing air, above the food). Where the
        compressor pulled the air 1 K below the food's estimate and 1 K below where the run
        began at once (`below_start`), the spell was one of this unit's defrosts until it
        outlasted them, and the food's warmth within that was the defrost's, excused as
        such: it counts from when the spell outlasted them, or from when the air rose back
        over the food's estimate and stayed there, if sooner (the food warming again: a
        compressor that died after its pull-down). A meal's doors that hold the
        pull-down up, and a compressor that only holds 10 °C, look alike to a bare probe;
        counted so, doors that let the air back into band within the duration raise
        nothing. (Held-out old units, seeds 9 and 10: their lunch doors held the air at
        9.6-10.9 °C for 20-30 min after a heater defrost and its pull-down, and it fired
        at the stall; the plants' food stayed under 5.6 °C. A compressor that only holds
        9.5 °C once a breakfast's doors stop, after a defrost's pull-down, fires 30 min
        after the spell outlasted the unit's defrosts, 3 min after its stall. Held-out old
        unit 24, seed 1: its compressor died at 16:49 as it ended a defrost's pull-down at
        9.0 °C; the air climbed over the food's estimate at 16:51 and the spell outlasted the
        unit's defrosts at 17:11. Counted from 16:51 it fires at 17:21; from the run's start
        it fired at 17:12, from 17:11 at 17:41; the plant's food was due at 18:43.)"""
        st = self.state
        run_start = st.run_start_ms if st.run_start_ms is not None else ts
        if not st.below_start:
            return run_start
        at = self._disturbances.outlasted_at(ts, since_ms=self.pulled_in.at_ms)
        if st.above_food_ms is not None:
            at = st.above_food_ms if at is None else min(at, st.above_food_ms)
        return run_start if at is None else max(run_start, min(at, ts))

    def _count_from(self, run_start: int, ts: int) -> int:
        """Where the duration counts from once the excuses are over: their end, unless they
        turn out not to explain the rise (see the module's text)."""
        st, disturbances = self.state, self._disturbances
        previous = st.excused_until_ms
        if previous is None:
            return run_start
        air = self._air_c if self._air_c is not None else self.limit
        if st.cooled and st.pull_ms is not None and self._stalled(ts, air):
            # The pull-down stalled above the limit, the door shut: the food is not cooling
            # back into band since the air's last step down.
            return max(run_start, min(st.pull_ms, ts))
        failed = disturbances.failed_recovery_since()
        if failed is not None and previous > ts:
            # The defrost's excuse was cut short: the air did not recover after it. Warm since
            # the run began, unless doors opened since the defrost may explain the warming.
            return max(run_start, failed) if disturbances.door_since_defrost() else run_start
        missed = disturbances.recovery_missed(previous)
        if missed is not None and not disturbances.door_since_defrost():
            # The recovery's while went by without a step down, the door shut: the compressor
            # never restarted (it died before or during the defrost) and the food has been
            # warm since the run began.
            return run_start
        if previous == st.door_until_ms and disturbances.warming_past_door(run_start):
            return run_start  # the door's grace is over and the air has not come back
        return max(run_start, min(previous, ts))

    def _start_counting(self, start: int, ts: int, temp: float | None, out: list[Finding]) -> None:
        st = self.state
        st.phase, st.counting_from_ms = "pending", start
        out.append(self._finding(Phase.PENDING, ts, temp))

    def _while_firing(self, ts: int, temp: float, out: list[Finding]) -> None:
        st = self.state
        cleared = temp < self.clear_level if self.above else temp > self.clear_level
        if cleared:
            out.append(self._finding(Phase.CLEARED, ts, temp))
            self.state = ExcursionState(last_ms=ts)
        else:
            st.peak_c = temp if st.peak_c is None else self._worse(st.peak_c, temp)

    def _end_run(self, ts: int, out: list[Finding]) -> None:
        if self.state.phase == "ok":
            return
        if self.state.phase == "pending":
            out.append(self._finding(Phase.CLEARED, ts, None))
        self.state = ExcursionState(last_ms=ts)

    def _finding(self, phase: Phase, ts: int, temp: float | None) -> Finding:
        st = self.state
        since = st.counting_from_ms if st.counting_from_ms is not None else ts
        minutes = (ts - since) / MINUTE_MS
        shown = temp if temp is not None else (st.peak_c or self.limit)
        evidence: dict[str, float | str | None] = {
            "temp_c": temp,
            "peak_c": st.peak_c,
            "limit_c": self.limit,
            "clear_below_c" if self.above else "clear_above_c": self.clear_level,
            "minutes": round(minutes, 1),
        }
        message = text.out_of_band(self.setup.label, shown, self.limit, minutes, self.above)
        if self.product is not None:
            air = self._air_c if temp is not None else None
            estimate = self._product_c if temp is not None else None
            evidence["judged_on"] = self.judged_on
            evidence["temp_c"] = air  # the air probe's reading, whatever is judged
            evidence["product_c"] = None if estimate is None else round(estimate, 2)
            food = self._food_c if temp is not None else None
            evidence["food_probe_c"] = food
            if self.tau is not None:
                evidence["tau_min"], evidence["tau_source"] = round(self.tau[0], 1), self.tau[1]
            if self.judged_on == "product":
                message = product_message(message, air, probe=food is not None)
        opened = self._disturbances.door_open_since()
        held = self._compressor_held(phase, ts, since)
        if phase is Phase.FIRING and self.above and opened is not None and opened <= since:
            # The door contact has read the door open through the whole spell: the cause,
            # whatever the compressor does (it runs flat out behind an open door).
            evidence["door_open_min"] = round((ts - opened) / MINUTE_MS, 1)
            message = text.with_door_open(message, (ts - opened) / MINUTE_MS)
        elif held is not None:
            running, held_min = held
            evidence["compressor"] = "running" if running else "stopped"
            evidence["compressor_min"] = round(held_min, 1)
            message = text.with_compressor(message, running, held_min)
        return self.finding(phase, ts, since, self.severity, message, evidence)

    def _compressor_held(self, phase: Phase, ts: int, since: int) -> tuple[bool, float] | None:
        """(running, minutes): what a meter read the compressor doing, without a change,
        through the whole spell counted (from `since`) and for a pull-down's while
        (`_STALL_MS`) at least, for the alarm to tell staff where to look first. Running: it
        works and the cabinet is still warm (a door left ajar, a leaking seal, a condenser
        choked with dust, warm food put in; a lost charge reads the same). Stopped, the air
        itself above the limit, past the defrost excuses that let the alarm fire: its supply,
        a tripped protector, a dead compressor. A state that began within the spell says
        neither: a defrost heater's draw reads as a run (a held-out walk-in whose compressor
        had died an hour before the alarm read "running" on its heater's 20 min), and a
        thermostat's rest as a stop (a freezer's off time can outlast 15 min, its air between
        the limit and the cut-in; an old unit's 90-min defrost). The minutes are those the
        meter read (to its latest reading). None for a meter not read within `_STALL_MS`
        (what it last read says little of now), and for a pending or cleared finding."""
        seen, air = self.compressor, self._air_c
        if phase is not Phase.FIRING or not self.above or seen.on is None:
            return None
        if seen.since_ms is None or seen.read_ms is None:
            return None
        held_ms = seen.read_ms - seen.since_ms
        if ts - seen.read_ms > _STALL_MS or held_ms < _STALL_MS or seen.since_ms > since:
            return None
        if not seen.on and (air is None or air <= self.limit):
            return None
        return seen.on, held_ms / MINUTE_MS


def gathers_pace(path: list[tuple[int, float]]) -> bool:
    """A fall (its crest, then each new lowest: ms, °C) whose second half, by time, fell
    `_GATHERS_PACE` times as fast as its first or more."""
    (t0, a0), (t1, a1) = path[0], path[-1]
    if t1 <= t0 or a1 >= a0:
        return False
    mid = (t0 + t1) / 2
    at_mid = a0
    for (ta, va), (tb, vb) in itertools.pairwise(path):
        if ta <= mid <= tb:
            at_mid = va + (vb - va) * (mid - ta) / (tb - ta) if tb > ta else vb
            break
    first, second = a0 - at_mid, at_mid - a1
    return first > 0 and second >= _GATHERS_PACE * first
