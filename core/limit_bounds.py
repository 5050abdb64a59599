"""What a site may set as a device's control limits: a limit may be stricter than the food-safety
rule behind its default (DESIGN.md, domain defaults), never looser, and never beyond what the
appliance can physically hold. The site config checks every kind's `limits:` and every device's
limits, each laid over the built-in defaults, with `limit_problem`.

A fridge set to `high_c: 80`, a freezer to `high_c: 10` or a low limit above the high one would
otherwise be accepted and silently switch the rule off.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from core.model import DeviceKind, Limits

__all__ = ["LimitBound", "bounds_for", "limit_problem"]


@dataclass(frozen=True, slots=True)
class LimitBound:
    low: float
    high: float
    unit: str
    why: str

    def allows(self, value: float) -> bool:
        return self.low <= value <= self.high

    def refusal(self, value: float, what: str) -> str:
        article = "an" if what[0] in "aeiou" else "a"
        return (
            f"{value:g} {self.unit} is not allowed for {article} {what}; expected "
            f"{self.low:g}..{self.high:g} {self.unit} ({self.why})"
        )


# 餐饮服务食品安全操作规范 (secondary): cold storage 0-8 °C. Stricter is allowed (the FDA Food
# Code holds ≤ 5 °C); a high limit under 0 °C would freeze the food, so it is a freezer.
_CHILLED_HIGH = LimitBound(0.0, 8.0, "°C", "cold storage is 0-8 °C; stricter is allowed")
# The low limit keeps produce from freezing; meat chillers run down to about -2 °C, below
# -5 °C a cabinet is a freezer.
_CHILLED_LOW = LimitBound(-5.0, 8.0, "°C", "a fridge keeps food from freezing")
# Same source (secondary): frozen storage ≤ -12 °C (-18 °C is common practice). Kitchen and blast
# freezers reach about -40 °C (their refrigerant's evaporating temperature); a colder limit
# would never be met.
_FROZEN_HIGH = LimitBound(-40.0, -12.0, "°C", "frozen storage is ≤ -12 °C; stricter is allowed")
_FROZEN_LOW = LimitBound(-60.0, -12.0, "°C", "below the freezer's high limit")
# USDA FSIS, "danger zone": perishable food left above 4 °C for more than 2 h is discarded, so an
# alert that waits longer comes after the food is already lost.
_EXCURSION_DELAY = LimitBound(0.0, 120.0, "min", "food out of cold holding > 2 h is discarded")
# 学校食品安全与营养健康管理规定 (secondary): each sample kept ≥ 48 h. A shorter hold is an error,
# not a choice: the retention register would call a sample kept that the regulation calls
# thrown away too early. No region asks more than a week.
_SAMPLE_HOLD = LimitBound(48.0, 168.0, "h", "samples are kept ≥ 48 h")
# Some regions ask 100 g or 200 g per sample instead of 125 g (DESIGN.md).
_SAMPLE_MASS = LimitBound(100.0, 500.0, "g", "regions ask 100-200 g per sample")
# GB 17988 2-star grade (secondary): infrared cabinets ≥ 120 °C; they top out near 150 °C.
_INFRARED_TARGET = LimitBound(120.0, 150.0, "°C", "infrared disinfection is ≥ 120 °C")
# 操作规范 (secondary): steam 100 °C. Unpressurised steam is never hotter than the local boiling
# point, which is lower at altitude: about 88 °C in Lhasa (3,650 m), 85 °C at 4,500 m.
_STEAM_TARGET = LimitBound(85.0, 100.0, "°C", "steam is at most 100 °C, less at altitude")
# 操作规范 (secondary): disinfection held ≥ 10 min (15 min is common); a programme never holds
# an hour, so a longer requirement would fail every meal.
_DISINFECTION_HOLD = LimitBound(10.0, 60.0, "min", "disinfection holds ≥ 10 min")
_STEAMER_HOLD = LimitBound(1.0, 60.0, "min", "a steaming programme")

_CHILLED = {
    "high_c": _CHILLED_HIGH,
    "low_c": _CHILLED_LOW,
    "alert_after_min": _EXCURSION_DELAY,
}
_BOUNDS: dict[DeviceKind, dict[str, LimitBound]] = {
    DeviceKind.FRIDGE: _CHILLED,
    DeviceKind.SAMPLE_FRIDGE: {
        **_CHILLED,
        "sample_hold_h": _SAMPLE_HOLD,
        "sample_min_g": _SAMPLE_MASS,
    },
    DeviceKind.FREEZER: {
        "high_c": _FROZEN_HIGH,
        "low_c": _FROZEN_LOW,
        "alert_after_min": _EXCURSION_DELAY,
    },
    DeviceKind.STEAM_CABINET: {"target_c": _STEAM_TARGET, "hold_min": _STEAMER_HOLD},
}
_DISINFECTION: dict[str | None, dict[str, LimitBound]] = {
    # A cabinet without a method is judged as a dry-heat (infrared) one.
    None: {"target_c": _INFRARED_TARGET, "hold_min": _DISINFECTION_HOLD},
    "infrared": {"target_c": _INFRARED_TARGET, "hold_min": _DISINFECTION_HOLD},
    "steam": {"target_c": _STEAM_TARGET, "hold_min": _DISINFECTION_HOLD},
}
# A site's `limits: {disinfection_cabinet: ...}` covers cabinets of either method.
_ANY_METHOD = {
    "target_c": LimitBound(
        _STEAM_TARGET.low, _INFRARED_TARGET.high, "°C", "steam 85-100 °C, infrared 120-150 °C"
    ),
    "hold_min": _DISINFECTION_HOLD,
}


def bounds_for(
    kind: DeviceKind, method: str | None = None, *, any_method: bool = False
) -> dict[str, LimitBound]:
    """The bounds of each limit of a device of this kind (and disinfection method); with
    `any_method`, those that hold for a cabinet of either method."""
    if kind is DeviceKind.DISINFECTION_CABINET:
        return _ANY_METHOD if any_method else _DISINFECTION[method]
    return _BOUNDS.get(kind, {})


def limit_problem(
    limits: Limits,
    kind: DeviceKind,
    method: str | None = None,
    *,
    any_method: bool = False,
    changed: Collection[str] = (),
) -> tuple[str, str] | None:
    """(field, what is wrong and what is allowed) for the first limit out of its bounds, or
    None when all fit. `limits` are complete: laid over the kind's defaults; `changed` names
    the fields the layer being checked sets, so a low limit left at or above a new high one is
    blamed on the high one."""
    what = kind.value.replace("_", " ")
    if method is not None:
        what = f"{method} {what}"
    for name, bound in bounds_for(kind, method, any_method=any_method).items():
        value = getattr(limits, name)
        if value is not None and not bound.allows(value):
            return name, bound.refusal(value, what)
    low, high = limits.low_c, limits.high_c
    if low is not None and high is not None and low >= high:
        if "high_c" in changed and "low_c" not in changed:
            return "high_c", f"{high:g} °C must be above low_c ({low:g} °C)"
        return "low_c", f"{low:g} °C must be below high_c ({high:g} °C)"
    return None
