"""Grading a cold cabinet's accumulated seal evidence (`seal_cusum` per clean cycle,
`seal_duty` per clean metered hour, `seal_probe_duty` and `seal_power` per hour; the stream
furthest towards its own threshold speaks, or two or more that agree, `seal_fuse`) into one
alert per condition.

- "the evidence" below is the speaking stream's share of its h, or the agreement's
  (`seal_fuse.weigh`), and the finding names the streams it rests on;
- pending when the evidence reaches half the unit's decision threshold h and the cycles
  behind it moved, on average, by at least `seal_cold_min_move` beyond the learning days
  (`seal_duty_min_move` for the metered hours' on-share; beyond the unit's spread is not
  enough: the move must be large enough to matter);
- firing (warning) when the evidence reaches h with that move; critical when the window's
  health has also stayed below `seal_critical_health` for `seal_confirm_h`;
- a pending condition whose evidence falls back under a quarter of h ends quietly (cleared);
- a firing alert clears only after `seal_clear_h` with the evidence under a quarter of h and
  the window's health back above warning (a busy day alone does not end a leak's alert), and
  is not raised again within `seal_refire_h` of clearing: a condition that comes and goes
  within a day is one alert, not ten.
"""

from __future__ import annotations

from alerts.model import Finding, Phase, Severity
from alerts.rules.base import MINUTE_MS, DeviceSetup, Rule
from alerts.rules.seal import Change, GradeState, ScoreState, SealGrader
from alerts.rules.seal_cusum import CusumModel, CusumState
from alerts.rules.seal_fuse import Stream, Verdict

__all__ = ["EvidenceGrader", "Stream", "evidence_streams"]

_PENDING_SHARE = 0.5
_CALM_SHARE = 0.25
_CLEAR_MARGIN = 0.05  # health above warning by this much counts as recovered
# The streams a meter feeds (`seal_duty`'s clean hours, `seal_power`'s whole cycles).
_METERED = ("duty_", "power_")


class EvidenceGrader:
    rule_id = SealGrader.rule_id

    def __init__(self, setup: DeviceSetup, rule: Rule) -> None:
        s = setup.settings
        self._base = SealGrader(setup, rule)
        self._min_move = s.seal_cold_min_move
        self._warning = 1.0 - s.seal_cold_min_move / s.seal_cold_fail_ratio
        self._critical = s.seal_critical_health
        hour = 60 * MINUTE_MS
        self._confirm_ms = int(s.seal_confirm_h * hour)
        self._clear_ms = int(s.seal_clear_h * hour)
        self._refire_ms = int(s.seal_refire_h * hour)

    def grade(
        self,
        st: ScoreState,
        ts: int,
        verdict: Verdict,
        health: float,
        changes: list[Change],
        out: list[Finding],
        kitchen_alike: bool = False,
    ) -> None:
        """`verdict`: what the accumulated evidence streams (per clean cycle, per clean
        metered hour..., each with its own k and h and the move it must show) say together,
        the one furthest towards its h or the agreement of two or more (`seal_fuse.weigh`).
        `kitchen_alike`: nothing reads the kitchen, so a warmer one moves the evidence as a
        leak does, and the message says so (`text.seal`)."""
        share, moved = verdict.share, verdict.moved
        extra: dict[str, float | int | str | None] = {
            "evidence": round(share, 2),
            "evidence_move": round(verdict.move, 3),
            "evidence_cycles": verdict.cycles,
            "evidence_streams": "+".join(verdict.streams),
        }

        def finding(phase: Phase, start: int, sev: Severity) -> Finding:
            return self._base.finding(phase, ts, start, health, changes, sev, extra, kitchen_alike)

        if st.level == "ok":
            rested = st.cleared_ms is None or ts - st.cleared_ms >= self._refire_ms
            if share >= _PENDING_SHARE and moved and rested:
                st.level, st.since_ms, st.calm_since_ms = "pending", ts, None
                out.append(finding(Phase.PENDING, ts, Severity.WARNING))
            else:
                return
        since = st.since_ms if st.since_ms is not None else ts
        if st.level == "pending":
            if verdict.highest < _CALM_SHARE:
                st.level, st.since_ms = "ok", None
                out.append(finding(Phase.CLEARED, ts, Severity.INFO))
            elif share >= 1.0 and moved:
                st.level = "warning"
                out.append(finding(Phase.FIRING, since, Severity.WARNING))
            return
        if verdict.highest < _CALM_SHARE and health >= self._warning + _CLEAR_MARGIN:
            st.calm_since_ms = st.calm_since_ms if st.calm_since_ms is not None else ts
            if ts - st.calm_since_ms >= self._clear_ms:
                st.level, st.since_ms, st.critical_since_ms = "ok", None, None
                st.calm_since_ms, st.cleared_ms = None, ts
                out.append(finding(Phase.CLEARED, ts, Severity.INFO))
            return
        st.calm_since_ms = None
        if health >= self._critical:
            st.critical_since_ms = None
            return
        st.critical_since_ms = st.critical_since_ms if st.critical_since_ms is not None else ts
        if st.level != "critical" and ts - st.critical_since_ms >= self._confirm_ms:
            st.level = "critical"
            out.append(finding(Phase.FIRING, since, Severity.CRITICAL))

    def release(self, st: ScoreState, ts: int, by: str, reason: str, out: list[Finding]) -> None:
        """The baseline is being re-learned: an open verdict is cleared in `by`'s name."""
        self._base.release(GradeState("warning" if st.level != "ok" else "ok"), ts, by, reason, out)


def evidence_streams(
    named: list[tuple[str, CusumState, CusumModel | None, float, bool]],
    found: dict[str, float | int | str | None],
) -> list[Stream]:
    """The streams learned (those with a model), each noted in `found` under its prefix:
    evidence as a share of h, the move, k and h. The last field of each says whether the
    stream may confirm a leak alone (`seal_fuse.Stream.alone`). On a metered unit (a metered
    stream learned) the per-cycle move is read over its evidence's run
    (`seal_fuse.Stream.move`). The metered hours' moves are not: an hour's on-share scatters
    by 0.17-0.27 (log) about its norm, more than their least move (0.10), so any run of hours
    the evidence picks out moved by the picking (a healthy metered fridge's whole cycles went
    pending on a run of 8 hours moved by 0.25, tests/alerts/test_seal_metered.py). A sparse
    probe's folded period is (`seal_fold`): its hours scatter by 0.004-0.034 (log) about
    their norms on the tuning families' folded units, far under its least move, and its last
    16 folded hours span a day or two on a busy unit, half of them from before a leak."""
    metered = any(p in _METERED and m is not None for p, _, m, _, _ in named)
    streams: list[Stream] = []
    for prefix, state, model, min_move, alone in named:
        if model is None:
            continue
        run_move = (metered and prefix == "") or prefix == "period_"
        stream = Stream(prefix.rstrip("_") or "cycles", state, model, min_move, alone, run_move)
        found[f"{prefix}evidence"] = round(state.evidence / model.h, 2)
        found[f"{prefix}evidence_move"] = round(stream.move, 3)
        found[f"{prefix or 'evidence_'}k"] = round(model.k, 2)
        found[f"{prefix or 'evidence_'}h"] = round(model.h, 1)
        streams.append(stream)
    return streams
