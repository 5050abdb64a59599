"""What the cold seal rule keeps per unit, and the bookkeeping of its clean time: which
readings, metered time and probe moves count as the plant running on its own (no door,
defrost or excursion; see `seal_cold`), and what a disturbance the probe itself showed, or an
excursion, takes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.rules.base import HOUR_MS, MINUTE_MS
from alerts.rules.cycle_inference import CycleInferenceState
from alerts.rules.seal import ScoreState
from alerts.rules.seal_ambient import KitchenState
from alerts.rules.seal_baseline import HourBaseline, HourFeatures, Spread
from alerts.rules.seal_cusum import CusumModel, CusumState
from alerts.rules.seal_duty import CleanTime, DrawLevels, DutyModel
from alerts.rules.seal_fold import FOLD_WINDOW_MS, SPARSE_MS, fold
from alerts.rules.seal_level import judge_scatter, note_level
from alerts.rules.seal_power import PowerState
from alerts.rules.seal_probe_duty import ProbeMoves
from alerts.rules.seal_reporting import ReportPace
from alerts.rules.seal_season import LevelTrack

__all__ = [
    "DOOR_SETTLE_MS",
    "ColdSealState",
    "fold_hour",
    "fold_reading",
    "forget_recent",
    "meter_clean",
    "probe_move",
    "seen_on_probe",
]

# Food warmed by an open door keeps warming the air for a while: seal evidence waits longer
# after a door than the door grace of the threshold rule.
DOOR_SETTLE_MS = 20 * MINUTE_MS
# How far before the peak the probe shows a disturbance began, at most: a defrost heater runs
# 10-45 min (vendor guidance), a door's jump takes minutes; a probe that lags the air far
# behind draws teeth hours long, whose trough says nothing about when the heat came in.
_DEFROST_RISE_MS = 60 * MINUTE_MS
_UPSET_RISE_MS = 15 * MINUTE_MS
_EXCURSION_LEAD_MS = 3 * HOUR_MS
# The level (`seal_level`) leaves out readings further before and after an upset's time (one
# no longer than `_UPSET_RISE_MS` + `DOOR_SETTLE_MS`; a defrost's already runs from an hour
# before its peak to its settling): a long rise the probe shows only as an upset began before
# the time set aside for one, and its heat comes out of the cabinet for up to an hour after
# (a held-out old unit's 40-min heater defrosts, read every 5 min, lifted the rest of their
# hours' means by 3-6 K and the next hours' by 1-2 K, over a usual 1.4 K above its low).
_LEVEL_LEAD_MS = 45 * MINUTE_MS
_LEVEL_TAIL_MS = 60 * MINUTE_MS
# A fold's window ends with an hour that settles two hours after it ended (`seal_cold`).
_FOLD_KEPT_MS = FOLD_WINDOW_MS + 3 * HOUR_MS


@dataclass(slots=True)
class ColdSealState:
    first_ms: int | None = None
    draw: DrawLevels = field(default_factory=DrawLevels)  # a plug meter's levels
    quiet_from_ms: int = 0  # time before this was disturbed (hours, moves, meter, folds)
    # teeth whose trough came before this were disturbed: as `quiet_from_ms`, but a defrost
    # holds them back only `seal_tooth_settle_h` (`seal_cold.ColdSealRule._count`)
    teeth_from_ms: int = 0
    # while learning, the clean teeth between the two (`seal_settle`), per hour; once learned,
    # whether such teeth count
    settling: list[HourFeatures] = field(default_factory=list)
    teeth_settle: bool = False
    # an excursion under way began at (None: none), and the cabinet has recovered from the
    # last one at (`seal_cold.recovery_ms`)
    excursion_since_ms: int | None = None
    recovered_ms: int = 0
    cycles: CycleInferenceState = field(default_factory=CycleInferenceState)
    pace: ReportPace = field(default_factory=ReportPace)  # at a pace or on change
    hour: HourFeatures | None = None
    history: list[HourFeatures] = field(default_factory=list)
    baseline: dict[int, HourBaseline] | None = None
    spread: dict[int, dict[str, Spread]] = field(default_factory=dict)
    confidence: float = 1.0  # hours of clean cycles learned / hours asked, at most 1
    grade: ScoreState = field(default_factory=ScoreState)
    cusum_model: CusumModel | None = None
    cusum: CusumState = field(default_factory=CusumState)
    # the warming half of the same cycles read alone (`seal_rise`)
    rise_model: CusumModel | None = None
    rise: CusumState = field(default_factory=CusumState)
    # the metered path (`seal_duty`): needs `compressor_on` or `power_w`, no sawtooth
    metered: bool = False
    duty_model: DutyModel | None = None
    duty: CusumState = field(default_factory=CusumState)
    clean: CleanTime = field(default_factory=CleanTime)
    seen_defrost_ms: int | None = None
    seen_upset_ms: int | None = None
    # the probe's falling share (`seal_probe_duty`): no sawtooth, no meter needed
    moves: ProbeMoves = field(default_factory=ProbeMoves)
    probe_model: DutyModel | None = None
    probe_held: bool = False  # its hours read as the share of readings taken while falling
    probe_paced: bool = False  # ... or from the pace of its display's steps
    probe_reported: bool = False  # ... reported on change (`hour_reported_falls`)
    probe: CusumState = field(default_factory=CusumState)
    # a sparse probe's clean readings (ms, °C) of the last hours, and the cycle period they
    # fold on (`seal_fold`)
    fold_readings: list[tuple[int, float]] = field(default_factory=list)
    fold_model: DutyModel | None = None
    fold_usual_ms: float | None = None  # the usual period the model was learned about
    fold_most_misfit: float | None = None  # ... and the most a fold may leave (`seal_fold`)
    fold: CusumState = field(default_factory=CusumState)
    # the same readings' level above the unit's low (`seal_level`)
    level_model: DutyModel | None = None
    level_low_c: float | None = None
    level: CusumState = field(default_factory=CusumState)
    # whole metered cycles in every hour, doors included (`seal_power`)
    power: PowerState = field(default_factory=PowerState)
    # the kitchen's temperature where the cabinet reports it (`seal_ambient`)
    kitchen: KitchenState = field(default_factory=KitchenState)
    # the cabinet's air on its learning days: the median of their hours' clean means (°C)
    cabinet_c: float | None = None
    # per evidence stream, its residuals this hour and how far its norms' level followed the
    # season (`seal_season`)
    season: dict[str, LevelTrack] = field(default_factory=dict)


def meter_clean(st: ColdSealState, ts: int, on: bool | None, max_step_ms: int) -> None:
    """The metered time since the last reading counts for the hour's duty when it was
    clean: its on-time as the energy counter read it for the same step (`seal_power`), else
    the compressor's state at the last reading, held to this one."""
    cycles = st.cycles
    if on is None:
        return
    st.metered = True
    last_ms, last_on = cycles.last_ms, cycles.last_on
    if st.hour is None or last_ms is None or last_on is None:
        return
    step = ts - last_ms
    if 0 < step <= max_step_ms and last_ms >= st.quiet_from_ms:
        counted = st.power.counted_step
        on_ms = counted[1] if counted is not None and counted[0] == last_ms else None
        st.clean.add(last_ms, step, on_ms if on_ms is not None else step if last_on else 0)
    st.clean.release(ts, [*st.history[-3:], st.hour])


def probe_move(st: ColdSealState, ts: int, temp: float, max_step_ms: int) -> None:
    """The probe's move since its last reading counts for the hour's falling share when
    it was clean (`seal_probe_duty`)."""
    cycles = st.cycles
    last_ms, last_c = cycles.last_ms, cycles.last_c
    if st.hour is None or last_ms is None or last_c is None:
        return
    moves, step = st.moves, ts - last_ms
    moved = abs(temp - last_c) > 1e-6
    if moved:
        moves.falling = temp < last_c
    clean = 0 < step <= max_step_ms and last_ms >= st.quiet_from_ms
    if clean and moves.falling is not None:
        moves.add_shown(last_ms, 1 if moved else 0, moves.falling, ts)
    elif step > 0 and not clean:
        moves.add(last_ms, -1, False)  # a break: a coarse display's paces start afresh
    st.moves.release(ts, [*st.history[-3:], st.hour])


def fold_reading(st: ColdSealState, ts: int, temp: float, read_ms: float | None) -> None:
    """A sparse probe's reading is kept for the fold of its hour when it is clean
    (`seal_fold`); readings older than the folds still to come are dropped."""
    if read_ms is None or read_ms < SPARSE_MS:
        return
    kept = [r for r in st.fold_readings if r[0] >= ts - _FOLD_KEPT_MS]
    if st.hour is not None and ts >= st.quiet_from_ms:
        kept.append((ts, temp))
    st.fold_readings = kept


def fold_hour(st: ColdSealState, hour: HourFeatures, read_ms: float | None) -> None:
    """The settled hour's fold, on its clean readings and the hour's before (readings in
    time a disturbance claimed back, seen on the probe only at its peak, are left out),
    about the unit's usual period once that is learned (`seal_fold._BAND`), and the level of
    its own clean readings (`seal_level`)."""
    if read_ms is None or read_ms < SPARSE_MS:
        return
    end = hour.start_ms + HOUR_MS
    spans = [*st.moves.spans, *st.clean.spans]
    kept = [
        (ms, c)
        for ms, c in st.fold_readings
        if end - FOLD_WINDOW_MS <= ms < end and not any(a <= ms < b for a, b in spans)
    ]
    # the level from readings further from an upset (`seal_level`)
    upsets = [(a, b) for a, b in spans if b - a <= _UPSET_RISE_MS + DOOR_SETTLE_MS]
    wide = [(a - _LEVEL_LEAD_MS, b + _LEVEL_TAIL_MS) for a, b in upsets]
    note_level(
        hour,
        [c for ms, c in kept if ms >= hour.start_ms and not any(a <= ms < b for a, b in wide)],
    )
    settled = [h for h in st.history if h.start_ms < hour.start_ms]
    judge_scatter(hour, settled)
    usual = st.fold_usual_ms if st.fold_model is not None else None
    found = fold([ms for ms, _ in kept], [c for _, c in kept], read_ms, usual)
    most = st.fold_most_misfit if st.fold_model is not None else None
    if found is not None and (most is None or found.misfit <= most):
        hour.fold_period_ms, hour.fold_on = found.period_ms, found.on_share
        hour.fold_misfit = found.misfit


def seen_on_probe(st: ColdSealState, settle_ms: int, tooth_settle_ms: int) -> None:
    """A defrost or another upset the probe itself showed (no flag needed): evidence waits
    `settle_ms` after a defrost's peak (teeth `tooth_settle_ms`), `DOOR_SETTLE_MS` after an
    upset's, and the clean time and moves held back since it began are claimed back."""
    cycles = st.cycles
    began = cycles.trough.ms if cycles.trough is not None else 0
    if cycles.defrost_ms is not None:
        st.quiet_from_ms = max(st.quiet_from_ms, cycles.defrost_ms + settle_ms)
        st.teeth_from_ms = max(st.teeth_from_ms, cycles.defrost_ms + tooth_settle_ms)
        if cycles.defrost_ms != st.seen_defrost_ms:
            st.seen_defrost_ms = cycles.defrost_ms
            start = max(began, cycles.defrost_ms - _DEFROST_RISE_MS)
            st.clean.disturbed(start, cycles.defrost_ms + settle_ms)
            st.moves.disturbed(start, cycles.defrost_ms + settle_ms)
    if cycles.upset_ms is not None:
        st.quiet_from_ms = max(st.quiet_from_ms, cycles.upset_ms + DOOR_SETTLE_MS)
        st.teeth_from_ms = max(st.teeth_from_ms, cycles.upset_ms + DOOR_SETTLE_MS)
        if cycles.upset_ms != st.seen_upset_ms:
            st.seen_upset_ms = cycles.upset_ms
            start = max(began, cycles.upset_ms - _UPSET_RISE_MS)
            st.clean.disturbed(start, cycles.upset_ms + DOOR_SETTLE_MS)
            st.moves.disturbed(start, cycles.upset_ms + DOOR_SETTLE_MS)


def forget_recent(st: ColdSealState, ts: int) -> None:
    """What led up to an excursion (a failing compressor, a door ajar) is not the seal:
    drop the evidence of the last hours before it."""
    st.history = [h for h in st.history if h.start_ms < ts - _EXCURSION_LEAD_MS]
    st.cusum.roll_back(ts - _EXCURSION_LEAD_MS)
    st.rise.roll_back(ts - _EXCURSION_LEAD_MS)
    st.duty.roll_back(ts - _EXCURSION_LEAD_MS)
    st.probe.roll_back(ts - _EXCURSION_LEAD_MS)
    st.fold.roll_back(ts - _EXCURSION_LEAD_MS)
    st.level.roll_back(ts - _EXCURSION_LEAD_MS)
    st.power.cusum.roll_back(ts - _EXCURSION_LEAD_MS)
    st.clean.held, st.moves.held = [], []
    st.moves.skipped()  # no pace spans what was dropped
    if st.hour is not None:
        st.hour = HourFeatures(st.hour.start_ms, st.hour.hour, st.hour.quiet)
