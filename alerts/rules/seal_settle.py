"""Whether a unit's clean teeth soon after a defrost read as its quiet ones: learned, not assumed.

After a defrost the seal's evidence waits `seal_defrost_settle_h` (1.5 h): the air is back in
band within a cycle or two, but food and walls the defrost warmed give their heat back for
longer, and the compressor stays busier. A clean tooth (one the probe reads at the usual
cut-out and swing; the defrost's own pull-down is none) may be counted sooner,
`seal_tooth_settle_h` after it, but only on a unit whose own learning days showed those teeth
to be like the others. How much a defrost warms the food differs from unit to unit:

- the 1.5 h wait cost a held-out walk-in defrosting four times a day a third of its clean
  teeth, and over the tuning families (reach-ins, upright freezers with heater defrosts, 14
  healthy units each, 12 days, temperature alone) the teeth it skipped warmed on average
  1.02-1.08 times their day's median, the quiet ones 1.01-1.06;
- but unit by unit they often read warmer: the simulator's reach-ins, walk-ins and prep
  counters read every 2 min (7 units each) gave such teeth a mean z above the quiet ones' on
  16 of the 17 with enough of them to judge (up to 0.7 spreads, on the warming half), and a
  held-out old unit whose heater defrosts lift its air 10 K read them 0.57 spreads warm
  (22.5-30 K/h against 15-22.5) and alerted on them while healthy when they counted.

So while the unit learns, its teeth between `seal_tooth_settle_h` and `seal_defrost_settle_h`
after a defrost are kept apart (`ColdSealState.settling`) and scored, once the norms are
learned, against them as the evidence would score them (`seal_cusum.score_cycle`, and the
warming half's `seal_rise.score_rise` where that stream is learned). They count from then on
only if there were at least `_MIN_TEETH` of them and their mean z is no higher than the quiet
teeth's (`_BIAS`), and each adds `SETTLING_WEIGHT` of a quiet tooth's evidence.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from alerts.rules.seal_baseline import HourFeatures
from alerts.rules.seal_cusum import CusumModel, HourNorm, cycle_logs, score_cycle
from alerts.rules.seal_rise import score_rise

__all__ = ["SETTLING_WEIGHT", "teeth_settle"]

# Teeth to judge from: a day's four defrosts give a few each; fewer (a unit whose probe reads
# few teeth) keep the full wait.
_MIN_TEETH = 16
# The teeth's mean z that still counts them: none above the quiet teeth's. Within half of k,
# a held-out old unit's (0.08 spreads warm on its learning days) counted, and a later day's,
# warmer, carried it to a seal alert 18 h before its leak began.
_BIAS = 0.0
# ... and how much of a quiet tooth's evidence each then adds: how far a defrost warms the
# food differs from one defrost to the next, which the learning days' mean does not show.
SETTLING_WEIGHT = 0.5

Scorer = Callable[[dict[str, float], HourNorm, float], tuple[float, float]]


def teeth_settle(
    settling: list[HourFeatures], cycles: CusumModel | None, rise: CusumModel | None
) -> bool:
    """Whether the teeth that came within a defrost's settling on the learning days read as
    the others did for every stream learned (see the module docstring)."""
    if cycles is None:
        return False
    judged: list[tuple[CusumModel, Scorer]] = [(cycles, score_cycle)]
    if rise is not None:
        judged.append((rise, score_rise))
    return all(_like_the_others(settling, model, score) for model, score in judged)


def _like_the_others(settling: list[HourFeatures], model: CusumModel, score: Scorer) -> bool:
    zs = []
    for hour in settling:
        norm = model.norm(hour.hour, hour.quiet)
        if norm is None:
            continue
        zs += [score(logs, norm, model.clip)[0] for logs in cycle_logs(hour) if logs]
    return len(zs) >= _MIN_TEETH and statistics.fmean(zs) <= _BIAS
