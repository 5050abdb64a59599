"""Grading a door-seal health score into alerts, shared by cold cabinets and steam cabinets.

Health is 1 at the device's own learned baseline and falls towards 0 as the evidence moves
by the "fail" ratio (see settings). Below `seal_warning_health` the alert is pending; held
there for `seal_confirm_h` it fires as a warning (a steam cabinet's score is already a median
over cycles, so it fires at once); below `seal_critical_health` for as long it
escalates to critical. It clears only when health is back above the warning level by a
margin (a repaired seal), so a score wobbling at the line raises one alert.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alerts import text
from alerts.model import Evidence, Finding, Phase, RuleId, Severity
from alerts.rules.base import MINUTE_MS, DeviceSetup, Rule

__all__ = [
    "Change",
    "GradeState",
    "ScoreGrader",
    "ScoreState",
    "SealGrader",
    "health_from_evidence",
    "health_from_load",
    "moved_changes",
    "relative",
]

_CLEAR_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class Change:
    """One feature now and at baseline, with its formatted values for the alert text."""

    feature: str
    base: float
    now: float
    shown_base: str
    shown_now: str

    @property
    def relative(self) -> float:
        return relative(self.now, self.base)


@dataclass(slots=True)
class GradeState:
    level: str = "ok"  # ok | pending | warning | critical
    below_since_ms: int | None = None
    critical_since_ms: int | None = None


def relative(now: float, base: float) -> float:
    return now / base - 1.0 if base else 0.0


def health_from_load(load: float, fail_ratio: float) -> float:
    """1 at no extra load, 0 at the fail ratio, linear between."""
    return max(0.0, min(1.0, 1.0 - max(0.0, load) / fail_ratio))


def health_from_evidence(share: float, warning: float, critical: float) -> float:
    """The health an accumulated evidence stands for (`seal_confirm`): 1 with none, the
    warning line when it reaches its decision threshold (share 1), on down in proportion,
    never under the critical line: the evidence says a leak is there, not how bad it is, so
    it alone never makes an alert critical. A stream such as a bare probe's mean level moves
    no load the window's health reads, so without this a unit alerted on it would show
    health 1.00 beside its alert."""
    return max(critical, min(1.0, 1.0 - (1.0 - warning) * max(0.0, share)))


class SealGrader:
    rule_id = RuleId.SEAL_DEGRADATION

    def __init__(self, setup: DeviceSetup, rule: Rule, *, confirm: bool = True) -> None:
        s = setup.settings
        self._setup = setup
        self._rule = rule
        self._warning = s.seal_warning_health
        self._critical = s.seal_critical_health
        self._confirm_ms = int(s.seal_confirm_h * 60 * MINUTE_MS) if confirm else 0

    def grade(
        self,
        state: GradeState,
        ts: int,
        health: float,
        changes: list[Change],
        out: list[Finding],
    ) -> None:
        if health >= self._warning + _CLEAR_MARGIN or (
            health >= self._warning and state.level == "pending"
        ):
            if state.level != "ok":
                out.append(self.finding(Phase.CLEARED, ts, ts, health, changes, Severity.INFO))
            state.level, state.below_since_ms, state.critical_since_ms = "ok", None, None
            return
        if health >= self._warning:
            return  # inside the clearing margin: keep the verdict
        state.below_since_ms = state.below_since_ms if state.below_since_ms is not None else ts
        since = state.below_since_ms
        if health < self._critical:
            state.critical_since_ms = state.critical_since_ms or ts
        else:
            state.critical_since_ms = None
        if state.level == "ok":
            state.level = "pending"
            out.append(self.finding(Phase.PENDING, ts, since, health, changes, Severity.WARNING))
        critical_since = state.critical_since_ms
        if critical_since is not None and ts - critical_since >= self._confirm_ms:
            if state.level != "critical":
                state.level = "critical"
                out.append(
                    self.finding(Phase.FIRING, ts, since, health, changes, Severity.CRITICAL)
                )
        elif ts - since >= self._confirm_ms and state.level == "pending":
            state.level = "warning"
            out.append(self.finding(Phase.FIRING, ts, since, health, changes, Severity.WARNING))

    def release(self, state: GradeState, ts: int, by: str, reason: str, out: list[Finding]) -> None:
        """The baseline is being re-learned (a repaired or replaced seal, a moved cabinet):
        an open verdict no longer stands and is cleared in `by`'s name with the reason."""
        if state.level != "ok":
            message = text.seal_relearn(self._setup.label, by, reason)
            found = self._rule.finding(
                Phase.CLEARED, ts, ts, Severity.INFO, message, {"relearn": 1}
            )
            out.append(replace(found, actor=by, note=f"{message.zh} / {message.en}"))
        state.level, state.below_since_ms, state.critical_since_ms = "ok", None, None

    def finding(
        self,
        phase: Phase,
        ts: int,
        since: int,
        health: float,
        changes: list[Change],
        severity: Severity,
        extra: Evidence | None = None,
        kitchen_alike: bool = False,
    ) -> Finding:
        lines = [
            text.seal_evidence(c.feature, c.shown_base, c.shown_now, c.relative) for c in changes
        ]
        message = text.seal(
            self._setup.label,
            health,
            [z for z, _ in lines],
            [e for _, e in lines],
            kitchen_alike,
        )
        found = {**evidence(health, changes), **(extra or {})}
        return self._rule.finding(phase, ts, since, severity, message, found)


@dataclass(slots=True)
class ScoreState:
    level: str = "ok"  # ok | pending | warning | critical
    since_ms: int | None = None  # the condition was first raised
    critical_since_ms: int | None = None
    calm_since_ms: int | None = None  # the score fell below the hold level
    cleared_ms: int | None = None


class ScoreGrader:
    """Grading by a robust score against the device's own day-to-day spread, with hysteresis.

    Raised when the score reaches `seal_z_fire` and the weighed move is at least
    `seal_cold_min_move` (a move both beyond the unit's own spread and large enough to
    matter); pending until it has held above `seal_z_hold` for `seal_confirm_h`; then
    firing, critical while health is below critical for as long. It clears only after
    `seal_clear_h` below the hold level with the move back under its minimum (a busy day's
    wider spread alone does not clear a leak), and is not raised again within
    `seal_refire_h` of clearing: a condition that comes and goes within a day is one alert.
    """

    rule_id = RuleId.SEAL_DEGRADATION

    def __init__(self, setup: DeviceSetup, rule: Rule) -> None:
        s = setup.settings
        self._base = SealGrader(setup, rule)
        self._fire, self._hold = s.seal_z_fire, s.seal_z_hold
        # a cold cabinet's alert is raised on a weighed move of at least seal_cold_min_move
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
        score: float,
        health: float,
        changes: list[Change],
        out: list[Finding],
    ) -> None:
        def finding(
            phase: Phase, at: int, start: int, h: float, c: list[Change], sev: Severity
        ) -> Finding:
            return self._base.finding(phase, at, start, h, c, sev, {"score": round(score, 2)})

        held = score >= self._hold and health < self._warning + _CLEAR_MARGIN
        if st.level == "ok":
            rested = st.cleared_ms is None or ts - st.cleared_ms >= self._refire_ms
            if score >= self._fire and health < self._warning and rested:
                st.level, st.since_ms, st.calm_since_ms = "pending", ts, None
                out.append(finding(Phase.PENDING, ts, ts, health, changes, Severity.WARNING))
            return
        since = st.since_ms if st.since_ms is not None else ts
        if st.level == "pending":
            if not held:
                st.level, st.since_ms = "ok", None
                out.append(finding(Phase.CLEARED, ts, ts, health, changes, Severity.INFO))
            elif ts - since >= self._confirm_ms:
                st.level = "warning"
                out.append(finding(Phase.FIRING, ts, since, health, changes, Severity.WARNING))
            return
        if not held and health >= self._warning:
            st.calm_since_ms = st.calm_since_ms if st.calm_since_ms is not None else ts
            if ts - st.calm_since_ms >= self._clear_ms:
                st.level, st.since_ms, st.critical_since_ms = "ok", None, None
                st.calm_since_ms, st.cleared_ms = None, ts
                out.append(finding(Phase.CLEARED, ts, ts, health, changes, Severity.INFO))
            return
        st.calm_since_ms = None
        if health >= self._critical:
            st.critical_since_ms = None
            return
        st.critical_since_ms = st.critical_since_ms if st.critical_since_ms is not None else ts
        if st.level != "critical" and ts - st.critical_since_ms >= self._confirm_ms:
            st.level = "critical"
            out.append(finding(Phase.FIRING, ts, since, health, changes, Severity.CRITICAL))

    def release(self, st: ScoreState, ts: int, by: str, reason: str, out: list[Finding]) -> None:
        """The baseline is being re-learned: an open verdict is cleared in `by`'s name."""
        legacy = GradeState("warning" if st.level != "ok" else "ok")
        self._base.release(legacy, ts, by, reason, out)


def evidence(health: float, changes: list[Change]) -> Evidence:
    out: dict[str, float | int | str | None] = {"health": round(health, 3)}
    for change in changes:
        out[f"{change.feature}_base"] = round(change.base, 4)
        out[f"{change.feature}_now"] = round(change.now, 4)
        out[f"{change.feature}_change"] = round(change.relative, 4)
    return out


def moved_changes(changes: list[Change]) -> list[Change]:
    """The features worth naming in the alert: those that moved the way a leak moves them."""
    moved = [c for c in changes if c.relative > 0]
    return moved or changes
