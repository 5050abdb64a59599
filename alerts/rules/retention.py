"""Food-sample retention (留样): after each meal, its samples stay in the sample fridge, in band,
for the retention period (48 h by default; 学校食品安全与营养健康管理规定, secondary).

One window per meal, from the meal's end for `sample_hold_h`. Each reading stands for the
time until the next one (at most the device's silence threshold, as in the daily log), which
gives the window's coverage, its minutes out of band and its longest gap. A window is:

- breached as soon as the fridge's over- or under-temperature alert fires inside it (the same
  excursion rules, with their defrost and door excuses: air warmed by a door for a minute does
  not spoil samples, 30 min above 8 °C does); it alerts at once;
- unverified at its end if readings cover less than `retention_min_completeness` of it;
- kept otherwise.

A window opens and ends on event time: when the fridge's own readings pass the meal's end
and the window's end (plus a few minutes), or, if the fridge has gone silent, once it has
delivered nothing new for the lateness by the real clock (`LateData`). A fridge whose history
is still arriving is judged on that history, not on the part still to come. A reading that
arrives out of order (older than one already seen) still fills a gap of an open window: each
window keeps its gaps longer than the silence threshold (the only ones that cost coverage),
and a late reading inside one splits it. Inside a shorter gap it changes nothing (the span
was already covered; its minutes out of band stay with the reading before it).

A window that ends while the fridge is silent (its readings have not reached the end) and
that falls short of coverage is unverified, with its alert, as before; but the verdict is
provisional: the window keeps counting the readings that arrive later (a buffer uploaded
after an outage), and once they pass its end, within `retention_amend_h`, it is judged again
on them. Kept: the line is corrected and the alert resolves (the reason in its history);
breached: the breach alerts as usual. The corrected line keeps the unverified verdict beside it
(`amendments`). Later than that, or with data that still falls short, it stays unverified.

Every window is a register record, written when it opens, when it is breached and when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from alerts import text
from alerts.model import (
    Finding,
    Phase,
    RetentionRecord,
    RetentionStatus,
    RuleId,
    Severity,
)
from alerts.rules.base import HOUR_MS, MINUTE_MS, DeviceSetup, LateData, StatefulRule
from alerts.rules.threshold import ExcursionRule
from alerts.samples import Sample
from core.clock import utc_from_ms
from core.records import DisinfectionAmendment as Amendment

__all__ = ["RetentionRule"]

DEFAULT_HOLD_H = 48.0


@dataclass(slots=True)
class RetentionWindow:
    meal: str
    service_date: date
    start_ms: int
    end_ms: int
    min_c: float | None = None
    max_c: float | None = None
    out_ms: int = 0
    covered_ms: int = 0
    longest_gap_ms: int = 0
    breached: bool = False
    # Gaps between readings longer than the silence threshold, as (from, to, temp at from):
    # a late reading inside one fills part of it. `short_gap_ms`: the longest shorter gap.
    gaps: list[tuple[int, int, float | None]] = field(default_factory=list)
    short_gap_ms: int = 0
    # Judged unverified while the fridge was silent (when, why): waiting for its data.
    unverified_ms: int | None = None
    unverified_zh: str | None = None
    unverified_en: str | None = None


@dataclass(slots=True)
class RetentionState:
    opened_until_ms: int | None = None  # end of the last meal whose window was opened
    windows: list[RetentionWindow] = field(default_factory=list)
    last_ms: int | None = None  # the newest temperature reading
    last_temp: float | None = None
    watermark_ms: int | None = None  # the newest reading of any metric


class RetentionRule(StatefulRule[RetentionState]):
    rule = RuleId.SAMPLE_RETENTION

    def __init__(self, setup: DeviceSetup, excursions: list[ExcursionRule]) -> None:
        super().__init__(setup)
        limits = setup.limits
        self.low_c, self.high_c = limits.low_c, limits.high_c
        self._hold_ms = int((limits.sample_hold_h or DEFAULT_HOLD_H) * 60 * MINUTE_MS)
        self._delay_ms = int(setup.settings.retention_decision_delay_min * MINUTE_MS)
        self._amend_ms = int(setup.settings.retention_amend_h * HOUR_MS)
        self._excursions = excursions
        self.late = LateData(setup.lateness_ms)
        self.state = RetentionState()

    def observe(self, sample: Sample, out: list[Finding]) -> None:
        st, ts = self.state, sample.ts_ms
        if st.opened_until_ms is None:
            st.opened_until_ms = ts  # meals before the first reading are not judged
        st.watermark_ms = ts
        self._open_windows(ts)
        temp = sample.get("temp_c")
        if temp is not None:
            self._account(ts, temp)
            st.last_ms, st.last_temp = ts, temp
        if any(rule.firing for rule in self._excursions):
            self._breach(ts, out)
        self._finish(ts, out)

    def observe_late(self, sample: Sample) -> None:
        st, ts = self.state, sample.ts_ms
        temp = sample.get("temp_c")
        if temp is None or st.opened_until_ms is None:
            return
        if st.last_ms is None or ts > st.last_ms:
            # Older than another metric's reading, but the newest temperature: in order.
            self._account(ts, temp)
            st.last_ms, st.last_temp = ts, temp
            return
        for window in st.windows:
            self._fill(window, ts, temp)

    def delivered(self, now_ms: int) -> None:
        self.late.delivered(now_ms, self.state.watermark_ms)

    def at(self, now_ms: int, out: list[Finding]) -> None:
        st = self.state
        if st.opened_until_ms is None:
            return  # nothing heard yet: no meal's samples are judged
        mark = st.watermark_ms or st.last_ms or st.opened_until_ms  # older saves lack watermark_ms
        until = self.late.due_until(now_ms, mark)
        self._open_windows(until)
        self._finish(until, out, mark)
        self._recheck(now_ms, mark, out)

    def _open_windows(self, now_ms: int) -> None:
        st = self.state
        assert st.opened_until_ms is not None
        for service in self.setup.timetable.services_ending(st.opened_until_ms, now_ms):
            window = RetentionWindow(
                service.meal, service.service_date, service.end_ms, service.end_ms + self._hold_ms
            )
            st.windows.append(window)
            st.opened_until_ms = service.end_ms
            self._write(window, RetentionStatus.IN_PROGRESS, now_ms)

    def _account(self, ts: int, temp: float) -> None:
        st = self.state
        cap = self.setup.silence_ms
        for window in st.windows:
            if st.last_ms is not None:
                self._span(window, st.last_ms, min(ts, st.last_ms + cap), st.last_temp)
                self._gap(window, st.last_ms, ts, st.last_temp)
            self._extremes(window, ts, temp)

    def _gap(self, window: RetentionWindow, start: int, end: int, temp: float | None) -> None:
        """Note the gap between two readings [start, end) for the window's longest gap, and
        keep it when it costs coverage (a late reading may fill it)."""
        if not window.start_ms <= start < window.end_ms and not (start < window.start_ms < end):
            return
        if end - start > self.setup.silence_ms:
            window.gaps.append((start, end, temp))
        elif window.start_ms <= start:
            window.short_gap_ms = max(window.short_gap_ms, end - start)
        self._longest(window)

    def _longest(self, window: RetentionWindow) -> None:
        inside = [b - a for a, b, _ in window.gaps if window.start_ms <= a < window.end_ms]
        window.longest_gap_ms = max([window.short_gap_ms, *inside])

    def _extremes(self, window: RetentionWindow, ts: int, temp: float) -> None:
        if window.start_ms <= ts < window.end_ms:
            window.min_c = temp if window.min_c is None else min(window.min_c, temp)
            window.max_c = temp if window.max_c is None else max(window.max_c, temp)

    def _fill(self, window: RetentionWindow, ts: int, temp: float) -> None:
        """A late reading at `ts` inside one of the window's long gaps splits it: the part
        after the reading before it and the part after this one are credited as usual."""
        cap = self.setup.silence_ms
        for index, (start, end, before) in enumerate(window.gaps):
            if not start < ts < end:
                continue
            self._span(window, start, min(end, start + cap), before, sign=-1)
            self._span(window, start, min(ts, start + cap), before)
            self._span(window, ts, min(end, ts + cap), temp)
            del window.gaps[index]
            self._gap(window, start, ts, before)
            self._gap(window, ts, end, temp)
            self._extremes(window, ts, temp)
            return

    def _span(
        self, window: RetentionWindow, start: int, end: int, temp: float | None, sign: int = 1
    ) -> None:
        """Credit the window with the part of [start, end) inside it (`sign` -1: take back
        a credit given before)."""
        inside = min(end, window.end_ms) - max(start, window.start_ms)
        if inside <= 0:
            return
        window.covered_ms += sign * inside
        if temp is not None and not self._in_band(temp):
            window.out_ms += sign * inside

    def _in_band(self, temp: float) -> bool:
        above = self.high_c is not None and temp > self.high_c
        below = self.low_c is not None and temp < self.low_c
        return not (above or below)

    def _breach(self, ts: int, out: list[Finding]) -> None:
        for window in self.state.windows:
            if window.start_ms <= ts < window.end_ms and not window.breached:
                window.breached = True
                self._write(window, RetentionStatus.BREACHED, ts)
                out.append(self._finding(Phase.FIRING, ts, window, RetentionStatus.BREACHED))

    def _finish(self, now_ms: int, out: list[Finding], mark: int | None = None) -> None:
        """End the windows due by event time `now_ms`; one whose end the fridge's readings
        (up to `mark`) have not reached is judged on silence, provisionally if unverified."""
        st = self.state
        keep: list[RetentionWindow] = []
        for window in st.windows:
            due = window.end_ms + self._delay_ms
            if now_ms < due or window.unverified_ms is not None:
                keep.append(window)
                continue
            if mark is not None and mark < due:
                ended = self._ended(replace(window, gaps=list(window.gaps)))
                if self._verdict(ended) is RetentionStatus.UNVERIFIED:
                    self._hold(window, ended, now_ms, out)
                    keep.append(window)
                    continue
            self._close(self._ended(window), now_ms, out)
        st.windows = keep

    def _ended(self, window: RetentionWindow) -> RetentionWindow:
        """The last reading before the end stands for its span, as everywhere."""
        st = self.state
        if st.last_ms is not None and st.last_ms < window.end_ms:
            end = min(window.end_ms, st.last_ms + self.setup.silence_ms)
            self._span(window, st.last_ms, end, st.last_temp)
            window.longest_gap_ms = max(window.longest_gap_ms, window.end_ms - st.last_ms)
        return window

    def _close(self, window: RetentionWindow, now_ms: int, out: list[Finding]) -> None:
        status = self._verdict(window)
        self._write(window, status, now_ms)
        if status is RetentionStatus.UNVERIFIED:
            out.append(self._finding(Phase.FIRING, now_ms, window, status))
        elif status is RetentionStatus.KEPT:
            out.append(self._finding(Phase.CLEARED, now_ms, window, status))

    def _hold(
        self, window: RetentionWindow, ended: RetentionWindow, now_ms: int, out: list[Finding]
    ) -> None:
        """Unverified while the fridge is silent: alerted, and kept open for its data."""
        finding = self._finding(Phase.FIRING, now_ms, ended, RetentionStatus.UNVERIFIED)
        self._write(ended, RetentionStatus.UNVERIFIED, now_ms)
        out.append(finding)
        window.unverified_ms = now_ms
        window.unverified_zh, window.unverified_en = finding.message.zh, finding.message.en

    def _recheck(self, now_ms: int, mark: int, out: list[Finding]) -> None:
        """Judge again, on the data received since, the windows held unverified on silence
        whose end the readings have now passed; drop those past the amendment period."""
        st = self.state
        keep: list[RetentionWindow] = []
        for window in st.windows:
            if window.unverified_ms is None:
                keep.append(window)
            elif mark >= window.end_ms + self._delay_ms:
                self._amend(self._ended(window), now_ms, out)
            elif now_ms - window.end_ms < self._amend_ms:
                keep.append(window)
        st.windows = keep

    def _amend(self, window: RetentionWindow, now_ms: int, out: list[Finding]) -> None:
        status = self._verdict(window)
        if status is RetentionStatus.UNVERIFIED:
            return  # the data that came still falls short: the verdict stands
        assert window.unverified_ms is not None
        received = datetime.fromtimestamp(now_ms / 1000, self.setup.timetable.zone)
        note = text.amendment_note(status is RetentionStatus.KEPT, f"{received:%Y-%m-%d %H:%M}")
        amendment = Amendment(
            status=RetentionStatus.UNVERIFIED.value,
            decided_at=utc_from_ms(window.unverified_ms).isoformat(),
            reason_zh=window.unverified_zh or "",
            reason_en=window.unverified_en or "",
            amended_at=utc_from_ms(now_ms).isoformat(),
            note_zh=note.zh,
            note_en=note.en,
        )
        self._write(window, status, now_ms, (amendment,))
        if status is RetentionStatus.KEPT:
            finding = self._finding(Phase.CLEARED, now_ms, window, status)
            out.append(replace(finding, note=f"{note.zh} / {note.en}"))

    def _verdict(self, window: RetentionWindow) -> RetentionStatus:
        if window.breached:
            return RetentionStatus.BREACHED
        if self._completeness(window) < self.setup.settings.retention_min_completeness:
            return RetentionStatus.UNVERIFIED
        return RetentionStatus.KEPT

    def _completeness(self, window: RetentionWindow) -> float:
        return min(1.0, window.covered_ms / (window.end_ms - window.start_ms))

    def _write(
        self,
        window: RetentionWindow,
        status: RetentionStatus,
        now_ms: int,
        amendments: tuple[Amendment, ...] = (),
    ) -> None:
        self.records.append(
            RetentionRecord(
                site=self.setup.site,
                device=self.setup.id,
                meal=window.meal,
                service_date=window.service_date,
                start=utc_from_ms(window.start_ms),
                end=utc_from_ms(window.end_ms),
                status=status,
                low_c=self.low_c,
                high_c=self.high_c,
                updated_at=utc_from_ms(now_ms),
                min_c=window.min_c,
                max_c=window.max_c,
                minutes_out_of_band=round(window.out_ms / MINUTE_MS, 1),
                completeness=round(self._completeness(window), 4),
                longest_gap_min=round(window.longest_gap_ms / MINUTE_MS, 1),
                amendments=amendments,
            )
        )

    def _finding(
        self, phase: Phase, ts: int, window: RetentionWindow, status: RetentionStatus
    ) -> Finding:
        meal = text.meal_name(window.meal)
        day = window.service_date.isoformat()
        out_min = window.out_ms / MINUTE_MS
        completeness = self._completeness(window)
        message = text.retention_breach(
            self.setup.label, meal, day, status.value, out_min, completeness
        )
        evidence = {
            "meal": window.meal,
            "service_date": day,
            "status": status.value,
            "minutes_out_of_band": round(out_min, 1),
            "completeness": round(completeness, 4),
            "max_c": window.max_c,
            "min_c": window.min_c,
        }
        return self.finding(
            phase, ts, window.start_ms, Severity.CRITICAL, message, evidence, latched=True
        )
