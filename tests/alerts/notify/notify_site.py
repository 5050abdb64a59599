"""A site with a `notify:` section for the routing, roster and planner tests: a kitchen on a
weekday roster (an overnight shift, a weekend gap that falls back to the manager), escalation
cook -> manager -> principal for food safety, facilities for meters, quiet hours 22:00-07:00
(Asia/Shanghai), and 20 freezer probes and 20 steam cabinets to fall silent together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.lifecycle import AlertChange
from alerts.model import FOOD_SAFETY_RULES, Alert, AlertAction, AlertState
from core.config import SiteConfig, load_config
from core.records import Message, RuleId, Severity

SHANGHAI = timedelta(hours=8)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """2026-11-`day` (23 is a Monday) at a Shanghai wall-clock time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - SHANGHAI


_PROBES = "\n".join(
    f"  - {{id: probe-{i:02d}, kind: freezer, building: canteen, name: {i}号冷冻柜}}"
    for i in range(1, 21)
)
_CABINETS = "\n".join(
    f"  - {{id: cab-{i:02d}, kind: steam_cabinet, building: canteen, name: {i}号蒸柜}}"
    for i in range(1, 21)
)

SITE_YAML = f"""\
site: {{id: test-school, name: 实验小学, timezone: Asia/Shanghai}}
buildings:
  - {{id: canteen, name: 食堂}}
  - {{id: teaching, name: 教学楼}}
devices:
  - {{id: fridge-1, kind: fridge, building: canteen, name: 1号冷藏柜, location: 后厨}}
  - {{id: meter-1, kind: electricity_meter, building: teaching, name: 教学楼总表}}
{_PROBES}
{_CABINETS}
notify:
  public_url: https://canteen.example.edu.cn/
  link_secret: "0123456789abcdef0123456789abcdef"
  grouping_window_s: 60
  quiet_hours: {{start: "22:00", end: "07:00"}}
  channels:
    kitchen-robot: {{type: wecom, key: k1, base_url: "http://127.0.0.1:9"}}
    office-robot: {{type: dingtalk, access_token: t1}}
    mail: {{type: smtp, host: 127.0.0.1, port: 2525, security: plain, sender: a@school.cn}}
    wall: {{type: mqtt}}
  people:
    wang: {{display_name: 王师傅, channels: [kitchen-robot]}}
    li: {{display_name: 李师傅, channels: [kitchen-robot]}}
    zhao: {{display_name: 赵经理, email: zhao@school.cn, channels: [mail, office-robot]}}
    chen: {{display_name: Chen, email: chen@school.cn, channels: [mail], lang: en}}
    sun: {{display_name: 孙校长, email: sun@school.cn, channels: [mail]}}
  roles:
    cook_on_duty:
      default: [zhao]
      roster:
        - {{days: [mon, tue, wed, thu, fri], start: "06:00", end: "14:00", people: [wang]}}
        - {{days: [mon, tue, wed, thu, fri], start: "14:00", end: "22:00", people: [li]}}
        - {{days: [sun, mon, tue, wed, thu], start: "22:00", end: "06:00", people: [wang]}}
    canteen_manager: {{default: [zhao]}}
    facilities: {{default: [chen]}}
    principal: {{default: [sun]}}
  routes:
    - name: food
      match: {{rules: [over_temperature, disinfection, sample_retention]}}
      levels:
        - {{roles: [cook_on_duty], channels: [wall]}}
        - {{roles: [canteen_manager], after_min: 15}}
        - {{roles: [principal], after_min: 45}}
      reminder_every_min: 10
    - name: meters
      match: {{kinds: [electricity_meter, water_meter, gas_meter]}}
      levels: [{{roles: [facilities]}}]
      reminder_every_min: null
      lang: en
    - name: rest
      levels:
        - {{roles: [cook_on_duty]}}
        - {{roles: [canteen_manager], after_min: 30}}
      reminder_every_min: 60
      resolved: true
"""


def site_config(tmp_path: Path, text: str = SITE_YAML) -> SiteConfig:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def alert(
    alert_id: int,
    device: str = "fridge-1",
    rule: RuleId = RuleId.OVER_TEMPERATURE,
    severity: Severity = Severity.CRITICAL,
    state: AlertState = AlertState.FIRING,
    at: datetime | None = None,
    **changes: Any,
) -> Alert:
    at = at or local(23, 9)
    fields: dict[str, Any] = {
        "id": alert_id,
        "site": "test-school",
        "device": device,
        "rule": rule,
        "severity": severity,
        "state": state,
        "food_safety": rule in FOOD_SAFETY_RULES,
        "condition_active": state is not AlertState.RESOLVED,
        "pending_since": at - timedelta(minutes=30),
        "message": Message(f"{device} 告警", f"{device} alert"),
        "evidence": {"temp_c": 9.4, "limit_c": 8.0} if rule is RuleId.OVER_TEMPERATURE else {},
        "updated_at": at,
        "fired_at": at,
    }
    fields.update(changes)
    return Alert(**fields)


def change(item: Alert, action: AlertAction, **changes: Any) -> AlertChange:
    states = {
        AlertAction.ACKNOWLEDGED: AlertState.ACKNOWLEDGED,
        AlertAction.RESOLVED: AlertState.RESOLVED,
        AlertAction.CLOSED: AlertState.CLOSED,
    }
    state = states.get(action, AlertState.FIRING)
    extra: dict[str, Any] = {"state": state, **changes}
    if state is AlertState.RESOLVED:
        extra.setdefault("condition_active", False)
    return AlertChange(Alert(**{**_fields(item), **extra}), action)


def _fields(item: Alert) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}
