"""Rule parameters that are not control limits of a device.

Control limits (8 °C, 30 min, 120 °C held 10 min...) come from the site config through
`SiteConfig.limits_for(device)`. What is here says how the rules read the data: how long a
silence means offline, how long a defrost may excuse a rise, how a seal-health score is
graded. Each default names its reason; a site passes its own `RuleSettings` to change one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RuleSettings"]


@dataclass(frozen=True, slots=True)
class RuleSettings:
    # -- offline -----------------------------------------------------------------------------
    # A device is silent after k reporting intervals (issue 4), never sooner than the floor: a
    # Wi-Fi roam or a broker restart takes a minute or two and is not worth a phone call.
    offline_intervals: float = 5.0
    offline_min_s: float = 300.0
    # A single device's offline alert waits this long after its deadline, so that when the whole
    # site falls silent (gateway or broker down) the site alert is raised instead of a storm.
    offline_settle_s: float = 120.0

    # -- threshold (over/under temperature) --------------------------------------------------
    # Vendor guidance: a defrost warms the air for 15-30 min (DESIGN.md); the simulated plants
    # pull back into band within about 10 min after it ends. A defrost longer than the maximum
    # is a fault (a stuck heater or timer) and no longer excuses a rise.
    defrost_recovery_min: float = 20.0
    defrost_max_min: float = 60.0
    # Learned defrost (devices that do not report defrost_on): a rise that starts within this
    # share of the learned period around the expected time is taken as a defrost.
    defrost_learn_tolerance: float = 0.1
    defrost_learn_min_period_h: float = 2.0  # 4-6 defrosts a day is normal (DESIGN.md)
    defrost_learn_max_period_h: float = 12.0

    # -- sensor faults -----------------------------------------------------------------------
    # A thermostat cycles a cold cabinet by a few kelvin several times an hour, so a probe that
    # repeats one value this long is stuck. Heated cabinets idle at kitchen temperature for
    # hours, so they get a longer window.
    stuck_cold_min: float = 60.0
    stuck_heated_min: float = 240.0
    # A spike jumps away and straight back between consecutive readings; a few within the
    # window are a failing probe or cable, one is not worth an alert.
    spike_cold_c: float = 6.0
    spike_heated_c: float = 25.0
    spikes_to_alert: int = 3
    spike_window_min: float = 60.0
    sensor_fault_clear_min: float = 120.0
    # Drift: the reading at which the compressor starts is the thermostat's cut-in, a fixed
    # point of the controller; when our probe reads it this far off its learned value, our
    # probe has drifted.
    drift_c: float = 1.5
    drift_edges: int = 9  # compressor starts in the rolling median
    drift_learn_edges: int = 40

    # -- seal degradation --------------------------------------------------------------------
    # The baseline is learned on the device's own first days, per local hour of the day so the
    # kitchen's routine (ambient, doors) is compared like with like.
    seal_baseline_days: float = 2.0
    seal_window_h: float = 12.0  # evidence is judged over this rolling window
    # Health 1.0 is the baseline; 0.0 is a heat load (cold) or heat-up time (steam) moved by
    # the "fail" ratio. Warning and critical are health levels, held for `seal_confirm_h`.
    seal_cold_fail_ratio: float = 1.0
    seal_steam_fail_ratio: float = 0.5
    seal_warning_health: float = 0.85
    seal_critical_health: float = 0.6
    seal_confirm_h: float = 2.0
    seal_baseline_cycles: int = 4  # steam cabinet cycles in its baseline

    # -- heated cabinets (disinfection cycles, steam cabinets) -------------------------------
    # A cycle starts when the chamber rises through 50 °C and ends when it falls below 40 °C:
    # far above any kitchen, far below any programme target.
    cycle_start_c: float = 50.0
    cycle_end_c: float = 40.0
    # A steam chamber sits at the boiling point: a probe reads about 99.6-100.4 °C there, so
    # the 100 °C target is judged at 99.5 °C (0.5 K tolerance for probe accuracy and weather).
    # Sites at altitude boil lower and must configure their own target_c.
    steam_tolerance_c: float = 0.5
    # A dip below the threshold shorter than this is probe noise, not a loss of heat: one or
    # two readings at 15-30 s intervals. A real loss (door opened, water out) lasts minutes.
    hold_dip_s: float = 60.0

    # -- disinfection register ---------------------------------------------------------------
    # DESIGN.md: a compliant cycle within 90 min after each meal. The verdict waits a few
    # minutes after the window closes for late readings; an alert follows within 15 min.
    disinfection_window_min: float = 90.0
    disinfection_decision_delay_min: float = 5.0

    # -- food-sample retention ---------------------------------------------------------------
    # Less than this share of the retention period covered by readings cannot prove the
    # samples were kept cold.
    retention_min_completeness: float = 0.9
    retention_decision_delay_min: float = 5.0

    def silence_s(self, interval_s: float) -> float:
        """How long without a reading a device of this interval is silent; also the longest
        gap a reading is taken to stand for in logs and registers."""
        return max(self.offline_intervals * interval_s, self.offline_min_s)
