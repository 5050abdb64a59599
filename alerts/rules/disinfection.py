"""Disinfection compliance per meal: the electronic disinfection register (消毒记录).

For each tableware disinfection cabinet and each meal on the timetable, the window is the
90 min after the meal ends (DESIGN.md: a compliant cycle within 90 min after each meal). The
cycles that start in the window are judged a few minutes after it closes, on event time: when
the cabinet's own readings pass that deadline, or, if the cabinet has gone silent, once it has
delivered nothing new for the lateness by the real clock (`LateData`), so a cabinet that stops
reporting is judged too, and one whose history is still arriving is judged on that history.
Until then a reading that arrives out of order still counts (`observe_late`): the cycles are
read from the cabinet's readings in time order when the meal is judged. A meal is:

- compliant: a cycle held the threshold for the required time (≥ 120 °C for 10 min infrared,
  GB 17988; ≥ 100 °C for 10 min steam, 操作规范; steam judged at 99.5 °C, see settings);
- incomplete: cycles ran but none held long enough, or none got hot enough; the record keeps
  the best cycle's maximum temperature and hold time;
- missed: no cycle started in the window;
- unconfirmed: judged while the cabinet was silent (its readings had not reached the deadline;
  the real clock passed the lateness) and not shown compliant by what had arrived. This is
  provisional: a warning (`disinfection_unconfirmed`) asks staff to check the cabinet and the
  tableware by hand. When the cabinet's data for the window arrives later (a buffer uploaded
  after an outage), a compliant cycle confirms the line; data covering the whole window without
  one turns it missed or incomplete with the usual critical alert. Either way the line keeps
  its earlier verdict beside it (`amendments`) and the warning resolves once no meal is left
  unconfirmed. Data may amend a line for `disinfection_amend_h` after its window; then it stays
  unconfirmed and its warning waits for a person.

A verdict given on data (the watermark passed the deadline) is final and never re-opened.

Every verdict is a register record. A non-compliant one fires the cabinet's disinfection alert
(one per cabinet; each meal is an occurrence with its own figures); a later compliant meal
resolves it, and a person closes it with the corrective action and the decision on the food.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import pairwise

from alerts import text
from alerts.model import (
    DisinfectionRecord,
    DisinfectionStatus,
    Evidence,
    Finding,
    Message,
    Phase,
    RuleId,
    Severity,
)
from alerts.rules.base import HOUR_MS, MINUTE_MS, DeviceSetup, LateData, StatefulRule
from alerts.rules.cycles import Cycle, CycleTracker
from alerts.samples import Sample
from alerts.timetable import MealService
from core.clock import utc_from_ms
from core.model import DeviceKind
from core.records import DisinfectionAmendment

__all__ = ["BOILING_C", "DisinfectionRule", "hold_threshold"]

BOILING_C = 100.0  # at sea level; a site at altitude sets its own target_c
# The readings kept start this long before the next meal's window: longer than any programme
# (heat-up, hold and venting take about an hour), so a cycle already running when the window
# opens is seen starting before it, as it did.
LEAD_IN_MS = 2 * HOUR_MS

Reading = tuple[int, float, float | None]  # time, temp_c, power_w


@dataclass(slots=True)
class Unconfirmed:
    """A meal judged while the cabinet was silent, waiting for the cabinet's data."""

    meal: str
    service_date: date
    start_ms: int  # the window: from the meal's end
    end_ms: int
    given_ms: int  # when the provisional verdict was given
    reason_zh: str
    reason_en: str


@dataclass(slots=True)
class DisinfectionState:
    # The cabinet's readings from the lead-in of the next meal to judge on (or of the oldest
    # unconfirmed one), in time order.
    readings: list[Reading] = field(default_factory=list)
    keep_from_ms: int | None = None
    decided_until_ms: int | None = None  # end of the last meal judged
    last_ms: int | None = None  # the newest temperature reading
    watermark_ms: int | None = None  # the newest reading of any metric
    unconfirmed: list[Unconfirmed] = field(default_factory=list)
    fresh: bool = False  # readings kept since the unconfirmed meals were last looked at
    stale: bool = False  # an unconfirmed meal got no data in time: its warning stays open


def hold_threshold(setup: DeviceSetup) -> float:
    """The temperature a cycle must hold: the target, less the steam tolerance at boiling."""
    target = setup.limits.target_c if setup.limits.target_c is not None else BOILING_C
    steam = setup.device.method == "steam" or setup.device.kind is DeviceKind.STEAM_CABINET
    if steam:
        return min(target, BOILING_C) - setup.settings.steam_tolerance_c
    return target


def cycle_tracker(setup: DeviceSetup) -> CycleTracker:
    s = setup.settings
    return CycleTracker(
        hold_threshold(setup),
        s.cycle_start_c,
        s.cycle_end_c,
        int(s.hold_dip_s * 1000),
        max_step_ms=2 * setup.interval_ms,
    )


class DisinfectionRule(StatefulRule[DisinfectionState]):
    rule = RuleId.DISINFECTION

    def __init__(self, setup: DeviceSetup) -> None:
        super().__init__(setup)
        s = setup.settings
        self.target_c = setup.limits.target_c if setup.limits.target_c is not None else BOILING_C
        self.required_min = setup.limits.hold_min or 0.0
        self._window_ms = int(s.disinfection_window_min * MINUTE_MS)
        self._delay_ms = int(s.disinfection_decision_delay_min * MINUTE_MS)
        self._amend_ms = int(s.disinfection_amend_h * HOUR_MS)
        self.threshold_c = hold_threshold(setup)
        self.late = LateData(setup.lateness_ms)
        self.state = DisinfectionState()

    def observe(self, sample: Sample, out: list[Finding]) -> None:
        st = self.state
        if st.decided_until_ms is None:
            st.decided_until_ms = sample.ts_ms  # meals before the first reading are not judged
        if st.keep_from_ms is None:
            self._keep_from_next_meal()  # the first reading, or a state saved before readings
        st.watermark_ms = sample.ts_ms
        temp = sample.get("temp_c")
        if temp is not None:
            self._keep((sample.ts_ms, temp, sample.get("power_w")))
            st.last_ms = sample.ts_ms
        self._decide(sample.ts_ms, out)

    def observe_late(self, sample: Sample) -> None:
        temp = sample.get("temp_c")
        if temp is not None and self.state.decided_until_ms is not None:
            self._keep((sample.ts_ms, temp, sample.get("power_w")))

    def delivered(self, now_ms: int) -> None:
        self.late.delivered(now_ms, self.state.watermark_ms)

    def at(self, now_ms: int, out: list[Finding]) -> None:
        st = self.state
        if st.decided_until_ms is None:
            return  # nothing heard yet: no meal of this cabinet is judged
        mark = st.watermark_ms or st.last_ms or st.decided_until_ms  # older saves lack watermark_ms
        if st.unconfirmed and (st.fresh or now_ms - st.unconfirmed[0].end_ms >= self._amend_ms):
            self._recheck(now_ms, out)
        self._decide(self.late.due_until(now_ms, mark), out, mark)

    def _decide(self, now_ms: int, out: list[Finding], mark: int | None = None) -> None:
        """Judge every meal whose window and delay have passed by event time `now_ms`; one
        whose deadline the cabinet's readings (up to `mark`) have not reached is judged on
        silence."""
        st = self.state
        assert st.decided_until_ms is not None
        latest_meal_end = now_ms - self._window_ms - self._delay_ms
        timetable = self.setup.timetable
        judged = False
        for service in timetable.services_ending(st.decided_until_ms, latest_meal_end):
            deadline = service.end_ms + self._window_ms + self._delay_ms
            self._judge(service, now_ms, out, silent=mark is not None and mark < deadline)
            st.decided_until_ms, judged = service.end_ms, True
        if judged:
            self._keep_from_next_meal()

    def _keep(self, reading: Reading) -> None:
        """Keep a reading in time order; one at the same instant replaces it (a replay)."""
        st = self.state
        if st.keep_from_ms is None or reading[0] < st.keep_from_ms:
            return
        index = bisect.bisect_left(st.readings, reading[0], key=lambda r: r[0])
        if index < len(st.readings) and st.readings[index][0] == reading[0]:
            st.readings[index] = reading
        else:
            st.readings.insert(index, reading)
        if st.unconfirmed and reading[0] <= st.unconfirmed[-1].end_ms + LEAD_IN_MS:
            st.fresh = True  # it may change an unconfirmed meal's cycles or coverage

    def _keep_from_next_meal(self) -> None:
        st = self.state
        assert st.decided_until_ms is not None
        after = st.decided_until_ms
        upcoming = self.setup.timetable.next_ending(after)  # after a weekend or a vacation too
        starts = [u.start_ms for u in st.unconfirmed] + ([upcoming.end_ms] if upcoming else [])
        st.keep_from_ms = min(starts) - LEAD_IN_MS if starts else None
        keep = st.keep_from_ms
        st.readings = [] if keep is None else [r for r in st.readings if r[0] >= keep]

    def _cycles(self, start: int, end: int) -> list[Cycle]:
        """The cycles that started in [start, end), read from the kept readings in order, up
        to a programme's length after the window (readings kept for a later meal, or up to
        `disinfection_amend_h` for an unconfirmed one, cannot change them)."""
        tracker = cycle_tracker(self.setup)
        readings = self.state.readings
        stop = bisect.bisect_right(readings, end + LEAD_IN_MS, key=lambda r: r[0])
        for ts, temp, power in readings[:stop]:
            tracker.observe(ts, temp, power)
        return tracker.cycles_starting(start, end)

    def _judge(self, service: MealService, now_ms: int, out: list[Finding], silent: bool) -> None:
        start, end = service.end_ms, service.end_ms + self._window_ms
        record = self._record(service.meal, service.service_date, start, end, now_ms)
        if silent and record.status is not DisinfectionStatus.COMPLIANT:
            self._hold(record, start, end, now_ms, out)
            return
        self.records.append(record)
        if record.status is DisinfectionStatus.COMPLIANT:
            out.append(self._finding(Phase.CLEARED, now_ms, end, record))
        else:
            out.append(self._finding(Phase.FIRING, now_ms, end, record))

    # -- unconfirmed meals ------------------------------------------------------------------

    def _hold(
        self, record: DisinfectionRecord, start: int, end: int, now_ms: int, out: list[Finding]
    ) -> None:
        """The cabinet is silent: the meal is unconfirmed until its data arrives."""
        st = self.state
        since = None if st.last_ms is None else self._local(st.last_ms, "%H:%M")
        reason = text.unconfirmed_reason(since)
        record = replace(record, status=DisinfectionStatus.UNCONFIRMED, reason=reason)
        if not st.unconfirmed:
            st.stale = False  # a new episode of the warning
        st.unconfirmed.append(
            Unconfirmed(record.meal, record.service_date, start, end, now_ms, reason.zh, reason.en)
        )
        self.records.append(record)
        meal = text.meal_name(record.meal)
        message = text.disinfection_unconfirmed(
            self.setup.label, meal, record.service_date.isoformat(), reason
        )
        evidence = {
            "meal": record.meal,
            "service_date": record.service_date.isoformat(),
            "status": record.status.value,
            "silent_since": None if st.last_ms is None else utc_from_ms(st.last_ms).isoformat(),
        }
        out.append(self._unconfirmed_finding(Phase.FIRING, now_ms, end, message, evidence))

    def _recheck(self, now_ms: int, out: list[Finding]) -> None:
        """Amend the unconfirmed meals the cabinet's data now decides; drop those past the
        amendment period (they stay unconfirmed); resolve the warning when none is left."""
        st = self.state
        st.fresh = False
        waiting: list[Unconfirmed] = []
        settled: list[DisinfectionRecord] = []
        for held in st.unconfirmed:
            record = self._record(held.meal, held.service_date, held.start_ms, held.end_ms, now_ms)
            compliant = record.status is DisinfectionStatus.COMPLIANT
            if compliant or self._covered(held.start_ms, held.end_ms):
                settled.append(self._amended(record, held, now_ms, compliant))
            elif now_ms - held.end_ms < self._amend_ms:
                waiting.append(held)
            else:
                st.stale = True
        st.unconfirmed = waiting
        for record in settled:
            self.records.append(record)
            if record.status is not DisinfectionStatus.COMPLIANT:
                end_ms = int(record.window_end.timestamp() * 1000)
                out.append(self._finding(Phase.FIRING, now_ms, end_ms, record))
        if settled and not waiting and not st.stale:
            out.append(self._resolved(settled, now_ms))
        if settled:
            self._keep_from_next_meal()

    def _covered(self, start: int, end: int) -> bool:
        """The readings now cover the window [start, end] with no gap longer than silence:
        no data the cabinet might still send could change the verdict."""
        st = self.state
        if st.watermark_ms is None or st.watermark_ms < end + self._delay_ms:
            return False
        silence = self.setup.silence_ms
        lo = bisect.bisect_left(st.readings, start - silence, key=lambda r: r[0])
        hi = bisect.bisect_right(st.readings, end + silence, key=lambda r: r[0])
        times = [r[0] for r in st.readings[lo:hi]]
        if not times or times[0] > start or times[-1] < end:
            return False
        return all(b - a <= silence for a, b in pairwise(times))

    def _amended(
        self, record: DisinfectionRecord, held: Unconfirmed, now_ms: int, compliant: bool
    ) -> DisinfectionRecord:
        note = text.amendment_note(compliant, self._local(now_ms, "%Y-%m-%d %H:%M"))
        amendment = DisinfectionAmendment(
            status=DisinfectionStatus.UNCONFIRMED.value,
            decided_at=utc_from_ms(held.given_ms).isoformat(),
            reason_zh=held.reason_zh,
            reason_en=held.reason_en,
            amended_at=utc_from_ms(now_ms).isoformat(),
            note_zh=note.zh,
            note_en=note.en,
        )
        return replace(record, amendments=(*record.amendments, amendment))

    def _resolved(self, settled: list[DisinfectionRecord], now_ms: int) -> Finding:
        last = settled[-1]
        meals = ", ".join(
            f"{r.service_date.isoformat()} {r.meal}: {r.status.value}" for r in settled
        )
        note = f"消毒柜数据已到 / the cabinet's data arrived — {meals}"
        evidence = {"status": last.status.value, "amended_at": utc_from_ms(now_ms).isoformat()}
        message = text.disinfection_unconfirmed(
            self.setup.label, text.meal_name(last.meal), last.service_date.isoformat(), last.reason
        )
        end_ms = int(last.window_end.timestamp() * 1000)
        return self._unconfirmed_finding(Phase.CLEARED, now_ms, end_ms, message, evidence, note)

    def _unconfirmed_finding(
        self,
        phase: Phase,
        now_ms: int,
        since_ms: int,
        message: Message,
        evidence: Evidence,
        note: str | None = None,
    ) -> Finding:
        return Finding(
            self.setup.id,
            RuleId.DISINFECTION_UNCONFIRMED,
            phase,
            now_ms,
            since_ms,
            Severity.WARNING,
            message,
            evidence,
            latched=True,
            note=note,
        )

    def _local(self, epoch_ms: int, fmt: str) -> str:
        return datetime.fromtimestamp(epoch_ms / 1000, self.setup.timetable.zone).strftime(fmt)

    # -- register lines and findings --------------------------------------------------------

    def _record(
        self, meal: str, service_date: date, start: int, end: int, now_ms: int
    ) -> DisinfectionRecord:
        cycles = self._cycles(start, end)
        best = max(cycles, key=lambda c: (c.longest_hold_ms, c.max_c), default=None)
        threshold = self.threshold_c
        hold_min = None if best is None else round(best.longest_hold_ms / MINUTE_MS, 1)
        max_c = None if best is None else round(best.max_c, 1)
        if best is None:
            status = DisinfectionStatus.MISSED
        elif best.longest_hold_ms >= self.required_min * MINUTE_MS:
            status = DisinfectionStatus.COMPLIANT
        else:
            status = DisinfectionStatus.INCOMPLETE
        reason = text.disinfection_reason(
            status.value, max_c, hold_min, threshold, self.required_min
        )
        if best is None and not self._any_reading(start, end):
            reason = text.no_data_in_window()
        return DisinfectionRecord(
            site=self.setup.site,
            device=self.setup.id,
            meal=meal,
            service_date=service_date,
            window_start=utc_from_ms(start),
            window_end=utc_from_ms(end),
            status=status,
            target_c=self.target_c,
            hold_threshold_c=threshold,
            required_hold_min=self.required_min,
            decided_at=utc_from_ms(now_ms),
            reason=reason,
            cycles=len(cycles),
            cycle_start=None if best is None else utc_from_ms(best.start_ms),
            cycle_end=None if best is None or best.end_ms is None else utc_from_ms(best.end_ms),
            max_temp_c=max_c,
            hold_min=hold_min,
        )

    def _any_reading(self, start: int, end: int) -> bool:
        readings = self.state.readings
        index = bisect.bisect_left(readings, start, key=lambda r: r[0])
        return index < len(readings) and readings[index][0] < end

    def _finding(
        self, phase: Phase, now_ms: int, window_end: int, record: DisinfectionRecord
    ) -> Finding:
        meal = text.meal_name(record.meal)
        day = record.service_date.isoformat()
        message = text.disinfection_summary(self.setup.label, [(meal, day, record.reason)])
        evidence = {
            "meal": record.meal,
            "service_date": day,
            "status": record.status.value,
            "max_temp_c": record.max_temp_c,
            "hold_min": record.hold_min,
            "required_hold_min": record.required_hold_min,
            "hold_threshold_c": record.hold_threshold_c,
        }
        return self.finding(
            phase, now_ms, window_end, Severity.CRITICAL, message, evidence, latched=True
        )
