"""User-facing words of energy reports and anomalies, in Chinese (default) and English.

Terms follow what facilities offices read on their bills and in the building energy
monitoring guideline: 尖峰/高峰/平段/低谷 for tariff periods, 照明插座/空调/动力/特殊 for the
electricity end uses (分项).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["LANGS", "Lang", "text"]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # carriers and categories
    "electricity": ("电", "electricity"),
    "water": ("水", "water"),
    "gas": ("燃气", "gas"),
    "category.electricity": ("总用电", "total electricity"),
    "category.water": ("总用水", "total water"),
    "category.gas": ("总用气", "total gas"),
    "category.lighting_sockets": ("照明插座", "lighting & sockets"),
    "category.hvac": ("空调", "HVAC"),
    "category.power": ("动力", "power"),
    "category.special": ("特殊用电", "special"),
    "category.kitchen": ("厨房", "kitchen"),
    "category.hot_water": ("热水", "hot water"),
    "category.other": ("其他", "other"),
    "category.unaccounted": ("未分项（总表−分表）", "unaccounted (main − sub)"),
    "site": ("全校", "whole site"),
    # tariff periods
    "critical_peak": ("尖峰", "critical peak"),
    "peak": ("高峰", "peak"),
    "flat": ("平段", "flat"),
    "valley": ("低谷", "valley"),
    # day types
    "school_day": ("上课日", "school day"),
    "weekend": ("周末", "weekend"),
    "holiday": ("节假日", "holiday"),
    "vacation": ("寒暑假", "vacation"),
    # steps that need a word
    "step.gap": ("数据缺失（仅知总量）", "gap (total known only)"),
    "step.gap_unknown": ("数据缺失（用量未知）", "gap (use unknown)"),
    "step.reset": ("清零/换表", "reset / replacement"),
    "step.rollover": ("表码翻转", "rollover"),
    "step.decrease": ("读数下降，待核查", "decrease, for review"),
    "step.jump": ("读数跳变，待核查", "impossible jump, for review"),
    # anomalies
    "anomaly.night_base_load": ("夜间基础负荷偏高", "high night base load"),
    "anomaly.holiday_base_load": ("节假日负荷偏高", "high holiday load"),
    "anomaly.night_water_flow": ("夜间持续用水（疑似漏水）", "night water flow (leak?)"),
    "anomaly.kitchen_off_hours": ("厨房非供餐时段用能", "kitchen use outside service"),
    "severity.warning": ("警告", "warning"),
    "severity.critical": ("严重", "critical"),
    # columns and headings
    "building": ("楼宇", "building"),
    "carrier": ("能源", "carrier"),
    "category": ("分项", "category"),
    "meters": ("表计", "meters"),
    "consumption": ("用量", "consumption"),
    "unit": ("单位", "unit"),
    "across_gaps": ("其中缺失段总量", "of which across gaps"),
    "cost": ("费用", "cost"),
    "cost_estimated": ("其中缺失段估价", "of which estimated (use across gaps)"),
    "status": ("状态", "status"),
    "status.ok": ("正常", "ok"),
    "status.metering_error": ("计量错误", "metering error"),
    "status.not_known": ("未知", "not known"),
    "not_known": ("未知", "not known"),
    "gap_basis": ("缺失段估价依据", "gap priced by"),
    "gap_basis.profile": ("同类日负荷曲线", "profile of comparable days"),
    "gap_basis.flat": ("平段电价（无同类日）", "flat price (no comparable day)"),
    "warning": ("提示", "warning"),
    "sheet.warnings": ("计量提示", "metering warnings"),
    "no_anomalies": ("未发现异常", "no anomalies found"),
    "no_steps": ("无缺失与待核查", "no gaps or review items"),
    "no_warnings": ("无计量提示", "no metering warnings"),
    "continued": ("续", "continued"),
    "more_follows": ("续见下页", "continued on the next page"),
    "steps_not_printed": (
        "另有 {left} 条未打印（共 {total} 条）；Excel 与 CSV 报告列出全部。",
        "{left} more not printed (of {total}); the XLSX and CSV reports list them all.",
    ),
    "future": ("未到", "not yet"),
    "per_m2": ("单位面积", "per m²"),
    "per_occupant": ("人均", "per occupant"),
    "share": ("占总表", "share of main"),
    "previous": ("上期", "previous period"),
    "change_previous": ("环比", "vs previous"),
    "year_before": ("去年同期", "same period last year"),
    "change_year": ("同比", "vs last year"),
    "completeness": ("数据完整率", "completeness"),
    "meter": ("表计", "meter"),
    "date": ("日期", "date"),
    "day_type": ("日类型", "day type"),
    "start": ("开始", "start"),
    "end": ("结束", "end"),
    "kind": ("类型", "kind"),
    "before": ("前读数", "reading before"),
    "after": ("后读数", "reading after"),
    "usage": ("用量", "use"),
    "severity": ("级别", "severity"),
    "evidence": ("依据", "evidence"),
    "sheet.summary": ("汇总", "summary"),
    "sheet.daily": ("逐日", "daily"),
    "sheet.meter_days": ("表计逐日完整率", "meter days"),
    "sheet.steps": ("缺失与待核查", "gaps and review"),
    "sheet.anomalies": ("异常", "anomalies"),
    "title": ("能耗报告", "Energy report"),
    "period.day": ("日报", "daily report"),
    "period.week": ("周报", "weekly report"),
    "period.month": ("月报", "monthly report"),
    "chart.by_building": ("各楼宇用量", "consumption by building"),
    "chart.daily": ("逐日用电", "daily electricity"),
    "chart.tou": ("分时电量与电费", "time-of-use energy and cost"),
    "chart.categories": ("分项用电", "electricity by end use"),
    "none": ("无", "none"),
    "review": ("待核查", "for review"),
    "note.daily": (
        "灰底：非上课日；红点：数据不全；空白：尚未到来",
        "grey: no school; red dots: not fully measured; blank: not yet happened",
    ),
    "note.tou": ("色块内数字为该时段电费", "numbers on the bars: cost of the period"),
    "note.gaps": (
        "缺失段的用量由前后两次有效读数得出，只知总量；计价时按该表同类日（上课日/周末/节假日）"
        "的负荷曲线分摊到各时段（无同类日时按平段电价），标为估算。",
        "Use across a gap comes from the valid readings either side: known in total only; to "
        "price it, it is spread over the tariff periods by the meter's own profile on "
        "comparable days (school day / weekend / holiday; the flat price when there is none) "
        "and marked estimated.",
    ),
}


def text(key: str, lang: Lang = "zh") -> str:
    """The phrase for `key`; an unknown key comes back as itself, so a gap shows, not a crash."""
    pair = _TEXT.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]
