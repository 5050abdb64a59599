"""Whether a cold cabinet's probe reports at a pace or on change.

The seal rule reads the compressor from the probe's sawtooth: how fast each tooth warms and
pulls down, how far it rises, how long it stays off, the share of readings that fall, their
mean. All of it assumes readings taken at a pace (every 30 s to 5 min, a little jitter): each
reading is where the air was at that moment, to within the display's step.

Many battery probes report on change instead: a reading when the value moved by a set step
since the last one (Zigbee's reportable change, often 0.1-0.5 K; a heartbeat an hour or so
apart when it does not move). Each reading then marks when the air crossed a step away from
the last one, not where it was at a chosen moment, and between two readings the air was
anywhere within a step of the last. A tooth is read through that hysteresis: its turns late
by a step's worth of time, its rise in whole steps counted from wherever the last report
left the lattice, which drifts from tooth to tooth and then holds for hours. On the bench's
held-out families (`bench.detection --variants temp-on-change`, steps 0.1-0.5 K, seeds 1-3)
such probes raised false seal alerts on 5 of 210 healthy units (moves of 0.35-1.4 on healthy
cycles), and resampled to a pace of a minute (the last report held), on 7.

So a probe seen reporting on change is judged by nothing the seal rule reads from its teeth:
its seal-health points say so (`probe_on_change`), with what would let the rule see the
cycles (a fixed reporting interval, or a plug meter); a plug meter beside it is judged on
its own streams (`seal_duty`, `seal_power`). What the reporting step leaves alone is the
air's pace between two reports the same way: each report is the instant the air crossed a
step, so two of them in one half of the cycle time the air's warming or its pull-down over
exactly one step, wherever the lattice of steps lies. Asked for (`seal_on_change_paces`:
it raised one false alert over 15,384 healthy unit-days on the bench, where the default
raises none), where the halves hold three steps or more, the probe's share is read from
those paces (`seal_probe_duty.hour_reported_falls`: the mean fall pace over the two means,
the compressor's duty) and judged alone, as one value an hour whose moves must outlast a
half-day's spell (`probe_reported` in the evidence). The over-temperature rule, which needs
no teeth, judges it as any other.

How it is told (`note_reading`), two ways, either of which says on change:

- the smallest move: a probe at a pace shows moves of one display step whenever the air
  turns or crawls, however sparse its readings; one on change never moves by less than its
  step between two readings close together (its heartbeats, an hour apart, may). So where the
  smallest move between readings under `_CLOSE_MS` apart, over at least `_LEAST_GAPS` of them,
  is `_STEPS_APART` or more of the finest spacing of the values it showed (its display
  step), the probe reports on change. A step of one display step leaves this silent;
- the gaps: at a pace, the gaps between readings are the pace (a dropped reading doubles
  one now and then); on change, a gap is the step over the air's slope, one length while the
  air warms, another while it pulls down, and the noise varies both. A gap further than
  `_ALIKE` of the usual gap (a running median) from it is irregular; a share of irregular
  gaps, averaged over about `_GAPS` readings, above `_ON_CHANGE` after at least `_LEAST_GAPS`
  says on change. On a sawtooth whose two halves are alike, read without noise, the gaps are
  alike too: the smallest move tells those where the step is coarser than the display.

Gaps longer than the rule's silence (an outage) are not counted.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

__all__ = ["ReportPace", "note_reading", "reports_on_change"]

_ALIKE = 0.3  # gaps within 30 % of the usual gap are the pace (jitter, a late batch)
_GAPS = 200  # readings the share is averaged over (a few hours of a 1-min probe)
_LEAST_GAPS = 100
# A share of irregular gaps above this says on change: a probe at a pace with one reading in
# ten dropped has about 1 in 10; one on change whose halves warm and pull down at different
# rates about half or more.
_ON_CHANGE = 0.3
_MEDIAN_STEP = 0.02  # the running median moves by this share of itself per gap
_CLOSE_MS = 4 * 60_000  # readings this close are no heartbeat
_STEPS_APART = 1.5
_VALUES_KEPT = 400  # distinct values kept to find the display step (a fridge shows a few dozen)


@dataclass(slots=True)
class ReportPace:
    last_ms: int | None = None
    usual_ms: float | None = None  # the usual gap, a running median
    irregular: float = 0.0  # the share of irregular gaps, a running average
    gaps: int = 0
    last_c: float | None = None
    values: list[float] = field(default_factory=list)  # distinct values shown, in order
    spacing_c: float | None = None  # the finest spacing between them
    least_move_c: float | None = None  # the smallest move between readings close together
    moves: int = 0


def note_reading(pace: ReportPace, ts: int, temp: float, silence_ms: int) -> None:
    """Take a temperature reading the rule took."""
    _note_value(pace, temp)
    last, pace.last_ms = pace.last_ms, ts
    before_c, pace.last_c = pace.last_c, temp
    if last is None or ts <= last:
        return
    gap = ts - last
    move = abs(temp - before_c) if before_c is not None else 0.0
    if gap <= _CLOSE_MS and move > 1e-6:
        pace.moves += 1
        least = pace.least_move_c
        pace.least_move_c = move if least is None else min(least, move)
    if gap > silence_ms:  # an outage: the pace starts again after it
        return
    usual = pace.usual_ms
    if usual is None:
        pace.usual_ms = float(gap)
        return
    pace.usual_ms = usual + _MEDIAN_STEP * usual * (1.0 if gap > usual else -1.0)
    irregular = abs(gap - usual) > _ALIKE * usual
    pace.gaps += 1
    weight = 1.0 / min(pace.gaps, _GAPS)
    pace.irregular += weight * (float(irregular) - pace.irregular)


def _note_value(pace: ReportPace, temp: float) -> None:
    values = pace.values
    if len(values) >= _VALUES_KEPT:
        return
    value = round(temp, 3)
    at = bisect.bisect_left(values, value)
    if at < len(values) and values[at] == value:
        return
    values.insert(at, value)
    near = [abs(value - values[i]) for i in (at - 1, at + 1) if 0 <= i < len(values)]
    if near:
        finest = min(near)
        pace.spacing_c = finest if pace.spacing_c is None else min(pace.spacing_c, finest)


def reports_on_change(pace: ReportPace) -> bool:
    by_gaps = pace.gaps >= _LEAST_GAPS and pace.irregular > _ON_CHANGE
    least, spacing = pace.least_move_c, pace.spacing_c
    by_moves = (
        pace.moves >= _LEAST_GAPS
        and least is not None
        and spacing is not None
        and least >= _STEPS_APART * spacing
    )
    return by_gaps or by_moves
