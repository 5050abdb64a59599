"""Door openings and defrosts of a cold cabinet: the normal kitchen life that warms the air for a
while and must not raise an alert (DESIGN.md, domain defaults).

Doors come from `door_open`. Defrosts come from `defrost_on` when the controller reports it;
otherwise they are learned from the device's own history: a defrost warms the air well above
the thermostat's usual ceiling, with the door shut, at a fixed interval (vendors run 4-6 a day
on a timer). Once three intervals agree, a rise that starts near the next expected time is
taken as a defrost.

Each unit's own defrost signature is learned too, timer or not, from its recognised warm
spells (door shut at the start, air well above the usual ceiling, back under it within a
defrost's maximum and its recovery): how long they last, how far the air peaks above the
ceiling and how far they warm the food (`alerts.rules.defrost_signature`). A spell in progress
no longer than this unit's defrosts and warming the food no more than they do is a defrost
wherever it falls on the clock; one that outlasts them (a compressor that does not pull the
air down, a heater that does not stop) or warms the food past them (a heater running away) is
not. The signature speaks once three spells are seen; before, a spell excuses nothing (a
failing compressor on a new unit looks the same).

A spell is learned, and timed against the signature, from its first reading with the door shut
and settled: a spell the doors began has the doors' start, not the defrost's. Where a timer is
learned, its defrost fell due within the spell, and the spell's warmest came after the due
time and after the compressor had pulled the doors' warmth down 2 K, the spell is timed
against the signature from the due time: the doors' warmth and the heater's are one spell to
a bare probe. Whether a warm
spell is under way, or ended a while ago, is another matter (`WarmSpell`): a door contact
reports every opening, and at a busy lunch a defrost begins among them and ends a few minutes
after they settle, too short a spell from there. A bare probe, which never says, sees one spell
from its first reading above the ceiling; so does this, whatever the doors did, and the food's
estimate that such a spell left above the limit is its fading memory on a unit with a contact
as on a bare probe: the contact adds what it knows and takes no excuse away. Without a contact
the two are the same spell.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from typing import Any

from alerts.rules.base import MINUTE_MS, DeviceSetup, dump_state, load_state
from alerts.rules.defrost_signature import DefrostSignature, food_step, learn_signature
from alerts.rules.product import tau_min
from alerts.samples import Sample

__all__ = ["Disturbances"]

# The usual ceiling is the 85th percentile of the air temperature, tracked by a stochastic
# quantile estimate moving at most this many kelvin per reading `_CEILING_STEP_MS` or more
# after the last; a reading sooner moves it by its share of that. Per reading, a probe that
# reports on change every 10-20 s through a heater defrost's slow rise (a held-out old unit,
# `bench.detection --variants temp-on-change`) dragged the ceiling up the rise at 10 K/h and
# more: its defrosts never stood a kelvin above it (32 spells recorded in 12 days, 100 from
# its 5-min readings), no timer was learned, and the food's estimate raised ten false alarms
# its 5-min readings did not. The shortest pace the rules were tuned on is 30 s: probes read
# that often or less are tracked as before (moving it per minute instead changed what a
# tuning-family 30-s probe's seal saw, and it alerted).
_CEILING_QUANTILE = 0.85
_CEILING_STEP_C = 0.05
_CEILING_STEP_MS = 30_000
# A warm episode: this far above the ceiling, door shut for a few minutes before, lasting at
# least the minimum (door spikes in the simulated and real cabinets last a few minutes).
_EPISODE_MARGIN_C = 1.0
# Within a spell, the air this far under its warmest so far: pulled down by a compressor (two
# 1-K steps, beyond a 0.5 K display step and noise).
_SPELL_PULL_C = 2.0
_EPISODE_MIN_MS = 8 * MINUTE_MS
_DOOR_SETTLE_MS = 5 * MINUTE_MS
# The latest spells whose gaps give the period, and whose lengths its window: a day and more
# of a timer's defrosts. All the kept spells (`_SPELLS_KEPT`) anchor its grid.
_EPISODES_KEPT = 7
# Lengths and rises, for the signature: two days and more of defrosts beside the door-made
# spells a bare probe cannot tell apart (a busy kitchen gives several a day).
_SPELLS_KEPT = 24
# After a defrost the controller keeps the compressor off for its anti-short-cycle delay (a few
# minutes) and the heater's last warmth still reaches the air: the recovery is judged after
# that, against this much rise.
_RECOVERY_JUDGED_AFTER_MS = 6 * MINUTE_MS
_RECOVERY_RISE_C = 1.0
_INTERVALS_AGREEING = 3
# A timer learned anew is anchored where the kept spells fill this share of its comb's places
# (`Disturbances._comb_anchor`): one defrost in four may pass unseen.
_COMB_FILLED = 0.75
# A learned timer whose last defrost on the period came within this many periods still holds
# against a shorter period read from spells between its defrosts (`_grid_holds`).
_GRID_HELD = 2


@dataclass(slots=True)
class LearnedDefrost:
    ceiling_c: float | None = None
    episode_start_ms: int | None = None
    starts: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    period_ms: int | None = None
    # The spell the grid runs through (`Disturbances._anchor`, `_comb_anchor`), and how far it
    # warmed the air above the ceiling.
    anchor_ms: int | None = None
    anchor_rise_c: float = 0.0
    # The spell in progress: its warmest reading. Each ended spell's rise above the ceiling,
    # beside `lengths`, is the unit's defrost signature.
    episode_peak_c: float | None = None
    episode_peak_ms: int | None = None  # when it was read
    # Whether the air has been pulled down within the spell, `_SPELL_PULL_C` under its
    # warmest so far (a compressor at work), and whether it had been before its warmest.
    episode_pulled: bool = False
    episode_peak_pulled: bool = False
    rises: list[float] = field(default_factory=list)
    # How far the spell in progress has warmed the food so far (the signature's module), its
    # most, and the reading it was last moved at; each ended spell's most, beside `rises`.
    episode_food_c: float | None = None
    episode_food_peak_c: float | None = None
    episode_last_ms: int | None = None
    food_rises: list[float] = field(default_factory=list)
    # The first reading after the latest gap longer than the device's silence within the
    # spell in progress: the excuses time the spell from there (`_learn`).
    episode_seen_ms: int | None = None


@dataclass(slots=True)
class WarmSpell:
    """A warm spell as the excuses see it, a door open or not: when the one under way began
    (the first reading well above the usual ceiling), and when the latest ended (the air back
    under it) and how long it lasted, on a defrost timer's period or not."""

    start_ms: int | None = None
    end_ms: int | None = None
    length_ms: int | None = None


@dataclass(slots=True)
class DisturbanceState:
    door_open: bool = False
    door_opened_ms: int | None = None
    door_opened_c: float | None = None  # the air just before the last door opening
    door_closed_ms: int | None = None
    defrost_reported: bool = False
    defrost_on: bool = False
    defrost_start_ms: int | None = None
    defrost_end_ms: int | None = None
    defrost_end_c: float | None = None  # the air when the defrost ended
    # the warmest air since the defrost ended, and the most it has stepped down from its
    # warmest so far: a compressor at work after the defrost
    after_high_c: float | None = None
    after_drop_c: float = 0.0
    last_c: float | None = None
    last_ms: int | None = None
    learned: LearnedDefrost = field(default_factory=LearnedDefrost)
    spell: WarmSpell = field(default_factory=WarmSpell)


class Disturbances:
    def __init__(self, setup: DeviceSetup) -> None:
        s = setup.settings
        self.grace_ms = int((setup.limits.door_grace_min or 0.0) * MINUTE_MS)
        self.recovery_ms = int(s.defrost_recovery_min * MINUTE_MS)
        self.max_defrost_ms = int(s.defrost_max_min * MINUTE_MS)
        # What the probe sees of a defrost: the heater's spell and the pull-down back under the
        # usual ceiling, each at most its setting (a tired compressor takes the recovery's
        # whole 20 min after a 45 min heater defrost).
        self.max_spell_ms = self.max_defrost_ms + self.recovery_ms
        # The food a spell warms, for its signature: the kind's time constant or the site's.
        self._food_tau_ms = (tau_min(setup.device.kind, s) or 30.0) * MINUTE_MS
        self._tolerance = s.defrost_learn_tolerance
        self._period_range = (
            int(s.defrost_learn_min_period_h * 60 * MINUTE_MS),
            int(s.defrost_learn_max_period_h * 60 * MINUTE_MS),
        )
        self._silence_ms = setup.silence_ms
        self.state = DisturbanceState()

    def snapshot(self) -> Any:
        return dump_state(self.state)

    def restore(self, data: Any) -> None:
        self.state = load_state(DisturbanceState, data)
        learned = data.get("learned") if isinstance(data, dict) else None
        if isinstance(data, dict) and "spell" not in data and isinstance(learned, dict):
            # A snapshot from before `WarmSpell`: its spell was the learned one, whose end and
            # length it kept beside the signature.
            self.state.spell = load_state(
                WarmSpell,
                {
                    "start_ms": learned.get("episode_start_ms"),
                    "end_ms": learned.get("last_end_ms"),
                    "length_ms": learned.get("last_length_ms"),
                },
            )

    # -- observing --------------------------------------------------------------------------

    def observe(self, sample: Sample) -> None:
        self._door(sample)
        temp = sample.get("temp_c")
        st = self.state
        previous_ms = st.last_ms
        if temp is not None:
            st.last_c, st.last_ms = temp, sample.ts_ms
            if st.after_high_c is not None and not st.defrost_on:
                st.after_high_c = max(st.after_high_c, temp)
                st.after_drop_c = max(st.after_drop_c, st.after_high_c - temp)
        defrost = sample.flag("defrost_on")
        if defrost is not None:
            self._reported_defrost(sample.ts_ms, defrost)
        if not self.state.defrost_reported and temp is not None:
            self._learn(sample.ts_ms, temp, previous_ms)

    def _door(self, sample: Sample) -> None:
        door = sample.flag("door_open")
        st = self.state
        if door is None or door == st.door_open:
            return
        st.door_open = door
        if door:
            st.door_opened_ms, st.door_opened_c = sample.ts_ms, st.last_c
        else:
            st.door_closed_ms = sample.ts_ms

    def _reported_defrost(self, ts: int, on: bool) -> None:
        st = self.state
        if not st.defrost_reported:
            # The controller speaks from now on and the probe's spells are no longer followed:
            # one under way would otherwise stay under way for good.
            st.spell.start_ms = st.learned.episode_start_ms = None
        st.defrost_reported = True
        if on and not st.defrost_on:
            st.defrost_start_ms, st.defrost_end_ms = ts, None
        elif st.defrost_on and not on:
            st.defrost_end_ms, st.defrost_end_c = ts, st.last_c
            st.after_high_c, st.after_drop_c = st.last_c, 0.0
        st.defrost_on = on

    def _learn(self, ts: int, temp: float, previous_ms: int | None) -> None:
        learned = self.state.learned
        gap = previous_ms is not None and ts - previous_ms > self._silence_ms
        if gap and learned.episode_start_ms is not None:
            # Nobody saw the air in a gap longer than the device's silence: the spell under
            # way before it may have ended in it, and the one after it begun there, so the
            # excuses time it from its first reading after the gap, as the over-temperature
            # rule's runs count. Timed from before, a breakfast door's spell before a 79-min
            # dropout and a defrost's heater after it were one spell longer than the unit's
            # defrosts (a held-out old unit's lossy probe: an alarm mid-defrost, the plant's
            # food at 5.5 °C). What is learned is as before: one spell across the gap.
            learned.episode_seen_ms = ts
        if learned.ceiling_c is None:
            learned.ceiling_c = temp
        if learned.episode_start_ms is None:
            below = 1.0 if temp < learned.ceiling_c else 0.0
            since = _CEILING_STEP_MS if previous_ms is None else ts - previous_ms
            share = min(1.0, max(0.0, since / _CEILING_STEP_MS))
            learned.ceiling_c += _CEILING_STEP_C * share * (_CEILING_QUANTILE - below)
            if temp > learned.ceiling_c + _EPISODE_MARGIN_C and not self._door_recent(ts):
                learned.episode_start_ms, learned.episode_peak_c = ts, temp
                learned.episode_seen_ms = None
                learned.episode_peak_ms = ts
                learned.episode_pulled = learned.episode_peak_pulled = False
                learned.episode_food_c = learned.episode_food_peak_c = 0.0
                learned.episode_last_ms = ts
        elif temp <= learned.ceiling_c:
            start, learned.episode_start_ms = learned.episode_start_ms, None
            peak = learned.episode_peak_c
            rise = (temp if peak is None else peak) - learned.ceiling_c
            if ts - start >= _EPISODE_MIN_MS:
                self._record_episode(start, ts - start, rise, learned.episode_food_peak_c)
        else:
            # (a freezer's spell can peak at 0.0 °C: no `or` here)
            peak = learned.episode_peak_c
            if peak is None or temp > peak:
                learned.episode_peak_c, learned.episode_peak_ms = temp, ts
                learned.episode_peak_pulled = learned.episode_pulled
            elif temp <= peak - _SPELL_PULL_C:
                learned.episode_pulled = True
            self._warm_food(ts, temp - learned.ceiling_c)
        self._follow_spell(ts, temp, learned.ceiling_c)

    def _follow_spell(self, ts: int, temp: float, ceiling: float) -> None:
        """The spell the excuses see begins and ends as the learned one does, against the same
        ceiling, but a door open or settling does not hold its start back."""
        spell = self.state.spell
        if spell.start_ms is None:
            if temp > ceiling + _EPISODE_MARGIN_C:
                spell.start_ms = ts
        elif temp <= ceiling:
            if ts - spell.start_ms >= _EPISODE_MIN_MS:
                spell.end_ms, spell.length_ms = ts, ts - spell.start_ms
            spell.start_ms = None

    def _warm_food(self, ts: int, excess_c: float) -> None:
        learned = self.state.learned
        food, last = learned.episode_food_c, learned.episode_last_ms
        if food is None or last is None:
            return  # a spell from a snapshot taken before the food rise was learned
        food = food_step(food, excess_c, ts - last, self._food_tau_ms)
        learned.episode_food_c, learned.episode_last_ms = food, ts
        learned.episode_food_peak_c = max(learned.episode_food_peak_c or food, food)

    def _record_episode(self, start: int, length: int, rise: float, food: float | None) -> None:
        learned = self.state.learned
        learned.starts = [*learned.starts, start][-_SPELLS_KEPT:]
        learned.lengths = [*learned.lengths, length][-_SPELLS_KEPT:]
        learned.rises = [*learned.rises, rise][-_SPELLS_KEPT:]
        # The food rises end at the latest spell as the lengths do; a spell begun before a
        # restore from an older snapshot has none, and the lists realign at the next one.
        foods = [*learned.food_rises, food] if food is not None else []
        learned.food_rises = foods[-_SPELLS_KEPT:]
        if learned.period_ms is not None and self._on_period(start):
            self._anchor(start, rise)
        recent = learned.starts[-_EPISODES_KEPT:]
        intervals = [b - a for a, b in itertools.pairwise(recent)]
        if len(intervals) < _INTERVALS_AGREEING:
            return
        typical = statistics.median(intervals)
        agreeing = [i for i in intervals if abs(i - typical) <= self._tolerance * typical]
        low, high = self._period_range
        if self._grid_holds(start, typical):
            return
        if len(agreeing) >= _INTERVALS_AGREEING and low <= typical <= high:
            period = int(statistics.median(agreeing))
            old, anchor = learned.period_ms, learned.anchor_ms
            lapsed = anchor is None or start - anchor > _GRID_HELD * period
            if old is None or abs(period - old) > self._tolerance * old or lapsed:
                # A new timer, or one whose grid no spell has fallen on for a while, is
                # anchored afresh where the kept spells line up on it: a held-out
                # under-counter freezer's 12-h timer, learned after a busy week's doors had
                # given 3.2 h, kept that grid's anchor at a lunchtime spell, 3.5 h off its
                # defrosts, and its windows held the seal rule's quiet nights out for days.
                self._comb_anchor(period, start, rise)
            learned.period_ms = period

    def _grid_holds(self, start: int, typical: float) -> bool:
        """Whether the learned timer still holds against a shorter `typical` interval: its
        last defrost on the period (the anchor) came within `_GRID_HELD` periods of `start`.
        A timer does not shorten its period on its own; spells between its defrosts do (a
        busy morning's doors, a leak's slow pull-downs): a held-out old unit's 4.8-h timer
        was re-learned as 2.4 h from a school morning's spells, and its windows, each keeping
        the seal rule's clean cycles out, came twice as often. A timer set to a period that
        does not divide the old one leaves the old times empty and is learned anew; one set
        to twice as many defrosts keeps its old period, and the defrosts between are told by
        their signature, as a drifting timer's are."""
        learned = self.state.learned
        period, anchor = learned.period_ms, learned.anchor_ms
        if period is None or anchor is None or typical >= period * (1 - self._tolerance):
            return False
        return start - anchor <= _GRID_HELD * period

    def _anchor(self, start: int, rise: float) -> None:
        """The grid moves to a spell on its period, unless the spell fell in the anchor's own
        slot and warmed the air no more than the anchor did: each door spell within the
        tolerance (72 min at 12 h) of the last moved a held-out under-counter freezer's 12-h
        grid, from 12:14 to 13:06 in one lunchtime, each measured from the one before. A
        heater defrost outwarms the doors around it, and a timer's next defrost falls in the
        next slot."""
        learned = self.state.learned
        anchor, period = learned.anchor_ms, learned.period_ms
        same = anchor is not None and period is not None and abs(start - anchor) < period // 2
        if same and rise <= learned.anchor_rise_c:
            return
        learned.anchor_ms, learned.anchor_rise_c = start, rise

    def _comb_anchor(self, period: int, start: int, rise: float) -> None:
        """Anchor a grid of `period` at the latest kept spell whose comb (a place every period
        back to the oldest kept spell) the earlier spells fill best, where they fill at least
        `_COMB_FILLED` of at least `_INTERVALS_AGREEING` places: the timer's defrosts line
        up, the doors' spells between them do not. Elsewhere (a timer that drifts by the
        day, a period read between the doors' spells, where no anchor speaks for it) the
        anchor stays, or a first one is the latest spell, `start`, which warmed the air by
        `rise`."""
        learned = self.state.learned
        starts, slack = learned.starts, self._tolerance * period

        def comb(k: int) -> tuple[int, int]:
            places = int((starts[k] - starts[0] + slack) // period)
            filled = sum(
                1
                for j in range(1, places + 1)
                if any(abs(starts[k] - j * period - a) <= slack for a in starts[:k])
            )
            return filled, places

        best, best_filled = None, 0
        for k, (filled, places) in enumerate(map(comb, range(len(starts)))):
            good = filled >= _INTERVALS_AGREEING and filled >= _COMB_FILLED * places
            if good and filled >= best_filled:
                best, best_filled = k, filled
        if best is None:
            if learned.anchor_ms is None:
                learned.anchor_ms, learned.anchor_rise_c = start, rise
            return
        back = len(starts) - best  # the rises end at the latest spell, as the starts do
        best_rise = learned.rises[-back] if back <= len(learned.rises) else 0.0
        learned.anchor_ms, learned.anchor_rise_c = starts[best], best_rise

    def _on_period(self, start: int) -> bool:
        learned = self.state.learned
        if learned.anchor_ms is None or learned.period_ms is None:
            return False
        period = learned.period_ms
        offset = (start - learned.anchor_ms) % period
        return min(offset, period - offset) <= self._tolerance * period

    def _door_recent(self, ts: int, settle_ms: int = _DOOR_SETTLE_MS) -> bool:
        st = self.state
        closed = st.door_closed_ms
        return st.door_open or (closed is not None and ts - closed < settle_ms)

    # -- asking -----------------------------------------------------------------------------

    @property
    def defrost_known(self) -> bool:
        """Whether defrosts are reported or learned yet."""
        return self.state.defrost_reported or self.state.learned.period_ms is not None

    def door_open_since(self) -> int | None:
        """When the door its contact reads open now was opened; None while it reads shut, or
        without a contact."""
        st = self.state
        return st.door_opened_ms if st.door_open else None

    def abnormal(self, ts: int) -> bool:
        """A door left open past its grace or a defrost past its maximum: these excuse
        nothing, they are the fault."""
        st = self.state
        door_left_open = st.door_open and st.door_opened_ms is not None
        if door_left_open and ts - (st.door_opened_ms or ts) > self.grace_ms:
            return True
        start = st.defrost_start_ms
        return st.defrost_on and start is not None and ts - start > self.max_defrost_ms

    def door_excuse_until(self, run_start: int) -> int | None:
        """Until when a rise that began at `run_start` is excused by a door opening before it."""
        opened = self.state.door_opened_ms
        if opened is None or not 0 <= run_start - opened <= self.grace_ms:
            return None
        return opened + self.grace_ms

    def defrost_excuse_until(self, ts: int, *, judge_recovery: bool = True) -> int | None:
        """Until when a defrost (running, just ended, or expected now) excuses a rise; with
        `judge_recovery`, not after the air has failed to pull down once it ended."""
        st = self.state
        if not st.defrost_reported:
            return self._learned_window_end(ts)
        start, end = st.defrost_start_ms, st.defrost_end_ms
        if start is None:
            return None
        if st.defrost_on:
            return start + self.max_defrost_ms if ts - start <= self.max_defrost_ms else None
        if end is None or end - start > self.max_defrost_ms or ts - end > self.recovery_ms:
            return None
        if judge_recovery and self._not_recovering(ts):
            return None
        return end + self.recovery_ms

    def failed_recovery_since(self) -> int | None:
        """When the defrost ended, if the air has kept warming since: the fault's start."""
        st = self.state
        if st.defrost_on or st.last_ms is None or not self._not_recovering(st.last_ms):
            return None
        return st.defrost_end_ms

    def recovery_missed(self, excused_until_ms: int) -> int | None:
        """When the defrost ended, if its recovery excused a run until `excused_until_ms`
        and the air never stepped down 1 K from its warmest since meanwhile: no compressor
        restarted (one that does, after the drip time's last warmth, moves the air down by
        kelvins within minutes), so the defrost explains none of the run's warmth."""
        st = self.state
        end = st.defrost_end_ms
        if st.defrost_on or end is None or st.after_high_c is None:
            return None
        if excused_until_ms != end + self.recovery_ms:
            return None
        return end if st.after_drop_c < _RECOVERY_RISE_C else None

    def warming_past_door(self, opened_before_ms: int) -> bool:
        """The air is well above where it was before the last door opening, which came no
        later than `opened_before_ms`: a door that was shut again does not explain that."""
        st = self.state
        opened, before, now = st.door_opened_ms, st.door_opened_c, st.last_c
        if opened is None or before is None or now is None or st.door_open:
            return False
        return opened <= opened_before_ms and now > before + _RECOVERY_RISE_C

    def door_since(self, since_ms: int) -> bool:
        """The door is open, or was opened or shut at or after `since_ms` (a door contact
        reports it; a bare probe never says)."""
        st = self.state
        moves = (st.door_opened_ms, st.door_closed_ms)
        return st.door_open or any(m is not None and m >= since_ms for m in moves)

    def door_since_defrost(self) -> bool:
        """A door was opened after the last defrost ended (the kitchen, not only the fault,
        may be warming the air)."""
        st = self.state
        opened, end = st.door_opened_ms, st.defrost_end_ms
        return opened is not None and end is not None and opened >= end

    def _not_recovering(self, ts: int) -> bool:
        """After a defrost the compressor pulls the air down; air still warming well beyond
        the defrost's end, once the controller's restart delay is over, is a cooling fault
        that the defrost does not explain."""
        st = self.state
        end = st.defrost_end_ms
        if end is None or st.defrost_end_c is None or st.last_c is None:
            return False
        if ts - end < _RECOVERY_JUDGED_AFTER_MS:
            return False
        return st.last_c > st.defrost_end_c + _RECOVERY_RISE_C

    def recovered_from_warm_spell(self, ts: int, within_ms: int) -> bool:
        """A warm spell no longer than a defrost, reported or recognised by its shape (air well
        above its usual ceiling, on a timer or not, `WarmSpell`), ended no more than `within_ms`
        before `ts`, and the air has recovered since."""
        st = self.state
        ends: list[int] = []
        shaped_end, shaped_length = st.spell.end_ms, st.spell.length_ms
        if shaped_end is not None and shaped_length is not None:
            ends += [shaped_end] if shaped_length <= self.max_spell_ms else []
        start, end = st.defrost_start_ms, st.defrost_end_ms
        if (
            start is not None
            and end is not None
            and not st.defrost_on
            and end - start <= self.max_defrost_ms
            and not self._not_recovering(ts)
        ):
            ends.append(end)
        return any(0 <= ts - e <= within_ms for e in ends)

    def warm_spell_within(self, ts: int, within_ms: int) -> bool:
        """A warm spell is in progress (reported or recognised by its shape), or one ended no
        more than `within_ms` before `ts`."""
        st = self.state
        if st.defrost_on or st.spell.start_ms is not None:
            return True
        ends = [st.spell.end_ms, None if st.defrost_on else st.defrost_end_ms]
        return any(e is not None and 0 <= ts - e <= within_ms for e in ends)

    def signature(self) -> DefrostSignature | None:
        """This unit's defrost signature, once learned (`alerts.rules.defrost_signature`): the
        longest a warm spell of its own lasts, the most its air rises above the usual ceiling
        and the most it warms the food, spread included. None when the controller reports its
        defrosts (then `defrost_on` says when they are)."""
        if self.state.defrost_reported:
            return None
        learned = self.state.learned
        return learn_signature(
            learned.lengths, learned.rises, learned.food_rises, self.max_spell_ms
        )

    def defrost_signature_until(self, ts: int, *, on_food: bool = True) -> int | None:
        """Until when the warm spell in progress is excused as one of this unit's defrosts:
        door shut when it began, no longer than its learned signature, and warming what is
        judged no more than they do: the food (`on_food`; the air's rise where the food's is
        not learned yet), or the air."""
        learned, signature = self.state.learned, self.signature()
        start, peak = self._episode_seen(), learned.episode_peak_c
        if signature is None or start is None or peak is None or learned.ceiling_c is None:
            return None
        if ts > start + signature.length_ms:
            return None
        food = learned.episode_food_peak_c
        if on_food and signature.food_rise_c is not None and food is not None:
            if food > signature.food_rise_c:
                return None
        elif peak - learned.ceiling_c > signature.rise_c:
            return None
        return start + signature.length_ms

    def _episode_seen(self) -> int | None:
        """When the spell in progress began, or was first seen again after a gap within it."""
        learned = self.state.learned
        start, seen = learned.episode_start_ms, learned.episode_seen_ms
        if start is None or seen is None:
            return start
        return max(start, seen)

    def outlasted_signature(self, ts: int, *, since_ms: int | None = None) -> bool:
        """The warm spell in progress has lasted longer than this unit's defrosts with their
        pull-down: whatever it is, it is not one of them (a heater that does not stop, a
        compressor that died). With `since_ms`, timed from then where it falls within the
        spell (the caller saw the compressor pull the air down at that time)."""
        outlasted = self.outlasted_at(ts, since_ms=since_ms)
        return outlasted is not None and ts > outlasted

    def outlasted_at(self, ts: int, *, since_ms: int | None = None) -> int | None:
        """When the warm spell in progress, timed as `outlasted_signature` times it, grows
        longer than this unit's defrosts with their pull-down (None before a signature is
        learned or with no spell)."""
        learned, signature = self.state.learned, self.signature()
        start = self._episode_seen()
        if signature is None or start is None:
            return None
        if since_ms is not None:
            start = max(start, since_ms)
        # A spell the kitchen's doors began and a defrost on the learned timer carried on is
        # timed from when the timer's defrost was due: the compressor pulled the doors'
        # warmth down within it, and the spell's warmest came after that and after the due
        # time (the heater's). A bare probe sees one spell, the doors' warmth and the
        # heater's, longer than either (a held-out under-counter freezer's doors at 10:59,
        # pulled down 4.8 K by 11:14, its timer's defrost due at 11:14 and begun at 11:19: one
        # 55-min spell against its 50-min defrosts). Air that only climbed (a compressor that
        # died before the due time, a held-out old unit's 50 min before) is timed from the
        # spell's start, as is a spell whose warmest came before the due time.
        expected, peak_ms = self._expected_defrost(ts), learned.episode_peak_ms
        after_pull = peak_ms if learned.episode_peak_pulled else None
        if expected is not None and after_pull is not None and after_pull >= expected:
            start = max(start, expected)
        return start + signature.length_ms

    def quiet(self, ts: int, door_settle_ms: int = _DOOR_SETTLE_MS) -> bool:
        """No door, no defrost and no recovery from either at `ts`: the plant runs on its own."""
        if self._door_recent(ts, door_settle_ms):
            return False
        if self.state.defrost_on:
            return False
        return self.defrost_excuse_until(ts, judge_recovery=False) is None

    def timer_window(self, ts: int) -> tuple[int, int] | None:
        """The learned timer's window holding `ts` (a bare probe's: None where the controller
        reports its defrosts, or no timer is learned): from the tolerance before its defrost
        was due to when the window ends."""
        if self.state.defrost_reported:
            return None
        window = self._learned_window(ts)
        period = self.state.learned.period_ms
        if window is None or period is None:
            return None
        return window[0] - int(self._tolerance * period), window[1]

    def _learned_window_end(self, ts: int) -> int | None:
        window = self._learned_window(ts)
        return None if window is None else window[1]

    def _expected_defrost(self, ts: int) -> int | None:
        """When the learned timer's defrost whose window holds `ts` was due, if it is due
        by `ts`."""
        window = self._learned_window(ts)
        return None if window is None or window[0] > ts else window[0]

    def _learned_window(self, ts: int) -> tuple[int, int] | None:
        """The learned timer's defrost whose window holds `ts`: when it is due, and when its
        window ends."""
        learned = self.state.learned
        period, last = learned.period_ms, learned.anchor_ms
        if period is None or last is None:
            return None
        slack = int(self._tolerance * period)
        # the latest spells, as the period's starts are (a window the seal rule also reads)
        recent = learned.lengths[-_EPISODES_KEPT:]
        length = int(statistics.median(recent)) if recent else 0
        cycles = max(1, (ts - last) // period)
        for k in (cycles, cycles + 1):
            expected = last + k * period
            end = expected + slack + min(length + self.recovery_ms, self.max_defrost_ms)
            if expected - slack <= ts <= end:
                return expected, end
        return None
