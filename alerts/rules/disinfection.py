"""Disinfection compliance per meal: the electronic disinfection register (消毒记录).

For each tableware disinfection cabinet and each meal on the timetable, the window is the
90 min after the meal ends (DESIGN.md: a compliant cycle within 90 min after each meal). The
cycles that start in the window are judged a few minutes after it closes, on event time: when
the cabinet's own readings pass that deadline, or, if the cabinet has gone silent, once it has
delivered nothing new for the lateness by the real clock (`LateData`), so a cabinet that stops
reporting is judged too, and one whose history is still arriving is judged on that history.
Until then a reading that arrives out of order still counts (`observe_late`): the cycles are
read from the cabinet's readings in time order when the meal is judged, and a decided meal is
never re-opened. A meal is:

- compliant: a cycle held the threshold for the required time (≥ 120 °C for 10 min infrared,
  GB 17988; ≥ 100 °C for 10 min steam, 操作规范; steam judged at 99.5 °C, see settings);
- incomplete: cycles ran but none held long enough, or none got hot enough; the record keeps
  the best cycle's maximum temperature and hold time;
- missed: no cycle started in the window.

Every verdict is a register record. A non-compliant one fires the cabinet's disinfection alert
(one per cabinet; each meal is an occurrence with its own figures); a later compliant meal
resolves it, and a person closes it with the corrective action and the decision on the food.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from alerts import text
from alerts.model import (
    DisinfectionRecord,
    DisinfectionStatus,
    Finding,
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

__all__ = ["BOILING_C", "DisinfectionRule", "hold_threshold"]

BOILING_C = 100.0  # at sea level; a site at altitude sets its own target_c
# The readings kept start this long before the next meal's window: longer than any programme
# (heat-up, hold and venting take about an hour), so a cycle already running when the window
# opens is seen starting before it, as it did.
LEAD_IN_MS = 2 * HOUR_MS

Reading = tuple[int, float, float | None]  # time, temp_c, power_w


@dataclass(slots=True)
class DisinfectionState:
    # The cabinet's readings from the lead-in of the next meal to judge on, in time order.
    readings: list[Reading] = field(default_factory=list)
    keep_from_ms: int | None = None
    decided_until_ms: int | None = None  # end of the last meal judged
    last_ms: int | None = None  # the newest temperature reading
    watermark_ms: int | None = None  # the newest reading of any metric


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
        self._decide(self.late.due_until(now_ms, mark), out)

    def _decide(self, now_ms: int, out: list[Finding]) -> None:
        """Judge every meal whose window and delay have passed by event time `now_ms`."""
        st = self.state
        assert st.decided_until_ms is not None
        latest_meal_end = now_ms - self._window_ms - self._delay_ms
        timetable = self.setup.timetable
        judged = False
        for service in timetable.services_ending(st.decided_until_ms, latest_meal_end):
            self._judge(service, now_ms, out)
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

    def _keep_from_next_meal(self) -> None:
        st = self.state
        assert st.decided_until_ms is not None
        after = st.decided_until_ms
        upcoming = self.setup.timetable.services_ending(after, after + 2 * 24 * HOUR_MS)
        st.keep_from_ms = upcoming[0].end_ms - LEAD_IN_MS if upcoming else None
        keep = st.keep_from_ms
        st.readings = [] if keep is None else [r for r in st.readings if r[0] >= keep]

    def _cycles(self, start: int, end: int) -> list[Cycle]:
        """The cycles that started in [start, end), read from the kept readings in order."""
        tracker = cycle_tracker(self.setup)
        for ts, temp, power in self.state.readings:
            tracker.observe(ts, temp, power)
        return tracker.cycles_starting(start, end)

    def _judge(self, service: MealService, now_ms: int, out: list[Finding]) -> None:
        start, end = service.end_ms, service.end_ms + self._window_ms
        cycles = self._cycles(start, end)
        best = max(cycles, key=lambda c: (c.longest_hold_ms, c.max_c), default=None)
        record = self._record(service, start, end, now_ms, cycles, best)
        self.records.append(record)
        if record.status is DisinfectionStatus.COMPLIANT:
            out.append(self._finding(Phase.CLEARED, now_ms, end, record))
        else:
            out.append(self._finding(Phase.FIRING, now_ms, end, record))

    def _record(
        self,
        service: MealService,
        start: int,
        end: int,
        now_ms: int,
        cycles: list[Cycle],
        best: Cycle | None,
    ) -> DisinfectionRecord:
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
        if best is None and (self.state.last_ms is None or self.state.last_ms < start):
            reason = text.no_data_in_window()
        return DisinfectionRecord(
            site=self.setup.site,
            device=self.setup.id,
            meal=service.meal,
            service_date=service.service_date,
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
