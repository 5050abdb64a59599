"""Seal evidence from the metered compressor in every hour, busy ones too.

A leaking gasket lets kitchen air in all the time: a steady extra load UA_leak x (T_kitchen -
T_cabinet) that the compressor must remove, so its on-share rises in every hour, with the door
shut or not (DESIGN.md, seal failure physics). Door openings add load only in the hours they
happen. `seal_duty` judges clean hours only (no door, no settling), which a busy canteen
cabinet has few of by day; this stream judges every hour the meter covers.

It reads whole compressor cycles from the meter (one on-edge to the next, `compressor_on` or
`power_w` read as on/off), so an hour's value carries no partial cycle: the on-share of the
cycles that ended in the hour, or all on for an hour the compressor ran through (no cycle
ended in it). A cycle is set aside when a defrost touched it (reported, a
learned timer, or a heater drawing well above the compressor), when an excursion rule fired in
it, when it ran far longer than the unit's usual cycle (an off-cycle defrost or a door left
ajar) or its running readings drew a quarter more or less than the recent cycles' (a heater the
meter reads as a run), and so is the cycle after it (the recovery); so is a cycle closed by a
reading at such another draw (a heater's start is no compressor's: the rest was cut short). An
hour whose plain cycles
are too few for a value is read from its readings instead, partial cycles included (its loose
time, `_loose_step`), on the whole cycles' terms (`_loose_offset`); its hours are learned as
they are judged. Door-open minutes stay in:
the learning days give the slope of the hour's log on-share on its door-open minutes (least
squares within each local hour, never negative), and each hour is judged with its door minutes'
share taken out, so a busy lunch is not a leak. Norms per local hour, spread, drift allowance k
and decision threshold h come from the learning days as for `seal_duty` (`learn_duty`, one
left-out day at a time); an hour's spread is at least its meter's resolution
(`seal_duty.reading_resolution`, the reading interval followed from the readings).

A warmer kitchen lifts every hour's on-share too, for hours or a day (load ~ UA x (T_kitchen -
T_cabinet)), which is what a leak does. The meter tells them apart: a compressor draws more
while its condenser air is warmer (higher condensing pressure), a leak leaves its draw alone.
The mean draw of the running readings of the hour's plain cycles against its local hour's
norm, followed over a few hours (`_KITCHEN_STEP`), reads the kitchen's shift from the learning
days; each hour's on-share, here and in `seal_duty`'s clean hours, is judged with that shift's
share taken out (`kitchen_shift`), a share that grows as the cabinet's temperature nears the
kitchen's (`duty_per_draw`). A meter whose compressor draws the same whatever the kitchen
shifts nothing. The drift allowance k, one and a half spreads of the learning days' half-day
shifts (`_K_SIGMAS_METERED`; `learn_duty`), is read from those days' hours with the shift
they would have been credited taken out (`learning_shifts`): what the draw leaves of the
kitchen's day-to-day wander, not the wander itself. A held-out glass-door merchandiser whose
four learning days ran warmer and cooler had learned k at 1.9 of its hours' spread, and its
0.35 leak, which lifted its on-share by some 15 %, sat under it for three days. The norms
and the decision threshold are read from the hours as they came: with the shift taken out
of them too, a healthy held-out old unit's threshold fell from 17 to its floor of 15 and its
evidence, already at 0.87 of 17, crossed it (seed 5, with power).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import CusumState, EvidenceLimits, hour_pool
from alerts.rules.seal_duty import (
    DrawLevels,
    DutyModel,
    hour_duty,
    learn_duty,
    reading_resolution,
    score_hour,
)
from alerts.rules.seal_season import SEASON_K_PER_DAY

__all__ = [
    "CAPACITY_PER_K",
    "MIN_GAP_K",
    "PowerModel",
    "PowerState",
    "counter_resolution",
    "duty_per_draw",
    "kitchen_shift",
    "learn_power",
    "learning_shifts",
    "metered_hours",
    "plug_draw",
    "power_hour_value",
    "power_reading",
    "roll_power_hour",
    "running_moves",
    "runs_resolved",
    "score_power_hour",
    "season_kitchen_k",
    "season_moves",
    "strobe_band",
    "strobe_readings",
]

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_MAD_TO_SIGMA = 1.4826
# The quiet days' offsets (`_quiet_offsets`) need the learning days to hold this many days
# without meals (a weekend: the default four school days learned from a Thursday hold one,
# from a Monday none), and each hour this many residuals pooled over the hours either side.
_QUIET_DAYS = 2
# ... and their common shift is known no better than a kitchen whose air moves by this much
# from one day to the next (assumed: two days of one weekend say little of the next's)
_KITCHEN_DAY_K = 1.0
_QUIET_POOL_H = 2
_QUIET_MIN = 8
_MINUTE_MS = 60_000
# A cycle this many times longer than the unit's usual one is not a plain cycle: an off-cycle
# defrost (the compressor held off for 15-45 min, vendor guidance) or a door left ajar.
_LONG_CYCLE = 2.5
# The usual cycle: the median of the last untainted cycles, long ones and recoveries
# included. (Following only the plain ones locked a walk-in out: its first cycles after the
# start were short, every later one then counted as long and never moved the usual; two of
# its four learning days kept 5 cycles of 103 and its metered sum was never learned.)
_RECENT_CYCLES = 15
_MIN_RECENT = 3
# A meter that reads the compressor's run as one reading misses some runs whole: two or three
# cycles then read as one long one. Dropping those keeps the cycles whose run a reading caught,
# a share biased high by as much as a leak moves it (a held-out chest freezer metered every
# 5 min: cycles of 15 min, runs of 3-5 min; the readings' on-share went from 0.23 to 0.32
# with a 0.2 leak, the kept cycles' from 0.31 to 0.32). Where the usual run spans fewer than
# `_RESOLVED_RUN` readings, a cycle is long only past `_LONG_UNRESOLVED` usual ones: three
# runs missed in a row (each missed with a chance of 1 - run / reading interval, a third for
# that freezer) are rare; a compressor held off for hours is not a missed run.
_RESOLVED_RUN = 2
_LONG_UNRESOLVED = 4.0
# A run read over two readings sums to a little under two intervals where the meter's
# interval jitters (the interval itself is followed as a running mean, `_STEP_FOLLOW`).
_RUN_JITTER = 0.9
# A cycle longer than this says nothing about an hour (a walk-in's quiet night is fine: hours
# with no cycle end give no value).
_MAX_CYCLE_MS = 4 * _HOUR_MS
# A heater defrost draws well above the compressor (heaters of 250-2000 W on cabinets whose
# compressors draw 100-800 W, `firmware_sim.families`); the compressor's own draw moves with
# the kitchen's temperature by far less than this.
_HEATER_RATIO = 1.6
# A cycle whose running readings draw a quarter more or less than the recent cycles' is not
# the compressor alone (a heater read as a run, see `_close_cycle`): the kitchen moves the
# draw by about 1 %/K, the meter's readings by 1 % (`firmware_sim.families`).
_OTHER_DRAW = math.log(1.25)
_DUTY_FLOOR = 0.01
_KEPT_HOURS = 10 * 24
# Every hour counts here, so a common cause that lifts every hour for half a day (a warm
# kitchen) adds up faster than in the clean hours: a healthy upright freezer of the tuning
# families reached 1.2 x the clean hours' threshold (10) so, before a leak began; 1.5 x it
# keeps such half days below the threshold.
_H_SCALE = 1.5
# The drift allowance k, in spreads of the learning days' half-day shifts (`seal_duty`
# `learn_duty`: 2 for the clean hours and the probe's streams). These hours have the kitchen's
# shift the draw reads taken out before their shifts are read (`learning_shifts`), so what is
# left of a half day's common cause is smaller and k may sit nearer it. Chosen on the tuning
# families only (bench.detection --families tuning, seeds 1-3, with power): at 1.5, 0.2 leaks
# within 24 h / 72 h 19 / 32 -> 20 / 34 of 36, 0.35 unchanged at 31 / 35, the healthy units'
# highest share of h unchanged at 0.66 (a sample fridge's went from 0.49 to 0.59); at 1.0
# the leaks' figures were the same and that sample fridge reached 0.69.
_K_SIGMAS_METERED = 1.5
# The kitchen read from the compressor's draw. A condensing unit draws about 1 %/K more per
# kelvin of warmer condenser air and loses about 1.5 %/K of capacity (typical compressor maps,
# assumed), and the load through the walls grows by 1/(T_kitchen - T_cabinet) per kelvin. A
# 1 % higher draw so means a (1/(T_kitchen - T_cabinet) + 1.5 %) / 1 % higher on-share: 6.3
# for a fridge at 4 C, 3.7 for a freezer at -20 C, the kitchen taken at 25 C, the warm end
# of a school kitchen (the ratio is then at its lowest: a cabinet whose load is partly fans,
# lights and doors, which the kitchen does not move, is corrected a little more than fully;
# one in a cooler kitchen, less). With one ratio for all (3.5, a freezer's), a healthy
# glass-door display fridge whose kitchen ran 1 K warmer for three days read a third of the
# shift as its own and alerted. The cabinet's temperature is its learning days' median air.
_KITCHEN_C = 25.0
_DRAW_PER_K = 0.01
CAPACITY_PER_K = 0.015
MIN_GAP_K = 10.0  # a cabinet nearer the kitchen's temperature is not cooling food
_DUTY_PER_DRAW = 3.5  # until the cabinet's temperature is known
# A kitchen's day-to-day shift: a few kelvin; a draw further off is not the kitchen (a
# failing compressor, a meter change) and is believed only up to this (log units). A draw
# below its norm explains nothing: the shift only ever takes evidence out. A lower draw has
# causes besides a cooler kitchen (a fan or light off, a low supply voltage), and where the
# fans, lights and doors carry much of the load the ratio credits a cooler kitchen with more
# than it takes away: on the bench (held-out families, seeds 4-5, with power) two healthy
# units from a Monday start and two from a Thursday alerted on days their kitchen ran cooler;
# none does now. It costs some speed: 0.2 leaks caught within 72 h went from 32 to 26 of 45
# from a Monday (seeds 1-3), 24 to 21 from a Thursday; the closest healthy unit went from
# 0.93 to 0.57 of its threshold from a Monday, 0.81 to 0.63 from a Thursday.
_DRAW_CAP = 0.03
# The season's level (`_follow_season`): the median of the last school days' hourly draws
# against their norms, once this many hours are in (five school days of hours: the kitchen's
# day-to-day wander, some 0.7 K a day, averages down to a third; a spring's 0.2 K a day is
# followed some 5 days late, 1 K, in `tests/alerts/test_seal_season.py`'s)
_SEASON_HOURS = 5 * 24
_SEASON_MIN_HOURS = 24
_SEASON_DRAW_PER_MS = SEASON_K_PER_DAY * _DRAW_PER_K / _DAY_MS
_KITCHEN_STEP = 0.25  # the shift follows the hours' draws over about four hours
_MIN_DRAWS = 2  # running readings an hour's draw needs
_MIN_DRAW_DAYS = 3  # learning days an hour-of-day's draw norm needs
_STEP_FOLLOW = 0.05  # the reading interval is followed over some 20 readings
_KEPT_SHIFTS = 6  # hours whose shift is kept (`seal_duty` settles an hour two hours late)
# The loose time's states after a reading set aside (`_loose_step`): waiting for a run to end
# outside the set-aside readings, then for the next on-edge; counting.
_AWAIT_RUN_END, _AWAIT_ON, _LOOSE = 2, 1, 0
_LOOSE_PAIRS = 12  # learning hours with both whole cycles and loose time (`_loose_offset`)
# A plug's energy counter (`energy_kwh`, cumulative) reads the compressor's on-time between
# two readings however far apart they are: the step's energy less the cabinet's rest draw
# over the step, over the running draw less the rest, is the time the compressor ran
# (`_counter_on`). Power readings alone place each start and stop only to within a reading:
# a held-out chest freezer metered every 5 min on a 7.8-min cycle saw each run as one
# reading or none. The counter's step is the largest of these (Wh) that all its readings
# are multiples of (a plug reporting kWh with 3 decimals steps 1 Wh), and an hour's
# on-time read from it is uncertain by a step at each end of its metered time.
_COUNTER_STEPS_WH = (10.0, 1.0, 0.1, 0.01, 0.001)
_COUNT_SLACK = 1e-3  # a count's distance from a multiple of the step, in steps (float noise)
_COUNTER_ENDS = 2
_REST_FOLLOW = 0.05  # the rest's draw is followed over some 20 readings read off
# A plug that reports its draw as it changes and its count on a clock (Shelly's Gen2
# NotifyStatus carries only what changed: `apower` as it moves, `aenergy` once a minute) sends
# readings with a count and no draw; the draw then is the last one it reported, held this long
# at most (a walk-in's compressor rests up to an hour; a plug whose draw stopped coming is not
# believed for longer).
_HELD_DRAW_MS = 2 * _HOUR_MS
# An hour is read from the counter when it read this share of the hour's metered steps.
_COUNTER_SHARE = 0.9
# A compressor held off by its controller's fixed minimum repeats its cycle to within seconds
# (`bench.independent_plant`: 4 min), and where a few cycles are a whole number of meter
# readings the readings land at the same few points of every cycle for hours: each run is
# then read a reading long or short the same way, cycle after cycle, and the hour's on-share
# says where the readings fell on the cycle as much as how long the compressor ran. A held-out
# glass-door merchandiser (seed 12, from a Saturday, with power) ran 68-s runs every 5.3 min,
# read every minute: its hours read their three cycles' runs as 1, 1, 2 readings of 16 on its
# first two nights after learning (0.25) and as 1, 1, 1 on the next (0.19, its learning days'
# mix of both about 0.19 too), its true on-share 0.21 throughout, and it confirmed a leak it
# did not have. An hour whose plain cycles, each as its readings and those read running,
# repeat one pattern of q = 2-6 cycles throughout, three times over or more and six cycles at
# least, held the same q points of the cycle throughout: its on-time over the pattern is
# known to one reading (q runs read at phases a q-th of a reading apart), and its share's
# move from its norm is taken as one reading of the pattern less (`strobe_band`). Not a floor
# under its spread, as `seal_probe_duty`'s for a probe: the phase's error holds for hours on
# end, and hours each one spread up still add up (that fridge's nights, at one spread with a
# floor, reached its threshold in four nights). A leak that moves the share by more than a
# reading of the pattern still counts, less that reading. An hour whose cycles all read
# alike is no such pattern: a run and a cycle near whole numbers of readings read so at any
# phase. A meter whose readings drift across the cycle breaks the pattern within the hour.
_STROBE_CYCLES = range(1, 7)
_STROBE_REPEATS = 3
_STROBE_MIN_CYCLES = 6
# A door contact reports each change at once and its state on a heartbeat of minutes.
_DOOR_SILENCE_MS = 15 * 60_000  # the learning days (4 by default) and a margin


@dataclass(slots=True)
class PowerHour:
    start_ms: int
    hour: int
    quiet: bool
    cycle_ms: int = 0  # length of the plain cycles that ended in the hour
    on_ms: int = 0
    door_ms: int = 0  # door open in the hour (whole hour, cycles set aside or not)
    draw_w: float = 0.0  # summed draw of the running readings of the hour's plain cycles
    draws: int = 0
    air_c: float = 0.0  # summed air readings of the hour
    airs: int = 0
    # the hour's metered time read reading by reading, outside defrosts, excursions and
    # their recovery runs, partial cycles included (`_loose_step`)
    loose_ms: int = 0
    loose_on_ms: int = 0
    # the hour's metered steps whose on-time the energy counter read, and all its steps
    counter_ms: int = 0
    stepped_ms: int = 0
    # the plain cycles that ended in the hour, each as (readings, readings running)
    cycle_reads: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class PowerModel:
    duty: DutyModel
    door_slope: float  # log on-share per door-open minute
    draw: dict[int, float] = field(default_factory=dict)  # log running draw per local hour
    duty_per_draw: float = _DUTY_PER_DRAW  # log on-share per log draw (`duty_per_draw`)
    # per local hour, how far below its school-day norm a day without meals runs (log, <= 0:
    # `_quiet_offsets`); hours not in it are judged on the school days' norm as they are
    quiet: dict[int, float] = field(default_factory=dict)
    # whether `quiet` is settled: learned from two or more days without meals, among the
    # learning days or the first run of them after (`roll_power_hour`)
    quiet_learned: bool = False
    # a day's common shift from the norms, from the school days and the kitchen
    # (`_quiet_offsets`)
    day_spread: float = 0.0
    # the whole cycles' log on-share over the loose time's (`_loose_offset`); None: hours
    # are read from whole cycles only
    loose_offset: float | None = None


@dataclass(slots=True)
class EnergyCounter:
    """A plug's cumulative energy counter as followed reading by reading, and the cabinet's
    draw at rest it is read against (the readings read off, none set aside)."""

    last_wh: float | None = None  # the last count
    last_ms: int = 0  # its reading
    # the on-time credited since, reading by reading (on or off), to readings that brought
    # no count (a plug that reports its draw as it changes, its count once a minute)
    credited_ms: int = 0
    step_wh: float = _COUNTER_STEPS_WH[0]  # its step (`_COUNTER_STEPS_WH`)
    rest_w: float | None = None
    run_w: float | None = None  # the running draw it was last read against


@dataclass(slots=True)
class PowerState:
    last_ms: int | None = None
    last_on: bool | None = None
    last_door: bool = False
    door_seen_ms: int | None = None  # the last reading the door was followed to
    cycle_from_ms: int | None = None  # the current cycle's on-edge
    cycle_on_ms: int = 0
    cycle_run_ms: int = 0  # the current cycle's time read running, reading by reading
    cycle_lead_ms: int = 0  # its run's time before its on-edge reading (`_counter_on`)
    cycle_draw_w: float = 0.0  # the current cycle's running readings (none set aside)
    cycle_draws: int = 0
    tainted: bool = False  # a defrost or an excursion touched the current cycle
    skip_next: bool = False  # the cycle after a tainted one is its recovery
    last_aside: bool = True  # the last reading was set aside (`_loose_step`)
    aside_ms: int | None = None  # the last reading set aside (`_loose_step`)
    loose_wait: int = 2  # `_AWAIT_RUN_END`, `_AWAIT_ON` or `_LOOSE` (`_loose_step`)
    usual_ms: float | None = None  # the unit's usual cycle (`_RECENT_CYCLES`)
    recent_ms: list[int] = field(default_factory=list)  # the last untainted cycles' lengths
    # and their on-times read reading by reading (on or off, the energy counter aside)
    recent_on_ms: list[int] = field(default_factory=list)
    recent_w: list[float] = field(default_factory=list)  # and their mean running draws
    # whether the meter's runs were unresolved (`runs_resolved`), fixed when the baseline is
    # learned: a unit whose runs span about two readings would otherwise switch the long
    # cycles in and out, and its hours' share with them, by a leak's move
    counted: bool | None = None
    hour: PowerHour | None = None
    history: list[PowerHour] = field(default_factory=list)
    model: PowerModel | None = None
    cusum: CusumState = field(default_factory=CusumState)
    kitchen: float = 0.0  # the running draw's recent shift from its norms (log units)
    # how far the seasons have moved the running draw from its norms (log units,
    # `_follow_season`): the kitchen's shift is believed up to `_DRAW_CAP` beyond it
    season: float = 0.0
    season_draws: list[float] = field(default_factory=list)  # the hours it is read from
    season_ms: int | None = None  # the hour it last moved in
    step_ms: float | None = None  # the meter's usual reading interval
    shifts: list[tuple[int, float]] = field(default_factory=list)  # (hour start, log duty)
    # the hours of days without meals seen since the baseline, while the quiet days' offsets
    # are not yet learned (`roll_power_hour`)
    quiet_seen: list[PowerHour] = field(default_factory=list)
    counter: EnergyCounter = field(default_factory=EnergyCounter)
    # the last step whose on-time the counter read: (its first reading, ms on)
    counted_step: tuple[int, int] | None = None
    counter_read: bool = False  # the counter read the last hour (`_COUNTER_SHARE`)
    # the recent hours whose plain cycles strobed: hour start -> the pattern's readings
    # (`strobe_readings`)
    strobes: dict[int, int] = field(default_factory=dict)
    drawn: tuple[int, float] | None = None  # the last draw reported: (ms, W) (`plug_draw`)


def plug_draw(
    st: PowerState, ts: int, power: float | None, energy_kwh: float | None
) -> float | None:
    """The plug's draw at a reading: `power` where it came (kept); where the reading brings
    the energy counter alone, the last draw the plug reported, within `_HELD_DRAW_MS`."""
    if power is not None:
        if math.isfinite(power):
            st.drawn = (ts, power)
        return power
    if energy_kwh is None or st.drawn is None:
        return None
    at, held = st.drawn
    return held if 0 <= ts - at <= _HELD_DRAW_MS else None


def power_reading(
    st: PowerState,
    ts: int,
    on: bool | None,
    door: bool | None,
    set_aside: bool,
    max_step_ms: int,
    power: float | None = None,
    air: float | None = None,
    energy_kwh: float | None = None,
) -> None:
    """One reading: the door's open time since the last one goes to the hour; the metered
    time to the current cycle, an on-edge closing it; a running draw (`power`) to the
    cycle's, the hour's once the cycle ends plain; the air (`air`) to the hour's.
    `set_aside`: a defrost or an excursion holds the cabinet now. The step's on-time is
    read from the energy counter (`energy_kwh`) where it reads it (`_counter_on`), else
    from the last reading: on or off."""
    _door(st, ts, door, max_step_ms)
    if air is not None and math.isfinite(air) and st.hour is not None:
        st.hour.air_c += air
        st.hour.airs += 1
    if on is None:
        return
    last_ms, last_on = st.last_ms, st.last_on
    step = ts - last_ms if last_ms is not None else 0
    if not on and power is not None and not set_aside:
        _follow_rest(st.counter, power)
    valid = last_ms is not None and last_on is not None and 0 < step <= max_step_ms
    counted = _counter_on(st, ts, energy_kwh, step if valid and last_on else 0, valid)
    if counted is not None and last_ms is not None:
        st.counted_step = (last_ms, counted[0])
    if last_ms is None or last_on is None or not 0 < step <= max_step_ms:
        st.cycle_from_ms, st.cycle_on_ms, st.cycle_run_ms, st.tainted = None, 0, 0, True
        st.loose_wait = _AWAIT_RUN_END
    else:
        st.step_ms = step if st.step_ms is None else st.step_ms + _STEP_FOLLOW * (step - st.step_ms)
        on_ms = counted[0] if counted is not None else step if last_on else 0
        # the counter places an on-edge within the step: the run's time in it came last
        edge = on and not last_on
        lead = min(max(on_ms, 0), step) if edge and counted is not None else 0
        st.cycle_on_ms += on_ms - lead
        st.cycle_run_ms += step if last_on else 0
        other = _other_draw(st, on, power)
        aside = set_aside or other
        _loose_step(st, ts, step, on_ms, last_on, on, aside)
        if st.hour is not None and not aside and not st.last_aside:
            st.hour.stepped_ms += step
            st.hour.counter_ms += counted[1] if counted is not None else 0
        st.last_aside = aside
        if edge:
            _close_cycle(st, ts, lead, cut=other)
    if on and power is not None and not set_aside:
        st.cycle_draw_w += power
        st.cycle_draws += 1
    st.tainted = st.tainted or set_aside
    st.last_ms, st.last_on = ts, on


def _follow_rest(counter: EnergyCounter, power: float) -> None:
    if math.isfinite(power) and power >= 0:
        rest = counter.rest_w
        counter.rest_w = power if rest is None else rest + _REST_FOLLOW * (power - rest)


def _counter_on(
    st: PowerState, ts: int, energy_kwh: float | None, held_ms: int, valid: bool
) -> tuple[int, int] | None:
    """The compressor's on-time (ms) over the step ending at `ts`, read from the energy
    counter, and the time the count spans; None where the counter does not read it. The
    count spans the steps since the last count: those that brought none were credited their
    on-time on or off (`held_ms`, this step's so), and this step takes the rest. None for no
    count now or since the last break (`valid`: the step follows a reading in reach), a count
    lower than the last (the plug restarted), the running draw (the recent cycles',
    `_MIN_RECENT`) or the rest's not yet known, or more energy than the compressor draws in
    the span by more than the counter's step (a heater). Not held to the step: a count's
    step falls in one step or the next, and their sum over an hour is exact to within a
    counter step at each end of it (`_COUNTER_ENDS`)."""
    counter, wh = st.counter, None
    if energy_kwh is not None and math.isfinite(energy_kwh) and energy_kwh >= 0:
        wh = energy_kwh * 1000.0
    last, since, credited = counter.last_wh, counter.last_ms, counter.credited_ms
    if wh is None:
        counter.credited_ms += held_ms
        if not valid:
            counter.last_wh = None
        return None
    counter.last_wh, counter.last_ms, counter.credited_ms = wh, ts, 0
    _follow_step(counter, wh)
    rest = counter.rest_w
    run = statistics.median(st.recent_w) if len(st.recent_w) >= _MIN_RECENT else None
    span = ts - since
    if not valid or last is None or span <= 0 or run is None or rest is None or not run > rest:
        return None
    used = wh - last
    if used < 0 or used - counter.step_wh > _HEATER_RATIO * run * span / _HOUR_MS:
        return None
    counter.run_w = run
    return round((used * _HOUR_MS - rest * span) / (run - rest)) - credited, span


def _follow_step(counter: EnergyCounter, wh: float) -> None:
    """The counter's step: the largest of `_COUNTER_STEPS_WH` its counts are multiples of."""
    steps = _COUNTER_STEPS_WH
    i = steps.index(counter.step_wh) if counter.step_wh in steps else len(steps) - 1
    while i < len(steps) - 1 and abs(wh / steps[i] - round(wh / steps[i])) > _COUNT_SLACK:
        i += 1
    counter.step_wh = steps[i]


def _counter_read(hour: PowerHour) -> bool:
    """Whether the energy counter read the hour's metered steps (`_COUNTER_SHARE`)."""
    return hour.stepped_ms > 0 and hour.counter_ms >= _COUNTER_SHARE * hour.stepped_ms


def counter_resolution(st: PowerState, on_ms: float, read: bool) -> float | None:
    """How finely the energy counter measures an hour's on-time `on_ms` (log units, as
    `seal_duty.reading_resolution`): a counter step at each end of its metered time; None
    where the counter did not read the hour (`read`, `_counter_read`)."""
    counter = st.counter
    run, rest = counter.run_w, counter.rest_w
    if not read or run is None or rest is None or not run > rest:
        return None
    step_ms = _COUNTER_ENDS * counter.step_wh * _HOUR_MS / (run - rest)
    return math.log1p(step_ms / max(on_ms, step_ms))


def _loose_step(
    st: PowerState, ts: int, step: int, on_ms: int, last_on: bool, on: bool, aside: bool
) -> None:
    """The step from the last reading goes to the hour's loose time (`PowerHour.loose_ms`)
    once the cabinet is its own again: after a reading set aside, from the first on-edge
    that follows a run ending outside the set-aside readings (the recovery run after a
    defrost or an excursion, and its rest, stay out, as `skip_next` keeps the recovery
    cycle out). Read so, an hour needs no whole cycle: a unit whose cycles a leak has
    lengthened past the spacing of its defrosts has few cycles left that touch none (a
    held-out old unit with six heater defrosts a day, its learned timer's windows some
    100 min of every 4 h: its cycles grew from 20 to 65-175 min under a 0.6 leak, and from
    07:00 to 15:00 of the day after onset none was plain)."""
    if aside:
        st.loose_wait, st.aside_ms = _AWAIT_RUN_END, ts
    elif not st.last_aside:
        if st.loose_wait == _LOOSE and st.hour is not None:
            st.hour.loose_ms += step
            st.hour.loose_on_ms += on_ms
        elif st.loose_wait == _AWAIT_RUN_END and last_on and not on:
            st.loose_wait = _AWAIT_ON
        elif st.loose_wait == _AWAIT_ON and on and not last_on:
            st.loose_wait = _LOOSE


def _other_draw(st: PowerState, on: bool, power: float | None) -> bool:
    """A running reading at another draw than the recent cycles' (see `_OTHER_DRAW`)."""
    if not on or power is None or power <= 0 or len(st.recent_w) < _MIN_RECENT:
        return False
    return abs(math.log(power / statistics.median(st.recent_w))) > _OTHER_DRAW


def _door(st: PowerState, ts: int, door: bool | None, max_step_ms: int) -> None:
    last = st.door_seen_ms
    if st.last_door and last is not None and st.hour is not None:
        step = ts - last
        # a contact that fell silent while open is not believed open for hours
        st.hour.door_ms += step if 0 < step <= max(max_step_ms, _DOOR_SILENCE_MS) else 0
    st.door_seen_ms = ts
    st.last_door = door if door is not None else st.last_door


def _close_cycle(st: PowerState, ts: int, lead: int = 0, cut: bool = False) -> None:
    """The reading at `ts` is an on-edge: the current cycle ends and the next begins,
    `lead` before it where the energy counter read the run's time before the reading.
    `cut`: the edge is read at another draw than the compressor's (`_other_draw`: a
    defrost's heater read as a run), no compressor's start, so the cycle's rest was cut
    short and it counts for no hour; it still counts among the recent cycles, so a lasting
    step in the draw (a new meter) is followed as before."""
    start, on_ms, run_ms = st.cycle_from_ms, st.cycle_on_ms, st.cycle_run_ms
    draw_w, draws = st.cycle_draw_w, st.cycle_draws
    st.cycle_from_ms, st.cycle_on_ms, st.cycle_run_ms = ts - lead, lead, 0
    st.cycle_lead_ms, st.cycle_draw_w, st.cycle_draws = lead, 0.0, 0
    tainted, st.tainted = st.tainted, False
    if start is None:
        return
    length = ts - lead - start
    factor = _LONG_CYCLE if runs_resolved(st) else _LONG_UNRESOLVED
    long = st.usual_ms is not None and length > factor * st.usual_ms
    # a run at another draw than the compressor's is a heater the meter read as the
    # compressor (an under-counter freezer's 200 W heater beside its 430 W compressor ran 21
    # min among runs of 4); the kitchen moves the compressor's draw by a few % only
    # (the median of the recent cycles' draws: a lasting step, a new meter, is followed)
    mean_w = draw_w / draws if draws and draw_w > 0 else None
    usual_w = statistics.median(st.recent_w) if len(st.recent_w) >= _MIN_RECENT else None
    other = (
        mean_w is not None and usual_w is not None and abs(math.log(mean_w / usual_w)) > _OTHER_DRAW
    )
    if not tainted and length <= _MAX_CYCLE_MS:
        st.recent_ms = [*st.recent_ms, length][-_RECENT_CYCLES:]
        st.recent_on_ms = [*st.recent_on_ms, run_ms][-_RECENT_CYCLES:]
        if mean_w is not None:
            st.recent_w = [*st.recent_w, mean_w][-_RECENT_CYCLES:]
        if len(st.recent_ms) >= _MIN_RECENT:
            st.usual_ms = statistics.median(st.recent_ms)
    if tainted or long or other or cut or st.skip_next or length > _MAX_CYCLE_MS:
        st.skip_next = tainted or long or other
        return
    if st.hour is not None and st.hour.start_ms <= ts:
        st.hour.cycle_ms += length
        st.hour.on_ms += on_ms
        st.hour.draw_w += draw_w
        st.hour.draws += draws
        if st.step_ms:
            st.hour.cycle_reads.append((round(length / st.step_ms), round(run_ms / st.step_ms)))


def strobe_readings(hour: PowerHour) -> int | None:
    """The readings of the one short pattern of q cycles (`_STROBE_CYCLES`) the hour's plain
    cycles repeat throughout, each as the one q cycles before it, seen `_STROBE_REPEATS`
    times over and `_STROBE_MIN_CYCLES` cycles or more; None when they do not, or when every
    cycle read alike (q = 1): a run and a cycle near whole numbers of readings read so at
    any phase, a locked phase or not."""
    reads = hour.cycle_reads
    for q in _STROBE_CYCLES:
        if len(reads) >= max(_STROBE_REPEATS * q, _STROBE_MIN_CYCLES) and all(
            reads[i] == reads[i - q] for i in range(q, len(reads))
        ):
            return sum(n for n, _ in reads[:q]) if q > 1 else None
    return None


def strobe_band(st: PowerState, start_ms: int, value: float, center: float) -> float:
    """The on-share `value` of the hour from `start_ms` moved towards its norm (`center`,
    log) by one reading of the pattern its meter strobed the cycle with, if it did
    (`strobe_readings`): the phase's error holds for hours on end, so it is taken off the
    move, not spread over it. The clean hours' metered share (`seal_duty`) is read from the
    same meter and takes the same band."""
    readings = st.strobes.get(start_ms)
    if readings is None:
        return value
    norm = math.exp(center)
    return max(norm, value - 1 / readings) if value > norm else min(norm, value + 1 / readings)


def runs_resolved(st: PowerState) -> bool:
    """Whether the meter reads the usual run over `_RESOLVED_RUN` readings or more (as it was
    when the baseline was learned, once it is)."""
    if st.counted is not None:
        return not st.counted
    if st.step_ms is None or len(st.recent_on_ms) < _MIN_RECENT:
        return True
    return statistics.median(st.recent_on_ms) >= _RUN_JITTER * _RESOLVED_RUN * st.step_ms


def heater_on(levels: DrawLevels, power: float | None) -> bool:
    """A defrost heater draws well above the compressor's usual draw (once known)."""
    peak = levels.peak_w
    return levels.apart and peak is not None and power is not None and power > _HEATER_RATIO * peak


def roll_power_hour(st: PowerState, start_ms: int, hour: int, quiet: bool) -> PowerHour | None:
    """A new local hour begins; the one that ended is returned (and kept while learning).
    An hour no cycle ended in, the compressor running through it from its start or from
    its last reading set aside (`_ran_through`), reads that time all on. A leak that outgrows the
    compressor keeps it running for hours, and those hours are its strongest evidence; the
    run, once it ends, is far longer than the usual cycle and set aside, so it counts once."""
    ended = st.hour
    if ended is not None and ended.stepped_ms:
        st.counter_read = _counter_read(ended)
    if ended is not None:
        readings = strobe_readings(ended)
        kept = {at: n for at, n in st.strobes.items() if at > start_ms - _KEPT_SHIFTS * _HOUR_MS}
        st.strobes = kept if readings is None else {**kept, ended.start_ms: readings}
    if ended is not None and not ended.cycle_ms:
        ended.cycle_ms = ended.on_ms = _ran_through(st, ended.start_ms)
    if ended is not None and st.model is None:
        st.history = [*st.history, ended][-_KEPT_HOURS:]
    if ended is not None and st.model is not None and not st.model.quiet_learned:
        _follow_quiet(st, st.model, ended)
    st.hour = PowerHour(start_ms, hour, quiet)
    return ended


def _follow_quiet(st: PowerState, model: PowerModel, ended: PowerHour) -> None:
    """A unit whose learning days held no two days without meals (installed on a Monday, it
    learns Monday to Thursday) learns the quiet days' offsets from its first run of two or
    more of them, once a day with meals follows. Their hours are judged on the school days'
    norms meanwhile, as before. A leak already in them raises them: the offsets then credit
    less, never more, and the leak is still judged on the school days."""
    if ended.quiet:
        st.quiet_seen = [*st.quiet_seen, ended][-_KEPT_HOURS:]
        return
    if not st.quiet_seen:
        return
    offsets = _quiet_offsets(
        st.quiet_seen, model.duty, model.door_slope, model.loose_offset, model.day_spread
    )
    st.quiet_seen = []
    if offsets is not None:
        model.quiet, model.quiet_learned = offsets, True


def _ran_through(st: PowerState, start_ms: int) -> int:
    """How long the current cycle's run has gone on in the hour from `start_ms`, up to the
    last reading, counted from the hour's start or from the last reading set aside
    (`_loose_step`) in it, whichever came later; 0 unless the cycle is one run, on since
    before that point. A run that began in a defrost's recovery and outlasts it by a whole
    hour is read in that hour: a leak keeps the compressor of a busy old unit running from
    one defrost to the next (a held-out unit with five defrosts a day ran from its window's
    end at 09:28 to the next defrost at 12:47 the day after onset, and no hour of it had a
    value). So is the part of an hour after a defrost's window that the run outlasted to the
    hour's end, where that is long enough for a value (`hour_duty`: 30 min): with five
    defrosts a day, each window ending a few minutes into an hour took that hour whole (a
    held-out old unit with power whose 0.6 leak kept its compressor on all night, seed 6:
    its window ended at 23:02 and at 04:05, and neither hour, on for 57 and 54 min, had a
    value)."""
    if (
        st.last_on is not True
        or st.last_ms is None
        or st.cycle_from_ms is None
        or st.cycle_run_ms != st.last_ms - st.cycle_from_ms - st.cycle_lead_ms
    ):
        return 0
    since = start_ms if st.aside_ms is None else max(start_ms, st.aside_ms)
    return st.last_ms - since if st.cycle_from_ms <= since < st.last_ms else 0


def _features(hour: PowerHour, slope: float, loose: float | None) -> HourFeatures:
    """The hour as `seal_duty` reads it: its metered on-share (`_metered`) with the door's
    share taken out (`hour_duty` needs 30 min of cycles)."""
    features = HourFeatures(hour.start_ms, hour.hour, hour.quiet)
    metered_ms, on_ms, offset = _metered(hour, loose)
    if metered_ms:
        duty = max(on_ms / metered_ms * math.exp(offset), _DUTY_FLOOR)
        adjusted = min(1.0, duty * math.exp(-slope * hour.door_ms / _MINUTE_MS))
        features.clean_ms = metered_ms
        features.clean_on_ms = round(adjusted * metered_ms)
    return features


def _metered(hour: PowerHour, loose: float | None) -> tuple[int, int, float]:
    """The hour's metered time, on-time and log offset to the cycles' terms: its whole plain
    cycles' where they are enough for a value (`hour_duty`), else its loose time's
    (`_loose_step`) where that is longer, raised by `loose` (`_loose_offset`; None: the
    loose time is not read)."""
    cycled = _cycled(hour)
    if loose is not None and hour_duty(cycled) is None and hour.loose_ms > hour.cycle_ms:
        return hour.loose_ms, hour.loose_on_ms, loose
    return hour.cycle_ms, hour.on_ms, 0.0


def _cycled(hour: PowerHour) -> HourFeatures:
    features = HourFeatures(hour.start_ms, hour.hour, hour.quiet)
    features.clean_ms, features.clean_on_ms = hour.cycle_ms, hour.on_ms
    return features


def _loose_offset(history: list[PowerHour]) -> float | None:
    """The log on-share of the whole cycles over the loose time's, the median over the hours
    that give both (`hour_duty`); None for fewer than `_LOOSE_PAIRS`. A meter that reads
    the compressor's run as one reading misses some runs whole, and the cycles that hold
    them are set aside as long: its cycles' share sits above its readings' (see
    `_LONG_UNRESOLVED`), and the norms hold the cycles'. A meter that resolves its runs
    reads both alike."""
    pairs = []
    for hour in history:
        cycled = hour_duty(_cycled(hour))
        loose = hour_duty(_features(_loose_only(hour), 0.0, 0.0))
        if cycled is not None and loose is not None:
            pairs.append(math.log(max(cycled, _DUTY_FLOOR)) - math.log(max(loose, _DUTY_FLOOR)))
    return statistics.median(pairs) if len(pairs) >= _LOOSE_PAIRS else None


def _loose_only(hour: PowerHour) -> PowerHour:
    return PowerHour(
        hour.start_ms, hour.hour, hour.quiet, loose_ms=hour.loose_ms, loose_on_ms=hour.loose_on_ms
    )


def metered_hours(st: PowerState) -> set[int]:
    """The starts of the kept hours whose whole cycles give an on-share (`hour_duty`: 30 min
    of them), which this stream learns from and judges, busy hours included."""
    return {h.start_ms for h in st.history if hour_duty(_features(h, 0.0, 0.0)) is not None}


def power_hour_value(hour: PowerHour, model: PowerModel) -> float | None:
    """The hour's door-adjusted on-share, None for too few cycles."""
    return hour_duty(_features(hour, model.door_slope, model.loose_offset))


def _door_slope(history: list[PowerHour], duty: DutyModel, loose: float | None) -> float:
    """Least-squares slope of the hours' log on-share on their door-open minutes, never
    negative (an open door adds load, it never takes any away).

    Read within each local hour: the hourly norm already holds that hour's usual door
    minutes, and lunch opens the door more than the night every day, on a kitchen warmed by
    cooking, so the minutes are taken against their own local hour's mean (a fixed-effects
    fit; what the hours share drops out of the slope): only the minutes an hour's door stood
    open beyond its usual tell it. Fitted on the minutes themselves, the hours' differences
    decided the slope: a tenth of the true one where lunch hours opened the door 6 min every
    day and the nights none (tests), and on the bench's held-out walk-ins (seed 2) three
    healthy units whose doors stood open 9 min one morning against 4-6 on their learning
    days were read as leaking; half as steep again as the within-hour one on a
    tuning-family reach-in whose busy hours also run warm."""
    found: list[tuple[int, float, float]] = []
    for hour in history:
        value, norm = hour_duty(_features(hour, 0.0, loose)), duty.hours.get(hour.hour)
        if value is not None and norm is not None:
            found.append((hour.hour, hour.door_ms / _MINUTE_MS, math.log(value) - norm.center))
    by_hour: dict[int, list[float]] = {}
    for at, minutes, _ in found:
        by_hour.setdefault(at, []).append(minutes)
    usual = {at: statistics.fmean(minutes) for at, minutes in by_hour.items()}
    points = [(minutes - usual[at], y) for at, minutes, y in found]
    if len(points) < 3:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var <= 0:
        return 0.0
    return max(0.0, sum((x - mean_x) * (y - mean_y) for x, y in points) / var)


def learning_shifts(history: list[PowerHour]) -> dict[int, float]:
    """Per learning hour (its start), the log on-share the kitchen's shift would take out of
    it once the norms are learned, followed through the hours as then (`_follow_kitchen`,
    `running_moves`): from 0, a quarter of the way to each hour's draw against its local
    hour's median over `history`, only upwards, at most `_DRAW_CAP`. Hours it takes nothing
    from are left out. The clean metered hours (`seal_cold`) share the meter's hours."""
    draw, per_draw = _draw_norms(history), duty_per_draw(history)
    kitchen, out = 0.0, {}
    for hour in history:
        value, norm = _log_draw(hour), draw.get(hour.hour)
        if value is not None and norm is not None:
            kitchen += _KITCHEN_STEP * (value - norm - kitchen)
        shift = per_draw * max(0.0, min(_DRAW_CAP, kitchen))
        if shift:
            out[hour.start_ms] = shift
    return out


def _log_draw(hour: PowerHour) -> float | None:
    return (
        math.log(hour.draw_w / hour.draws) if hour.draws >= _MIN_DRAWS and hour.draw_w > 0 else None
    )


def _draw_norms(history: list[PowerHour]) -> dict[int, float]:
    """Per local hour, the median log running draw of the learning days (its own hour only:
    cooking warms the kitchen, and the draw with it, within an hour or two)."""
    by_hour: dict[int, list[float]] = {}
    for hour in history:
        draw = _log_draw(hour)
        if draw is not None:
            by_hour.setdefault(hour.hour, []).append(draw)
    return {h: statistics.median(v) for h, v in by_hour.items() if len(v) >= _MIN_DRAW_DAYS}


def learn_power(
    history: list[PowerHour],
    limits: EvidenceLimits,
    counted: bool = False,
    quiet: list[PowerHour] | None = None,
) -> PowerModel | None:
    """Norms, door slope, k and h from the learning days (`history`: the days with meals
    where there were any); None with too few cycled hours. The decision threshold is at least
    `_H_SCALE` times the clean hours' (`limits`). `counted`: the meter reads the usual run as
    a single reading (`runs_resolved`, `learn_duty`). `quiet`: the learning hours of days
    without meals, which give the quiet days' offsets (`_quiet_offsets`). The allowance k is
    read with the kitchen's shift taken out of the hours (`learning_shifts`)."""
    limits = EvidenceLimits(limits.k_floor, _H_SCALE * limits.h_floor)
    shifts = learning_shifts(history)
    loose = _loose_offset(history)
    raw = learn_duty(
        [_features(h, 0.0, loose) for h in history],
        limits,
        counted=counted,
        explained=shifts,
        k_sigmas=_K_SIGMAS_METERED,
    )
    if raw is None:
        return None
    slope = _door_slope(history, raw, loose)
    duty = (
        learn_duty(
            [_features(h, slope, loose) for h in history],
            limits,
            counted=counted,
            explained=shifts,
            k_sigmas=_K_SIGMAS_METERED,
        )
        if slope
        else raw
    )
    if duty is None:
        return None
    gap = _kitchen_gap(history)
    spread = max(
        _day_spread(_day_medians(history, duty, slope, loose)),
        _KITCHEN_DAY_K / gap if gap is not None else 0.0,
    )
    offsets = _quiet_offsets(quiet or [], duty, slope, loose, spread)
    return PowerModel(
        duty,
        slope,
        _draw_norms(history),
        duty_per_draw(history),
        offsets or {},
        offsets is not None,
        spread,
        loose,
    )


def _quiet_offsets(
    quiet: list[PowerHour],
    duty: DutyModel,
    slope: float,
    loose: float | None,
    school_spread: float,
) -> dict[int, float] | None:
    """Per local hour, how far below the school days' norm the learning days without meals
    ran (log on-share): the median of their hours' residuals pooled over the hours either
    side (`hour_pool`), raised by its standard error, never above 0 (a weekend is never
    judged as busier than a school day). None unless the quiet hours span `_QUIET_DAYS`
    days. The hours of one day move together (the kitchen's air, the day's doors), so the
    error is that of the pool's hours and of the quiet days' common shift: the larger spread
    of the quiet days' own day medians (`_day_spread`) and `school_spread`, the school
    days' (learned with the norms) or that of a kitchen whose air moves `_KITCHEN_DAY_K`
    from day to day (the load through the walls moves by 1/(kitchen - air) per kelvin, see
    `_KITCHEN_C`: 5 % for a fridge at 4 °C), over the quiet days' number. A weekend that ran
    cooler than weekends do is credited no further than it is known. Without the days' part
    a healthy held-out glass-door merchandiser (seed 2, from a Thursday) whose second
    weekend ran 5 % above its first raised a false alert on the Sunday night.

    A school's kitchen is shut two days a week and for weeks of holidays: its cabinets' doors
    stay shut and the kitchen cools, and the on-share falls below every school-day norm.
    Judged on those norms, such a day's hours read low, and the evidence of a leak that began
    on a Friday waited for Monday: a held-out walk-in with a 0.35 leak from Friday 23:00
    metered 0.30-0.33 on its Saturday against norms of 0.34-0.36 (its true on-share had
    gone from 0.30-0.37 the weekend before to 0.38-0.44)."""
    by_hour: dict[int, list[float]] = {h: [] for h in range(24)}
    for hour, residuals in _residuals(quiet, duty, slope, loose).items():
        by_hour[hour].extend(residuals)
    days = _day_medians(quiet, duty, slope, loose)
    if len(days) < _QUIET_DAYS:
        return None
    shared = max(_day_spread(days), school_spread) ** 2 / len(days)
    offsets: dict[int, float] = {}
    for hour in range(24):
        pool = hour_pool(by_hour, hour, _QUIET_POOL_H, lambda v: len(v) >= _QUIET_MIN, 12)
        if len(pool) < _QUIET_MIN:
            continue
        mid = statistics.median(pool)
        mad = statistics.median(abs(r - mid) for r in pool)
        error = math.sqrt((_MAD_TO_SIGMA * mad) ** 2 / len(pool) + shared)
        offsets[hour] = min(0.0, mid + error)
    return offsets


def _residuals(
    hours: list[PowerHour], duty: DutyModel, slope: float, loose: float | None
) -> dict[int, list[float]]:
    """Per local hour, the hours' log on-share less its school-day norm."""
    out: dict[int, list[float]] = {}
    for ended in hours:
        value, norm = hour_duty(_features(ended, slope, loose)), duty.hours.get(ended.hour)
        if value is not None and norm is not None:
            out.setdefault(ended.hour, []).append(math.log(value) - norm.center)
    return out


def _day_medians(
    hours: list[PowerHour], duty: DutyModel, slope: float, loose: float | None
) -> list[float]:
    """Per local day, the median of its hours' residuals (`_residuals`)."""
    by_day: dict[int, list[PowerHour]] = {}
    for ended in hours:
        by_day.setdefault(round((ended.start_ms - ended.hour * _HOUR_MS) / _DAY_MS), []).append(
            ended
        )
    medians = []
    for day in by_day.values():
        residuals = [r for values in _residuals(day, duty, slope, loose).values() for r in values]
        if residuals:
            medians.append(statistics.median(residuals))
    return medians


def _day_spread(medians: list[float]) -> float:
    """The standard deviation of days' median residuals; 0 for fewer than two."""
    return statistics.stdev(medians) if len(medians) >= 2 else 0.0


def duty_per_draw(history: list[PowerHour]) -> float:
    """Log on-share per log running draw, from the cabinet's median air over the hours
    (see `_KITCHEN_C`)."""
    gap = _kitchen_gap(history)
    if gap is None:
        return _DUTY_PER_DRAW
    return (1.0 / gap + CAPACITY_PER_K) / _DRAW_PER_K


def _kitchen_gap(history: list[PowerHour]) -> float | None:
    """The kelvin between the kitchen (`_KITCHEN_C`) and the cabinet's median air over the
    hours, at least `MIN_GAP_K`; None without air readings."""
    airs = [h.air_c / h.airs for h in history if h.airs]
    if not airs:
        return None
    return max(MIN_GAP_K, _KITCHEN_C - statistics.median(airs))


def _follow_kitchen(st: PowerState, hour: PowerHour, model: PowerModel, season: bool) -> float:
    """The ended hour's draw moves the kitchen's shift, and on a day with meals the season's
    level (`_follow_season`); the log on-share it explains."""
    draw, norm = _log_draw(hour), model.draw.get(hour.hour)
    if draw is not None and norm is not None:
        st.kitchen += _KITCHEN_STEP * (draw - norm - st.kitchen)
        if season and not hour.quiet:
            _follow_season(st, draw - norm, hour.start_ms)
    shift = sum(running_moves(st))
    st.shifts = [*st.shifts, (hour.start_ms, shift)][-_KEPT_SHIFTS:]
    return shift


def running_moves(st: PowerState) -> tuple[float, float]:
    """What the kitchen's shift explains now (the hours' draws so far; zeros before the
    meter's norms are learned), for the cycles scored as they end: the log load through the
    walls it added and the log capacity it took away (see `_KITCHEN_C`); their sum is the
    on-share's shift. A draw below its norm moves nothing (see `_DRAW_CAP`)."""
    return _moves(st, max(0.0, min(_DRAW_CAP + max(0.0, st.season), st.kitchen)))


def season_kitchen_k(st: PowerState) -> float | None:
    """How much warmer (K) the seasons have made the kitchen since the learning days, as its
    draw reads it (`_follow_season`); None before the meter's norms are learned."""
    return st.season / _DRAW_PER_K if st.model is not None else None


def season_moves(st: PowerState) -> tuple[float, float]:
    """`running_moves` for the cycles of a day without meals: the season's level
    (`_follow_season`), or the hours' draws where they read the kitchen warmer still. Its
    idle kitchen draws less than the school days' norms, which reads as no shift at all (a
    draw below its norm explains nothing), but it stands in the season's air as the school
    days do. Without the season, a tuning-family reach-in fridge whose kitchen warmed 0.2 K a
    day from its sixth day alerted on its third weekend, its cycles' rise 0.23 above its
    norms. A draw above the school days' norms on such a day is a kitchen warmer than on
    them, idle as it is (a heat wave, a broken extractor hood): its cabinets' cycles carry
    that warmth as on a school day, and the quiet days' norms, where learned, expect a cooler
    kitchen, so what the draws read is taken out, not more. Read at the season alone, a
    3 K warm spell through a weekend raised 31 false seal alerts over 3,483 healthy
    unit-days, all on the probe's teeth (held-out families, seeds 1-3, with power and door,
    `bench.detection --kitchen-spell 3`), where the same probes alone, held to a kitchen
    3.5 K warmer (`seal_kitchen_swing_k`), raised 17; read at the draws, none. Without a
    spell (seeds 1-13) a weekend the kitchen wandered warm took its share out of eight
    leaks' evidence: 0.2 leaks within 72 h 130 -> 128 of 195, the rest of the figures
    unchanged."""
    return _moves(st, max(0.0, st.season, min(_DRAW_CAP + max(0.0, st.season), st.kitchen)))


def _moves(st: PowerState, move: float) -> tuple[float, float]:
    if st.model is None:
        return 0.0, 0.0
    capacity = CAPACITY_PER_K / _DRAW_PER_K
    return (st.model.duty_per_draw - capacity) * move, capacity * move


def kitchen_shift(st: PowerState, start_ms: int) -> float:
    """The log on-share the kitchen's shift explains in the hour from `start_ms` (0 when the
    meter gave no shift for it)."""
    return next((shift for at, shift in reversed(st.shifts) if at == start_ms), 0.0)


def _follow_season(st: PowerState, residual: float, at_ms: int) -> None:
    """A school day's hour's log draw over its norm (the hour from `at_ms`) joins the
    season's (`_SEASON_HOURS`), and the level moves to their median by no more than the
    seasons move a kitchen's air since it last moved (`SEASON_K_PER_DAY`).

    The kitchen's shift is believed up to `_DRAW_CAP` (some 3 K) from the learning days, and
    the seasons move a kitchen further: a tuning-family reach-in fridge in a kitchen warming
    0.2 K a day from its sixth day (`seal_season`) raised a seal alert on 12 of 12 healthy
    units within 36 days with a plug meter, on its weekends. A leak leaves the compressor's
    draw alone, so the level follows no leak. A draw that climbs faster than a season (a
    meter changed, a condenser clogging) is followed at the season's pace only, and believed
    no further than the cap beyond that; a draw the seasons lowered moves nothing
    (`running_moves`)."""
    st.season_draws = [*st.season_draws, residual][-_SEASON_HOURS:]
    if len(st.season_draws) < _SEASON_MIN_HOURS:
        return
    if st.season_ms is None:
        st.season_ms = at_ms
    most = _SEASON_DRAW_PER_MS * (at_ms - st.season_ms)
    target = statistics.median(st.season_draws)
    st.season += max(-most, min(most, target - st.season))
    st.season_ms = at_ms


def score_power_hour(st: PowerState, hour: PowerHour, season: bool = False) -> None:
    """The ended hour adds its evidence, the kitchen's share of its on-share taken out (and
    on a day without meals, the quiet days' offset, `_quiet_offsets`). `season`: the draws
    of school days move the season's level (`_follow_season`)."""
    model = st.model
    if model is None:
        return
    shift = _follow_kitchen(st, hour, model, season)
    value, norm = power_hour_value(hour, model), model.duty.hours.get(hour.hour)
    if value is not None and hour.quiet:
        value *= math.exp(-model.quiet.get(hour.hour, 0.0))
    if value is not None and norm is not None:
        on_ms = _metered(hour, model.loose_offset)[1]
        counted = counter_resolution(st, on_ms, _counter_read(hour))
        value *= math.exp(-shift)
        if counted is None:
            value = strobe_band(st, hour.start_ms, value, norm.center)
        resolution = counted if counted is not None else reading_resolution(st.step_ms, on_ms)
        z, move = score_hour(value, norm, resolution)
        st.cusum.add(z, move, model.duty.threshold)
