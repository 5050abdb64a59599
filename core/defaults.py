"""Control limits every device kind starts from; a site's config overrides them per kind and
per device. Sources are named beside each number (see DESIGN.md, domain defaults)."""

from __future__ import annotations

from core.model import DeviceKind, Limits

__all__ = ["DEFAULT_LIMITS", "DISINFECTION_LIMITS"]

DEFAULT_LIMITS: dict[DeviceKind, Limits] = {
    # 餐饮服务食品安全操作规范 (secondary): cold storage 0-8 °C. FDA Food Code holds ≤ 5 °C.
    DeviceKind.FRIDGE: Limits(
        low_c=0.0, high_c=8.0, clear_margin_c=1.0, alert_after_min=30.0, door_grace_min=15.0
    ),
    # Same source (secondary): frozen storage ≤ -12 °C; -18 °C is common practice.
    DeviceKind.FREEZER: Limits(
        high_c=-12.0, clear_margin_c=1.0, alert_after_min=30.0, door_grace_min=15.0
    ),
    # 学校食品安全与营养健康管理规定 (secondary): samples ≥ 125 g kept ≥ 48 h at 0-8 °C.
    DeviceKind.SAMPLE_FRIDGE: Limits(
        low_c=0.0,
        high_c=8.0,
        clear_margin_c=1.0,
        alert_after_min=30.0,
        door_grace_min=15.0,
        sample_hold_h=48.0,
        sample_min_g=125.0,
    ),
    # 操作规范 (secondary): steam / boiling disinfection 100 °C held ≥ 10 min.
    DeviceKind.STEAM_CABINET: Limits(target_c=100.0, hold_min=10.0),
    DeviceKind.DISINFECTION_CABINET: Limits(target_c=120.0, hold_min=10.0),
    DeviceKind.ELECTRICITY_METER: Limits(),
    DeviceKind.WATER_METER: Limits(),
    DeviceKind.GAS_METER: Limits(),
}

DISINFECTION_LIMITS: dict[str, Limits] = {
    # GB 17988 2-star grade (secondary): infrared cabinets ≥ 120 °C held ≥ 10 min.
    "infrared": Limits(target_c=120.0, hold_min=10.0),
    # 操作规范 (secondary): steam disinfection 100 °C held ≥ 10 min.
    "steam": Limits(target_c=100.0, hold_min=10.0),
}
