"""When a cold cabinet runs on its own, for the seal's evidence: no defrost holding it (reported
by the controller, or on a learned timer the probe still confirms), no door settling.

A learned defrost timer (`Disturbances`) is believed only while its defrosts still show on
the probe where it expects them: door-made warm spells between the defrosts can teach a timer
a wrong period (a walk-in's 8-hourly defrosts read as 200 min), whose windows and the seal's
settling after each then cover the whole day and blind the seal for days (a walk-in's leak of
0.6 went unseen so on the bench). A defrost off any timer shows on the probe itself, as a
larger, slower rise above the cut-out (`cycle_inference`), and the seal rule waits after it.
"""

from __future__ import annotations

from alerts.rules.disturbance import Disturbances

__all__ = ["defrost_until", "door_settling", "timer_confirmed"]

# A learned defrost timer is believed while its latest spell on the period came within this
# many periods (one expected defrost may pass unseen: a short one in a cold night).
_TIMER_TRUSTED = 2


def defrost_until(disturbances: Disturbances, ts: int) -> int | None:
    """Until when a defrost holds the cabinet at `ts` (the seal's settling follows): one the
    controller reports, or the window of a learned timer the probe still confirms."""
    d = disturbances
    window = d.defrost_excuse_until(ts, judge_recovery=False)
    if d.state.defrost_reported:
        return ts if d.state.defrost_on or window is not None else None
    return ts if window is not None and timer_confirmed(d, ts) else None


def timer_confirmed(disturbances: Disturbances, ts: int) -> bool:
    """The learned timer's latest spell on its period came within `_TIMER_TRUSTED` periods:
    its defrosts still show on the probe where it expects them."""
    learned = disturbances.state.learned
    period, anchor = learned.period_ms, learned.anchor_ms
    return period is not None and anchor is not None and ts - anchor <= _TIMER_TRUSTED * period


def door_settling(disturbances: Disturbances, ts: int, settle_ms: int) -> bool:
    """The door is open, or was shut less than `settle_ms` before `ts`."""
    door = disturbances.state
    closed = door.door_closed_ms
    return door.door_open or (closed is not None and ts - closed < settle_ms)
