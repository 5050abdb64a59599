"""The food's temperature estimated from the air probe: a first-order thermal lag.

Food safety is about the food, and a probe in the air of a cold cabinet is not in the food. A
door opened for 3 minutes warms the air by 5 K; an item of food, whose heat capacity is
hundreds of times the air's, barely moves. Treating the product as one lumped node coupled to
the air (a Biot number well below 1 for the packaging films and small portions that warm
first),

    tau dT_product/dt = T_air - T_product,    tau = m c / (h A)

the estimate is the air passed through a first-order low-pass filter. This is what a buffered
probe does in glycol or a food simulant (CDC Vaccine Storage and Handling Toolkit: a buffered
probe "more closely reflects" the stored product and avoids alarms from door openings), done in
software on a bare air probe.

Time constants per kind (`DEFAULT_TAU_MIN`), from tau = m c / (h A) with the cabinet's air
heat transfer taken at its fast end, h ≈ 10 W/(m² K) (natural convection ~5 W/(m² K) plus
radiation, more with the evaporator fan blowing: a reach-in's 20-60 min for small items):

- fridge, 30 min: a 60 ml glycol food-simulant bottle (m c ≈ 0.06 kg x 3.3 kJ/(kg K) = 200
  J/K, A ≈ 0.009 m²) gives 37 min; a 250 g portion (950 J/K, A ≈ 0.022 m²) 72 min. The
  default sits below both: it follows the warmest, smallest item, so it errs towards alerting.
- freezer, 30 min: frozen food holds about half the heat per kelvin (ice ~2.1 kJ/(kg K)), but
  comes in larger packs: a 500 g pack (1 kJ/K, A ≈ 0.04 m²) gives 42 min.
- food-sample fridge, 45 min: a 125 g sample (学校食品安全与营养健康管理规定: ≥ 125 g) in a
  closed box (~500 J/K, A ≈ 0.018 m²) gives 46 min.

A site sets `product_tau_min` per kind or per device (`core.rule_settings`), bounded to 5-240
min: below 5 min the estimate is the air (door spikes pass through), above 4 h it would hide a
failing compressor for hours.

How readings are taken in (`ProductEstimate.update`):

- first reading: the estimate starts at the air (the only thing known about the food);
- irregular sampling: the exact step of the filter for air held at the new reading since the
  previous one, T_p <- T_air + (T_p - T_air) exp(-dt/tau), right for any dt;
- gaps: bridged by the same step (hold the estimate, then relax towards the first reading after
  the gap). A short gap (a Wi-Fi roam) keeps the food's memory; a long one is a reset in the
  limit (after 3 tau the old state weighs exp(-3) = 5 %). Durations across a gap are still
  broken by the over-temperature rule: nobody saw the air in it;
- a reading no newer than the state (late, out of order, repeated) does not move the filter.

Learning tau (`TauLearner`). An air probe alone cannot observe the food, so tau is learned only
where the device also publishes a food-simulant probe (`food_temp_c`: a probe in a glycol
bottle or a product sample). Between consecutive readings of both, the filter discretised by
the trapezoidal rule (second order: under 1 % off for a reading every 5 min at tau 30 min) is

    T_p1 - T_p0 = (dt / tau) ((T_a0 + T_a1) / 2 - (T_p0 + T_p1) / 2),

a line through the origin with slope k = 1/tau, fitted by least squares over the pairs (door
shut, gaps within the device's silence). Its standard error gives the confidence: tau is
learned once at least a day of pairs gives k to within 10 % (one standard error), and is
clamped to the 5-240 min bounds of the setting. Which tau is used: the site's setting
(`config`), else the learned one (`learned`), else the kind's default (`default`). A device
with a food probe is judged on the probe itself; the estimate bridges the probe's silences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from alerts.model import Message
from core.model import DeviceKind
from core.rule_settings import RuleSettings

__all__ = [
    "DEFAULT_TAU_MIN",
    "JudgeOn",
    "ProductEstimate",
    "ProductState",
    "TauLearner",
    "TauSource",
    "judge_on",
    "product_message",
    "product_series",
    "tau_min",
    "tau_source",
]

JudgeOn = Literal["air", "product"]
TauSource = Literal["default", "config", "learned"]

FOOD_PROBE = "food_temp_c"
TAU_BOUNDS_MIN = (5.0, 240.0)  # the setting's bounds (core.rule_settings)
_LEARN_SPAN_MS = 24 * 3_600_000  # a day: the kitchen's whole routine of doors and defrosts
_LEARN_REL_ERROR = 0.10

# Physics and sources in the module's text.
DEFAULT_TAU_MIN: dict[DeviceKind, float] = {
    DeviceKind.FRIDGE: 30.0,
    DeviceKind.FREEZER: 30.0,
    DeviceKind.SAMPLE_FRIDGE: 45.0,
}


def tau_min(kind: DeviceKind, settings: RuleSettings) -> float | None:
    """The product time constant of a device in minutes: its setting, else its kind's
    default; None for kinds that store no food to estimate."""
    if not kind.is_cold_storage:
        return None
    if settings.product_tau_min is not None:
        return settings.product_tau_min
    return DEFAULT_TAU_MIN.get(kind, DEFAULT_TAU_MIN[DeviceKind.FRIDGE])


def judge_on(kind: DeviceKind, settings: RuleSettings) -> JudgeOn:
    """What the over-temperature rule judges: the estimated food for cold storage unless the
    site asks for the air."""
    if not kind.is_cold_storage or settings.judge_on == "air":
        return "air"
    return "product"


@dataclass(slots=True)
class ProductState:
    estimate_c: float | None = None
    last_ms: int | None = None


class ProductEstimate:
    """The filter over one device's air readings, in event-time order."""

    def __init__(self, tau_minutes: float) -> None:
        if tau_minutes <= 0:
            raise ValueError(f"a product time constant must be positive, not {tau_minutes}")
        self.tau_ms = tau_minutes * 60_000.0
        self.state = ProductState()

    def update(self, ts_ms: int, air_c: float) -> float:
        """The estimate at `ts_ms` after taking in the air reading there."""
        st = self.state
        if st.estimate_c is None or st.last_ms is None:
            st.estimate_c, st.last_ms = air_c, ts_ms
            return air_c
        if ts_ms <= st.last_ms:
            return st.estimate_c
        decay = math.exp(-(ts_ms - st.last_ms) / self.tau_ms)
        st.estimate_c = air_c + (st.estimate_c - air_c) * decay
        st.last_ms = ts_ms
        return st.estimate_c


@dataclass(slots=True)
class TauFit:
    """Least-squares sums of the discretised filter, y = k x with k = 1/tau (per minute)."""

    sxx: float = 0.0
    sxy: float = 0.0
    syy: float = 0.0
    pairs: int = 0
    span_ms: int = 0
    last_ms: int | None = None
    last_air_c: float | None = None
    last_food_c: float | None = None


class TauLearner:
    """The food's time constant learned from a device's air and food-simulant probes."""

    def __init__(self, max_gap_ms: int) -> None:
        self._max_gap_ms = max_gap_ms
        self.state = TauFit()

    def observe(self, ts_ms: int, air_c: float, food_c: float, door_open: bool) -> None:
        st = self.state
        previous = (st.last_ms, st.last_air_c, st.last_food_c)
        if st.last_ms is not None and ts_ms <= st.last_ms:
            return  # late or repeated: the pair it would make is already counted
        st.last_ms, st.last_air_c, st.last_food_c = ts_ms, air_c, food_c
        t0, a0, p0 = previous
        if t0 is None or a0 is None or p0 is None or door_open or ts_ms - t0 > self._max_gap_ms:
            return
        dt_min = (ts_ms - t0) / 60_000.0
        x = dt_min * ((a0 + air_c) / 2 - (p0 + food_c) / 2)
        y = food_c - p0
        st.sxx, st.sxy, st.syy = st.sxx + x * x, st.sxy + x * y, st.syy + y * y
        st.pairs += 1
        st.span_ms += ts_ms - t0

    def fit(self) -> tuple[float, float] | None:
        """(tau in minutes, its relative standard error), when the pairs say anything."""
        st = self.state
        if st.pairs < 3 or st.sxx <= 0.0 or st.sxy <= 0.0:
            return None
        k = st.sxy / st.sxx
        residual = max(st.syy - k * st.sxy, 0.0) / (st.pairs - 1)
        return 1.0 / k, math.sqrt(residual / st.sxx) / k

    def learned(self) -> float | None:
        """The learned tau in minutes (bounded), once a day of pairs gives it within 10 %."""
        fit = self.fit()
        if fit is None or self.state.span_ms < _LEARN_SPAN_MS or fit[1] > _LEARN_REL_ERROR:
            return None
        low, high = TAU_BOUNDS_MIN
        return min(max(fit[0], low), high)


def tau_source(
    kind: DeviceKind, settings: RuleSettings, learned: float | None
) -> tuple[float, TauSource] | None:
    """The time constant a cold-storage device's estimate uses, and where it comes from."""
    default = tau_min(kind, settings)
    if default is None:
        return None
    if settings.product_tau_min is not None:
        return default, "config"
    return (learned, "learned") if learned is not None else (default, "default")


def product_series(ts_ms: Sequence[int], air_c: Sequence[float], tau_minutes: float) -> np.ndarray:
    """The estimate at each of a device's air readings (sorted by time), as the rule computes
    it reading by reading; repeated instants keep the estimate."""
    estimate = ProductEstimate(tau_minutes)
    return np.fromiter(
        (estimate.update(int(t), float(a)) for t, a in zip(ts_ms, air_c, strict=True)),
        dtype=np.float64,
        count=len(ts_ms),
    )


def product_message(base: Message, air_c: float | None, *, probe: bool = False) -> Message:
    """An out-of-band message on the food's temperature (estimated, or read by a food probe),
    naming the air beside it."""
    zh, en = (
        ("食品探头温度", "food probe") if probe else ("估算食品温度", "estimated food temperature")
    )
    if air_c is None:
        return Message(f"{base.zh}（{zh}）", f"{base.en} ({en})")
    return Message(
        f"{base.zh}（{zh}；空气 {air_c:.1f} °C）", f"{base.en} ({en}; air {air_c:.1f} °C)"
    )
